"""`cardgen init`: set up a publisher's own card repository.

In a folder (default: the working one) it writes what the other commands and the editor expect there:
the cards folder, the JSON Schema files that the `$schema` modelines written by `cardgen new` point to
(`schemas/`, beside `cards/`), a commented policy file (`cardgen.toml`), a GitHub workflow that uses
cardgen's Action and a pre-commit configuration that uses its hooks, both pinned to the release tag of
the version installed (`v<version>`). The README shows the same workflow and configuration
(`tests/test_init.py` keeps them in step).

An existing file is never replaced unless ``--force``: it is reported as kept, and the rest is written.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.commands.base import DEFAULT_CARDS, DEFAULT_OUT, Command, UsageError
from cardgen.diagnostics import plural
from cardgen.report import Report
from cardgen.version import __version__

#: the GitHub repository cardgen is installed from: its Action, its hooks and its release tags
#: (`OWNER` stands for its owner until the project names it; `--repo` gives another)
REPOSITORY = "OWNER/cardgen"


def tag() -> str:
    """The release tag of the installed version, which the generated files pin."""
    return f"v{__version__}"


def install_line(repo: str = REPOSITORY) -> str:
    """A publisher's install command: a pip requirement on the installed version's release tag."""
    return f"python -m pip install 'cardgen @ git+https://github.com/{repo}@{tag()}'"


def workflow(repo: str = REPOSITORY) -> str:
    """`.github/workflows/cards.yml`: validate, check the committed READMEs, and publish on a push to the
    default branch, with cardgen's Action at the installed version's tag."""
    return f"""\
# .github/workflows/cards.yml
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  cards:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {{persist-credentials: false}}
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - uses: {repo}@{tag()}          # the release tag of the cardgen you installed
        with:
          paths: cards
          out: rendered
          strict: "true"         # warnings fail the job too (placeholders, typos); "false" reports them only
          publish: "true"
          token: ${{{{ github.event_name == 'push' && secrets.HF_TOKEN || '' }}}}   # the token on push only
"""


def precommit(repo: str = REPOSITORY) -> str:
    """`.pre-commit-config.yaml`: cardgen's hooks at the installed version's tag."""
    return f"""\
# .pre-commit-config.yaml
repos:
  - repo: https://github.com/{repo}
    rev: {tag()}                   # the release tag of the cardgen you installed
    hooks:
      - id: cardgen-validate
      - id: cardgen-check
"""


POLICY = """\
# cardgen.toml: the publisher's policy, what cardgen enforces beyond the Hub's own rules.
# cardgen reads the first cardgen.toml (or pyproject.toml with [tool.cardgen]) from the working folder upwards.
# An error is what the Hub refuses or misreads; a warning what it accepts but shows badly
# (`cardgen codes` lists every code). Uncomment what you want.

# front-matter keys every card must have (a missing one is an error, CG217; a missing licence, CG209)
# require = ["license", "language"]

# a code made an error, a warning, or turned off (here: a quantised repo keeps its base's licence, chat
# template and stops unless the card says why; the Hub itself accepts either)
severity = { CG506 = "error", CG507 = "error" }

# settings for some paths only (later entries win)
# [[overrides]]
# paths = ["cards/acme/**", "rendered/acme/**"]
# require = ["base_model"]
# severity = { CG204 = "error" }
"""


def files(repo: str) -> dict[str, str]:
    """The text files `init` writes, by path relative to the folder (the schemas apart)."""
    return {"cardgen.toml": POLICY, ".github/workflows/cards.yml": workflow(repo),
            ".pre-commit-config.yaml": precommit(repo)}


@dataclass(frozen=True)
class Written:
    path: str
    status: str  # written | replaced | kept | refused (a link out of the folder on its way) | failed


@dataclass(frozen=True)
class InitOptions:
    folder: Path = Path(".")
    force: bool = False
    repo: str = REPOSITORY


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="FOLDER",
                   help="the repository to set up (default: the working folder)")
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.add_argument("--repo", default=REPOSITORY, metavar="OWNER/NAME",
                   help=f"the GitHub repository the Action and the hooks come from (default: {REPOSITORY})")


def options(args: argparse.Namespace, common: dict[str, Any]) -> InitOptions:
    return InitOptions(args.folder, args.force, args.repo)


def _write(root: Path, target: Path, text: str | None, force: bool) -> str:
    """Write one file (a folder where ``text`` is None); its status."""
    from cardgen.files import atomic_write, escaping_link

    if escaping_link(target, root) is not None:  # written through, it would land outside the repository
        return "refused"
    if text is None:
        target.mkdir(parents=True, exist_ok=True)
        return "written"
    existed = target.exists() or target.is_symlink()
    if existed and not force:
        return "kept"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text)
    return "replaced" if existed else "written"


def run(opts: InitOptions) -> tuple[Report, int]:
    from cardgen import hubspec
    from cardgen.commands.schema import all_schemas, schema_text

    if problem := hubspec.repo_id_problem(opts.repo):
        raise UsageError(f"--repo: {problem}")
    root = opts.folder
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    todo = {f"schemas/{name}": schema_text(model) for name, model in all_schemas().items()} | files(opts.repo)
    report = Report("init")
    written: list[Written] = []
    code = 0
    steps: dict[str, str | None] = {str(DEFAULT_CARDS): None, **todo}
    for rel, text in steps.items():  # each on its own: one that fails stops no other
        try:
            status = _write(root, root / rel, text, opts.force)
        except OSError as e:
            status = "failed"
            in_the_way = next((p for p in (root / rel).parents if p.exists() and not p.is_dir()), None)
            why = f"{in_the_way} is a file where a folder should be" if in_the_way else e.strerror or e
            report.notes.append(f"cardgen: error: cannot write {root / rel}: {why}")
        if status == "refused":
            report.notes.append(f"cardgen: error: {root / rel}: a link out of {root} is on its way; not written")
        code = code or int(status in ("refused", "failed"))
        if text is not None:
            written.append(Written(str(root / rel), status))
    kept = [w for w in written if w.status != "written" and w.status != "replaced"]
    report.checked = plural(len(written) - len(kept), "file") + " written"
    report.results = written
    report.lines = [f"{w.status:<9} {w.path}" + (" (exists; --force replaces it)" if w.status == "kept" else "")
                    for w in written]
    if opts.repo == REPOSITORY:
        report.notes.append(f"the workflow and .pre-commit-config.yaml name {REPOSITORY}: replace OWNER with the "
                            "owner of the cardgen repository you install from (or run again with --repo and --force)")
    report.notes.append(f"next: `cardgen new OWNER/NAME --kind chat` (in {root / DEFAULT_CARDS}), "
                        f"`cardgen validate`, `cardgen render` (writes {DEFAULT_OUT}/), then commit")
    return report, code


COMMANDS = (Command("init", "set up a card repository: cards/, schemas/, policy, workflow, pre-commit",
                    "cardgen init   # then: cardgen new acme/tiny-chat --kind chat", arguments, options, run,
                    paths=False),)
