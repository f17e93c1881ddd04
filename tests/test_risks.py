"""Risk documentation: the petals card's assessment, computed summary, export and every rule."""

from __future__ import annotations

import json
import re

import pytest

from compare import lines_found, parser, text_lines
from conftest import CARDS, REPO, edit, line_of, seed_text

PETALS = REPO / "rendered/petals-team/StableBeluga2/README.md"
RISKS = "petals-team/StableBeluga2/risks.yaml"


def _matrix_rows(text: str):
    tokens = parser().parse(text.split("---", 2)[2])
    tables, cur, row = [], None, None
    for t in tokens:
        if t.type == "table_open":
            cur = []
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content)
        elif t.type == "tr_close":
            cur.append(row)
            row = None
        elif t.type == "table_close":
            tables.append(cur)
    return [t for t in tables if t[0][0] == "Risks"][0]


def test_matrix_is_14_risks_by_4_uses_with_readable_levels():
    rows = _matrix_rows(PETALS.read_text())
    header, body = rows[0], rows[1:]
    assert [r[0] for r in body] == [f"R{i}" for i in range(1, 15)]
    assert header[2:] == ["Recommending personalized content (U1)", "Creating personalized ad campaigns (U2)",
                          "Personalizing learning experiences (U3)", "Assisting in medical diagnoses (U4)"]
    levels = {"high", "medium", "low", "not applicable", "unknown"}
    for r in body:
        assert len(r) == 6
        assert all(any(lv in cell for lv in levels) for cell in r[2:]), r  # readable as plain text


def _listed_counts(text: str) -> tuple[int, int, int]:
    """Distinct risks, mitigations and uses as a reader finds them listed in the card's text."""
    body = text.split("## Summary of Model Risks by Example Uses")[1]
    details = body.split("### Details of the Example Uses")[1].split("### Mitigations for Risks")
    uses = set(re.findall(r"^- (U\d+)$", details[0], re.M))
    risks = set(re.findall(r"^- (R\d+)$", details[1], re.M))
    mitigations = set(re.findall(r"^  - M (.+)$", details[1], re.M))
    return len(risks), len(mitigations), len(uses)


def test_summary_sentence_counts_what_the_card_lists():
    text = PETALS.read_text()
    risks, mitigations, uses = _listed_counts(text)
    assert (risks, mitigations, uses) == (14, 21, 4)
    assert (f"We identified {risks} potential model risks and {mitigations} mitigation strategies (M) "
            f"for {uses} potential model uses") in text


def test_the_seed_count_of_mitigations_disagrees_with_its_own_list():
    seed = seed_text("003")
    said = int(re.search(r"(\d+) mitigation strategies", seed).group(1))
    listed = {ln.strip() for ln in seed.split("Mitigations for Risks")[1].splitlines()
              if ln.startswith(" ") and ln.strip() and not ln.strip().startswith("-")}
    assert said == 18 and len(listed) == 21


def test_every_line_of_the_seed_risk_section_is_in_the_card():
    seed = seed_text("003")
    section = seed[seed.index("Summary of Model Risks by Example Uses"):]
    total, missing = lines_found(section, PETALS.read_text())
    assert total > 150
    assert [m[:25] for m in missing] == ["We identified 14 potentia"]


def test_export_risks_json(cli):
    r = cli("export", "--risks", CARDS)
    assert r.code == 0
    report = json.loads(r.out)
    assert report["warnings"] == 1 and report["diagnostics"][0]["code"] == "CG606"  # warnings travel too
    [petals] = report["document"]
    assert petals["repo_id"] == "petals-team/StableBeluga2"
    assert petals["summary"] == {"risks": 14, "mitigations": 21, "uses": 4}
    assert petals["matrix"]["R14"]["U4"] == {"level": "unknown", "note": None}
    assert petals["risks"][0]["layer_text"] == "Capability risk"
    assert len(petals["mitigations"]) == 21


def test_near_duplicate_mitigations_are_warned_about(cli):
    r = cli("validate", CARDS)
    line = line_of(CARDS / "_shared/mitigations.yaml", "Exercise reasonable caution")
    assert re.search(rf"mitigations.yaml:{line}:\d+: CG606 warning: mitigation M18 .* nearly repeats M7", r.out)


RULES = [
    ("  - id: U2\n", "  - id: use-2\n", "CG601", "id: use-2"),
    ("  - id: R2\n", "  - id: 'R1'\n", "CG305", "id: 'R1'"),
    ("    mitigations: [M1, M2, M3, M4, M5]", "    mitigations: [M1, M2, M3, M4, M99]", "CG301", "M99"),
    ("    mitigations: [M10, M17]", "    mitigations: []", "CG602", "mitigations: []"),
    ("    R14: {U1: unknown", "    R15: {U1: unknown", "CG603", "R15:"),
    ("    R3: {U1: unknown, U2: unknown", "    R3: {U1: unknown, U9: unknown", "CG603", "R3: {U1"),
    ("    R5: {U1: unknown, U2: unknown, U3: unknown, U4: unknown}", "    R5: {U1: high, U2: low}", "CG604", "R5:"),
    ("  heading: Summary", "  mitigations: {bad-id: x}\n  heading: Summary", "CG601", "bad-id"),
]


@pytest.mark.parametrize("old,new,code,needle", RULES, ids=[f"{r[2]}-{i}" for i, r in enumerate(RULES)])
def test_each_risk_rule_trips_with_a_location(cli, cards, old, new, code, needle):
    path = cards / RISKS
    edit(path, old, new)
    r = cli("validate", cards)
    assert r.code == 1, r.out
    line = line_of(path, needle)
    assert re.search(rf"risks.yaml:{line}:\d+: {code} ", r.out), r.out


def test_missing_cells_may_be_allowed_explicitly(cli, cards):
    edit(cards / RISKS, "    R5: {U1: unknown, U2: unknown, U3: unknown, U4: unknown}", "    R5: {U1: high, U2: low}")
    edit(cards / RISKS, "  heading: Summary", "  allow_missing_cells: true\n  heading: Summary")
    assert cli("validate", cards).code == 0


def test_unused_card_mitigation_is_a_warning(cli, cards):
    edit(cards / RISKS, "  heading: Summary", "  mitigations: {M50: Keep a human in the loop}\n  heading: Summary")
    r = cli("validate", cards)
    assert r.code == 0 and "CG605 warning: mitigation M50 is defined but no risk uses it" in r.out


def test_levels_and_notes_render(cli, cards, tmp_path):
    edit(cards / RISKS, "    R1: {U1: unknown", "    R1: {U1: {level: high, note: personal data at stake}")
    edit(cards / RISKS, "U4: unknown}\n    R2", "U4: not applicable}\n    R2")
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    text = (out / "petals-team/StableBeluga2/README.md").read_text()
    row = [r for r in _matrix_rows(text) if r[0] == "R1"][0]
    assert row[2] == "🔴 high" and row[5] == "⚪ not applicable"
    assert "R1 × U1: personal data at stake" in " ".join(text_lines(text))
