"""The `cardgen` command: parse the command line into typed options, call the command, print its
report through the chosen reporter, exit.

Exit codes: 0 clean, 1 problems found, 2 usage error (or a missing optional extra), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import console
from .console import Progress
from .diagnostics import REPORTERS, Report, failed, plural
from .options import (
    DEFAULT_OUT,
    RISK_FORMATS,
    CheckOptions,
    ExportOptions,
    PreviewOptions,
    PublishOptions,
    RenderOptions,
    SmokeOptions,
    ValidateOptions,
)
from .policy import PolicyError, find
from .scope import NothingToCheck, select


class UsageError(Exception):
    pass


def _paths(args: argparse.Namespace) -> tuple[Path, ...]:
    paths = tuple(Path(p) for p in (args.paths or ["cards"]))
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or folder")
    return paths


def _emit(report: Report, fmt: str) -> None:
    if fmt == "stderr":  # the command's output is an artefact on stdout; diagnostics go beside it
        reporter = REPORTERS["text"](out=sys.stderr)
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in report.lines)
        report.lines = []
        reporter.emit(report)
        return
    REPORTERS[fmt]().emit(report)


def _progress() -> Progress:
    return Progress(sys.stderr)


# -- commands ---------------------------------------------------------------------------------------
def validate(opts: ValidateOptions) -> tuple[Report, int]:
    from .readme import validate_readme

    selection = select(list(opts.paths))
    report = Report("validate")
    ncards = 0
    if selection.scopes:
        # sources are rendered in memory and linted as `render` would: validate passes only if render does
        from .pipeline import render_all

        rendering = render_all(selection, opts.jobs, keep_cards=False, policy=opts.policy)
        report.diagnostics += rendering.diagnostics
        ncards = len(rendering.texts) + len(rendering.failed)
    for p in selection.readmes:
        report.diagnostics += opts.policy.apply(validate_readme(p, opts.policy))
    report.checked = plural(ncards, "card") + (f", {plural(len(selection.readmes), 'README')}"
                                               if selection.readmes else "")
    return report, int(failed(report.diagnostics, opts.strict))


def render(opts: RenderOptions) -> tuple[Report, int]:
    from .pipeline import render_to

    graph: list[str] = []
    diags, written = render_to(select(list(opts.paths)), opts.out, opts.jobs, opts.policy,
                               _changed(opts.changed_since, opts.paths, opts.changed), graph)
    report = Report("render", diags, checked=plural(len(written), "README"))
    report.notes = [f"{state:9} {p}" for p, state in written]
    if console.VERBOSITY > 0:
        report.notes += graph
    if opts.changed_since:
        report.notes.append(f"only the cards whose inputs changed since {opts.changed_since} were rendered")
    elif opts.changed:
        report.notes.append(f"only the cards built from the {plural(len(opts.changed), 'file')} given were rendered")
    report.results = [{"readme": str(p), "state": state} for p, state in written]
    return report, int(failed(diags))


def _changed(ref: str | None, paths: tuple[Path, ...], files: tuple[Path, ...] = ()) -> frozenset[str] | None:
    from .files import changed_since

    if files:  # a file that is gone (deleted in the commit) still names the cards built from it
        return frozenset(os.path.realpath(f) for f in files)
    if ref is None:
        return None
    try:
        return changed_since(ref, paths[0] if paths else Path("."))
    except ValueError as e:
        raise UsageError(f"--changed-since {ref}: {e}") from None


def check(opts: CheckOptions) -> tuple[Report, int]:
    from .pipeline import drift

    graph: list[str] = []
    diags, drifted, checked = drift(select(list(opts.paths)), opts.out, opts.jobs, opts.policy,
                                    _changed(opts.changed_since, opts.paths, opts.changed), graph)
    if not opts.fail:  # `diff` shows the differences; they are not problems
        diags = [d for d in diags if d.code != "CG708"]
    report = Report("check" if opts.fail else "diff", diags, checked=plural(checked, "card"))
    report.lines = [d.diff for d in drifted]
    report.results = [{"readme": str(d.readme), "state": d.state, "diff": d.diff,
                       "front_matter": [{"key": k, "old": a, "new": b} for k, a, b in d.front_matter]}
                      for d in drifted]
    if drifted and opts.fail:
        report.notes = [f"{plural(len(drifted), 'README')} differ from the sources; run `cardgen render`"]
    if console.VERBOSITY > 0:
        report.notes += graph
    return report, int((opts.fail and bool(drifted)) or failed(diags))


def export(opts: ExportOptions) -> tuple[Report, int]:
    """`--format json`: one report, the assessments under `document`. `jsonld` and `cyclonedx`: the
    artefact alone on stdout, the problems found on stderr."""
    from . import risk_export, risks
    from .checking import validate_scope

    report = Report("export")
    cards = []
    for scope in select(list(opts.paths)).scopes:
        res = validate_scope(scope, opts.jobs, opts.policy)
        report.diagnostics += res.diagnostics
        cards += [c for c in res.cards if c.model.risk_assessment]
    report.checked = plural(len(cards), "risk assessment")
    if failed(report.diagnostics):
        return report, 1
    if opts.format == "json":
        report.document = [risks.export(c) for c in cards]
        return report, 0
    try:
        if opts.format == "jsonld":
            artefact = risk_export.jsonld(cards)
        else:
            bom = risk_export.cyclonedx(cards)
            problem = risk_export.validate_cyclonedx(bom)
            if problem:  # a bug in the export, said plainly rather than written out
                report.notes.append(f"cardgen: error: the CycloneDX document does not validate: {problem}")
                return report, 1
            artefact = json.dumps(bom, indent=2, ensure_ascii=False)
    except risk_export.ExportUnavailable as e:
        raise UsageError(str(e)) from None
    report.lines = [artefact]
    return report, 0


def publish(opts: PublishOptions) -> tuple[Report, int]:
    from .publish import publish as run

    progress = _progress()
    try:
        return run(opts, progress)
    finally:
        progress.close()


def smoke(opts: SmokeOptions) -> tuple[Report, int]:
    from .smoke import smoke as run

    progress = _progress()
    try:
        return run(opts, progress)
    finally:
        progress.close()


def _codes() -> int:
    from . import lint, policy, rules  # noqa: F401 - they declare their codes
    from .diagnostics import CODES

    print("An error is what the Hub refuses or misreads (the rule is named in brackets); a warning is what it\n"
          "accepts but shows badly. A policy (cardgen.toml or [tool.cardgen]) may change either, or turn it off.\n")
    for c in sorted(CODES.values(), key=lambda c: c.code):
        print(f"{c.code}  {c.severity:7}  {c.title}" + (f"  [{c.rule}]" if c.rule != "cardgen" else ""))
    return 0


def _schema(out: Path) -> int:
    from .schema import write_schemas

    for p in write_schemas(out):
        print(p)
    return 0


def _vocabulary(args: argparse.Namespace) -> int:
    from . import hubspec
    from .vocabulary import VocabularyError, rebuild

    if args.tasks is None and args.hub_docs is None:
        raise UsageError("vocabulary: give --tasks and/or --hub-docs")
    try:
        written = rebuild(args.out or hubspec.DATA, args.tasks, args.hub_docs)
    except VocabularyError as e:
        raise UsageError(str(e)) from None
    for p in written:
        print(p)
    return 0


def version_text() -> str:
    from . import __version__, hubspec

    return f"cardgen {__version__}\nHub vocabulary: {hubspec.snapshot()}"


# -- parsing ----------------------------------------------------------------------------------------
EXAMPLES = {
    "validate": "cardgen validate cards/ some/README.md --format github",
    "render": "cardgen render cards/stabilityai --out rendered/",
    "check": "cardgen check   # exit 1 with a diff when rendered/ is stale",
    "diff": "cardgen diff cards/TheBloke",
    "export": "cardgen export --risks --format json > risks.json",
    "publish": "cardgen publish --dry-run --format json",
    "smoke": "cardgen smoke --model-path org/name=/models/name --json report.json",
    "schema": "cardgen schema --out schemas/",
    "codes": "cardgen codes",
    "import": "cardgen import old-cards/ TheBloke/Llama-2-7B-GGUF@main --out cards/",
    "preview": "cardgen preview --html preview/   # or `cardgen preview` to serve them on 127.0.0.1:8000",
    "new": "cardgen new acme/tiny-chat --kind chat   # then: cardgen new acme/tiny-chat-GGUF --kind gguf "
           "--extends acme/tiny-chat",
    "vocabulary": "cardgen vocabulary --tasks package/ --hub-docs ../hub-docs",
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="cardgen", description="Model cards from YAML sources: validate, render, check, publish, smoke-test.")
    ap.add_argument("--version", action="store_true", help="print the version and the Hub vocabulary it carries")
    sub = ap.add_subparsers(dest="command")

    def add(name: str, help: str, formats: tuple[str, ...] | None = tuple(REPORTERS), paths: bool = True,
            default_format: str = "text") -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=f"example: {EXAMPLES[name]}")
        if paths:
            p.add_argument("paths", nargs="*", metavar="PATH",
                           help="cards folders, card folders, source files or README files (default: cards/)")
        if formats:
            p.add_argument("--format", choices=formats, default=default_format)
            loud = p.add_mutually_exclusive_group()
            loud.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
            loud.add_argument("-v", "--verbose", action="store_true",
                              help="also the rule behind each diagnostic (the Hub's, or cardgen's)")
        return p

    def jobs(p: argparse.ArgumentParser, default: int | None = None) -> None:
        p.add_argument("--jobs", type=int, default=default, metavar="N",
                       help="worker processes (default: from the number of cards, the CPUs this process may "
                            "use and how busy they are)" if default is None else
                       f"concurrent requests (default: {default})")
        if default is None:
            p.add_argument("--no-cache", action="store_true",
                           help="neither read nor keep the dependency graph and compiled templates of earlier runs")

    p = add("validate", "check sources (and README front matter) against the schema and the Hub's rules")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    jobs(p)
    for name, help in (("render", "render README.md files"),
                       ("check", "fail with a diff when a committed README differs from its sources"),
                       ("diff", "show how committed READMEs differ from their sources")):
        p = add(name, help)
        p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)")
        which = p.add_mutually_exclusive_group()
        which.add_argument("--changed-since", metavar="REF",
                           help="only the cards whose inputs (sources, shared entries, bases, templates, vocabulary) "
                                "or committed README changed since this git revision, dependents included")
        which.add_argument("--changed", nargs="+", type=Path, metavar="FILE",
                           help="only the cards built from these files (the pre-commit hook's file list), dependents "
                                "included")
        jobs(p)
    p = add("export", "export risk assessments: json (with the problems found), jsonld (AIRO/DPV), cyclonedx",
            formats=RISK_FORMATS, default_format="json")
    p.add_argument("--risks", action="store_true", required=True, help="export the risk documentation")
    jobs(p)
    p = add("publish", "upload rendered cards to the Hub")
    p.add_argument("--revision", help="branch to commit to (default: main, and each variant's branch with --variants)")
    p.add_argument("--variants", action="store_true", help="also publish to each quantisation variant's branch")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    p.add_argument("--message", help="commit message")
    p.add_argument("--dry-run", action="store_true", help="show the diff against the Hub and change nothing")
    p.add_argument("--force", action="store_true", help="overwrite a README edited on the Hub")
    jobs(p, 1)
    p.add_argument("--out", type=Path, help="committed READMEs to compare against (default: rendered/)")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help="seconds to connect or wait for data, "
                   "per request (default: 20)")
    p.add_argument("--deadline", type=float, default=55.0, metavar="S",
                   help="seconds per repository and branch, retries included (default: 55)")
    p.add_argument("--retry-after-cap", type=float, default=10.0, metavar="S",
                   help="the longest Retry-After the Hub may ask for (default: 10)")
    p.add_argument("--max-readme-bytes", type=int, default=10 * 1024 * 1024, metavar="N",
                   help="a README on the Hub larger than this is not read (default: 10 MiB)")
    p = add("smoke", "load each model, prompt it as the card documents and judge the output")
    p.add_argument("--model-path", action="append", default=[], metavar="REPO_ID=DIR",
                   help="load REPO_ID from a local folder")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the per-model results as JSON")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (1-based)")
    p.add_argument("--no-snippet", action="store_true", help="do not execute the card's usage snippet")
    p.add_argument("--device", choices=("cpu", "cuda"), help="force a device")
    p.add_argument("--tokenizer-only", action="store_true",
                   help="run only the checks that need no weights (prompt, special tokens, stops, chat template)")
    p.add_argument("--allow-download", action="store_true",
                   help="download repositories that are neither given with --model-path nor in the local cache")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                   help="per model: loading, generation and the snippet each (default: 600)")
    p = add("schema", "write the JSON Schema files", formats=None, paths=False)
    p.add_argument("--out", type=Path, default=Path("schemas"))
    p = add("import", "turn existing README cards (files, folders, Hub repos) into card sources", formats=None,
            paths=False)
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="a README.md, a folder of them (owner/name/README.md or *.md), or owner/name[@revision]")
    p.add_argument("--out", default="cards", help="the cards folder to write to (default: cards)")
    p.add_argument("--repo-id", help="the repo id of a single README (default: from its folder)")
    p.add_argument("--force", action="store_true", help="replace existing sources")
    p.add_argument("--fix", action="store_true",
                   help="write what the original got wrong as cardgen computes it (e.g. a hand-typed count that "
                        "disagrees with its list); by default it is kept as written, and reported")
    p.add_argument("--merge", action="store_true",
                   help="bring an edit made on the Hub into the existing sources (shown as a diff of the source files)")
    p.add_argument("--write", action="store_true", help="with --merge: write the merged sources")
    p.add_argument("--no-share", action="store_true",
                   help="keep each card self-contained (default: facts that several cards share go to "
                        "_shared/imported.yaml)")
    p = add("preview", "show each card as the Hub shows a model page (HTML): served with reload, or written out")
    p.add_argument("--html", type=Path, metavar="DIR", help="write a page per card and an index to DIR")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 to serve on (default: 8000; 0: any)")
    add("codes", "list the diagnostic codes, their severity and the rule each enforces", formats=None, paths=False)
    from .scaffold import KINDS

    p = add("new", "write a card source to start from, for a kind of card", formats=None, paths=False)
    p.add_argument("repo_id", metavar="OWNER/NAME")
    p.add_argument("--kind", choices=KINDS, default="base")
    p.add_argument("--extends", metavar="OWNER/NAME", help="the base card, in the cards folder (gguf, gptq, awq)")
    p.add_argument("--cards", default="cards", help="the cards folder (default: cards)")
    p.add_argument("--force", action="store_true", help="replace an existing card.yaml")
    p = add("vocabulary", "(maintainers) rebuild the carried Hub vocabulary from the Hub's own sources", formats=None,
            paths=False)
    p.add_argument("--tasks", type=Path, metavar="DIR", help="an unpacked @huggingface/tasks npm package")
    p.add_argument("--hub-docs", type=Path, metavar="DIR", help="a checkout of huggingface/hub-docs (licences)")
    p.add_argument("--out", type=Path, help="where to write (default: the installed cardgen/data/hubspec/)")
    return ap


def _model_paths(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        repo, sep, path = item.partition("=")
        if not sep or not repo or not path:
            raise UsageError(f"--model-path wants REPO_ID=DIR, got {item!r}")
        out[repo] = Path(path)
    return out


def _import(args: argparse.Namespace) -> int:
    from .importer import ImportError_, run_import

    if args.write and not args.merge:
        raise UsageError("--write goes with --merge (a plain import writes its sources anyway)")
    if args.merge:
        return _merge(args)
    try:
        imports, targets = run_import(list(args.sources), Path(args.out), args.repo_id, args.force,
                                      share_facts=not args.no_share, fix=args.fix)
    except ImportError_ as e:
        raise UsageError(str(e)) from None
    problems = 0
    for imp, target in zip(imports, targets, strict=True):
        typed = ", ".join(imp.recognised) or "none"
        print(f"imported  {imp.source} -> {target}: typed fields: {typed}; blocks left as free text: "
              f"{imp.free_sections} section{'s' * (imp.free_sections != 1)}")
        for p in imp.problems:
            print(f"  problem: {p}")
        problems += len(imp.problems)
    print(f"{len(imports)} card{'s' * (len(imports) != 1)} imported, {problems} problem{'s' * (problems != 1)} "
          f"noted; next: `cardgen validate {args.out}`", file=sys.stderr)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from .files import atomic_write
    from .importer import ImportError_, readme_sources
    from .merge import MergeError, merge

    out = Path(args.out)
    try:
        found = readme_sources(list(args.sources), args.repo_id)
    except ImportError_ as e:
        raise UsageError(str(e)) from None
    left = 0
    for repo, src, text in found:
        folder = out / repo
        if not (folder / "card.yaml").is_file() and not any(folder.glob("*.y*ml")):
            raise UsageError(f"{repo}: no sources in {folder} to merge into; import it without --merge")
        try:
            result = merge(text, out, repo)
        except MergeError as e:
            raise UsageError(str(e)) from None
        sys.stdout.write(result.diff(out.resolve()))
        for why in result.left:
            print(f"  not merged: {why}")
        left += len(result.left)
        if args.write:
            for path, (_, new) in result.changes.items():
                atomic_write(path, new)
        verb = "merged into" if args.write else "would merge into (pass --write)"
        print(f"{repo}: {result.merged} edit{'s' * (result.merged != 1)} from {src} {verb} "
              f"{len(result.changes)} source file{'s' * (len(result.changes) != 1)}; {len(result.left)} not merged",
              file=sys.stderr)
    return 1 if left else 0


def _new(args: argparse.Namespace) -> int:
    from . import hubspec
    from .scaffold import write_new

    cards = Path(args.cards)
    for what, repo in (("repo id", args.repo_id), ("--extends", args.extends)):
        if repo is not None and (p := hubspec.repo_id_problem(repo)):
            raise UsageError(f"{what}: {p}")
    if args.extends and not (cards / args.extends).is_dir():
        raise UsageError(f"--extends {args.extends}: no card folder {cards / args.extends}")
    if args.extends and args.kind not in ("gguf", "gptq", "awq"):
        raise UsageError(f"--extends goes with a derived kind (gguf, gptq, awq), not {args.kind}")
    try:
        target = write_new(cards, args.repo_id, args.kind, args.extends, args.force)
    except FileExistsError as e:
        raise UsageError(str(e)) from None
    print(f"written   {target}\nnext: replace each TODO (`cardgen validate {target.parent}` lists them), then "
          f"`cardgen render {target.parent}`")
    return 0


def preview(opts: PreviewOptions) -> tuple[Report, int]:
    from . import preview as pv

    if opts.html is not None:
        return pv.write_site(list(opts.paths), opts.html, opts.policy)
    return pv.serve(list(opts.paths), opts.port, opts.policy, lambda line: print(line, file=sys.stderr, flush=True))


def _command(args: argparse.Namespace) -> tuple[Callable[[], tuple[Report, int]], str]:
    """The command to run, with its typed options bound; and the output format."""
    name = args.command
    common = {"paths": _paths(args), "format": args.format, "policy": find()}
    if name == "validate":
        vo = ValidateOptions(**common, strict=args.strict, jobs=args.jobs)
        return lambda: validate(vo), args.format
    if name == "render":
        ro = RenderOptions(**common, out=args.out, jobs=args.jobs, changed_since=args.changed_since,
                           changed=tuple(args.changed or ()))
        return lambda: render(ro), args.format
    if name in ("check", "diff"):
        co = CheckOptions(**common, out=args.out, jobs=args.jobs, fail=name == "check",
                          changed_since=args.changed_since, changed=tuple(args.changed or ()))
        return lambda: check(co), args.format
    if name == "export":
        eo = ExportOptions(**common, risks=args.risks, jobs=args.jobs)
        # an artefact owns stdout: its problems are reported as text on stderr
        return lambda: export(eo), args.format if args.format == "json" else "stderr"
    if name == "publish":
        po = PublishOptions(**common, revision=args.revision, variants=args.variants, create_pr=args.create_pr,
                            message=args.message, dry_run=args.dry_run, force=args.force, jobs=max(1, args.jobs),
                            out=args.out, timeout=args.timeout, deadline=args.deadline,
                            retry_after_cap=args.retry_after_cap, max_readme_bytes=args.max_readme_bytes)
        return lambda: publish(po), args.format
    if name == "preview":
        pvo = PreviewOptions(**common, html=args.html, port=args.port)
        return lambda: preview(pvo), args.format
    so = SmokeOptions(**common, model_paths=_model_paths(args.model_path), max_new_tokens=args.max_new_tokens,
                      json=args.json, shard=args.shard, no_snippet=args.no_snippet, device=args.device,
                      tokenizer_only=args.tokenizer_only, allow_download=args.allow_download,
                      timeout=args.timeout if args.timeout > 0 else None)
    return lambda: smoke(so), args.format


def main(argv: list[str] | None = None) -> int:
    # The card models are plain pydantic; scanning every installed distribution for pydantic
    # plugins costs more than validating a card. A user who wants plugins sets the variable.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    ap = build_parser()
    args = ap.parse_args(argv)
    console.VERBOSITY = -1 if getattr(args, "quiet", False) else 1 if getattr(args, "verbose", False) else 0
    if getattr(args, "no_cache", False):
        from .cache import folder

        os.environ["CARDGEN_CACHE_DIR"] = "off"
        folder.cache_clear()
    try:
        if args.version:
            print(version_text())
            return 0
        if args.command is None:
            ap.print_usage(sys.stderr)
            return 2
        if args.command == "codes":
            return _codes()
        if args.command == "schema":
            return _schema(args.out)
        if args.command == "vocabulary":
            return _vocabulary(args)
        if args.command == "new":
            return _new(args)
        if args.command == "import":
            return _import(args)
        run, fmt = _command(args)
        report, code = run()
        _emit(report, fmt)
        return code
    except (UsageError, NothingToCheck, PolicyError) as e:
        print(f"cardgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cardgen ... | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # a bug: one line, never a traceback (set CARDGEN_DEBUG=1 for it)
        if os.environ.get("CARDGEN_DEBUG"):
            raise
        print(f"cardgen: internal error: {type(e).__name__}: {e} (set CARDGEN_DEBUG=1 for details)", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
