"""`cardgen import`: real cards (the corpus), the seeds, hostile files and Hub repos into card sources. The
front matter read back by huggingface_hub after a render equals the original's (or the change is
reported), the body's blocks survive, nothing is overwritten, and the same input gives the same sources."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from compare import compare
from conftest import REPO

CORPUS = REPO / "tests" / "corpus"
LISTS = {"language", "tags", "datasets", "base_model"}


def norm(meta: dict) -> dict:
    """The front matter as the Hub reads it: a one-item list and its item are the same."""
    return {k: [v] if k in LISTS and isinstance(v, str) else v for k, v in meta.items()}


def body_ratio(original: str, rendered: str) -> float:
    c = compare(original, rendered)
    body_total = c.total - sum(1 for b in compare(original, original).missing)  # (always 0: every block found)
    missing = [b for b in c.missing if b.kind != "front-matter"]
    total = body_total - sum(1 for b in c.missing if b.kind == "front-matter") or 1
    return 1 - len(missing) / max(total, 1)


@pytest.fixture(scope="module")
def corpus_import(tmp_path_factory):
    from cardgen.cli import main

    root = tmp_path_factory.mktemp("import")
    files = sorted(p for p in CORPUS.glob("*.md") if p.name != "ORIGIN.md")
    src = root / "src"
    src.mkdir()
    for f in files:
        (src / f.name).write_bytes(f.read_bytes())
    assert main(["import", str(src), "--out", str(root / "cards")]) == 0
    main(["render", str(root / "cards"), "--out", str(root / "out")])
    return root, files


def test_corpus_front_matter_survives_or_the_change_is_reported(corpus_import):
    from huggingface_hub import ModelCard

    root, files = corpus_import
    from cardgen.importer import import_text

    rendered = 0
    for f in files:
        original = f.read_text("utf-8")
        out = root / "out/imported" / f.stem / "README.md"
        imp = import_text(original, f"imported/{f.stem}", str(f))
        if not out.exists():  # not rendered: a Hub rule refuses the original; validate names it
            r_validate = __import__("cardgen.cli", fromlist=["main"]).main(["validate", str(root / "cards/imported" / f.stem)])
            assert r_validate == 1, f.name
            continue
        rendered += 1
        a = ModelCard(original, ignore_metadata_errors=True).data.to_dict()
        b = ModelCard(out.read_text("utf-8")).data.to_dict()
        changed = {k for k in set(a) | set(b) if norm(a).get(k) != norm(b).get(k)}
        for key in changed:  # every change is one the importer reported
            assert any(key in p for p in imp.problems), (f.name, key, imp.problems)
        assert body_ratio(original, out.read_text("utf-8")) >= 0.99, f.name
    assert rendered >= len(files) - 3
    imp = import_text((CORPUS / "006.md").read_text(), "imported/006", "006.md")
    assert "license 'Apache 2.0' is not a Hub licence id: kept as written" in imp.problems[0]


def test_importing_twice_gives_the_same_sources_and_never_overwrites(cli, tmp_path):
    src = CORPUS / "109.md"
    assert cli("import", src, "--repo-id", "TheBloke/x-GPTQ", "--out", tmp_path / "a").code == 0
    assert cli("import", src, "--repo-id", "TheBloke/x-GPTQ", "--out", tmp_path / "b").code == 0
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert a == b and len(a) == 2  # card.yaml and its templates/card.md.j2
    card = tmp_path / "a/TheBloke/x-GPTQ/card.yaml"
    card.write_text(card.read_text() + "# my edit\n")
    r = cli("import", src, "--repo-id", "TheBloke/x-GPTQ", "--out", tmp_path / "a")
    assert r.code == 2 and "exists (1 in all); pass --force to replace" in r.err
    assert card.read_text().endswith("# my edit\n")  # untouched
    assert cli("import", src, "--repo-id", "TheBloke/x-GPTQ", "--out", tmp_path / "a", "--force").code == 0
    assert not card.read_text().endswith("# my edit\n")
    assert not [p for p in (tmp_path / "a").rglob("*.tmp")]


def test_the_seeds_import_with_title_typed_fields_and_sections(cli, tmp_path):
    seeds = REPO / "tests" / "seeds"
    for i, seed in enumerate(sorted(seeds.glob("*.txt"))):
        assert cli("import", seed, "--repo-id", f"seeds/card-{i}", "--out", tmp_path / "cards").code == 0
    data = yaml.safe_load((tmp_path / "cards/seeds/card-0/card.yaml").read_text())
    assert data["title"] == "Stable Beluga 7B"
    assert {"language", "pipeline_tag", "datasets"} <= set(data)
    assert [s["body"].split("\n", 1)[0] for s in data["sections"]][:2] == [
        "Use [Stable Chat (Research Preview)](https://chat.stability.ai/chat) to test Stability AI's best language "
        "models for free", "## Model Description"]
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    for i, seed in enumerate(sorted(seeds.glob("*.txt"))):
        assert body_ratio(seed.read_text(), (tmp_path / f"out/seeds/card-{i}/README.md").read_text()) >= 0.99


def hostile_cards() -> dict[str, bytes]:
    body = "# Title\n\nSome text.\n\n## Usage\n\n```python\nprint('hi')\n```\n"
    fm = "---\nlicense: mit\nlanguage: en\n---\n"
    return {
        "no-front-matter": body.encode(),
        "front-matter-after-blank": ("\n" + fm + body).encode(),
        "html-heavy": (fm + "<div align='center'><img src='x.png'><table><tr><td>a</td></tr></table></div>\n\n"
                       + body + "<details><summary>More</summary>\n\nhidden\n\n</details>\n").encode(),
        "ragged-table": (fm + body + "\n| a | b |\n|---|---|\n| 1 |\n| 1 | 2 | 3 |\n").encode(),
        "nested-lists": (fm + body + "\n- a\n  - b\n    - c\n      1. d\n").encode(),
        "rtl-cjk": (fm + "# عنوان\n\nهذا نص عربي.\n\n## 日本語\n\n中文文本。한국어.\n").encode(),
        "crlf": (fm + body).replace("\n", "\r\n").encode(),
        "bom": ("\ufeff" + fm + body).encode(),
        "megabyte": (fm + body + ("A line of filler text for a large card.\n\n" * 24000)).encode(),
        "unclosed-fence": (fm + "# T\n\n```python\nprint(1)\n").encode(),
        "front-matter-not-a-mapping": ("---\n- a\n- b\n---\n" + body).encode(),
        "front-matter-not-yaml": ("---\nlicense: [mit\n---\n" + body).encode(),
        "only-front-matter": fm.encode(),
        "empty": b"",
        "whitespace": b"   \n\n\t\n",
        "setext-headings": (fm + "Title\n=====\n\ntext\n\nPart\n----\n\nmore\n").encode(),
        "headings-in-code": (fm + "# T\n\n```text\n# not a heading\n## neither\n```\n\n## Real\n\ntext\n").encode(),
        "template-braces": (fm + "# T\n\nUse `f\"{name} {repo_id}\"` and {{ jinja }} and {% raw %}.\n").encode(),
        "html-comment-front": ("<!-- a comment -->\n" + body).encode(),
        "deep-headings": (fm + "#### Four\n\n###### Six\n\ntext\n").encode(),
        "control-chars": (fm + "# T\n\ntext\x07 with a bell and \x1b[31m escape\n").encode(),
        "tabs-table": (fm + "# T\n\nName\tValue\na\t1\n").encode(),
    }


def test_hostile_cards_never_crash_and_keep_their_blocks(tmp_path):
    cases = hostile_cards()
    assert len(cases) >= 20
    src = tmp_path / "src"
    src.mkdir()
    for name, data in cases.items():
        (src / f"{name}.md").write_bytes(data)
    import subprocess

    r = subprocess.run([sys.executable, "-m", "cardgen", "import", str(src), "--out", str(tmp_path / "cards")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "cardgen", "render", str(tmp_path / "cards"), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1) and "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    for name, data in cases.items():
        out = tmp_path / "out/imported" / name / "README.md"
        text = data.decode("utf-8", "replace").lstrip("\ufeff")
        if not text.strip() or not out.exists():
            continue
        assert body_ratio(text, out.read_text("utf-8")) >= 0.99, name


def test_a_hub_repo_is_fetched_and_a_missing_one_is_one_line(cli, tmp_path, monkeypatch):
    from hubserver import FakeHub, HubServer

    hub = FakeHub()
    hub.files[("acme/model", "main")] = {"README.md": (CORPUS / "013.md").read_bytes()}
    with HubServer(hub) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", hub.token)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        r = cli("import", "acme/model", "--out", tmp_path / "cards")
        assert r.code == 0, r.text
        assert (tmp_path / "cards/acme/model/card.yaml").is_file()
        r = cli("import", "acme/missing", "--out", tmp_path / "cards2")
        assert r.code == 2 and "acme/missing does not exist on the Hub" in r.err
        assert not (tmp_path / "cards2").exists()  # no partial output
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    r = cli("import", "acme/never-fetched@main", "--out", tmp_path / "cards3")
    assert r.code == 2 and "cannot fetch acme/never-fetched@main from the Hub" in r.err and "Traceback" not in r.text
    assert not (tmp_path / "cards3").exists()
    json.dumps(r.err)  # one printable line
