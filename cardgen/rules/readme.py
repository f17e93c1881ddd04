"""Validation of a published README (a card on the Hub, or one written by hand): its front matter
against the Hub's rules and the policy, its body with the output lint. It needs none of the card
schema, so that a CI job checking a folder of READMEs starts fast.
"""

from __future__ import annotations

from pathlib import Path

from cardgen.diagnostics import Diagnostic, Where, error, sort_unique, warning
from cardgen.files import display, read_text
from cardgen.loading.yamlpos import loads
from cardgen.policy import Policy, required_keys
from cardgen.rules import run as rules


def validate_readme(path: Path, policy: Policy | None = None) -> list[Diagnostic]:
    """Check a Hub README (a published card): its front matter against the Hub's rules, the policy's
    required keys, and its body with the output lint (as warnings: the Hub shows it regardless)."""
    from cardgen.frontmatter import line_count, split
    from cardgen.lint import lint_body

    shown = display(path)
    text, diags = read_text(path, shown)
    if text is None:
        return diags
    block, body, first = split(text)
    offset = line_count(text[: len(text) - len(body)])
    out = [warning(Where(shown, p.line, 1), p.code, p.message) for p in lint_body(body, offset)]
    if block is None:
        out.append(warning(Where(shown), "CG209", "no front matter (`---` block) at the top of the README: the Hub "
                                                  "shows no licence, task or library for the model"))
        return sort_unique(out + required_keys(policy or Policy(), {}, shown, Where(shown)))
    doc, d = loads(block if block.strip() else "{}", shown)
    # a control character in a published README is shown oddly, not refused: a warning there
    out += [Diagnostic(x.file, x.line + first - 1, x.col, x.code, x.message,
                       "warning" if x.code == "CG009" else x.severity) for x in d]
    if doc is None:
        return sort_unique(out)
    if not isinstance(doc.data, dict):
        return sort_unique(out + [error(Where(shown, first), "CG214", "the front matter must be a mapping of keys, "
                                                                      f"not {type(doc.data).__name__}")])
    data = {str(k): v for k, v in doc.data.items()}

    def locate(p: tuple[object, ...]) -> Where:
        line, col = doc.key_pos(p) if len(p) == 1 else doc.pos(p)
        return Where(shown, line + first - 1, col)

    out += rules.check_metadata(rules.Meta(data, locate, body))
    out += required_keys(policy or Policy(), data, shown, locate(()))
    return sort_unique(out)
