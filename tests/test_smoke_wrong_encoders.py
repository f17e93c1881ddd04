"""Classifier, embedding and custom-snippet cards that are wrong in one way each, on tiny BERT,
sentence-transformers and Qwen2-style models built here offline: each wrong card fails with one line naming
the fact and where the model's files say otherwise; each correct card passes with no warning. The JSON
report of a passing and a failing run validates against `schemas/smoke.schema.json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CARDS, REPO, with_

torch = pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")
pytest.importorskip("sentence_transformers")

from tinymodels import build_bert, build_family, build_gguf, build_llama, build_sentence_transformer  # noqa: E402

SENTENCES = ["paris is the capital of france .", "what is the capital of france ?"]
CLASSIFIER_OK = {"pipeline_tag": "text-classification", "usage": {"message": "i loved this film ."},
                 "labels": ["NEGATIVE", "POSITIVE"]}
EMBED_OK = {"pipeline_tag": "sentence-similarity", "library_name": "sentence-transformers",
            "usage": {"sentences": SENTENCES},
            "embedding": {"pooling": "mean", "normalize": False, "dimensions": 32, "max_seq_length": 128}}
QWEN_OK = {"pipeline_tag": "text-generation", "usage": {"message": "Say hello.", "max_new_tokens": 6, "dtype": "float32"},
           "prompt": {"chat_template": "from_tokenizer"}}
#: an organisation's snippet that loads the model with a class of the snippet author's choosing
CUSTOM = """import torch
from transformers import AutoTokenizer, {cls}

tokenizer = AutoTokenizer.from_pretrained({{{{ u.repo }}}})
model = {cls}.from_pretrained({{{{ u.repo }}}})
inputs = tokenizer("Say hello.", return_tensors="pt")
with torch.no_grad():
    print(model(**inputs).logits.shape)
"""



def build_normalized(path: Path) -> Path:
    """The tiny sentence-transformers model with a `Normalize` module after its pooling."""
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.base.modules.normalize import Normalize
    except ImportError:
        from sentence_transformers.models import Normalize
    base = build_sentence_transformer(path.with_name(path.name + "-base"))
    model = SentenceTransformer(str(base), device="cpu")
    model.append(Normalize())
    model.save(str(path))
    return path


def build_cls(path: Path) -> Path:
    """The tiny sentence-transformers model, pooling by its [CLS] token."""
    build_sentence_transformer(path)
    pooling = json.loads((path / "1_Pooling/config.json").read_text())
    (path / "1_Pooling/config.json").write_text(json.dumps({**pooling, "pooling_mode": "cls"}))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    default = build_bert(root / "default-labels", "feature-extraction")  # a BERT saved as a classifier, labels unnamed
    from transformers import BertForSequenceClassification

    BertForSequenceClassification.from_pretrained(default).save_pretrained(root / "unnamed")
    (root / "unnamed" / "tokenizer.json").write_bytes((default / "tokenizer.json").read_bytes())
    (root / "unnamed" / "tokenizer_config.json").write_bytes((default / "tokenizer_config.json").read_bytes())
    return {"sentiment": build_bert(root / "sentiment", "text-classification"), "unnamed": root / "unnamed",
            "bert": build_bert(root / "bert", "feature-extraction"), "st": build_sentence_transformer(root / "st"),
            "st-norm": build_normalized(root / "st-norm"), "st-cls": build_cls(root / "st-cls"), "qwen2": build_family(root / "qwen2", "qwen2")}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def smoke(cli, root: Path, card: dict, model: Path, *extra: str, snippet: str | None = None):
    folder = root / "cards/acme/tiny"
    folder.mkdir(parents=True, exist_ok=True)
    if snippet is not None:
        (root / "cards/acme/_templates/snippets").mkdir(parents=True, exist_ok=True)
        (root / "cards/acme/_templates/snippets/custom.py.j2").write_text(snippet, "utf-8")
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "apache-2.0",
                                                      "library_name": "transformers", **card}), "utf-8")
    report = root / "smoke.json"
    r = cli("smoke", root / "cards", "--model-path", f"acme/tiny={model}", "--device", "cpu", "--json", report,
            *extra)
    return r, json.loads(report.read_text())


CORRECT = {"classifier": (CLASSIFIER_OK, "sentiment"), "embedding": (EMBED_OK, "st"),
           "normalised embedding": (with_(EMBED_OK, embedding__normalize=True), "st-norm")}


@pytest.mark.parametrize("kind", list(CORRECT))
def test_a_correct_card_passes_with_no_warning(cli, models, tmp_path, kind):
    card, model = CORRECT[kind]
    r, doc = smoke(cli, tmp_path, card, models[model])
    [res] = doc["results"]
    assert r.code == 0 and res["ok"], r.out
    assert not res["warnings"] and "warning" not in r.out and not doc["diagnostics"], r.out
    assert res["snippet"] == "ok" and res["checks"]["snippet class"] == "ok"
    check = "labels" if kind == "classifier" else "embedding"
    assert res["checks"][check] == "ok"  # something was compared, and agreed
    assert "task head" not in res["checks"] or kind == "classifier"  # embeddings have no head to compare


WRONG = [  # (model, card, the one line that names the fact and where the model's files say otherwise)
    ("unnamed", with_(CLASSIFIER_OK, labels=None),
     "FAIL: the model's labels are transformers' untrained defaults LABEL_0, LABEL_1 (config.json id2label)"),
    ("sentiment", with_(CLASSIFIER_OK, labels=["NEGATIVE", "NEUTRAL", "POSITIVE"]),
     "FAIL: the card lists 3 labels (NEGATIVE, NEUTRAL, POSITIVE), but config.json id2label has 2: NEGATIVE, POSITIVE"),
    ("sentiment", with_(CLASSIFIER_OK, labels=["POSITIVE", "NEGATIVE"]),
     "FAIL: the card's labels POSITIVE, NEGATIVE are not config.json id2label's NEGATIVE, POSITIVE (in id order)"),
    ("bert", with_(EMBED_OK, embedding=None), "has no modules.json: it is a plain BertModel folder, on which sentence-transformers silently "
                       "builds mean pooling"),
    ("qwen2", with_(EMBED_OK, embedding=None), "has no modules.json: it is a plain Qwen2ForCausalLM folder"),
    ("st", with_(EMBED_OK, embedding__pooling="cls"),
     "FAIL: the card says embedding pooling: cls, but 1_Pooling/config.json says mean"),
    ("st", with_(EMBED_OK, embedding__normalize=True), "FAIL: the card says embedding normalize: true, but modules.json "
                                                        "says false"),
    ("st-norm", EMBED_OK, "FAIL: the card says embedding normalize: false, but modules.json says true"),
    ("st", with_(EMBED_OK, embedding__dimensions=64),
     "FAIL: the card says embedding dimensions: 64, but 1_Pooling/config.json says 32"),
    ("st-cls", {"pipeline_tag": "feature-extraction", "usage": {"sentences": SENTENCES}},
     "FAIL: the feature-extraction snippet averages the token states (mean pooling), but 1_Pooling/config.json says "
     "cls"),
    ("st", with_(EMBED_OK, embedding__max_seq_length=512),
     "FAIL: the card says embedding max_seq_length: 512, but the loaded model's max_seq_length says 128"),
]


@pytest.mark.parametrize("model, card, line", WRONG, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(WRONG)])
def test_a_wrong_card_fails_naming_the_fact(cli, models, tmp_path, model, card, line):
    r, doc = smoke(cli, tmp_path, card, models[model], "--no-snippet")
    assert r.code == 1, r.out
    assert line in r.out, r.out
    [res] = doc["results"]
    assert len(res["failures"]) == 1 and len(res["problems"]) == 1, res["failures"]  # one line, one fact
    [problem] = res["problems"]
    assert problem["code"].startswith("CG9") and problem["code"] != "CG949" and problem["check"], problem


@pytest.mark.parametrize("cls, line", [
    ("AutoModelForSequenceClassification", "FAIL: the snippet loads Qwen2ForSequenceClassification on a "
                                           "Qwen2ForCausalLM checkpoint (config.json), and 1 of its weights are not in "
                                           "the checkpoint: initialised anew (score.weight)"),
    ("GPT2LMHeadModel", "FAIL: the snippet loads GPT2LMHeadModel on a Qwen2ForCausalLM checkpoint (config.json), and "
                        "28 of its weights are not in the checkpoint: initialised anew (transformer.h.0.attn.c_attn.bias"),
])
def test_a_snippet_that_loads_the_wrong_class_fails(cli, models, tmp_path, cls, line):
    """The snippet runs and exits 0 (every weight initialised anew prints logits all the same): transformers'
    loading information says what it lacked."""
    card = with_(QWEN_OK, usage__style="custom")
    r, doc = smoke(cli, tmp_path, card, models["qwen2"], snippet=CUSTOM.format(cls=cls))
    assert r.code == 1, r.out
    assert line in r.out, r.out
    [res] = doc["results"]
    assert res["snippet"] == "failed" and res["checks"]["snippet class"] == "failed"
    assert [p["code"] for p in res["problems"]] == ["CG935"], res["problems"]  # the snippet itself exited 0
    assert any(line.startswith("snippet: ") for line in res["log"]), res["log"]  # what transformers said, kept


def test_the_report_validates_against_its_schema(cli, models, tmp_path):
    """One passing and one failing run: `--json FILE` is the document `--format json` prints, and both validate."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "schemas/smoke.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    passing, doc_ok = smoke(cli, tmp_path / "ok", CLASSIFIER_OK, models["sentiment"], "--format", "json")
    failing, doc_bad = smoke(cli, tmp_path / "bad", with_(CLASSIFIER_OK, labels=["A", "B", "C"]), models["sentiment"],
                             "--format", "json", "--no-snippet")
    assert passing.code == 0 and failing.code == 1
    for printed, written in ((passing, doc_ok), (failing, doc_bad)):
        assert json.loads(printed.out) == written  # one document, printed and written
        jsonschema.validate(written, schema)
    [bad] = doc_bad["results"]
    assert bad["problems"] == [{"code": "CG924", "check": "labels", "message": bad["failures"][0]}]
    document = doc_ok["document"]
    assert document["command_line"].startswith("cardgen smoke ") and "--model-path acme/tiny=" in document["command_line"]
    assert document["started"].endswith("+00:00") and document["tier"] == "full"
    [ok] = doc_ok["results"]
    assert ok["digests"]["model.safetensors"] == _sha256(models["sentiment"] / "model.safetensors")
    assert "tokenizer.json" in ok["digests"] and ok["peak_host_mb"] > 0


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_smoke_run_over_the_bundled_cards_is_quiet(tmp_path):
    """Off a terminal, in a process of its own (what it prints at exit is seen): the progress lines, the
    results and the summary; no catalogue warning about other cards (CG606 on `_shared`), no "Loading weights"
    bar, no transformers log line, nothing at exit (no "leaked semaphore objects" from the snippets' processes)."""
    examples = CARDS / "cardgen-examples"
    chat = yaml.safe_load((examples / "tiny-chat/card.yaml").read_text())["prompt"]["chat_template"]
    gguf = yaml.safe_load((examples / "tiny-chat-GGUF/card.yaml").read_text())["quantization"]["files"]
    paths = {"tiny-chat": build_llama(tmp_path / "chat", chat_template=chat),
             "tiny-sentiment": build_bert(tmp_path / "sentiment", "text-classification"),
             "tiny-embed": build_sentence_transformer(tmp_path / "embed"),
             "tiny-chat-GGUF": build_gguf(tmp_path / "gguf", {f["file"]: f["quant_method"] for f in gguf})}
    args = [str(examples), "--device", "cpu", "--json", str(tmp_path / "r.json")]
    for name, p in paths.items():
        args += ["--model-path", f"cardgen-examples/{name}={p}"]
    code = f"import sys; from cardgen.cli import main; sys.exit(main({['smoke', *args]!r}))"
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    err = p.stderr.splitlines()
    assert err[:-1] == [f"[{i}/4] cardgen-examples/{n}: ok" for i, n in
                        enumerate(["tiny-chat", "tiny-chat-GGUF", "tiny-embed", "tiny-sentiment"], 1)], p.stderr
    assert err[-1] == "4 models: 0 errors, 0 warnings", p.stderr
    assert "CG6" not in p.stdout and "Loading weights" not in p.stdout + p.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert not doc["diagnostics"] and all(r["snippet"] in ("ok", "skipped") for r in doc["results"])


def test_transformers_logs_go_into_the_result_not_onto_the_terminal(capsys):
    import logging

    from cardgen.smoke.quiet import captured

    with captured() as lines:
        logging.getLogger("transformers.modeling_utils").warning("Some weights were newly initialized: score.weight")
    assert lines == ["transformers.modeling_utils: warning: Some weights were newly initialized: score.weight"]
    assert capsys.readouterr().err == ""


def test_host_peak_memory_is_each_models_own():
    """The peak after a reset is what came since, not the run's so far (Linux: /proc/self/clear_refs)."""
    from cardgen.smoke.models import host_peak_mb, reset_host_peak

    if not reset_host_peak():
        pytest.skip("the peak cannot be reset here")
    big = bytearray(300 * 2**20)
    big[::4096] = b"x" * len(big[::4096])  # touched: resident
    high = host_peak_mb()
    del big
    reset_host_peak()
    assert host_peak_mb() < high - 200


def test_without_a_forkserver_the_snippets_loads_are_watched_too(models, tmp_path):
    """Where multiprocessing has no forkserver the snippet runs with `python -c`: its loads are read the same."""
    from cardgen.smoke.result import SmokeResult
    from cardgen.smoke.snippet import SnippetServer, run_snippet

    code = CUSTOM.format(cls="AutoModelForSequenceClassification").replace("{{ u.repo }}", '"acme/tiny"')
    server = SnippetServer()
    server.ctx = None
    r = SmokeResult("acme/tiny", None)
    assert run_snippet(f"```python\n{code}```\n", "acme/tiny", str(models["qwen2"]), "cpu", r, 300, server) == "failed"
    assert [p.code for p in r.settle().problems] == ["CG935"], r.failures
