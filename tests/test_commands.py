"""The command layer: every command takes `--format` and prints one report through the reporter it names;
an optional extra that is missing is a usage error (exit 2) with the line that installs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cardgen.cli import build_parser, commands
from cardgen.report import REPORTERS

from conftest import CARDS, REPO

CORPUS = REPO / "tests" / "corpus"


def test_every_command_offers_every_reporter():
    parser = build_parser()
    for name, cmd in commands().items():
        sub = parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
        fmt = next(a for a in sub._actions if "--format" in a.option_strings)
        assert set(fmt.choices) >= (set(cmd.formats) if cmd.formats else set(REPORTERS)), name


@pytest.mark.parametrize("args", [
    ("validate", CARDS),
    ("check", CARDS),
    ("codes",),
    ("schema", "--out", "{tmp}/schemas"),
    ("new", "acme/tiny", "--kind", "chat", "--cards", "{tmp}/cards"),
    ("import", CORPUS / "013.md", "--repo-id", "acme/imported", "--out", "{tmp}/imported"),
])
def test_a_command_with_format_json_prints_one_document(cli, tmp_path, args):
    r = cli(*[str(a).replace("{tmp}", str(tmp_path)) for a in args], "--format", "json")
    doc = json.loads(r.out)  # the whole of stdout is one JSON document
    assert doc["command"] == args[0] and r.code == 0, r.text
    assert isinstance(doc["results"], list)
    assert bool(doc["results"]) == (args[0] not in ("validate", "check")), doc  # a clean check has nothing to list
    assert {"errors", "warnings", "diagnostics", "checked"} <= set(doc)


def test_an_import_problem_is_a_diagnostic_with_a_code_and_a_line(cli, tmp_path):
    """What import kept of an original is a CG801 warning at the README line it concerns, in every format."""
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n\n# M\n\nTrained on three datasets: [a](https://a.example), "
                      "[b](https://b.example).\n\n```python\nprint(1)\n")
    r = cli("import", readme, "--repo-id", "acme/m", "--out", tmp_path / "cards", "--format", "json")
    doc = json.loads(r.out)
    found = [d for d in doc["diagnostics"] if d["code"] == "CG801"]
    assert found and all(d["file"] == str(readme) and d["severity"] == "warning" for d in found), doc
    assert any("never closed" in d["message"] for d in found)


def _without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`cardgen ARGS` in a child process where ``module`` cannot be imported (as if not installed)."""
    code = (f"import sys; sys.modules[{module!r}] = None; from cardgen.cli import main; "
            f"sys.exit(main({list(args)!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cyclonedx_without_its_validation_extra_is_a_usage_error_with_the_install_line():
    p = _without("jsonschema", "export", "--risks", "--format", "cyclonedx", str(CARDS))
    assert p.returncode == 2, p.stderr
    assert "python -m pip install 'cardgen[export]'" in p.stderr and "internal error" not in p.stderr
    assert p.stdout == ""  # no half an artefact


def test_jsonld_without_rdflib_is_a_usage_error_with_the_install_line():
    p = _without("rdflib", "export", "--risks", "--format", "jsonld", str(CARDS))
    assert p.returncode == 2 and "python -m pip install 'cardgen[export]'" in p.stderr, p.stderr


def test_an_unknown_command_is_a_usage_error(cli):
    with pytest.raises(SystemExit) as e:  # argparse's own exit
        cli("smok", CARDS)
    assert e.value.code == 2


def test_the_command_table_and_the_modules_agree():
    """`cardgen NAME` imports the module the table names: each command is in the module the table says,
    and every command a module defines is in the table."""
    import importlib

    from cardgen.commands import MODULES

    defined = {cmd.name: module for module in set(MODULES.values())
               for cmd in importlib.import_module(f"cardgen.commands.{module}").COMMANDS}
    assert defined == MODULES


def test_a_command_imports_its_own_module_alone():
    code = ("import sys; from cardgen.cli import main; main(['validate', '-q', 'cards']); "
            "print(sorted(m for m in sys.modules if m.startswith('cardgen.commands.')))")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines()[-1] == "['cardgen.commands.base', 'cardgen.commands.validate']", p.stdout


def test_an_error_naming_a_path_with_a_line_break_stays_one_line(cli, tmp_path):
    """A path is the user's text: a line break in it must not start a line of its own (in a CI log, a line
    beginning `::error::` is a workflow command)."""
    r = cli("validate", "cards\n::error::forged")
    assert r.code == 2 and r.err.count("\n") == 1 and "\n::error::" not in r.err, r.err
