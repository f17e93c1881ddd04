"""`cardgen import`: real cards (the corpus), the seeds, hostile files and Hub repos into card sources. The
front matter read back by huggingface_hub after a render equals the original's (or the change is
reported), the body's blocks survive, nothing is overwritten, and the same input gives the same sources."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from compare import compare, lines_found
from conftest import REPO, run_process

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
    from cardgen.importing.run import import_text

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
    assert a == b and {"card.yaml", "templates/card.md.j2"} <= {str(p.relative_to("TheBloke/x-GPTQ")) for p in a}
    card = tmp_path / "a/TheBloke/x-GPTQ/card.yaml"
    card.write_text(card.read_text() + "# my edit\n")
    r = cli("import", src, "--repo-id", "TheBloke/x-GPTQ", "--out", tmp_path / "a")
    assert r.code == 2 and "x-GPTQ holds sources (card.yaml, templates/" in r.err and "pass --force" in r.err
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
        assert kept(seed, (tmp_path / f"out/seeds/card-{i}/README.md").read_text()), seed.name


def kept(seed, rendered: str) -> bool:
    """The render tests' comparison: blocks (99 %), or for the flattened page (seed 003) its lines."""
    if seed.name.startswith("003"):
        total, missing = lines_found(seed.read_text(), rendered)
        return not missing
    return body_ratio(seed.read_text(), rendered) >= 0.99


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
        "parser-breaking-snippet": (fm + "# T\n\n```python\nm.from_pretrained('x').generate(x=" + "+".join(["1"] * 3000)
                                    + ")\n```\n").encode(),
        "bibtex-flood": (fm + "# T\n\n## Citation\n\n" + "".join(
            f"```bibtex\n@misc{{k{i},\n  title={{T{i}}}\n}}\n```\n\n" for i in range(400))).encode(),
        "risk-section-fragment": (fm + "# T\n\nSummary of Model Risks by Example Uses\n\nWe identified 2 potential "
                                  "model risks and 1 mitigation strategies (M) for 1 potential model uses\n\nR1\tA\n"
                                  "Details of the Example Uses\n\n- U1\n").encode(),
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
    from hubserver import FakeHub, serving

    hub = FakeHub()
    hub.files[("acme/model", "main")] = {"README.md": (CORPUS / "013.md").read_bytes()}
    with serving(hub, monkeypatch, tmp_path / "hf"):
        r = cli("import", "acme/model", "--out", tmp_path / "cards")
        assert r.code == 0, r.text
        assert (tmp_path / "cards/acme/model/card.yaml").is_file()
        r = cli("import", "acme/missing", "--out", tmp_path / "cards2")
        assert r.code == 2 and "acme/missing does not exist on the Hub" in r.err
        assert not (tmp_path / "cards2").exists()  # no partial output
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    r = cli("import", "acme/never-fetched@main", "--out", tmp_path / "cards3")
    assert r.code == 2 and "Traceback" not in r.text
    # one line, naming the repository and the Hub it could not reach
    assert r.err.count("\n") == 1 and "cannot fetch acme/never-fetched@main from the Hub" in r.err
    assert "http://127.0.0.1:9" in r.err, r.err
    assert not (tmp_path / "cards3").exists()
    assert not (tmp_path / "hf").exists() or not list((tmp_path / "hf").rglob("README.md"))  # nothing cached


def test_import_from_a_hub_that_never_answers_ends_within_its_timeout(tmp_path, monkeypatch):
    """A Hub that accepts the connection and never answers: the import ends within three of its timeouts
    (the deadline of the whole fetch), with one line naming the Hub and the repository. (The requests are
    held unanswered until the server stops, not answered late: a late answer to a client long gone printed
    its broken pipe into whichever test ran then.)"""
    import time

    from hubserver import FakeHub, HubServer

    hub = FakeHub()
    hub.files[("acme/model", "main")] = {"README.md": b"# M\n"}
    hub.held |= {("HEAD", r".*"), ("GET", r".*")}
    with HubServer(hub) as server:
        env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf")}
        env.pop("HF_HUB_OFFLINE", None)
        t0 = time.monotonic()
        r = run_process("import", "acme/model", "--out", tmp_path / "cards", "--timeout", "1", env=env, timeout=60)
        took = time.monotonic() - t0
    assert r.code == 2 and took < 3 * 1 + 5, (took, r.err)  # the deadline, and a few seconds to start Python
    assert r.err.count("\n") == 1 and "acme/model" in r.err and server.url in r.err, r.err


SEED_REPOS = {"000": "stabilityai/StableBeluga-7B", "001": "TheBloke/StableBeluga2-70B-GPTQ",
              "002": "stabilityai/stablelm-tuned-alpha-7b", "003": "petals-team/StableBeluga2"}


@pytest.fixture(scope="module")
def seeds_import(tmp_path_factory):
    """The four seeds imported together, as a folder of owner/name/README.md."""
    from cardgen.cli import main

    root = tmp_path_factory.mktemp("seeds")
    for seed in sorted((REPO / "tests" / "seeds").glob("*.txt")):
        target = root / "src" / SEED_REPOS[seed.name[:3]] / "README.md"
        target.parent.mkdir(parents=True)
        target.write_bytes(seed.read_bytes())
    assert main(["import", str(root / "src"), "--out", str(root / "cards")]) == 0
    assert main(["render", str(root / "cards"), "--out", str(root / "out")]) == 0
    return root


def card(root, repo: str) -> dict:
    return yaml.safe_load((root / "cards" / repo / "card.yaml").read_text())


def test_the_seeds_structure_lands_in_typed_fields(seeds_import):
    root = seeds_import
    beluga = card(root, "stabilityai/StableBeluga-7B")
    assert beluga["prompt"] == {
        "template": "### System:\n{system_message}\n\n### User:\n{prompt}\n\n### Assistant:\n",
        "example": {"system_message": "This is a system prompt, please behave and help the user.",
                    "prompt": "Your prompt here"},
        "example_response": "The output of Stable Beluga 7B",
        # the usage snippet fills the template's system part with the default system prompt
        "system_prompt": "You are StableBeluga, an AI that follows instructions extremely well. Help as much as you "
                         "can. Remember, be safe, and don't do anything illegal."}
    hyper = beluga["training"]["hyperparameters"]
    assert hyper["columns"][:3] == ["Dataset", "Batch Size", "Learning Rate"]
    assert [r[0] for r in hyper["rows"]] == ["Orca pt1 packed", "Orca pt2 unpacked"]
    assert beluga["citations"] == ["touvron2023llama", "mukherjee2023orca"]  # shared: see below
    assert beluga["usage"] == {"style": "imported", "tokenizer_kwargs": {"use_fast": False},
                               "model_kwargs": {"low_cpu_mem_usage": True, "device_map": "auto"}, "dtype": "float16",
                               "generation": {"do_sample": True, "top_p": 0.95, "top_k": 0}, "max_new_tokens": 256,
                               "message": "Write me a poem please", "skip_special_tokens": True,
                               "transformers": "4.55"}  # the seed writes `torch_dtype=`: kept, as written for it
    snippet = (root / "cards/stabilityai/StableBeluga-7B/templates/snippets/imported.py.j2").read_text()
    assert "from_pretrained({{ u.repo }}, {{ u.model_args }})" in snippet
    assert "model.generate(**inputs, {{ u.generate_args }})" in snippet

    gptq = card(root, "TheBloke/StableBeluga2-70B-GPTQ")
    variants = gptq["quantization"]["variants"]
    assert gptq["quantization"]["method"] == "GPTQ" and len(variants) == 9
    assert variants[0] == {"branch": "gptq-4bit-32g-actorder_True", "bits": 4, "group_size": 32, "act_order": True,
                           "damp_percent": 0.01, "seq_len": 4096, "size": "40.66 GB",
                           "dataset": {"name": "wikitext",
                                       "url": "https://huggingface.co/datasets/wikitext/viewer/wikitext-2-v1/test"},
                           "compatibility": {"ExLlama": True},
                           "description": "4-bit, with Act Order and group size 32g. Gives highest possible inference "
                                          "quality, with maximum VRAM usage."}
    assert variants[-1]["branch"] == "main" and variants[-1]["group_size"] is None
    assert gptq["prompt"]["template"].startswith("### System:\n{system_message}")
    # the embedded original card became the base card, which the GPTQ card extends and embeds
    assert (gptq["extends"], gptq["embed_base_card"]) == ("stabilityai/StableBeluga2", True)
    base = card(root, "stabilityai/StableBeluga2")
    assert base["title"] == "Stable Beluga 2"
    assert base["cite_as"][0]["key"] == "StableBelugaModels"
    assert base["citations"] == ["touvron2023llama", "mukherjee2023orca"]
    assert base["training"]["hyperparameters"]["rows"][0][0] == "Orca pt1 packed"

    suite = card(root, "stabilityai/stablelm-tuned-alpha-7b")
    arch = suite["training"]["architecture"]
    assert arch["columns"] == ["Parameters", "Hidden Size", "Layers", "Heads", "Sequence Length"]
    assert arch["rows"] == [["3B", "4096", "16", "32", "4096"], ["7B", "6144", "16", "48", "4096"]]
    assert suite["training"]["hyperparameters"]["columns"][1] == "Batch Size"
    listing = suite["training"]["datasets"]
    assert listing["intro"] == "`StableLM-Tuned-Alpha` models are fine-tuned on a combination of {count} datasets:"
    assert [d["name"] for d in listing["items"]] == ["Alpaca", "GPT4All Prompt Generations", "Anthropic HH",
                                                     "DataBricks Dolly", "ShareGPT Vicuna (English subset)"]
    assert [c["key"] for c in suite["citations"]] == ["alpaca", "vicuna2023", "gpt4all"]

    ra = card(root, "petals-team/StableBeluga2")["risk_assessment"]
    assert [u["id"] for u in ra["uses"]] == ["U1", "U2", "U3", "U4"]
    assert ra["uses"][3] == {"id": "U4", "purpose": "Assisting in medical diagnoses",
                             "capability": "Analyzing patient data and suggesting conditions",
                             "ai_user": "Healthcare professionals", "ai_subject": "Patients",
                             "domain": "Health and Healthcare"}
    assert [r["id"] for r in ra["risks"]] == [f"R{i}" for i in range(1, 15)]
    assert ra["risks"][3] == {"id": "R4", "statement": "Facilitates the spread of misinformation by fabricating "
                              "content making it unreliable for critical decisions", "layer": "human interaction",
                              "harm_area": "misinformation", "mitigations": ["M12", "M13", "M14", "M15", "M16"]}
    assert len(ra["mitigations"]) == 21  # distinct sentences, each written once
    assert ra["matrix"]["R1"] == {"U1": "unknown", "U2": "unknown", "U3": "unknown", "U4": "unknown"}  # cells lost


def test_a_dataset_count_that_disagrees_with_its_list(cli, tmp_path):
    src = tmp_path / "src/acme/model/README.md"
    src.parent.mkdir(parents=True)
    src.write_text("# Model\n\n## Training\n\nIt is trained on three datasets:\n[A](https://a.example), the first;\n"
                   "and [B](https://b.example), the second.\n")
    r = cli("import", tmp_path / "src", "--out", tmp_path / "kept")
    assert "README.md:5:1: CG801 warning: the card says three datasets where it lists 2: kept as written" in r.out
    assert yaml.safe_load((tmp_path / "kept/acme/model/card.yaml").read_text())["training"]["datasets"]["intro"] == "It is trained on three datasets:"
    cli("import", tmp_path / "src", "--out", tmp_path / "fixed", "--fix")
    assert cli("render", tmp_path / "fixed", "--out", tmp_path / "out").code == 0
    assert "It is trained on two datasets:\n[A](https://a.example), the first;\nand [B]" in (
        tmp_path / "out/acme/model/README.md").read_text()


def test_a_hand_typed_count_is_kept_and_reported_or_computed_with_fix(seeds_import, cli, tmp_path):
    root = seeds_import
    readme = (root / "out/petals-team/StableBeluga2/README.md").read_text()
    assert "We identified 14 potential model risks and 18 mitigation strategies (M) for 4" in readme
    assert "0 of the 56 risk × use pairs apply (56 unknown)" in readme
    seed = next((REPO / "tests/seeds").glob("003_*.txt"))
    target = tmp_path / "src/petals-team/StableBeluga2/README.md"
    target.parent.mkdir(parents=True)
    target.write_bytes(seed.read_bytes())
    r = cli("import", tmp_path / "src", "--out", tmp_path / "cards")
    assert "README.md:29:1: CG801 warning: the card says 18 mitigation strategies where it lists 21: kept as written" in r.out
    r = cli("import", tmp_path / "src", "--out", tmp_path / "fixed", "--fix")
    assert "README.md:29:1: CG801 warning: the card says 18 mitigation strategies where it lists 21: the count is computed now" in r.out
    assert cli("render", tmp_path / "fixed", "--out", tmp_path / "out").code == 0
    fixed = (tmp_path / "out/petals-team/StableBeluga2/README.md").read_text()
    assert "We identified 14 potential model risks and 21 mitigation strategies (M) for 4" in fixed


def test_the_seeds_render_back_with_their_blocks_and_front_matter(seeds_import):
    from huggingface_hub import ModelCard

    root = seeds_import
    for seed in sorted((REPO / "tests" / "seeds").glob("*.txt")):
        repo = SEED_REPOS[seed.name[:3]]
        original, rendered = seed.read_text(), (root / "out" / repo / "README.md").read_text()
        assert kept(seed, rendered), repo
        a = norm(ModelCard(original, ignore_metadata_errors=True).data.to_dict())
        b = norm(ModelCard(rendered).data.to_dict())
        # the one change: a one-item licence list, which the importer reports, written as its item
        assert {k for k in set(a) | set(b) if a.get(k) != b.get(k)} <= {"license"}, repo


def test_a_family_shares_its_common_facts_once(seeds_import):
    root = seeds_import
    shared = yaml.safe_load((root / "cards/_shared/imported.yaml").read_text())
    assert set(shared["citations"]) == {"touvron2023llama", "mukherjee2023orca"}
    assert shared["citations"]["touvron2023llama"]["eprint"] == "2307.09288"
    # the Stability cards' common ethics section and chat line: written once, referenced by both
    bodies = [s["body"] for s in shared["sections"].values()]
    assert any(b.startswith("## Ethical Considerations and Limitations") for b in bodies)
    for repo in ("stabilityai/StableBeluga-7B", "stabilityai/StableBeluga2"):
        text = (root / "cards" / repo / "card.yaml").read_text()
        assert "Beluga is a new technology" not in text and "eprint" not in text, repo


def test_imported_facts_are_data_the_readme_is_computed_from(seeds_import, cli, tmp_path):
    """Editing a fact in card.yaml changes the README: the tables, prompt and citations are not copied text."""
    import shutil

    cards = tmp_path / "cards"
    shutil.copytree(seeds_import / "cards", cards)
    path = cards / "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"
    data = yaml.safe_load(path.read_text())
    data["quantization"]["variants"][0]["size"] = "41.00 GB"
    data["prompt"]["template"] = data["prompt"]["template"].replace("### User:", "### Human:")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path = cards / "stabilityai/StableBeluga-7B/card.yaml"
    data = yaml.safe_load(path.read_text())
    data["usage"]["generation"]["top_p"] = 0.9
    data["usage"]["dtype"] = "bfloat16"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    shared = cards / "_shared/imported.yaml"
    shared.write_text(shared.read_text().replace("2307.09288", "2307.99999"))
    assert cli("render", cards, "--out", tmp_path / "out").code == 0
    gptq = (tmp_path / "out/TheBloke/StableBeluga2-70B-GPTQ/README.md").read_text()
    assert "| 41.00 GB |" in gptq.replace("  ", " ") and "40.66 GB" not in gptq
    assert "### Human:\n{prompt}" in gptq
    beluga = (tmp_path / "out/stabilityai/StableBeluga-7B/README.md").read_text()
    assert "eprint={2307.99999}" in beluga and "2307.09288" not in beluga
    assert "torch_dtype=torch.bfloat16, low_cpu_mem_usage=True" in beluga and "top_p=0.9, top_k=0" in beluga


def test_no_share_keeps_each_card_self_contained(cli, tmp_path):
    for seed, repo in (("000", "stabilityai/StableBeluga-7B"), ("001", "TheBloke/StableBeluga2-70B-GPTQ")):
        target = tmp_path / "src" / repo / "README.md"
        target.parent.mkdir(parents=True)
        target.write_bytes(next((REPO / "tests/seeds").glob(f"{seed}_*.txt")).read_bytes())
    assert cli("import", tmp_path / "src", "--out", tmp_path / "cards", "--no-share").code == 0
    assert not (tmp_path / "cards/_shared").exists()
    beluga = card(tmp_path, "stabilityai/StableBeluga-7B")
    assert [c["key"] for c in beluga["citations"]] == ["touvron2023llama", "mukherjee2023orca"]


def test_what_does_not_render_back_stays_text_and_is_reported(cli, tmp_path):
    """A provided-files table whose links point at another repository, and BibTeX in quotes: recognisable
    shapes that cardgen would not render as written. They stay text, the report says why."""
    src = tmp_path / "src/acme/model-GPTQ/README.md"
    src.parent.mkdir(parents=True)
    src.write_text(
        "---\nlicense: mit\n---\n# Model\n\n## Files\n\n"
        "| Branch | Bits | GS | Act Order | Damp % | GPTQ Dataset | Seq Len | Size | Desc |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| [main](https://huggingface.co/other/repo/tree/main) | 4 | 128 | Yes | 0.1 | wikitext | 4096 | 4 GB | x |\n\n"
        "## Citation\n\n```bibtex\n@misc{a,\n  title = \"Quoted\",\n  year = 2023\n}\n```\n")
    r = cli("import", tmp_path / "src", "--out", tmp_path / "cards")
    assert r.code == 0
    assert "README.md:14:1: CG801 warning: a BibTeX block that cardgen cannot hold as a citation" in r.out
    data = card(tmp_path, "acme/model-GPTQ")
    assert "quantization" not in data and "citations" not in data
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    assert body_ratio(src.read_text(), (tmp_path / "out/acme/model-GPTQ/README.md").read_text()) == 1.0


def test_the_original_cards_problems_point_at_the_source_line(cli, tmp_path):
    """A broken link target in the original's text: validate names the line of card.yaml holding it."""
    src = tmp_path / "src/acme/model/README.md"
    src.parent.mkdir(parents=True)
    src.write_text("---\nlicense: mit\n---\n# Model\n\n## About\n\nSome text.\n\nSee [the notes](not a target) "
                   "for more.\n\nMore text.\n")
    assert cli("import", tmp_path / "src", "--out", tmp_path / "cards").code == 0
    card = tmp_path / "cards/acme/model/card.yaml"
    r = cli("validate", tmp_path / "cards")
    hit = next(ln for ln in r.out.splitlines() if "CG706" in ln)
    line = int(hit.split(":")[1])
    assert hit.startswith(f"{card}:") and "See [the notes](not a target)" in card.read_text().split("\n")[line - 1]


def test_with_fix_the_licence_the_body_names_is_data_and_shared(cli, tmp_path):
    """Seed 000 and the original card embedded in 001 name their licence in the body only. Kept as written
    and reported; with --fix the licence becomes data, written once for both Stability cards."""
    for seed in sorted((REPO / "tests" / "seeds").glob("*.txt")):
        target = tmp_path / "src" / SEED_REPOS[seed.name[:3]] / "README.md"
        target.parent.mkdir(parents=True)
        target.write_bytes(seed.read_bytes())
    r = cli("import", tmp_path / "src", "--out", tmp_path / "kept")
    assert "README.md:57:1: CG801 warning: the body names the licence 'STABLE BELUGA NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT', but " \
           "the metadata has no `license`" in r.out and "kept as written" in r.out
    assert "license" not in yaml.safe_load((tmp_path / "kept/stabilityai/StableBeluga-7B/card.yaml").read_text())
    r = cli("import", tmp_path / "src", "--out", tmp_path / "cards", "--fix")
    assert r.code == 0
    shared = yaml.safe_load((tmp_path / "cards/_shared/imported.yaml").read_text())
    (lid, lic), = shared["licenses"].items()
    assert lic == {"id": "other", "name": "stable-beluga-non-commercial-community-license-agreement",
                   "link": "LICENSE.txt", "title": "STABLE BELUGA NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT",
                   "url": "https://huggingface.co/{repo_id}/blob/main/LICENSE.txt",
                   "statement": "Fine-tuned checkpoints (`{name}`) is licensed under the [{title}]({url})"}
    for repo in ("stabilityai/StableBeluga-7B", "stabilityai/StableBeluga2"):
        assert card(tmp_path, repo)["license"] == lid
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    readme = (tmp_path / "out/stabilityai/StableBeluga-7B/README.md").read_text()
    assert "license: other\nlicense_name: stable-beluga-non-commercial-community-license-agreement\n" \
           "license_link: LICENSE.txt\n" in readme
    assert ("* **License**: Fine-tuned checkpoints (`Stable Beluga 7B`) is licensed under the [STABLE BELUGA "
            "NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT](https://huggingface.co/stabilityai/StableBeluga-7B/blob/main/"
            "LICENSE.txt)") in readme
    gptq = (tmp_path / "out/TheBloke/StableBeluga2-70B-GPTQ/README.md").read_text()
    assert "(`Stable Beluga 2`) is licensed under the [STABLE BELUGA NON-COMMERCIAL COMMUNITY LICENSE AGREEMENT](" \
           "https://huggingface.co/stabilityai/StableBeluga2/blob/main/LICENSE.txt)" in gptq
    assert "\nlicense: llama2\n" in gptq  # the GPTQ card's own licence, not its base's
    for seed in sorted((REPO / "tests" / "seeds").glob("*.txt")):
        rendered = (tmp_path / "out" / SEED_REPOS[seed.name[:3]] / "README.md").read_text()
        if seed.name.startswith("003"):  # --fix computed its count of mitigations: that line alone differs
            assert [m.split("(M)")[0].strip() for m in lines_found(seed.read_text(), rendered)[1]] == [
                "We identified 14 potential model risks and 18 mitigation strategies"]
        else:
            assert kept(seed, rendered), seed.name


def test_an_alias_bomb_in_the_front_matter_is_refused_quickly(cli, tmp_path):
    """521 bytes of nested aliases expand to billions of nodes: the front matter is read within cardgen's
    bounds (it stops counting at 100,000 nodes), the card is imported from its body, and the refusal is
    reported at its line; in under 5 s and 200 MB (the import run in a child of a child, whose peak
    resident memory is read with getrusage(RUSAGE_CHILDREN))."""
    import subprocess
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}]" for i in range(1, 9)]
    readme = tmp_path / "README.md"
    readme.write_text("---\n" + "\n".join(lines) + "\n---\n\n# Model\n\nText.\n")
    t0 = time.monotonic()
    r = cli("import", readme, "--repo-id", "acme/bomb", "--out", tmp_path / "cards")
    assert time.monotonic() - t0 < 5 and r.code == 0, r.text
    assert re.search(r"README\.md:\d+:1: CG801 warning: the front matter: document too complex", r.out), r.out
    card = (tmp_path / "cards/acme/bomb/card.yaml").read_text()
    assert len(card) < 10 * readme.stat().st_size  # nothing expanded into the card
    probe = ("import resource, subprocess, sys, time\nt0 = time.monotonic()\n"
             "p = subprocess.run([sys.executable, '-m', 'cardgen', 'import', sys.argv[1], '--repo-id', 'acme/bomb', "
             "'--out', sys.argv[2]], capture_output=True, text=True)\n"
             "print(p.returncode, time.monotonic() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", probe, str(readme), str(tmp_path / "cards2")], capture_output=True,
                       text=True, timeout=60)
    rc, took, peak_kb = p.stdout.split()
    print(f"alias bomb: import exit {rc} in {float(took):.2f} s, peak RSS {int(peak_kb) / 1024:.0f} MB")
    assert rc == "0" and float(took) < 5 and int(peak_kb) < 200 * 1024, p.stdout + p.stderr


def test_import_time_is_linear_in_the_headings(tmp_path, capsys):
    """5,000, 10,000 and 20,000 headings (with a usage snippet, so that the claims are rendered and
    checked): each doubling takes about twice the CPU time (it took four times: 8,000 headings, 91 s), and
    20,000 import in seconds. The rate is printed."""
    import time

    from cardgen.cli import main

    usage = ("## Usage\n\n```python\nfrom transformers import AutoTokenizer, AutoModelForCausalLM\ntokenizer = "
             "AutoTokenizer.from_pretrained(\"acme/many\")\nmodel = AutoModelForCausalLM.from_pretrained(\"acme/many\")\n"
             "output = model.generate(**inputs, max_new_tokens=20)\nprint(tokenizer.decode(output[0], "
             "skip_special_tokens=True))\n```\n\n")

    def readme(n: int) -> Path:
        f = tmp_path / f"r{n}.md"
        f.write_text("---\nlicense: mit\n---\n# Many\n\n" + usage + "".join(
            f"{'#' * (2 + k % 3)} Part {k}\n\nText of part {k}.\n\n" for k in range(n)))
        return f

    def cpu(n: int) -> float:
        f = readme(n)
        t0 = time.process_time()
        assert main(["import", str(f), "--repo-id", "acme/many", "--out", str(tmp_path / f"o{n}")]) == 0
        took = time.process_time() - t0
        assert re.search(r"typed fields: .*usage snippet", capsys.readouterr().out)  # checked and kept
        return took

    cpu(100)  # warm: the libraries imported
    times = {n: cpu(n) for n in (5000, 10000, 20000)}
    size = (tmp_path / "r20000.md").stat().st_size
    with capsys.disabled():
        print("\nimport, CPU seconds by headings: " + ", ".join(f"{n:,}: {t:.2f}" for n, t in times.items())
              + f"; 20,000 headings ({size / 1e6:.2f} MB): {size / 1e3 / times[20000]:.0f} kB/s, "
                f"{20000 / times[20000]:,.0f} headings/s")
    assert times[10000] / times[5000] < 3 and times[20000] / times[10000] < 3, times
    assert times[20000] < 30, times


def test_a_snippet_with_dtype_or_torch_dtype_is_typed_and_rendered_as_written(cli, tmp_path):
    """cardgen's own READMEs write `dtype=`; older ones `torch_dtype=`, which the card keeps by saying the
    snippet is written for a transformers before 4.56 (`usage.transformers`)."""
    readme = (REPO / "rendered/stabilityai/StableBeluga-7B/README.md").read_text("utf-8")
    assert "dtype=torch.float16" in readme and "torch_dtype" not in readme
    for name, text in (("new", readme), ("old", readme.replace("dtype=torch.float16", "torch_dtype=torch.float16"))):
        src = tmp_path / name / "README.md"
        src.parent.mkdir()
        src.write_text(text, "utf-8")
        r = cli("import", src, "--repo-id", "stabilityai/StableBeluga-7B", "--out", tmp_path / name / "cards")
        assert r.code == 0, r.text
        card = yaml.safe_load((tmp_path / name / "cards/stabilityai/StableBeluga-7B/card.yaml").read_text("utf-8"))
        assert card["usage"]["dtype"] == "float16"
        assert card["usage"].get("transformers") == (None if name == "new" else "4.55")
        assert cli("render", "--out", tmp_path / name / "out", tmp_path / name / "cards").code == 0
        again = (tmp_path / name / "out/stabilityai/StableBeluga-7B/README.md").read_text("utf-8")
        assert again.split("```python")[1].split("```")[0] == text.split("```python")[1].split("```")[0]


# -- the round trip keeps what import claims to keep --------------------------------------------------------


def _roundtrip():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_roundtrip", REPO / "benchmarks" / "bench_roundtrip.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_roundtrip", module)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_round_trip_keeps_blocks_front_matter_and_alignment():
    """tests/corpus imported, rendered and compared (benchmarks/bench_roundtrip.py says how each figure is
    counted). A card that does not render is one whose original breaks a rule the Hub enforces, and import
    said so with the rule's code."""
    figures = _roundtrip().measure(CORPUS)
    cards = {c.name: c for c in figures.cards}
    for c in figures.cards:
        assert c.rendered or c.reported, c.name
    not_rendered = [c.name for c in figures.cards if not c.rendered]
    assert len(not_rendered) <= 2, not_rendered  # 003 (`language: russian`), 006 (`license: Apache 2.0`)
    assert figures.mean_kept >= 0.995, figures.summary()
    assert not [(c.name, c.unreported) for c in figures.cards if c.unreported]
    assert not [c.name for c in figures.cards if c.empty_front_matter]
    assert sum(c.tables for c in figures.cards if c.rendered) >= 5
    assert not [c.name for c in figures.cards if c.alignment_lost]
    assert cards["001.md"].rendered and cards["024.md"].kept == 1.0


def _imported(cli, tmp_path, text: str, repo: str = "acme/model"):
    src = tmp_path / "src" / repo / "README.md"
    src.parent.mkdir(parents=True)
    src.write_text(text)
    r = cli("import", tmp_path / "src", "--out", tmp_path / "cards")
    assert r.code == 0, r.text
    rendered = cli("render", tmp_path / "cards", "--out", tmp_path / "out")
    out = tmp_path / "out" / repo / "README.md"
    return r, rendered, (out.read_text() if out.exists() else None)


def test_widget_keys_cardgen_does_not_type_are_kept_and_the_card_renders(cli, tmp_path):
    from huggingface_hub import ModelCard

    text = ("---\nlicense: mit\npipeline_tag: text-generation\nwidget:\n- text: Hello\n  example_title: Greeting\n"
            "  group: Chat\n  output:\n    text: Hi there\n  example: a key the Hub's widget does not type\n"
            "- structured_data:\n    a: [1, 2]\n---\n\n# Model\n\nSome text.\n")
    r, rendered, out = _imported(cli, tmp_path, text)
    assert rendered.code == 0 and out is not None, rendered.text
    assert ModelCard(out).data.to_dict()["widget"] == ModelCard(text).data.to_dict()["widget"]
    assert re.search(r"card\.yaml:\d+:\d+: CG804 warning: widget example key `example`", rendered.out)
    assert "group" not in rendered.out  # the Hub's own keys are typed


def test_a_readme_without_front_matter_gains_no_empty_block_and_tables_keep_alignment(cli, tmp_path):
    text = ("# Model\n\nSome text.\n\n## Sizes\n\n| Model | Parameters | Layers |\n|:--|--:|:-:|\n"
            "| base | 110M | 12 |\n")
    r, rendered, out = _imported(cli, tmp_path, text)
    assert out is not None and not out.startswith("---"), out[:40]
    assert "|:--" in out.replace(" ", "") and "--:|" in out.replace(" ", "")
    assert body_ratio(text, out) == 1.0


def test_front_matter_normalisations_are_reported_and_a_scalar_language_is_kept(cli, tmp_path):
    from huggingface_hub import ModelCard

    text = "---\nlanguage: en\ntags: demo\ndatasets: wikipedia\nlicense: mit\n---\n\n# Model\n\nSome text.\n"
    r, rendered, out = _imported(cli, tmp_path, text)
    assert "`tags: demo` written as the one-item list" in r.out
    assert "`datasets: wikipedia` written as the one-item list" in r.out
    assert not [x for x in r.out.splitlines() if "CG801" in x and "language" in x]  # kept as written
    assert "\nlanguage: en\n" in out
    assert ModelCard(out).data.to_dict()["language"] == "en"


def test_a_scalar_language_written_by_hand_is_accepted_as_the_hub_accepts_it(cli, tmp_path):
    folder = tmp_path / "cards/acme/model"
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text("repo_id: acme/model\ntitle: Model\ndescription: A model.\nlicense: mit\n"
                                      "language: en\n")
    r = cli("render", tmp_path / "cards", "--out", tmp_path / "out")
    assert r.code == 0, r.text
    out = (tmp_path / "out/acme/model/README.md").read_text()
    assert "\nlanguage: en\n" in out and "**Language(s)**: English" in out
    (folder / "card.yaml").write_text((folder / "card.yaml").read_text().replace("language: en", "language: english"))
    assert "CG205" in cli("validate", tmp_path / "cards").out  # still checked as a code


def test_free_sections_are_blocks_a_person_can_edit(corpus_import):
    """Every free section of the corpus written as a literal block (`|`), never a quoted one-line string full
    of `\\n`; lines ending in spaces (Markdown hard breaks) kept as written."""
    root, files = corpus_import
    quoted = []
    for f in (root / "cards/imported").glob("*/card.yaml"):
        data = yaml.safe_load(f.read_text())
        for line in f.read_text().split("\n"):
            if re.match(r"\s*body: [\"']", line) and "\\n" in line:
                quoted.append(f"{f.parent.name}: {line[:60]}")
        if f.parent.name == "001":
            bodies = [s["body"] for s in data["sections"]]
            assert any(" \n" in b for b in bodies)  # the original's trailing spaces, inside a block
            assert "  body: |" in f.read_text()
    assert not quoted, quoted


def test_a_readme_cardgen_rendered_imports_without_its_digest_and_renders_back(cli, tmp_path):
    """The digest marker seals the sources a README was rendered from: an import of that README leaves it
    out (reported), so that the card rendered again carries one marker, its own, over the same body."""
    from cardgen.rendering.provenance import unsealed

    rendered = REPO / "rendered"
    for readme in sorted(rendered.glob("*/*/README.md")):
        repo = str(readme.parent.relative_to(rendered))
        (tmp_path / "src" / repo).mkdir(parents=True)
        (tmp_path / "src" / repo / "README.md").write_bytes(readme.read_bytes())
    r = cli("import", tmp_path / "src", "--out", tmp_path / "cards")
    assert r.code == 0 and "CG801 warning: the cardgen-digest marker is left out" in r.out, r.text
    cli("render", tmp_path / "cards", "--out", tmp_path / "out")
    for readme in sorted((tmp_path / "out").glob("*/*/README.md")):
        assert readme.read_text("utf-8").count("<!-- cardgen-digest: ") == 1, readme
    again = (tmp_path / "out/cardgen-examples/tiny-sentiment/README.md").read_text("utf-8")
    assert unsealed(again) == unsealed((rendered / "cardgen-examples/tiny-sentiment/README.md").read_text("utf-8"))
