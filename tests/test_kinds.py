"""The kinds of cards publishers ship: a card per task, chat templates, quantisation formats, evaluation
results, emissions, widgets. Each task's card is rendered and its own snippet run by `cardgen smoke` on
a tiny model of a matching architecture, built here offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import CARDS, REPO

EXAMPLES = "cardgen-examples"


def write_card(root: Path, repo_id: str, **fields) -> Path:
    folder = root / repo_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": repo_id, "license": "apache-2.0", **fields},
                                                     sort_keys=False), "utf-8")
    return folder


# -- validation: what cannot work is refused, with what to change --------------------------------
def test_a_classifier_with_a_causal_snippet_is_refused(cli, tmp_path):
    write_card(tmp_path, "acme/cls", pipeline_tag="text-classification", library_name="transformers",
               usage={"style": "causal", "message": "I loved it"})
    r = cli("validate", tmp_path)
    assert r.code == 1
    assert ("CG404 usage style 'causal' writes a text-generation snippet, but the card's pipeline_tag is "
            "'text-classification': set `usage.style: text-classification`") in r.out


def test_a_task_without_a_style_is_refused(cli, tmp_path):
    write_card(tmp_path, "acme/img", pipeline_tag="image-classification", usage={})
    r = cli("validate", tmp_path)
    assert r.code == 1 and "CG404 no snippet style of cardgen's serves pipeline_tag 'image-classification'" in r.out


@pytest.mark.parametrize("prompt, code", [
    ({"template": "<s>[INST] {prompt} [/INST]", "placeholders": {"prompt": "x"}}, "CG407"),
    ({"template": "<s>[INST] {prompt} [/INST]", "placeholders": {"prompt": "x"}, "bos": "tokenizer"}, "CG407"),
    ({"template": "<s>[INST] {prompt} [/INST]", "placeholders": {"prompt": "x"}, "bos": "template"}, None),
    ({"template": "[INST] {prompt} [/INST]", "placeholders": {"prompt": "x"}, "bos": "tokenizer"}, None),
])
def test_double_bos_is_refused(cli, tmp_path, prompt, code):
    write_card(tmp_path, "acme/mistral", pipeline_tag="text-generation", prompt=prompt, usage={})
    r = cli("validate", tmp_path)
    if code:
        assert r.code == 1 and code in r.out
        assert "the model is fed two. Remove '<s>' from the template, or set `prompt.bos: template`" in r.out
    else:
        assert r.code == 0, r.out


def test_bos_in_the_template_encodes_without_special_tokens(cli, tmp_path):
    write_card(tmp_path, "acme/mistral", pipeline_tag="text-generation", usage={},
               prompt={"template": "<s>[INST] {prompt} [/INST]", "placeholders": {"prompt": "x"}, "bos": "template"})
    out = tmp_path / "out"
    assert cli("render", tmp_path, "--out", out).code == 0
    text = (out / "acme/mistral/README.md").read_text()
    assert 'inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)' in text


@pytest.mark.parametrize("key, field", [("license", "license"), ("model-index", "evaluation"),
                                        ("co2_eq_emissions", "co2_eq_emissions"), ("language", "language")])
def test_metadata_cannot_override_a_typed_field(cli, tmp_path, key, field):
    write_card(tmp_path, "acme/m", metadata={key: "mit"})
    r = cli("validate", tmp_path)
    assert r.code == 1
    assert f"CG221 `metadata: {key}` would override the typed field: write it as `{field}" in r.out
    out = tmp_path / "out"
    cli("render", tmp_path, "--out", out)
    assert not (out / "acme/m/README.md").exists()  # nothing half-right is written


def test_metadata_override_of_a_computed_key_is_refused(cli, cards):
    gptq = cards / "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"
    gptq.write_text(gptq.read_text() + "metadata: {quantized_by: Someone Else}\n")
    r = cli("validate", cards)
    assert r.code == 1 and "CG221 `metadata: quantized_by` would override the value computed from `creator`" in r.out


def test_metadata_pass_through_is_checked_by_the_hub_rules(cli, tmp_path):
    write_card(tmp_path, "acme/m", metadata={"thumbnail": 3, "extra_gated_prompt": "Agree"})
    r = cli("validate", tmp_path)
    assert "CG220" in r.out and "`thumbnail` must be a URL, not a number" in r.out


def test_a_field_the_template_does_not_place_is_refused(cli, cards):
    own = cards / "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"
    own.write_text(own.read_text() + "contact: ask on the community tab\n")  # TheBloke's card.md.j2 has no details
    r = cli("validate", cards)
    assert r.code == 1
    assert "CG310 `contact` is shown in the model details section, which the card's card.md.j2 does not place" in r.out


def test_style_inputs_are_required(cli, tmp_path):
    write_card(tmp_path, "acme/fm", pipeline_tag="fill-mask", usage={"message": "Paris is the capital of France."})
    write_card(tmp_path, "acme/qa", pipeline_tag="question-answering", usage={"message": "Where?"})
    r = cli("validate", tmp_path)
    assert "CG406 a fill-mask snippet needs `usage.message` with exactly one `{mask}`" in r.out
    assert "CG406 a question-answering snippet needs `usage.context`" in r.out


def test_a_chat_template_that_does_not_compile_is_refused(cli, tmp_path):
    write_card(tmp_path, "acme/chat", pipeline_tag="text-generation", prompt={"chat_template": "{% for m in messages %}"})
    r = cli("validate", tmp_path)
    assert r.code == 1 and "CG408 the chat template does not compile" in r.out


def test_gguf_needs_no_library_name_and_lists_its_files(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("render", CARDS / EXAMPLES, "--out", out).code == 0
    from huggingface_hub import ModelCard

    card = ModelCard((out / f"{EXAMPLES}/tiny-chat-GGUF/README.md").read_text())
    assert "library_name" not in card.data.to_dict()  # the Hub detects GGUF from the files
    src = yaml.safe_load((CARDS / EXAMPLES / "tiny-chat-GGUF/card.yaml").read_text())
    files = src["quantization"]["files"]
    rows = [ln for ln in card.text.splitlines() if ln.startswith("| [") and ".gguf" in ln]
    assert [r.split("|")[2].strip() for r in rows] == [f["quant_method"] for f in files]
    assert f"{len(files)} GGUF files are provided." in card.text


def test_awq_and_exl2_have_tables_of_their_own(cli, tmp_path):
    write_card(tmp_path, "acme/m-AWQ", quantization={"method": "AWQ", "variants": [
        {"bits": 4, "group_size": 128, "version": "GEMM", "size": "3.9 GB"}]})
    write_card(tmp_path, "acme/m-EXL2", quantization={"method": "EXL2", "variants": [
        {"branch": "4.65bpw", "bits": 4.65, "head_bits": 6, "size": "4.1 GB", "description": "balanced"},
        {"branch": "8.0bpw", "bits": 8.0, "head_bits": 8, "size": "7.0 GB", "description": "near lossless"}]})
    out = tmp_path / "out"
    r = cli("render", tmp_path, "--out", out)
    assert r.code == 0, r.out
    awq = (out / "acme/m-AWQ/README.md").read_text()
    assert "## Provided files and AWQ parameters" in awq and "| GEMM    |" in awq
    exl2 = (out / "acme/m-EXL2/README.md").read_text()
    assert "| lm_head bits |" in exl2 and "[4.65bpw](https://huggingface.co/acme/m-EXL2/tree/4.65bpw)" in exl2
    assert 'revision="4.65bpw"' in exl2
    write_card(tmp_path, "acme/m-GPTQ", quantization={"method": "GPTQ", "variants": [{"branch": "main", "bits": 4}]})
    r = cli("validate", tmp_path)
    assert r.code == 1 and "CG103" in r.out and "act_order" in r.out  # GPTQ's own required fields


# -- model-index, emissions and widgets reach the front matter as the Hub reads them ----------------
def test_every_rendered_readme_loads_and_its_model_index_is_the_sources(cli, tmp_path):
    from huggingface_hub import ModelCard, ModelCardData

    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    sources = render_all(select([CARDS])).cards
    rendered = sorted((REPO / "rendered").rglob("README.md"))
    assert len(rendered) == len(sources) >= 10
    with_results = 0
    for path in rendered:
        card = ModelCard(path.read_text("utf-8"))
        assert isinstance(card.data, ModelCardData), path
        src = sources[str(path.parent.relative_to(REPO / "rendered"))].model
        got = [{k: v for k, v in vars(r).items() if v is not None} for r in card.data.eval_results or []]
        assert got == [e.model_dump(exclude_none=True) for e in src.evaluation or []], path
        with_results += bool(got)
    assert with_results >= 1
    card = ModelCard((REPO / "rendered" / EXAMPLES / "tiny-sentiment/README.md").read_text())
    src = yaml.safe_load((CARDS / EXAMPLES / "tiny-sentiment/card.yaml").read_text())
    got = [{k: v for k, v in vars(r).items() if v is not None} for r in card.data.eval_results]
    want = [{k: v for k, v in e.items()} for e in src["evaluation"]]
    assert got == want  # every field, in order; the metrics of one task and dataset grouped in one result
    index = card.data.to_dict()["model-index"][0]["results"]
    assert len(index) == 1 and [m["type"] for m in index[0]["metrics"]] == ["accuracy", "f1"]
    assert card.data.co2_eq_emissions == src["co2_eq_emissions"]
    assert card.data.to_dict()["widget"] == src["widget"]
    assert "| Sentiment Analysis | SST-2   | validation | F1       | 0.915 |" in card.text
    assert "* **Emissions**: 120 g CO₂ equivalent" in card.text


def test_all_eval_result_fields_reach_the_model_index(cli, tmp_path):
    from huggingface_hub import ModelCard

    full = {"task_type": "question-answering", "task_name": "QA", "dataset_type": "rajpurkar/squad",
            "dataset_name": "SQuAD", "dataset_config": "plain_text", "dataset_split": "validation",
            "dataset_revision": "7b6d24c", "dataset_args": {"max_len": 384}, "metric_type": "f1",
            "metric_value": 88.5, "metric_name": "F1", "metric_config": "squad", "metric_args": {"beta": 1},
            "verified": False, "verify_token": "abc", "source_name": "paper", "source_url": "https://arxiv.org/abs/1"}
    write_card(tmp_path, "acme/qa", pipeline_tag="question-answering", evaluation=[full])
    out = tmp_path / "out"
    assert cli("render", tmp_path, "--out", out).code == 0
    res = ModelCard((out / "acme/qa/README.md").read_text()).data.eval_results[0]
    assert {k: getattr(res, k) for k in full} == full


def test_a_quantisation_names_its_method(cli, tmp_path):
    write_card(tmp_path, "acme/a", quantization={"variants": [{"branch": "main"}]})
    write_card(tmp_path, "acme/b", quantization={"method": "GGML", "files": []})
    r = cli("validate", tmp_path)
    assert "CG101 quantization: needs `method`, one of 'GPTQ', 'EXL2', 'AWQ', 'GGUF'; it has no `method`" in r.out
    assert "method 'GGML' is not one of them" in r.out


def test_rendering_a_chat_example_needs_neither_torch_nor_transformers(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
            "from cardgen.cli import main\n"
            f"raise SystemExit(main(['render', {str(CARDS / EXAMPLES)!r}, '--out', {str(tmp_path)!r}]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / EXAMPLES / "tiny-chat/README.md").read_text()
    assert "<s><|system|>\nYou are a helpful assistant.</s>\n<|user|>\nWrite me a poem please</s>" in text


def test_a_source_name_without_url_is_refused(cli, tmp_path):
    write_card(tmp_path, "acme/m", evaluation=[{"task_type": "t", "dataset_type": "d", "dataset_name": "D",
                                                "metric_type": "acc", "metric_value": 1, "source_name": "x"}])
    r = cli("validate", tmp_path)
    assert r.code == 1 and "`source_name` needs `source_url` too" in r.out


# -- details: what was typed is shown, and who did what ----------------------------------------------
def test_a_quantiser_is_not_called_the_developer(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("render", CARDS, "--out", out).code == 0
    text = (out / "TheBloke/StableBeluga2-70B-GPTQ/README.md").read_text()
    assert "Developed by**: TheBloke" not in text
    write_card(tmp_path / "c", "acme/base", creator={"name": "Acme Labs"}, model_type="llama", parameters="7B")
    write_card(tmp_path / "c", "quant/base-GGUF", extends="acme/base", base_model_relation="quantized",
               creator={"name": "Quant Co"}, quantization={"method": "GGUF", "files": [
                   {"file": "base.Q8_0.gguf", "quant_method": "Q8_0", "bits": 8, "size": "7 GB", "max_ram": "9 GB",
                    "use_case": "best"}]})
    assert cli("render", tmp_path / "c", "--out", out).code == 0
    text = (out / "quant/base-GGUF/README.md").read_text()
    assert "* **Developed by**: Acme Labs\n* **Quantized by**: Quant Co" in text
    assert "* **Model type**: `llama`" in text and "* **Parameters**: 7B" in text


def test_the_embedded_base_card_title_is_demoted(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("render", CARDS, "--out", out).code == 0
    text = (out / "TheBloke/StableBeluga2-70B-GPTQ/README.md").read_text()
    embedded = text.split("# Original model card", 1)[1]
    assert "\n## Stable Beluga 2\n" in embedded and "\n# Stable Beluga 2\n" not in embedded
    assert [ln for ln in text.splitlines() if ln.startswith("# ")][0] == "# StableBeluga2 - GPTQ"


# -- smoke: each task's own snippet runs on a tiny model of its architecture -------------------------
torch = pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")

from tinymodels import build_bert, build_gguf, build_llama, build_sentence_transformer, build_t5  # noqa: E402

SENTENCES = ["paris is the capital of france .", "what is the capital of france ?"]
TASKS = {
    "text-generation": ({"pipeline_tag": "text-generation", "prompt": {
        "template": "### User:\n{prompt}\n\n### Assistant:\n", "placeholders": {"prompt": "the message"}},
        "usage": {"message": "Say hello.", "max_new_tokens": 8, "dtype": "float32"}}, "causal", "llama"),
    "chat": ({"pipeline_tag": "text-generation", "prompt": {"chat_template": "from_tokenizer"},
              "usage": {"message": "Say hello.", "max_new_tokens": 8, "dtype": "float32"}}, "chat", "llama-chat"),
    "text2text-generation": ({"pipeline_tag": "text2text-generation", "usage": {
        "message": "Say hello.", "max_new_tokens": 8, "dtype": "float32"}}, "seq2seq", "t5"),
    "text-classification": ({"pipeline_tag": "text-classification", "usage": {"message": "i loved this film ."}},
                            "text-classification", "text-classification"),
    "token-classification": ({"pipeline_tag": "token-classification", "usage": {"message": "paris is in france ."}},
                             "token-classification", "token-classification"),
    "fill-mask": ({"pipeline_tag": "fill-mask", "usage": {"message": "paris is the {mask} of france ."}},
                  "fill-mask", "fill-mask"),
    "question-answering": ({"pipeline_tag": "question-answering", "usage": {
        "message": "what is the capital of france ?", "context": "paris is the capital of france ."}},
        "question-answering", "question-answering"),
    "feature-extraction": ({"pipeline_tag": "feature-extraction", "usage": {"sentences": SENTENCES}},
                           "feature-extraction", "feature-extraction"),
    "sentence-similarity": ({"pipeline_tag": "sentence-similarity", "library_name": "sentence-transformers",
                             "usage": {"sentences": SENTENCES}}, "sentence-transformers", "st"),
}
CHAT = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    out = {"llama": build_llama(root / "llama"), "llama-chat": build_llama(root / "llama-chat", chat_template=CHAT),
           "t5": build_t5(root / "t5"), "st": build_sentence_transformer(root / "st")}
    for task in ("text-classification", "token-classification", "fill-mask", "question-answering",
                 "feature-extraction"):
        out[task] = build_bert(root / task, task)
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.mark.parametrize("task", list(TASKS))
def test_each_task_runs_its_own_snippet(cli, models, tmp_path, task):
    fields, style, model = TASKS[task]
    write_card(tmp_path / "cards", "acme/tiny", **{"library_name": "transformers", **fields})
    report = tmp_path / "smoke.json"
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/tiny={models[model]}", "--device", "cpu",
            "--json", report)
    [res] = json.loads(report.read_text())["results"]
    assert r.code == 0 and res["ok"], r.out
    assert res["style"] == style and res["snippet"] == "ok"  # the README's own snippet ran on the model


def test_a_classifier_card_on_a_masked_lm_fails(cli, models, tmp_path):
    write_card(tmp_path / "cards", "acme/tiny", pipeline_tag="text-classification", usage={"message": "hi"})
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/tiny={models['fill-mask']}", "--device", "cpu")
    assert r.code == 1
    assert "the card documents text-classification, but the model's architecture is BertForMaskedLM" in r.out


def test_a_card_chat_template_that_differs_from_the_tokenizers_fails(cli, models, tmp_path):
    other = CHAT.replace("<|assistant|>", "<|bot|>")
    write_card(tmp_path / "cards", "acme/tiny", pipeline_tag="text-generation", library_name="transformers",
               prompt={"chat_template": other}, usage={"message": "Say hello.", "max_new_tokens": 4})
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/tiny={models['llama-chat']}", "--device", "cpu",
            "--no-snippet")
    assert r.code == 1 and "the card's chat template gives other token ids than the tokenizer's" in r.out


def test_gguf_files_are_checked_against_the_table(cli, tmp_path):
    src = yaml.safe_load((CARDS / EXAMPLES / "tiny-chat-GGUF/card.yaml").read_text())
    kinds = {f["file"]: f["quant_method"] for f in src["quantization"]["files"]}
    folder = build_gguf(tmp_path / "gguf", kinds)
    report = tmp_path / "smoke.json"
    r = cli("smoke", CARDS / EXAMPLES / "tiny-chat-GGUF", "--model-path", f"{EXAMPLES}/tiny-chat-GGUF={folder}",
            "--json", report)
    assert r.code == 0, r.out
    wrong = dict(kinds)
    first = next(iter(wrong))
    wrong[first] = "Q8_0"
    build_gguf(tmp_path / "gguf", wrong)
    (tmp_path / "gguf" / list(kinds)[-1]).unlink()
    r = cli("smoke", CARDS / EXAMPLES / "tiny-chat-GGUF", "--model-path", f"{EXAMPLES}/tiny-chat-GGUF={folder}")
    assert r.code == 1
    assert f"{first} is listed as {kinds[first]} but its header says Q8_0" in r.out
    assert f"{list(kinds)[-1]} is listed but not in" in r.out


def test_exl2_is_reported_as_skipped_not_passed(cli, models, tmp_path):
    write_card(tmp_path / "cards", "acme/tiny-EXL2", pipeline_tag="text-generation", quantization={
        "method": "EXL2", "variants": [{"branch": "4.0bpw", "bits": 4.0, "size": "1 GB", "description": "d"}]})
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/tiny-EXL2={models['llama']}")
    assert r.code == 0
    assert "acme/tiny-EXL2@4.0bpw (cpu, float32, causal style): skipped: EXL2 variants load with exllamav2" in r.out
    assert "0 passed, 0 failed, 1 skipped" in r.out


def test_the_bundled_example_cards_pass_smoke(cli, tmp_path):
    chat_src = yaml.safe_load((CARDS / EXAMPLES / "tiny-chat/card.yaml").read_text())
    root = tmp_path / "m"
    paths = {
        "tiny-chat": build_llama(root / "chat", chat_template=chat_src["prompt"]["chat_template"]),
        "tiny-sentiment": build_bert(root / "sentiment", "text-classification"),
        "tiny-embed": build_sentence_transformer(root / "embed"),
        "tiny-chat-GGUF": build_gguf(root / "gguf", {f["file"]: f["quant_method"] for f in yaml.safe_load(
            (CARDS / EXAMPLES / "tiny-chat-GGUF/card.yaml").read_text())["quantization"]["files"]}),
    }
    report = tmp_path / "smoke.json"
    args = [a for name, p in paths.items() for a in ("--model-path", f"{EXAMPLES}/{name}={p}")]
    r = cli("smoke", CARDS / EXAMPLES, *args, "--device", "cpu", "--json", report)
    data = {d["name"]: d for d in json.loads(report.read_text())["results"]}
    assert r.code == 0, r.out
    assert set(data) == {f"{EXAMPLES}/{n}" for n in paths}
    assert all(d["ok"] for d in data.values())
    for name in ("tiny-chat", "tiny-sentiment", "tiny-embed"):
        assert data[f"{EXAMPLES}/{name}"]["snippet"] == "ok", name
    assert data[f"{EXAMPLES}/tiny-chat"]["prompt"].startswith("<s><|system|>\n")  # BOS once, from the template


# -- cardgen new: every kind validates and renders at once, with only its placeholders to fill --------
@pytest.mark.parametrize("kind, extends", [("base", None), ("chat", None), ("classifier", None),
                                           ("embedding", None), ("gguf", None), ("gptq", None), ("awq", None),
                                           ("gguf", "acme/base"), ("gptq", "acme/base"), ("awq", "acme/base")])
def test_new_scaffolds_a_card_that_validates_and_renders(cli, tmp_path, kind, extends):
    cards = tmp_path / "cards"
    assert cli("new", "acme/base", "--kind", "chat", "--cards", cards).code == 0
    repo = f"acme/new-{kind.upper()}" if extends else f"acme/new-{kind}"
    args = ["--extends", extends] if extends else []
    r = cli("new", repo, "--kind", kind, "--cards", cards, *args)
    assert r.code == 0 and f"written   {cards / repo / 'card.yaml'}" in r.out
    text = (cards / repo / "card.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../../schemas/card.schema.json\n")
    v = cli("validate", cards / repo)
    codes = {ln.split(" ")[1] for ln in v.out.splitlines() if ": CG" in ln}
    assert v.code == 0 and codes == {"CG410"}, v.out  # only the placeholders, each one named
    assert cli("render", cards / repo, "--out", tmp_path / "out").code == 0
    assert (tmp_path / "out" / repo / "README.md").is_file()


def test_new_refuses_to_overwrite_and_checks_its_arguments(cli, tmp_path):
    cards = tmp_path / "cards"
    assert cli("new", "acme/m", "--cards", cards).code == 0
    r = cli("new", "acme/m", "--cards", cards)
    assert r.code == 2 and "exists; pass --force to replace it" in r.err
    assert cli("new", "acme/m", "--cards", cards, "--force").code == 0
    assert cli("new", "not a repo id", "--cards", cards).code == 2
    r = cli("new", "acme/m-GGUF", "--kind", "gguf", "--extends", "acme/nothing", "--cards", cards)
    assert r.code == 2 and "no card folder" in r.err


def test_a_hostile_chat_template_is_stopped_not_waited_for(tmp_path):
    import subprocess
    import sys
    import time

    slow = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    write_card(tmp_path, "acme/slow", pipeline_tag="text-generation", prompt={"chat_template": slow})
    big = "{% for a in range(100000) %}" + "x" * 100 + "{% endfor %}"
    write_card(tmp_path, "acme/big", pipeline_tag="text-generation", prompt={"chat_template": big})
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "cardgen", "validate", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1 and time.monotonic() - t0 < 60
    assert "CG408 the chat template ran longer than 2 s on the example conversation" in p.stdout
    assert "CG408 the chat template gives 10,000,000 characters" in p.stdout


# -- a card consistent with itself: the pipeline tag against what the card documents ----------------

def _chat_with(tmp_path: Path, old: str, new: str) -> Path:
    import shutil

    cards = tmp_path / "cards"
    shutil.copytree(CARDS / EXAMPLES, cards / EXAMPLES)
    shutil.copytree(CARDS / "_shared", cards / "_shared")
    card = cards / EXAMPLES / "tiny-chat/card.yaml"
    text = card.read_text("utf-8")
    assert old in text
    card.write_text(text.replace(old, new, 1), "utf-8")
    return card


def _line(card: Path, start: str) -> int:
    return next(n for n, ln in enumerate(card.read_text("utf-8").splitlines(), 1) if ln.startswith(start))


def test_a_chat_card_tagged_as_a_classifier_is_refused_at_its_own_tag(cli, tmp_path):
    card = _chat_with(tmp_path, "pipeline_tag: text-generation", "pipeline_tag: text-classification")
    r = cli("validate", card.parent)  # the chat card alone, without its GGUF child
    line = _line(card, "pipeline_tag:")
    assert r.code == 1
    assert (f"tiny-chat/card.yaml:{line}:15: CG411 pipeline_tag 'text-classification' contradicts the card: its chat "
            "template (`prompt.chat_template`) makes it a chat model; set `pipeline_tag: text-generation`") in r.out
    r = cli("validate", card.parent.parent)  # with its child: the child's own error names the fix that fits too
    child = [ln for ln in r.out.splitlines() if " CG404 " in ln]
    assert child and all("tiny-chat-GGUF: a GGUF card's snippet style 'llama-cpp'" in ln and
                         "set `pipeline_tag: text-generation`" in ln and "usage.style" not in ln for ln in child), r.out
    assert r.out.count(" CG411 ") == 1  # the child inherits both the tag and the template: its base reports it


def test_a_chat_template_with_a_snippet_style_named_is_the_authors_choice(cli, tmp_path):
    card = _chat_with(tmp_path, "pipeline_tag: text-generation", "pipeline_tag: text-classification")
    text = card.read_text("utf-8").replace("usage:\n", "usage:\n  style: text-classification\n", 1)
    card.write_text(text.replace("widget:\n  - example_title: A poem\n    messages:\n      - {role: user, content: "
                                 "Write me a poem please}\n", ""), "utf-8")
    r = cli("validate", card.parent)
    assert " CG411 " not in r.out, r.out  # a reward model: a classifier that reads a chat


def test_a_widget_for_another_task_is_refused_with_the_task_it_serves(cli, tmp_path):
    card = _chat_with(tmp_path, "pipeline_tag: text-generation", "pipeline_tag: text-classification")
    text = card.read_text("utf-8").replace("usage:\n", "usage:\n  style: text-classification\n", 1)
    card.write_text(text, "utf-8")
    r = cli("validate", card.parent)
    line = _line(card, "pipeline_tag:")
    assert r.code == 1 and (f"card.yaml:{line}:15: CG411 pipeline_tag 'text-classification' contradicts the card: its "
                            "widget example 1 (`messages`) is an input for ") in r.out, r.out
    assert "set `pipeline_tag: text-generation`" in r.out


def test_a_consistent_chat_card_passes(cli):
    r = cli("validate", "--strict", CARDS / EXAMPLES)
    assert r.code == 0 and " CG411 " not in r.out, r.out
