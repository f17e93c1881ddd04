"""Cards that are wrong in one way each, on tiny Mistral-, Qwen2-, Gemma-, T5- and BERT-style models built
here offline: every wrong card fails with one line naming what is wrong, and every correct card passes
with no warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")

from conftest import with_  # noqa: E402
from tinymodels import build_bert, build_family, build_t5  # noqa: E402

USAGE = {"message": "Say hello.", "max_new_tokens": 6, "dtype": "float32"}
MISTRAL_OK = {"pipeline_tag": "text-generation", "usage": USAGE,
              "prompt": {"template": "[INST] {prompt} [/INST]", "placeholders": {"prompt": "the message"},
                         "bos": "tokenizer"}}
QWEN_OK = {"pipeline_tag": "text-generation", "usage": USAGE, "prompt": {"chat_template": "from_tokenizer"}}
GEMMA_OK = {"pipeline_tag": "text-generation", "usage": USAGE,
            "prompt": {"template": "<start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n",
                       "placeholders": {"prompt": "the message"}, "bos": "tokenizer",
                       "special_tokens": ["<start_of_turn>", "<end_of_turn>"], "stop_token_ids": [1, 4]}}
T5_OK = {"pipeline_tag": "summarization", "usage": USAGE}
BERT_OK = {"pipeline_tag": "fill-mask", "usage": {"message": "paris is the {mask} of france ."}}



CORRECT = {"mistral": MISTRAL_OK, "qwen2": QWEN_OK, "gemma": GEMMA_OK, "t5": T5_OK, "bert": BERT_OK}
WRONG = [  # (model, card, the one line that must say what is wrong)
    ("mistral", with_(MISTRAL_OK, prompt__template="<s>[INST] {prompt} [/INST]"),
     "CG407 the template starts with '<s>' and `bos: tokenizer` says the tokenizer adds it"),
    ("mistral", with_(MISTRAL_OK, prompt__template="[INST]{prompt}[/INST]"),
     "FAIL: the card's template gives other token ids than the tokenizer's chat template, from position 7"),
    ("qwen2", with_(QWEN_OK, prompt__stop_token_ids=[0]),
     "FAIL: the snippet passes eos_token_id=[0], which replaces the model's end-of-sequence id(s) 2 '<|im_end|>'"),
    ("qwen2", with_(QWEN_OK, prompt__stop_token_ids=[2, 0, 61]),
     "FAIL: stop token id 61 is the ordinary token"),
    ("qwen2", {"pipeline_tag": "fill-mask", "usage": {"message": "hello {mask}"}},  # with a chat template: CG411
     "FAIL: a fill-mask card, but the tokenizer has no mask token"),
    ("gemma", with_(GEMMA_OK, prompt__special_tokens=["<start-of-turn>"]),
     "FAIL: '<start-of-turn>' should be one special token but tokenises into"),
    ("gemma", with_(GEMMA_OK, usage__tokenizer_kwargs={"use_fsat": False}),
     "FAIL: the snippet passes tokenizer keyword 'use_fsat', which transformers ignores; did you mean 'use_fast'?"),
    ("gemma", with_(GEMMA_OK, prompt__stop_token_ids=[1]),
     "FAIL: the snippet passes eos_token_id=[1], which replaces the model's end-of-sequence id(s) 4 '<end_of_turn>'"),
    ("t5", with_(T5_OK, pipeline_tag="text-generation", prompt={"template": "{prompt}",
                                                                  "placeholders": {"prompt": "the text"}}),
     "FAIL: the card's causal snippet loads AutoModelForCausalLM, but the model's architecture is "
     "T5ForConditionalGeneration"),
    ("bert", with_(BERT_OK, pipeline_tag="text-classification", usage={"message": "i loved it"}),
     "FAIL: the card documents text-classification, but the model's architecture is BertForMaskedLM"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    out = {f: build_family(root / f, f) for f in ("mistral", "qwen2", "gemma")}
    out["t5"] = build_t5(root / "t5")
    out["bert"] = build_bert(root / "bert", "fill-mask")
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def smoke(cli, root: Path, card: dict, model: Path, *extra: str):
    folder = root / "cards/acme/tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "apache-2.0",
                                                      "library_name": "transformers", **card}), "utf-8")
    report = root / "smoke.json"
    r = cli("smoke", root / "cards", "--model-path", f"acme/tiny={model}", "--device", "cpu", "--json", report,
            *extra)
    return r, json.loads(report.read_text())


@pytest.mark.parametrize("family", list(CORRECT))
def test_a_correct_card_passes_with_no_warning(cli, models, tmp_path, family):
    r, doc = smoke(cli, tmp_path, CORRECT[family], models[family])
    [res] = doc["results"]
    assert r.code == 0 and res["ok"], r.out
    assert not res["warnings"] and "warning" not in r.out, r.out
    assert res["snippet"] == "ok"
    if family in ("mistral", "qwen2", "gemma"):
        assert res["checks"]["forced stop"] == "ok" and res["checks"]["stops"] == "ok"


@pytest.mark.parametrize("family, card, line", WRONG, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(WRONG)])
def test_a_wrong_card_fails_naming_what_is_wrong(cli, models, tmp_path, family, card, line):
    r, doc = smoke(cli, tmp_path, card, models[family], "--no-snippet")
    assert r.code == 1, r.out
    assert line in r.out, r.out
    assert all(not res["ok"] for res in doc["results"])


def test_the_tokenizer_tier_reads_no_weights(cli, models, tmp_path):
    for f in ("mistral", "qwen2", "gemma"):
        (models[f] / "model.safetensors").rename(models[f] / "weights.away")
    try:
        for f in ("mistral", "qwen2", "gemma"):
            r, doc = smoke(cli, tmp_path / f, CORRECT[f], models[f], "--tokenizer-only")
            assert r.code == 0, r.out
            [res] = doc["results"]
            assert doc["document"]["tier"] == "tokenizer" and res["load_s"] is None and res["new_tokens"] == 0
            assert {"stops", "chat template"} <= set(res["checks"]), res["checks"]
        r, _ = smoke(cli, tmp_path / "bad", WRONG[1][1], models["mistral"], "--tokenizer-only")
        assert r.code == 1 and WRONG[1][2] in r.out
    finally:
        for f in ("mistral", "qwen2", "gemma"):
            (models[f] / "weights.away").rename(models[f] / "model.safetensors")


def test_one_crashing_model_is_that_models_failure_and_the_report_is_written(cli, models, tmp_path, monkeypatch):
    import cardgen.smoke.run as smoke_module  # where `run_one` looks it up

    real = smoke_module.run_generate

    def crash_on_b(card, *args, **kwargs):
        if card.repo_id == "acme/b":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(card, *args, **kwargs)

    monkeypatch.setattr(smoke_module, "run_generate", crash_on_b)
    for name in ("a", "b"):
        folder = tmp_path / "cards/acme" / name
        folder.mkdir(parents=True)
        (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": f"acme/{name}", "license": "mit", **MISTRAL_OK}))
    report = tmp_path / "smoke.json"
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/a={models['mistral']}", "--model-path",
            f"acme/b={models['mistral']}", "--json", report, "--no-snippet")
    assert r.code == 1
    data = {d["name"]: d for d in json.loads(report.read_text())["results"]}
    assert data["acme/a"]["ok"]
    assert data["acme/b"]["failures"] == ["crashed: RuntimeError: CUDA error: an illegal memory access was encountered"]
    assert "acme/b (cpu, float32, no style): FAILED" in r.out


def test_nothing_is_downloaded_and_stray_model_paths_are_usage_errors(cli, models, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    folder = tmp_path / "cards/acme/tiny"
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "mit", **MISTRAL_OK}))
    r = cli("smoke", tmp_path / "cards")
    assert r.code == 0
    assert "skipped: not available locally: give --model-path acme/tiny=DIR, or --allow-download" in r.out
    r = cli("smoke", tmp_path / "cards", "--model-path", f"acme/tinny={models['mistral']}")
    assert r.code == 2 and "--model-path names acme/tinny, which no card in scope describes (did you mean " \
                           "acme/tiny?)" in r.err


def test_a_repo_that_does_not_exist_is_named_as_such(cli, tmp_path, monkeypatch):
    from hubserver import FakeHub, serving

    folder = tmp_path / "cards/acme/tiny"
    folder.mkdir(parents=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "mit", **MISTRAL_OK}))
    with serving(FakeHub(), monkeypatch, tmp_path / "hf-home", token=False):  # a loopback Hub that knows no repository
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        r = cli("smoke", tmp_path / "cards", "--allow-download", "--timeout", "60")
    assert r.code == 1
    assert "FAIL: repository acme/tiny does not exist on the Hub (or is private and no token was given)" in r.out


def test_a_model_that_cannot_fit_is_skipped_with_the_figures(cli, models, tmp_path, monkeypatch):
    import cardgen.smoke.models as models_module  # where `cannot_fit` looks it up

    monkeypatch.setattr(models_module, "free_bytes", lambda cuda: 1000)
    r, doc = smoke(cli, tmp_path, MISTRAL_OK, models["mistral"])
    assert r.code == 0
    [res] = doc["results"]
    assert res["skipped"].startswith("the weights need about 0.0 GiB in float32 and the host has 0.0 GiB free")
    assert res["checks"]["stops"] == "ok"  # the tokenizer tier ran before the skip


def test_loading_past_the_timeout_fails_naming_the_model(cli, models, tmp_path):
    r, doc = smoke(cli, tmp_path, MISTRAL_OK, models["mistral"], "--timeout", "0.000001")
    assert r.code == 1
    assert "took longer than 1e-06 s (--timeout)" in r.out and "acme/tiny" in r.out
