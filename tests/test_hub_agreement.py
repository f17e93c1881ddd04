"""cardgen agrees with the Hub on real cards written by others (tests/corpus, see ORIGIN.md): an error
only where the Hub refuses or misreads a value, naming that rule; folders of READMEs; the publisher's
policy; and no internal error on any front matter, however malformed."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

import cardgen.rules.run  # noqa: F401 - declares the rules' codes
from cardgen.diagnostics import CODES

from conftest import REPO

CORPUS = REPO / "tests" / "corpus"
CARDS = sorted(p for p in CORPUS.glob("*.md") if p.name != "ORIGIN.md")

#: The errors each corpus card must give, and the Hub rule it breaks. Every other card must exit 0.
ERRORS = {
    "003.md": {"CG205": "`language: russian` is a name, not an ISO 639 code; the Hub refuses it"},
    "006.md": {"CG201": "`license: Apache 2.0` is not an id of the Hub's licence list (`apache-2.0` is)",
               "CG207": "`datasets` holds a URL with markdown, not a dataset id"},
    "027.md": {"CG215": "a model-index result without `dataset`, which huggingface_hub refuses to load"},
}


def test_the_corpus_is_all_there():
    assert len(CARDS) == 63


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_a_real_card_fails_only_for_a_hub_rule(cli, card):
    r = cli("validate", card, "--format", "json")
    import json

    doc = json.loads(r.out)
    errors = {d["code"] for d in doc["diagnostics"] if d["severity"] == "error"}
    expected = ERRORS.get(card.name, {})
    assert errors == set(expected), doc["diagnostics"]
    assert r.code == (1 if expected else 0)
    for code in errors:  # every error names the Hub rule it enforces
        assert CODES[code].rule != "cardgen", code


def test_a_folder_of_readmes_checks_each_one(cli):
    r = cli("validate", CORPUS)
    assert r.code == 1
    assert "0 cards, 64 READMEs:" in r.err  # 63 cards and the folder's ORIGIN.md
    named = set(re.findall(r"^.*?corpus/(\d{3}\.md):", r.out, re.M))
    assert {"003.md", "006.md", "027.md"} <= named


def test_a_nested_folder_of_readmes_checks_each_one(cli, tmp_path):
    for i, card in enumerate(CARDS[:5]):
        d = tmp_path / "hub" / f"org{i % 2}" / f"model{i}"
        d.mkdir(parents=True)
        (d / "README.md").write_bytes(card.read_bytes())
    (tmp_path / "hub/org0/model0/README.md").write_text("---\npipeline_tag: []\n---\n\n# M\n")
    r = cli("validate", tmp_path / "hub")
    assert r.code == 1 and "0 cards, 5 READMEs:" in r.err, r.text
    assert re.search(r"org0/model0/README.md:2:\d+: CG214 `pipeline_tag` must be a string, not a list", r.out)


def test_an_empty_folder_is_a_usage_error(cli, tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    r = cli("validate", tmp_path / "empty")
    assert r.code == 2 and "nothing to validate under" in r.err


def readme(tmp_path: Path, front: str, body: str = "# M\n", name: str = "README.md") -> Path:
    p = tmp_path / name
    p.write_text(f"---\n{front}---\n\n{body}", "utf-8")
    return p


@pytest.mark.parametrize("front,code,severity", [
    ("license: mit\nlanguage: code\n", None, None),  # a documented special value
    ("license: mit\nlanguage: [en, multilingual]\n", None, None),
    ("license: mit\nlanguage: fre\n", None, None),  # ISO 639-2/B
    ("license: mit\nlanguage: English\n", "CG205", "error"),
    ("license: mit\nlanguage: zz\n", "CG218", "warning"),  # the right shape, but no ISO code
    ("license: mit\nlanguage: no\n", "CG205", "error"),  # YAML 1.1 reads it as false
    ("license: [mit]\n", "CG208", "warning"),
    ("license: other\n", "CG202", "warning"),
    ("language: en\n", "CG209", "warning"),
    ("license: mit\nbase_model: distilbert-base-uncased\n", "CG216", "warning"),
    ("license: mit\nbase_model: a--b/c\n", "CG206", "error"),
    ("license: mit\npipeline_tag: text-generaton\n", "CG203", "warning"),
    ("license: mit\nlibrary_name: tranformers\n", "CG204", "warning"),
    ("license: mit\npipeline_tag: []\n", "CG214", "error"),
    ("license: mit\nlibrary_name: {}\n", "CG214", "error"),
    ("license: mit\ntags: {a: b}\n", "CG220", "warning"),  # shown badly, not refused
    ("license: mit\nco2_eq_emissions: 10 kg\n", "CG220", "warning"),
    ("license: mit\npipeline_tag:\n", "CG219", "warning"),
    ("license: mit\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n    metrics: [{type: acc, value: 1}]\n",
     "CG215", "error"),
    ("license: mit\nmodel-index: not-a-list\n", "CG214", "error"),
])
def test_severity_follows_the_hub(cli, tmp_path, front, code, severity):
    r = cli("validate", readme(tmp_path, front))
    found = {(c, "warning" if w else "error") for c, w in re.findall(r": (CG\d+) (warning: )?", r.out)}
    if code is None:
        assert found == set() and r.code == 0, r.out
    else:
        assert (code, severity) in found, r.out
        assert r.code == (1 if severity == "error" else 0)


def test_yaml_booleans_for_a_language_say_to_quote_it(cli, tmp_path):
    r = cli("validate", readme(tmp_path, "license: mit\nlanguage:\n- en\n- no\n"))
    assert re.search(r"README.md:5:3: CG205 language False is a YAML boolean.*quote the code \(for Norwegian, `'no'`\)", r.out)


def test_the_error_points_at_the_offending_model_index_entry(cli, tmp_path):
    front = ("license: mit\nmodel-index:\n- name: m\n  results:\n  - task: {type: a}\n    dataset: {type: d, name: D}\n"
             "    metrics: [{type: acc, value: 1}]\n  - task: {type: b}\n    dataset: {type: d}\n"
             "    metrics: [{type: acc, value: 1}]\n")
    r = cli("validate", readme(tmp_path, front))
    assert r.code == 1
    assert re.search(r"README.md:10:14: CG215 `dataset` needs `name`", r.out), r.out


def test_the_readme_body_is_linted_on_validate(cli, tmp_path):
    r = cli("validate", readme(tmp_path, "license: mit\n", "# M\n\n```python\nx = 1\n"))
    assert r.code == 0 and re.search(r"README.md:7:1: CG703 warning: code fence is never closed", r.out), r.out
    assert cli("validate", "--strict", tmp_path / "README.md").code == 1


def test_a_policy_requires_a_licence_for_one_repository_only(cli, tmp_path, monkeypatch):
    (tmp_path / "acme" / "strict-model").mkdir(parents=True)
    (tmp_path / "acme" / "loose-model").mkdir(parents=True)
    for name in ("strict-model", "loose-model"):
        readme(tmp_path / "acme" / name, "language: en\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.cardgen]\nseverity = { CG211 = "off" }\n\n'
                                             '[[tool.cardgen.overrides]]\npaths = ["acme/strict-model/**"]\n'
                                             'require = ["license", "pipeline_tag"]\n')
    monkeypatch.chdir(tmp_path)
    r = cli("validate", "acme")
    assert r.code == 1
    assert re.search(r"^acme/strict-model/README.md:\d+:\d+: CG209 no `license`", r.out, re.M), r.out
    assert re.search(r"^acme/strict-model/README.md:\d+:\d+: CG217 `pipeline_tag` is required by the policy", r.out, re.M)
    assert re.search(r"^acme/loose-model/README.md:\d+:\d+: CG209 warning: no `license`", r.out, re.M), r.out
    assert "loose-model/README.md" not in "".join(ln for ln in r.out.splitlines(True) if "warning" not in ln)


def test_an_inline_ignore_silences_one_code_on_one_line(cli, tmp_path):
    front = "license: mit\nquantised_by: me  # cardgen: ignore[CG211]\nmodel_nam: x\n"
    r = cli("validate", readme(tmp_path, front))
    assert r.code == 0
    assert "'quantised_by'" not in r.out  # silenced on its line
    assert "CG211 warning: metadata key 'model_nam'" in r.out  # the same code elsewhere still reported


def test_a_malformed_policy_is_a_usage_error(cli, tmp_path, monkeypatch):
    (tmp_path / "cardgen.toml").write_text('severity = { CG211 = "loud" }\n')
    readme(tmp_path, "license: mit\n")
    monkeypatch.chdir(tmp_path)
    r = cli("validate", "README.md")
    assert r.code == 2 and "CG211 = 'loud'" in r.err


# -- fuzz: the front matter of the corpus cards, mutated ----------------------------------------------
VALUES = ["[]", "{}", "", "~", "null", "1", "-1.5e300", "true", "no", "on", "yes", "off", "0o17", "1_000", ".inf",
          "2001-12-14", "'x'", "\"\\x00\\u202e\"", "[1, [2, [3]]]", "{a: {b: [c]}}", "!!bool maybe", "!!float x",
          "!!int 1.5", "!!str", "!!binary aGk=", "!!python/object:os.system x", "&a [*a]", "*nope", "[" * 70 + "]" * 70,
          "9" * 5000, "x" * 20000, "- a\n- b", "|\n  block\n  text", ">\n  folded", "[mit, apache-2.0]",
          "{type: x}", "- {task: {type: t}}", "- name: m\n  results: [{task: 1, dataset: [], metrics: {}}]"]
KEYS = ["license", "language", "pipeline_tag", "library_name", "tags", "datasets", "base_model", "model-index",
        "license_name", "license_link", "inference", "widget", "co2_eq_emissions", "new_version",
        "base_model_relation", "metrics", "thumbnail", "licence", "1", "? [a]", "x" * 300]


def _mutate(rng: random.Random, text: str) -> str:
    m = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    front, body = (m.group(1), text[m.end():]) if m else ("", text)
    lines = front.splitlines()
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        line = f"{rng.choice(KEYS)}: {rng.choice(VALUES)}"
        if op == 0 or not lines:
            lines.append(line)
        elif op == 1:
            lines[rng.randrange(len(lines))] = line
        elif op == 2:
            lines.insert(rng.randrange(len(lines)), lines[rng.randrange(len(lines))])  # a duplicate key, maybe
        elif op == 3:
            i = rng.randrange(len(lines))
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(["'", '"', "\t", ": ", "- ", "{", "["])
        else:
            i = rng.randrange(len(lines))
            lines[i] = " " * rng.randint(1, 5) + lines[i]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def test_fuzzed_front_matter_never_crashes(cli, tmp_path):
    rng = random.Random(20261126)
    texts = [p.read_text("utf-8") for p in CARDS]
    codes = set()
    target = tmp_path / "README.md"
    for i in range(2000):
        target.write_text(_mutate(rng, rng.choice(texts)), "utf-8")
        r = cli("validate", target)
        assert r.code in (0, 1, 2), (i, target.read_text()[:2000], r.text[-2000:])
        assert "internal error" not in r.text and "Traceback" not in r.text, (i, r.text[-2000:])
        codes.update(re.findall(r": (CG\d+) ", r.out))
    assert {"CG004", "CG005", "CG007", "CG205", "CG214"} <= codes, codes  # the mutations reached the rules


def test_an_ignore_comment_added_later_is_seen_in_the_same_process(cli, tmp_path):
    p = readme(tmp_path, "license: mit\nquantised_by: me\n")
    assert "CG211" in cli("validate", p).out
    p.write_text(p.read_text().replace("quantised_by: me", "quantised_by: me  # cardgen: ignore[CG211]"))
    assert "CG211" not in cli("validate", p).out


# -- fuzz: whole READMEs, mutated, through validate, check and diff ----------------------------------
DEEP = 200
HOSTILE = ["!!bool maybe", "!!binary aGk=", "!!binary @@", "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]",
           "!!timestamp x", "2001-13-45", "!!float x", "!!int 1.5", "!!null x", "!!map [a]", "!!seq {a: 1}",
           "!<tag:yaml.org,2002:bool> x", "!custom x", "!!python/name:os.system", "!! x", "9" * 4301, "-" + "9" * 5000,
           "0x" + "f" * 4000, "0o" + "7" * 5000, "0b" + "1" * 20000, "1" + ":59" * 3000, "1e99999", ".nan", "-.inf",
           "[" * DEEP + "]" * DEEP, "{a: " * DEEP + "1" + "}" * DEEP, "- " * 120 + "x", "&a [*a]", "*nope",
           "[&a x, *a, *a]", "{<<: 1}", "{<<: *nope}", "{[a, b]: c}", "{{a: 1}: 2}", "? x", "|", "|9\n  x",
           "'unterminated", '"\\ud800"', "[a, b", "{a: 1", "@x", "`x", "%x", "x: y: z", "\t- a", "\"x\x00\"", "\u202e"]
FM_KEYS = ["license", "language", "pipeline_tag", "library_name", "tags", "datasets", "base_model", "model-index",
           "license_link", "widget", "co2_eq_emissions", "new_version", "metrics", "thumbnail", "<<", "1", "? [a]",
           "&k a", "*k", "x" * 300, "9" * 4301, "0x" + "f" * 4000]
NOT_A_MAPPING = ["- a\n- b", "just text", "42", "~", "!!binary aGk=", "!!set {a}", "&a [*a]", "%YAML 1.1\n---\na: 1",
                 "a: 1\n---\nb: 2", "a: 1\n...\nb", "[" * 1000, "{" * 1000, "9" * 4301, "!!bool maybe", "\t"]
CONTROLS = ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe", "\u202e", "\r", "\t"]
BODY_BITS = ["|a|b|\r|-|-|\r|1|2|\r", "|a|b|\r\n|-|-|\n|1|2|3|\r", "|a|\n|-|\r|b|c|\r\r", "```", "```python\nx = 1\n",
             "~~~~\ncode\n```", "````\r```\r", "```\r\nx\r```\r\n", "<div>" * 2000, "</div>" * 300,
             "<details><summary>x", "<!-- never closed", "<pre>\n\nx", "<" * 5000, "<" + "a " * 3000 + ">",
             "> " * 300 + "quote", "- " * 300 + "list", "  " * 500 + "- x", "# h1\r### h3\r", "Title\r===\r",
             "[a](", "](" * 3000, "[" * 5000 + "]" * 5000, "{{ x }}\r{%", "`" * 5000, "x" * 100_000,
             "| " * 5000 + "|\n" + "|-" * 5000 + "|\n", "\x00\x00\r\x00", "\u2028\u2029\x85", "\r" * 1000,
             "\r\n\r" * 500, "[x]:\r<y>\r"]


def _mutate_front(rng: random.Random, front: str) -> str:
    lines = front.split("\n")
    for _ in range(rng.randint(1, 4)):
        op, i = rng.randrange(9), rng.randrange(len(lines))
        if op == 0:
            lines.insert(i, f"{rng.choice(FM_KEYS)}: {rng.choice(HOSTILE)}")
        elif op == 1:
            lines[i] = f"{rng.choice(FM_KEYS)}: {rng.choice(HOSTILE)}"
        elif op == 2:  # a duplicate key, maybe
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 3:  # an anchor, its alias, a merge
            key, _, value = lines[i].partition(":")
            lines[i] = f"{key}: &a{i} {value.strip() or 'x'}"
            lines += [f"{rng.choice(FM_KEYS)}: *a{i}", f"<<: *a{i}"][: rng.randint(1, 2)]
        elif op == 4:  # a line cut short
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice("'\"\t:-{[&*!|>#%")
        elif op == 5:
            lines[i] = rng.choice([" ", "\t", " " * 100]) * rng.randint(1, 5) + lines[i]
        elif op == 6:
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + rng.choice(CONTROLS) + lines[i][j:]
        elif op == 7:  # deep block nesting
            depth = rng.choice([10, 60, 150])
            lines += [" " * (2 * d) + f"k{d}:" for d in range(depth)] + [" " * (2 * depth) + "v"]
        else:
            return rng.choice(NOT_A_MAPPING)
    return "\n".join(lines)


def _mutate_body(rng: random.Random, body: str) -> str:
    lines = body.split("\n")
    for _ in range(rng.randint(1, 3)):
        op, i = rng.randrange(5), rng.randrange(len(lines))
        if op <= 1:
            lines.insert(i, rng.choice(BODY_BITS))
        elif op == 2:  # from some line on, one kind of line end or a mix
            ends = rng.sample(["\n", "\r", "\r\n"], rng.randint(1, 3))
            lines[i:] = ["".join(ln + rng.choice(ends) for ln in lines[i:])]
        elif op == 3:
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + rng.choice(CONTROLS + BODY_BITS[:8]) + lines[i][j:]
        else:
            del lines[i + 1:]
    return "\n".join(lines)


def _mutate_readme(rng: random.Random, text: str) -> bytes:
    m = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    front, body = (m.group(1), text[m.end():]) if m else (rng.choice([None, "license: mit"]), text)
    r = rng.random()
    if r < 0.8:
        front = _mutate_front(rng, front or "")
    if r > 0.45:
        body = _mutate_body(rng, body)
    opening, closing = rng.choice([("---\n", "\n---\n")] * 12 + [
        ("---\n", "\n"),  # never closed
        ("\ufeff---\n", "\n---\n"), ("---\r", "\r---\r"), ("---\r\n", "\r\n---\r\n"), ("--- \n", "\n--- \n"),
        ("\n\n  ---\n", "\n---\n")])
    if opening.endswith("\r") or opening.endswith("\r\n"):
        front = (front or "").replace("\n", opening[3:])
    out = body if front is None else opening + front + closing + body
    data = out[: rng.randrange(len(out) + 1)] if rng.random() < 0.05 else out
    raw = data.encode("utf-8", "surrogatepass")
    return raw[:9] + b"\xff\xc3" + raw[9:] if rng.random() < 0.03 else raw  # not UTF-8 at all


def test_fuzzed_readmes_never_crash_validate_check_or_diff(cli, tmp_path):
    """Committed READMEs (`check`, `diff`) and published ones (`validate`), mutated from the bundled
    renders and the corpus: hostile YAML tags, huge integers in any base, aliases, deep nesting, front
    matter that is no mapping or never closed, a BOM, control characters, lone `\\r` line ends, odd
    tables, open fences, deep HTML, huge lines. Each README is a case for each command; none may end in
    an internal error."""
    import shutil

    shutil.copytree(REPO / "cards", tmp_path / "cards")
    shutil.copytree(REPO / "rendered", tmp_path / "rendered")
    out = tmp_path / "rendered"
    targets = sorted(out.rglob("README.md"))
    own = {p: p.read_text("utf-8") for p in targets}
    corpus = [p.read_text("utf-8") for p in CARDS]
    rng = random.Random(20261127)
    cases, codes, drifted = 0, set(), 0
    for round_ in range(150):
        texts = {p: _mutate_readme(rng, own[p] if rng.random() < 0.6 else rng.choice(corpus)) for p in targets}
        for p, data in texts.items():
            p.write_bytes(data)
        fmt = ["--format", rng.choice(["text", "json", "github"])]
        for command in (["validate", out, *fmt], ["check", tmp_path / "cards", "--out", out, *fmt],
                        ["diff", tmp_path / "cards", "--out", out, *fmt]):
            r = cli(*command)
            cases += len(targets)
            if r.code not in (0, 1) or "internal error" in r.text or "Traceback" in r.text:
                raise AssertionError(f"round {round_}: {command[0]} exit {r.code}: {r.text[-1500:]}\n"
                                     f"the README: {_culprit(cli, command, texts, own)!r}")
            codes.update(re.findall(r"\b(CG\d{3})\b", r.out))
            drifted += command[0] == "diff" and '"front_matter": [' in r.out
    print(f"{cases} README cases through validate, check and diff: no internal error")
    assert cases >= 3000
    # the mutations reached the loader, the rules, the lint and the comparison
    assert {"CG004", "CG005", "CG007", "CG009", "CG214", "CG702", "CG703", "CG707", "CG708"} <= codes, codes
    assert drifted, "no diff compared front matter"


def _culprit(cli, command, texts: dict[Path, bytes], own: dict[Path, str]) -> bytes | None:
    """The one mutated README that makes ``command`` fail (the others restored), its first 600 bytes."""
    for p in texts:
        for q in texts:
            q.write_bytes(texts[q] if q == p else own[q].encode("utf-8"))
        if cli(*command).code not in (0, 1):
            return texts[p][:600]
    return None


@pytest.mark.parametrize("written,hub", [
    ("MIT", "mit"), ("CC-BY-4.0", "cc-by-4.0"), ("GPL-3.0", "gpl-3.0"), ("CC-BY-NC-4.0", "cc-by-nc-4.0"),
    ("Apache-2.0", "apache-2.0"), ("GPL-3.0-only", "gpl-3.0"), ("GPL-3.0-or-later", "gpl-3.0"),
    ("LGPL-2.1+", "lgpl-2.1"), ("BSD-3-Clause", "bsd-3-clause"), ("CC0-1.0", "cc0-1.0"), ("ODbL-1.0", "odbl"),
    ("Apache License 2.0", "apache-2.0"), ("Llama-3.1", "llama3.1"), ("Other", "other"),
])
def test_a_licence_spelled_as_spdx_or_in_capitals_is_refused_with_the_hub_id(cli, tmp_path, written, hub):
    """The Hub's licence ids are its own lower-case list: `MIT` is not `mit` to it (the same error as any
    unknown id), and the fix is the Hub's id, not a custom licence."""
    r = cli("validate", readme(tmp_path, f"license: {written}\n"))
    assert r.code == 1
    assert re.search(rf"README.md:2:\d+: CG201 unknown licence '{re.escape(written)}': the Hub's id for it is "
                     rf"`{re.escape(hub)}` \(.*\); write `license: {re.escape(hub)}`", r.out), r.out
    assert "use `other`" not in r.out


def test_a_card_with_an_spdx_licence_gets_the_hub_id_at_its_line(cli, cards):
    card = cards / "cardgen-examples/tiny-chat/card.yaml"
    text = card.read_text()
    card.write_text(re.sub(r"(?m)^license: .*$", "license: CC-BY-4.0", text))
    r = cli("validate", card.parent)
    line = next(n for n, ln in enumerate(card.read_text().splitlines(), 1) if ln.startswith("license:"))
    assert r.code == 1 and re.search(rf"card.yaml:{line}:\d+: CG201 .*`cc-by-4.0`", r.out), r.out


def test_an_unknown_licence_still_points_at_other(cli, tmp_path):
    r = cli("validate", readme(tmp_path, "license: acme-research-1.0\n"))
    assert r.code == 1 and "use `other` with license_name and license_link" in r.out
