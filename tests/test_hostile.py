"""Hostile and broken input: one clear diagnostic with a location, exit 1, no traceback,
in bounded time and memory (each run is a child process with a 1 GiB address-space cap)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

MEM_CAP = 1 << 30


def _cap():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP, MEM_CAP))


def validate(path: Path, cwd: Path):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "cardgen", "validate", str(path)], cwd=cwd, capture_output=True,
                       text=True, timeout=30, preexec_fn=_cap)
    return p, time.monotonic() - t0


def card_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cards" / "acme" / "model"
    d.mkdir(parents=True)
    (tmp_path / "cards" / "_shared").mkdir()
    return d


CASES = {
    "malformed": (b"repo_id: acme/model\nname: [unclosed\n", "CG004", 3),
    "not-utf8": (b"repo_id: acme/model\nname: caf\xe9\n", "CG002", 2),
    "empty": (b"", "CG003", 1),
    "only-comment": (b"# nothing here\n", "CG003", 1),
    "list-at-top": (b"- repo_id: acme/model\n", "CG101", 1),
    "alias-bomb": (b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n".encode()
        for i in range(9)), "CG006", None),
    "deep-nesting": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "CG006", None),
    "python-tag": (b"repo_id: !!python/object/apply:os.system ['echo pwned']\n", "CG007", 1),
    "duplicate-key": (b"repo_id: acme/model\nlicense: mit\nname: A\nname: B\n", "CG005", 4),
    "nul-bytes": (b"repo_id: acme/model\nname: \x00\x00\n", "CG004", None),
    "many-nodes": (b"x: [" + b",".join([b"1"] * 900_000) + b"]\n", "CG006", 1),  # 1.8 MB, under the size limit
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file(tmp_path, name):
    content, code, line = CASES[name]
    d = card_dir(tmp_path)
    f = d / "card.yaml"
    f.write_bytes(content)
    p, took = validate(tmp_path / "cards", tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Traceback" not in out
    diags = re.findall(r"^(\S+):(\d+):(\d+): (CG\d+) ", p.stdout, re.M)
    assert [d[3] for d in diags] == [code], out  # exactly one, clear diagnostic
    assert diags[0][0].endswith("card.yaml")
    if line is not None:
        assert int(diags[0][1]) == line, out
    assert took < 20


def test_huge_file_is_refused_without_reading_it(tmp_path):
    d = card_dir(tmp_path)
    f = d / "card.yaml"
    with open(f, "wb") as fh:
        fh.write(b"repo_id: acme/model\nname: x\n")
        fh.seek(50 * 1024 * 1024)
        fh.write(b"\n")
    p, took = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "CG001" in p.stdout and "Traceback" not in p.stderr
    assert re.search(r"card.yaml:1:1: CG001 file is 52,428,801 bytes", p.stdout), p.stdout
    assert took < 20


def test_section_file_escaping_cards_is_refused(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text(
        "repo_id: acme/model\nlicense: mit\nsections:\n  - heading: Secrets\n    file: ../../../../etc/passwd\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert re.search(r"card.yaml:5:11: CG304 section file '../../../../etc/passwd' escapes", p.stdout), p.stdout
    assert "root:" not in p.stdout


def test_symlinked_source_outside_cards_is_refused(tmp_path):
    d = card_dir(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text("repo_id: acme/model\nlicense: mit\n")
    os.symlink(outside, d / "card.yaml")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and "CG304" in p.stdout and "Traceback" not in p.stderr


def test_missing_section_file_is_a_dangling_reference(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text("repo_id: acme/model\nlicense: mit\nsections:\n  - heading: X\n    file: nope.md\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 1 and re.search(r"card.yaml:5:11: CG301 section file 'nope.md'", p.stdout), p.stdout


def test_a_minimal_card_is_valid(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_text("repo_id: acme/model\nlicense: mit\n")
    p, _ = validate(tmp_path / "cards", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_document_of_many_tiny_nodes_is_refused_before_it_is_built(tmp_path):
    d = card_dir(tmp_path)
    (d / "card.yaml").write_bytes(b"x: [" + b",".join([b"1"] * 900_000) + b"]\n")
    if not Path("/proc/self/status").is_file():
        pytest.skip("peak memory is read from /proc (Linux)")
    # VmHWM: this process's peak resident memory (getrusage's ru_maxrss would include the parent's)
    probe = ("import re, sys\nfrom cardgen.cli import main\nrc = main(['validate', 'cards'])\n"
             "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
             "print('peak', hwm, file=sys.stderr)\nsys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "CG006" in p.stdout, p.stdout + p.stderr
    peak_kb = int(re.search(r"peak (\d+)", p.stderr).group(1))
    assert peak_kb < 150_000, f"{peak_kb} KB"  # composing all 900,000 nodes first took about 300 MB


# -- `cardgen import`: what it reads stays inside the folder named, what it writes inside --out ----------

CARD_MD = "---\nlicense: mit\n---\n# {title}\n\nText of {title}.\n\n## Citation\n\n```bibtex\n@misc{{{key},\n  title={{{key}}}\n}}\n```\n"


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_import_reads_no_link_out_of_the_folder_it_is_given(cli, tmp_path):
    src, secret = tmp_path / "src", tmp_path / "secret"
    (src / "acme/model").mkdir(parents=True)
    (secret / "name").mkdir(parents=True)
    (src / "acme/model/README.md").write_text(CARD_MD.format(title="Model", key="m"))
    (secret / "name/README.md").write_text("# Secret\n\nthe secret text\n")
    (secret / "flat.md").write_text("# Secret\n\nthe secret text\n")
    os.symlink(secret, src / "evil")  # a folder of the input that is a link out of it
    r = cli("import", src, "--out", tmp_path / "cards")
    assert r.code == 2 and f"{src / 'evil'} is a link out of {src}: not read" in r.err, r.text
    os.unlink(src / "evil")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "ok.md").write_text(CARD_MD.format(title="Ok", key="o"))
    os.symlink(secret / "flat.md", flat / "evil.md")  # a file of the input that is a link out of it
    r = cli("import", flat, "--out", tmp_path / "cards")
    assert r.code == 2 and f"{flat / 'evil.md'} is a link out of {flat}: not read" in r.err, r.text
    assert not (tmp_path / "cards").exists()  # nothing written
    os.unlink(flat / "evil.md")
    os.symlink("ok.md", flat / "alias.md")  # a link that stays inside is read
    assert cli("import", flat, "--out", tmp_path / "cards").code == 0
    assert "secret" not in "".join(p.read_text() for p in (tmp_path / "cards").rglob("*") if p.is_file())


@pytest.mark.parametrize("link", ["owner", "templates", "shared"])
def test_import_writes_through_no_link_out_of_out(cli, tmp_path, link):
    src, out, elsewhere = tmp_path / "src", tmp_path / "cards", tmp_path / "elsewhere"
    for name in ("a", "b"):
        (src / "acme" / name).mkdir(parents=True)
        (src / "acme" / name / "README.md").write_text(CARD_MD.format(title=name, key="shared-key"))
    elsewhere.mkdir()
    out.mkdir()
    if link == "owner":
        os.symlink(elsewhere, out / "acme")
    elif link == "templates":  # the card's own templates folder, with --force: refused all the same
        (out / "acme/a").mkdir(parents=True)
        os.symlink(elsewhere, out / "acme/a/templates")
    else:
        os.symlink(elsewhere, out / "_shared")
    r = cli("import", src, "--out", out, "--force")
    assert r.code == 2 and "is a link out of" in r.err and "import writes only inside --out" in r.err, r.text
    assert not list(elsewhere.iterdir())  # nothing written through the link
    assert not [p for p in out.rglob("*") if p.is_file()]  # nor anywhere else: refused before the first write


def test_existing_sources_are_never_written_over_and_force_replaces_the_card_folder_whole(cli, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(CARD_MD.format(title="Model", key="m"))
    folder = tmp_path / "cards/acme/model"
    (folder / "templates").mkdir(parents=True)
    old = {"card.yml": "repo_id: acme/model\nlicense: mit\n", "risks.yaml": "risk_assessment: {}\n",
           "templates/card.md.j2": "{{ slot('title') }}\n"}
    for name, text in old.items():
        (folder / name).write_text(text)
    r = cli("import", readme, "--repo-id", "acme/model", "--out", tmp_path / "cards")
    assert r.code == 2 and "acme/model holds sources (card.yml, risks.yaml, templates/card.md.j2); pass --force" in r.err
    assert files_of(folder) == {k: v.encode() for k, v in old.items()}  # untouched
    r = cli("import", readme, "--repo-id", "acme/model", "--out", tmp_path / "cards", "--force")
    assert r.code == 0, r.text
    assert f"replaced  {folder}: its sources were card.yml, risks.yaml, templates/card.md.j2" in r.out  # named
    now = files_of(folder)
    assert "card.yml" not in now and "risks.yaml" not in now and "card.yaml" in now  # the old sources went
    assert now["templates/card.md.j2"] != old["templates/card.md.j2"].encode()
    assert [p.name for p in folder.parent.iterdir()] == ["model"]  # no staging folder left beside it
    assert cli("validate", tmp_path / "cards").code == 0


def test_force_merges_the_shared_file_entry_by_entry_and_names_what_it_adds(cli, tmp_path):
    out = tmp_path / "cards"

    def batch(name: str, cards: dict[str, str]) -> Path:
        for repo, key in cards.items():
            (tmp_path / name / repo).mkdir(parents=True)
            (tmp_path / name / repo / "README.md").write_text(CARD_MD.format(title=repo, key=key))
        return tmp_path / name

    first = batch("first", {"acme/a": "kingma2014", "acme/b": "kingma2014"})
    assert cli("import", first, "--out", out).code == 0
    shared = out / "_shared/imported.yaml"
    assert "kingma2014:" in shared.read_text()
    second = batch("second", {"acme/c": "vaswani2017", "acme/d": "vaswani2017", "acme/e": "kingma2014",
                              "acme/f": "kingma2014"})
    r = cli("import", second, "--out", out)
    assert r.code == 2 and "imported.yaml exists: pass --force to add 1 entry to it (citations/vaswani2017)" in r.err
    r = cli("import", second, "--out", out, "--force")
    assert r.code == 0, r.text
    assert re.findall(r"^shared +\S+: added (\S+)$", r.out, re.M) == ["citations/vaswani2017"]  # each named
    assert "the 1 entry it held, kept as they were" in r.err
    text = shared.read_text()
    assert "kingma2014:" in text and "vaswani2017:" in text and "kingma2014-2" not in text  # the same entry: reused
    assert "kingma2014" in (out / "acme/e/card.yaml").read_text()
    assert cli("validate", out).code == 0  # every card's shared entries are there
    before = files_of(out)
    assert cli("import", second, "--out", out, "--force").code == 0  # again: the same sources
    assert files_of(out) == before


LEAKY = """---
license: mit
---
# Leaky

A model.

## Usage

```python
import os
from transformers import AutoTokenizer, AutoModelForCausalLM
tokenizer = AutoTokenizer.from_pretrained("acme/leaky")
model = AutoModelForCausalLM.from_pretrained("acme/leaky")
open("/tmp/token.txt", "w").write(os.environ["HF_TOKEN"])
output = model.generate(**tokenizer("Hi", return_tensors="pt"), max_new_tokens=20)
print(tokenizer.decode(output[0], skip_special_tokens=True))
```
"""


def test_code_carried_over_that_smoke_would_run_is_named_for_a_reviewer(cli, tmp_path):
    """The python block that `cardgen smoke` runs, with the user's environment and token, comes over as
    written: import names its lines, where the sources keep it, and what it reaches for."""
    readme = tmp_path / "README.md"
    readme.write_text(LEAKY)
    r = cli("import", readme, "--repo-id", "acme/leaky", "--out", tmp_path / "cards")
    assert r.code == 0, r.text
    found = re.findall(r"^(\S+):(\d+):1: CG803 warning: the Python code on lines (\d+)-(\d+) is carried over from the "
                       r"README as written \(in ([^)]+)\): `cardgen smoke` runs it with your environment and Hub token; "
                       r"read it before you run smoke; it reaches for (.*)$", r.out, re.M)
    assert found == [(str(readme), "10", "10", "18", "acme/leaky/templates/snippets/imported.py.j2",
                      "the environment, the Hub token, files it writes")], r.out
    kept = (tmp_path / "cards/acme/leaky/templates/snippets/imported.py.j2").read_text()
    assert 'os.environ["HF_TOKEN"]' in kept  # it is carried over (as written), and said so
    plain = tmp_path / "plain.md"
    plain.write_text(LEAKY.replace("## Usage", "## Example").replace('open("/tmp/token.txt", "w").write('
                                                                      'os.environ["HF_TOKEN"])\n', ""))
    r = cli("import", plain, "--repo-id", "acme/plain", "--out", tmp_path / "cards")
    assert re.search(r"plain\.md:10:1: CG803 warning: the Python code on lines 10-17 .* read it before you run "
                     r"smoke$", r.out, re.M), r.out  # always named; nothing it reaches for
    bare = tmp_path / "bare.md"
    bare.write_text("# Bare\n\n```text\nnot python\n```\n")
    assert "CG803" not in cli("import", bare, "--repo-id", "acme/bare", "--out", tmp_path / "cards").out


def test_sources_many_times_the_readme_are_reported_and_unreadable_ones_not_written(cli, tmp_path):
    many = tmp_path / "many.md"
    many.write_text("---\nlicense: mit\n---\n# T\n\n" + "#\n" * 3000)  # empty headings: a section each
    r = cli("import", many, "--repo-id", "acme/many", "--out", tmp_path / "cards")
    assert r.code == 0 and re.search(r"many\.md:1006:1: CG801 warning: 3,000 headings: the body is cut into free "
                                     r"sections at the first 1,000", r.out), r.out
    assert re.search(r"many\.md:1:1: CG801 warning: the sources are [\d,]+ bytes, \d+ times the README's 6,026", r.out)
    big = tmp_path / "big.md"
    big.write_text("# T\n\n" + ("a\x01\x02\x03\x04\x05\x06 " * 20 + "\n") * 9000)  # 1.4 MB, YAML escapes it 4 times
    r = cli("import", big, "--repo-id", "acme/big", "--out", tmp_path / "cards2")
    assert r.code == 2 and re.search(r"card\.yaml would be [\d,]+ bytes, over the 2,097,152 that cardgen reads: "
                                     r"nothing written", r.err), r.err
    assert not (tmp_path / "cards2").exists()


# -- a seeded fuzz of READMEs through `import`, then `validate` of what it wrote --------------------------

#: hostile bits put into a README's body: each a function of the fuzz's random generator
BODY_BITS = (
    lambda r: "- " * r.choice([100, 5000]) + "deep\n",  # a list 5,000 deep on one line
    lambda r: "".join("  " * i + "- x\n" for i in range(r.choice([50, 300]))),  # nested by indentation
    lambda r: "1. " * 2000 + "x\n" + "> " * r.choice([100, 3000]) + "quoted\n",
    lambda r: "| a | b |\n|---|---|\n| " + "9" * r.choice([20, 5000]) + " | 1 |\n| 1 |\n| 1 | 2 | 3 |\n",
    lambda r: "We identified " + "9" * 5000 + " potential model risks and 1 mitigation strategies (M) for 1 potential "
              "model uses\n",
    lambda r: "| Name | Quant method | Bits | Size | Max RAM required | Use case |\n| ---- | ---- | ---- | ---- | ---- "
              "| ----- |\n| [m.gguf](https://huggingface.co/imported/x/blob/main/m.gguf) | Q4 | "
              + r.choice(["²", "9" * 5000, "٣", "4"]) + " | 4 GB | 6 GB | medium |\n",
    lambda r: r.choice(["\r", "\r\n", "\x00", "\x07", "\x1b[31m", "\u202e", "\x85", "\u2028", "\ufeff", "\t", "\x0c",
                        "\ud800"]),
    lambda r: "".join(f"{'#' * r.randint(1, 6)} h{k % 7}\n\ntext\n\n" for k in range(r.choice([30, 300, 1200]))),
    lambda r: "```" + r.choice(["python", "py", "bibtex", "", "text", "~~~"]) + "\nunclosed = (\n",
    lambda r: r.choice(["<div>", "<details><summary>x</summary>", "<!-- unclosed", "</table>", "<script>x</script>",
                        "<img src=x onerror=alert(1)>", "<table><tr><td>", "<?php", "<![CDATA["]) + "\n",
    lambda r: "## Citation\n\n```bibtex\n@misc{k" + str(r.randint(0, 9)) + ",\n  title={" + "{" * r.choice([1, 300])
              + "T" + "}" * r.choice([0, 1, 300]) + "\n}\n```\n",
    lambda r: "{name} {{ name }} {% raw %} {# c #} {repo_id} {{ cycler.__init__.__globals__ }} {%- endraw %}\n",
    lambda r: "```python\nimport os\nfrom transformers import A\nm = A.from_pretrained(\"x/y\")\nprint(os.environ["
              "'HF_TOKEN'])\no = m.generate(x, max_new_tokens=" + r.choice(["5", "9" * 5000, "-1", "0x" + "f" * 3000])
              + ")\n```\n",
    lambda r: "# Original model card\n\n" + r.choice(["", "## Usage\n\n```python\nprint(1)\n```\n"]),
    lambda r: "[" * 300 + "x" + "]" * 300 + "(" * 300 + "*" * 300 + "_" * 300 + "\n",
    lambda r: "---\nlicense: mit\n---\n",  # front matter where there is none
)
#: hostile bits put into a README's front matter
FRONT_BITS = (
    "x: !!python/object/apply:os.system ['echo']", "x: !!binary aGk=", "x: &a [*a]", "<<: *nope",
    "x: " + "[" * 3000 + "]" * 3000, "x: " + "9" * 5000, "x: 0x" + "f" * 5000, "x: 0b" + "1" * 9000,
    "x: 1:" + ":".join(["59"] * 2000), "x: 1e99999", "license: [mit]", "license: " + "9" * 300,
    "base_model: " + "x/" * 300, "model-index: [{name: x, results: 5}]", "co2_eq_emissions: " + "9" * 5000,
    "language: [" + ", ".join(["en"] * 3000) + "]", "x: \"\\x00\"", "tags:\n" + "".join(" " * i + "- \n" for i in
                                                                                         range(1, 200)),
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b]",
    "---", "...", "? [a]\n: b", "widget: {{name}}", "pipeline_tag: \"\\u202e\"",
)


def fuzzed(r, text: str) -> str:
    """A README cut, duplicated, shuffled or given hostile bits, 1 to 4 times; sometimes with every line
    end a lone CR (an old Mac's) or CRLF."""
    lines = text.split("\n")
    for _ in range(r.randint(1, 4)):
        op, n = r.random(), len(lines)
        a = r.randrange(n + 1)
        b = min(n, a + r.randint(0, 40))
        if op < 0.15:
            del lines[a:b]
        elif op < 0.3:
            lines[a:a] = lines[a:b] * r.randint(1, 5)
        elif op < 0.4:
            part = lines[a:b]
            r.shuffle(part)
            lines[a:b] = part
        elif op < 0.8:
            lines[a:a] = r.choice(BODY_BITS)(r).split("\n")
        else:
            at = 1 + r.randrange(max(1, min(n, 20)))
            lines[at:at] = r.choice(FRONT_BITS).split("\n")
    out = "\n".join(lines)
    return out.replace("\n", r.choice(["\r", "\r\n"])) if r.random() < 0.1 else out


def fuzz_bases() -> list[str]:
    """The corpus and the seeds."""
    from conftest import REPO

    texts = [p.read_text("utf-8") for p in sorted((REPO / "tests/corpus").glob("*.md")) if p.name != "ORIGIN.md"]
    return texts + [p.read_text("utf-8") for p in sorted((REPO / "tests/seeds").glob("*.txt"))]


def excerpt(r, text: str) -> str:
    """A README's front matter and 5 to 60 lines of its body."""
    lines = text.split("\n")
    head = lines[:lines.index("---", 1) + 1] if lines[0] == "---" and "---" in lines[1:] else []
    at = r.randrange(len(lines))
    return "\n".join(head + lines[at:at + r.randint(5, 60)])


def test_a_seeded_readme_fuzz_never_crashes_import_or_validate(tmp_path, capsys):
    """2,000 READMEs (the corpus and the seeds, in excerpts or whole, cut, duplicated, shuffled, with deep
    lists, long integers, lone CRs, control characters, thousands of headings, unclosed fences, HTML,
    BibTeX fragments and YAML tags) imported in batches, and each batch's cards validated: no internal
    error (exit 3), no traceback. A README that is not UTF-8 is imported on its own: refused, in one line."""
    import random
    import time
    from collections import Counter

    from cardgen.cli import main

    rng, bases, cases, size = random.Random(2024), fuzz_bases(), 2000, 200
    codes: Counter[str] = Counter()
    t0 = time.monotonic()

    def run(*args: object) -> tuple[int, str]:
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return (3 if "internal error" in err else rc), err  # main() turns any exception into exit 3 and this line

    def culprit(src: Path) -> str:
        """The first README of a batch that crashes import on its own."""
        for f in sorted(src.iterdir()):
            if run("import", f, "--out", tmp_path / "alone" / f.stem)[0] == 3:
                return f"{f.name}:\n{f.read_text('utf-8', 'replace')[:3000]}"
        return "none alone"

    for first in range(0, cases, size):
        src, out = tmp_path / f"src{first}", tmp_path / f"cards{first}"
        src.mkdir()
        for k in range(first, first + size):
            text = rng.choice(bases)
            data = fuzzed(rng, excerpt(rng, text) if rng.random() < 0.9 else text).encode("utf-8", "surrogatepass")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:  # not UTF-8 (a lone surrogate): refused on its own, in one line
                (tmp_path / f"case{k:04d}.md").write_bytes(data)
                rc, err = run("import", tmp_path / f"case{k:04d}.md", "--out", tmp_path / "refused")
                assert rc == 2 and "is not valid UTF-8" in err and err.count("\n") == 1, err
                codes["not UTF-8: import 2"] += 1
                continue
            (src / f"case{k:04d}.md").write_bytes(data)
        rc, err = run("import", src, "--out", out)
        assert rc == 0, (err[-2000:], culprit(src) if rc == 3 else "")
        codes[f"import {rc}"] += 1
        rc, err = run("validate", out)
        assert rc in (0, 1), err[-2000:]
        codes[f"validate {rc}"] += 1
    with capsys.disabled():
        print(f"\n{cases:,} fuzzed READMEs imported and validated in {time.monotonic() - t0:.0f} s: {dict(codes)}")


TABLE_MD = "---\nlicense: mit\n---\n# Model\n\nText.\n\n## Results\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMore text.\n"


@pytest.mark.parametrize("ends", ["\r", "mixed"])
def test_a_readme_with_old_mac_or_mixed_line_ends_imports_validates_and_renders(cli, tmp_path, ends):
    """Lone CRs end lines in Markdown: the table is read as a table, and the card validates and renders
    (a lone-CR table imported, and then validate and render of the whole tree exited 3)."""
    text = TABLE_MD.replace("\n", "\r") if ends == "\r" else "".join(
        line + ("\r", "\r\n", "\n")[k % 3] for k, line in enumerate(TABLE_MD.split("\n")))
    readme = tmp_path / "README.md"
    readme.write_bytes(text.encode())
    r = cli("import", readme, "--repo-id", "acme/mac", "--out", tmp_path / "cards")
    assert r.code == 0 and re.search(r"CG801 warning: \d+ lone CR line ends? \(an old Mac's\) read as line ends", r.out)
    assert "\\r" not in (tmp_path / "cards/acme/mac/card.yaml").read_text()
    assert cli("validate", tmp_path / "cards").code == 0
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    assert "\n| a | b |\n|---|---|\n| 1 | 2 |\n" in (tmp_path / "out/acme/mac/README.md").read_text()


def test_a_title_holding_name_renders_as_written(cli, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit\n---\n# The {name} of {repo_id}\n\nText.\n")
    r = cli("import", readme, "--repo-id", "acme/braces", "--out", tmp_path / "cards")
    assert r.code == 0 and "README.md:4:1: CG801 warning: the title holds `{name}`" in r.out, r.out
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    assert "\n# The {name} of {repo_id}\n" in (tmp_path / "out/acme/braces/README.md").read_text()


GGUF = ("| Name | Quant method | Bits | Size | Max RAM required | Use case |\n| ---- | ---- | ---- | ---- | ---- | ----- |\n"
        "| [m.gguf](https://huggingface.co/acme/deep/blob/main/m.gguf) | Q4_K_M | {bits} | 4 GB | 6 GB | medium |\n")


@pytest.mark.parametrize("name,readme", [
    ("hex-integer", "---\nlicense: mit\nx: 0x" + "f" * 5000 + "\n---\n# T\n"),
    ("base-60-integer", "---\nlicense: mit\nx: 1:" + ":".join(["59"] * 2500) + "\n---\n# T\n"),
    ("decimal-integer", "---\nlicense: mit\nco2_eq_emissions: " + "9" * 5000 + "\n---\n# T\n"),
    ("gguf-bits-superscript", "---\nlicense: mit\n---\n# T\n\n## Files\n\n" + GGUF.format(bits="²")),
    ("gguf-bits-5000-digits", "---\nlicense: mit\n---\n# T\n\n## Files\n\n" + GGUF.format(bits="9" * 5000)),
    ("list-5000-deep", "---\nlicense: mit\n---\n# T\n\n" + "- " * 5000 + "deep\n\n" + "1. " * 5000 + "x\n"),
    ("front-matter-5000-deep", "---\nlicense: mit\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n# T\n"),
])
def test_deep_lists_and_long_integers_import_and_validate(cli, tmp_path, name, readme):
    """Each was an internal error (exit 3) of import or of the card it wrote: now read within the
    loader's bounds (an integer of more than 4,300 digits, in any spelling, is reported and kept as
    text) or left as text."""
    f = tmp_path / "README.md"
    f.write_text(readme)
    r = cli("import", f, "--repo-id", "acme/deep", "--out", tmp_path / "cards")
    assert r.code == 0 and "internal error" not in r.err, r.text
    if "integer" in name:
        assert re.search(r"README\.md:3:1: CG801 warning: the front matter: int value '.{40}…' is too long to "
                         r"read; write it as a quoted string", r.out), r.out
    assert cli("validate", tmp_path / "cards").code in (0, 1)
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code in (0, 1)
