"""Read a README back as structure, and compare two READMEs block by block.

A README becomes a list of blocks: each front-matter key with its value, each heading, each table
cell, each code block, each paragraph and list item (whitespace-normalised), each HTML block.
``compare`` says which blocks of one README appear in another; this is how the bundled cards are
checked against the published seed cards, and how a hand-written card can be migrated.
"""

from __future__ import annotations

from cardgen.importing.blocks import Block, Comparison, blocks, compare, lines_found, parser, plain_line, text_lines

__all__ = ["Block", "Comparison", "blocks", "compare", "lines_found", "parser", "plain_line", "text_lines"]
