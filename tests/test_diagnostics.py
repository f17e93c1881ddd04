"""One road for problems: the code table, the rule registry and the reporters every command uses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import cardgen.rules.run  # noqa: F401 - every rule module, registered
from cardgen.diagnostics import CODES
from cardgen.report import REPORTERS, Report, Reporter, reporter
from cardgen.rules import registry

from conftest import BUNDLED, warned


def test_every_rule_declares_its_code_and_codes_lists_them(cli):
    r = cli("codes")
    assert r.code == 0
    listed = dict(re.findall(r"^(CG\d{3})\s+(error|warning)\s", r.out, re.M))
    assert set(listed) == set(CODES)
    for rule in registry.RULES:
        assert listed[rule.code.code] == rule.code.severity
    # each Hub rule says which rule of the Hub it enforces
    assert "CG201  error    unknown licence id  [`license` is an id of the Hub's licence list" in r.out
    assert "CG203  warning  unknown pipeline tag  [the Hub files a model under a task of @huggingface/tasks" in r.out


def test_a_new_metadata_rule_is_one_function(cli, tmp_path):
    @registry.metadata_rule("CG299", "no tags", "warning", rule="the Hub lists models by tag")
    def no_tags(meta: registry.Meta) -> Iterator[tuple[tuple[Any, ...], str]]:
        if "tags" not in meta.data:
            yield (), "no `tags`: the model will not be found by tag"

    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n\n# M\n")
    try:
        r = cli("validate", readme)
        assert r.code == 0 and f"{readme.name}:2:1: CG299 warning: no `tags`" in r.out.replace(str(tmp_path) + "/", "")
        assert "CG299  warning  no tags  [the Hub lists models by tag]" in cli("codes").out
    finally:
        registry.RULES[:] = [x for x in registry.RULES if x.check is not no_tags]
        del CODES["CG299"]


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_every_format_carries_warnings(cli, cards, fmt):
    r = cli("validate", warned(cards, wording=True), "--format", fmt)
    assert r.code == 0
    assert "CG606" in r.out and "CG609" in r.out  # the warnings, whatever the format


def test_json_report_counts_and_names_the_vocabulary(cli, cards):
    r = cli("validate", warned(cards, wording=True), "--format", "json")
    doc = json.loads(r.out)
    assert doc["command"] == "validate" and doc["checked"] == f"{BUNDLED} cards"
    assert (doc["errors"], doc["warnings"]) == (0, 3) and {d["severity"] for d in doc["diagnostics"]} == {"warning"}
    assert "@" in doc["vocabulary"]["licenses"]


def test_a_new_output_format_is_one_class(cli, cards):
    from cardgen.cli import build_parser

    @reporter
    class Tally(Reporter):
        name = "tally"

        def emit(self, report: Report) -> None:
            self.out.write(f"{report.command}: {len(report.diagnostics)}\n")

    try:
        assert build_parser().parse_args(["check", "--format", "tally"]).format == "tally"  # every command has it
        r = cli("validate", "--format", "tally", warned(cards, wording=True))
        assert r.code == 0 and r.out == "validate: 3\n"  # the three warnings
    finally:
        del REPORTERS["tally"]


def test_version_names_the_vocabulary(cli):
    r = cli("--version")
    assert r.code == 0
    first, second = r.out.splitlines()
    assert re.fullmatch(r"cardgen \d+\.\d+\.\d+", first)
    assert re.search(r"licenses: huggingface/hub-docs \S+ @ [0-9a-f]{40} \(\d{4}-\d\d-\d\d\)", second)
