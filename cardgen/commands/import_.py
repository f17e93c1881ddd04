"""`cardgen import`: existing README cards (files, folders, Hub repos) into card sources; with `--merge`,
an edit made on the Hub brought back into the sources that hold it (``cardgen.importing``).

What import kept or changed of an original is a CG801 warning at the README line it concerns; an edit
that `--merge` cannot place is a CG802 error there; the python block that `cardgen smoke` would run, carried
over as written, is a CG803 warning at its first line (a reviewer reads it before smoke runs it).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import Command, UsageError
from cardgen.diagnostics import Diagnostic, declare, plural
from cardgen.report import Report

declare("CG801", "import kept or changed something of the original card", "warning")
declare("CG802", "an edit made on the Hub that --merge cannot place in the sources")
declare("CG803", "code carried over from a README that `cardgen smoke` runs: read it first", "warning")

_AT_LINE = re.compile(r"^(?:README )?line (\d+): ")


@dataclass(frozen=True)
class Imported:
    """One README imported: where from, the card it became, what became typed fields."""

    source: str
    repo_id: str
    card: str
    typed: list[str]
    free_sections: int


@dataclass(frozen=True)
class Merged:
    """One README merged back: how many edits were placed, in which source files, and what was not."""

    repo_id: str
    source: str
    merged: int
    written: bool
    files: list[str]
    not_merged: list[str]


@dataclass(frozen=True)
class ImportOptions:
    sources: tuple[str, ...]
    out: Path = Path("cards")
    repo_id: str | None = None
    force: bool = False
    fix: bool = False
    merge: bool = False
    write: bool = False
    share: bool = True
    format: str = "text"
    timeout: float = 10.0  # seconds per request to the Hub; the whole fetch of one README: three of them


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a README.md, a folder of them (owner/name/README.md or *.md), or owner/name[@revision]")
    p.add_argument("--out", type=Path, default=Path("cards"), help="the cards folder to write to (default: cards)")
    p.add_argument("--repo-id", help="the repo id of a single README (default: from its folder)")
    p.add_argument("--force", action="store_true",
                   help="replace each card folder that holds sources as a whole, and add new shared entries to an "
                        "existing _shared/imported.yaml (the entries it holds are kept)")
    p.add_argument("--fix", action="store_true",
                   help="write what the original got wrong as cardgen computes it (e.g. a hand-typed count that "
                        "disagrees with its list); by default it is kept as written, and reported")
    p.add_argument("--merge", action="store_true",
                   help="bring an edit made on the Hub into the existing sources (shown as a diff of the source files)")
    p.add_argument("--write", action="store_true", help="with --merge: write the merged sources")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds to connect or wait for the Hub, per request; a README's whole fetch gets three "
                        "times that (default: 10)")
    p.add_argument("--no-share", action="store_true",
                   help="keep each card self-contained (default: facts that several cards share go to "
                        "_shared/imported.yaml)")


def options(args: argparse.Namespace, common: dict[str, Any]) -> ImportOptions:
    if args.write and not args.merge:
        raise UsageError("--write goes with --merge (a plain import writes its sources anyway)")
    return ImportOptions(tuple(args.sources), args.out, args.repo_id, args.force, args.fix, args.merge, args.write,
                         not args.no_share, common["format"], args.timeout)


def bounds(opts: ImportOptions) -> Any:
    """The Hub client's bounds for fetching READMEs: the timeout per request, three for the whole fetch."""
    from dataclasses import replace

    from cardgen.importing.readmes import IMPORT_BOUNDS

    return replace(IMPORT_BOUNDS, timeout=opts.timeout, deadline=3 * opts.timeout)


def problem(source: str, text: str, code: str, severity: str) -> Diagnostic:
    """A problem found in an original README, at the line it names (else its first line)."""
    m = _AT_LINE.match(text)
    line = int(m.group(1)) if m else 1
    return Diagnostic(source, line, 1, code, text[m.end():] if m else text,
                      "warning" if severity == "warning" else "error")


def run(opts: ImportOptions) -> tuple[Report, int]:
    from cardgen.importing.imported import ImportError_
    from cardgen.importing.run import run_import

    if opts.merge:
        return merge(opts)
    try:
        imports, written = run_import(list(opts.sources), opts.out, opts.repo_id, opts.force,
                                      share_facts=opts.share, fix=opts.fix, bounds=bounds(opts))
    except ImportError_ as e:
        raise UsageError(str(e)) from None
    report = Report("import", checked=plural(len(imports), "card") + " imported")
    for imp, target in zip(imports, written.targets, strict=True):
        typed = ", ".join(imp.recognised) or "none"
        report.lines.append(f"imported  {imp.source} -> {target}: typed fields: {typed}; blocks left as free text: "
                            f"{plural(imp.free_sections, 'section')}")
        report.diagnostics += [problem(imp.readme, p, "CG801", "warning") for p in imp.problems]
        report.diagnostics += [problem(imp.readme, p, "CG803", "warning") for p in imp.code]
        report.results.append(Imported(imp.source, imp.repo_id, str(target), list(imp.recognised),
                                       imp.free_sections))
    for folder, old in written.replaced.items():
        shown = ", ".join(old[:5]) + (f" and {len(old) - 5} more" if len(old) > 5 else "")
        report.lines.append(f"replaced  {folder}: its sources were {shown}")
    if written.shared_file is not None:
        report.lines += [f"shared    {written.shared_file}: added {entry}" for entry in written.added]
        if written.kept:
            n = written.kept
            report.notes.append(f"{written.shared_file}: the {n} entr{'y' if n == 1 else 'ies'} it held, kept as "
                                "they were")
    report.notes.append(f"next: `cardgen validate {opts.out}`")
    return report, 0


def merge(opts: ImportOptions) -> tuple[Report, int]:
    from cardgen.files import atomic_write
    from cardgen.importing.imported import ImportError_
    from cardgen.importing.merge import MergeError
    from cardgen.importing.merge import merge as merge_one
    from cardgen.importing.readmes import readme_sources
    from cardgen.importing.write import confined

    out = opts.out
    try:
        found = readme_sources(list(opts.sources), opts.repo_id, bounds(opts))
    except ImportError_ as e:
        raise UsageError(str(e)) from None
    report = Report("import --merge", checked=plural(len(found), "README"))
    for repo, src, text in found:
        folder = out / repo
        if not (folder / "card.yaml").is_file() and not any(folder.glob("*.y*ml")):
            raise UsageError(f"{repo}: no sources in {folder} to merge into; import it without --merge")
        try:
            result = merge_one(text, out, repo)
        except MergeError as e:
            raise UsageError(str(e)) from None
        report.lines.append(result.diff(out.resolve()))
        report.diagnostics += [problem(src, why, "CG802", "error") for why in result.left]
        if opts.write:
            try:
                confined(out.resolve(), list(result.changes))
            except ImportError_ as e:
                raise UsageError(str(e)) from None
            for path, (_, new) in result.changes.items():
                atomic_write(path, new)
        verb = "merged into" if opts.write else "would merge into (pass --write)"
        report.notes.append(f"{repo}: {plural(result.merged, 'edit')} from {src} {verb} "
                            f"{plural(len(result.changes), 'source file')}; {len(result.left)} not merged")
        report.results.append(Merged(repo, src, result.merged, opts.write, sorted(str(p) for p in result.changes),
                                     list(result.left)))
    return report, int(bool(report.diagnostics))


COMMANDS = (Command("import", "turn existing README cards (files, folders, Hub repos) into card sources",
                    "cardgen import old-cards/ TheBloke/Llama-2-7B-GGUF@main --out cards/", arguments, options, run,
                    paths=False, strict=True),)
