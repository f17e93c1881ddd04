"""`cardgen smoke` on the bundled cards, with tiny models built offline in the test."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import CARDS, REPO, edit, warned

torch = pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")

from tinymodels import NEOX_SPECIALS, build_llama, build_neox  # noqa: E402

B7, B2, PETALS = "stabilityai/StableBeluga-7B", "stabilityai/StableBeluga2", "petals-team/StableBeluga2"
LM3, LM7 = "stabilityai/stablelm-tuned-alpha-3b", "stabilityai/stablelm-tuned-alpha-7b"
GPTQ = "TheBloke/StableBeluga2-70B-GPTQ"

BELUGA_CHAT = ("{% for m in messages %}{% if m['role'] == 'system' %}### System:\n{{ m['content'] }}\n\n"
               "{% elif m['role'] == 'user' %}### User:\n{{ m['content'] }}\n\n{% endif %}{% endfor %}"
               "{% if add_generation_prompt %}### Assistant:\n{% endif %}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "llama": build_llama(root / "llama", chat_template=BELUGA_CHAT),
        "neox": build_neox(root / "neox"),
    }


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from the Hub
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def paths(models, *repos):
    which = {B7: "llama", B2: "llama", PETALS: "llama", LM3: "neox", LM7: "neox", GPTQ: "llama"}
    out = []
    for r in repos:
        out += ["--model-path", f"{r}={models[which[r]]}"]
    return out


def test_bundled_cards_pass_on_cpu(cli, models, tmp_path):
    report = tmp_path / "smoke.json"
    r = cli("smoke", CARDS / "stabilityai", CARDS / "petals-team", *paths(models, B7, B2, LM3, LM7, PETALS),
            "--json", report, "--device", "cpu")
    assert r.code == 0, r.out
    data = {d["name"]: d for d in json.loads(report.read_text())["results"]}
    assert set(data) == {B7, B2, LM3, LM7, PETALS}
    for name, d in data.items():
        assert d["ok"] and d["device"] == "cpu" and d["new_tokens"] > 0 and d["output"].strip(), name
        assert d["load_s"] is not None and d["first_token_s"] is not None and d["tokens_per_s"] > 0
        assert d["peak_host_mb"] > 0
        assert d["stopped_by"] in ("token limit",) or d["stopped_by"].startswith("stop")
    assert data[B7]["snippet"] == "ok" and data[LM7]["snippet"] == "ok"  # the cards' snippets really run
    assert data[PETALS]["snippet"] == "skipped"  # the petals card documents no transformers snippet
    assert data[LM3]["prompt"].startswith("<|SYSTEM|># StableLM Tuned (Alpha version)\n")
    assert data[B7]["prompt"].endswith("### User:\nSay hello.\n\n### Assistant:\n")
    assert not data[B7]["warnings"]  # the llama's chat template agrees with the card
    assert "5 passed, 0 failed" in r.out


def test_stop_id_outside_the_vocabulary(cli, models, cards):
    edit(cards / "stabilityai/stablelm-tuned-alpha/card.yaml", "stop_token_ids: [50278,", "stop_token_ids: [99999, 50278,")
    r = cli("smoke", cards / "stabilityai/stablelm-tuned-alpha", *paths(models, LM3, LM7), "--shard", "1/2")
    assert r.code == 1
    assert "FAIL: stop token id 99999 is outside the tokenizer's vocabulary (size 50280)" in r.out


def test_special_marker_that_is_not_one_token(cli, models, cards, tmp_path):
    neox = build_neox(tmp_path / "neox-nouser", specials={k: v for k, v in NEOX_SPECIALS.items() if k != "<|USER|>"})
    r = cli("smoke", cards / "stabilityai/stablelm-tuned-alpha", "--model-path", f"{LM3}={neox}",
            "--model-path", f"{LM7}={neox}", "--no-snippet")
    assert r.code == 1
    assert "'<|USER|>' should be one special token but tokenises into" in r.out


def test_placeholder_left_unfilled(cli, models, cards):
    p = cards / "stabilityai/StableBeluga-7B/card.yaml"
    edit(p, '{prompt}\\n\\n### Assistant:\\n"', '{prompt}\\n\\n{context}\\n### Assistant:\\n"')
    edit(p, "  example:\n", "  placeholders: {system_message: system, prompt: user message, context: retrieved text}\n  example:\n")
    assert cli("validate", cards).code == 0  # a valid card: the placeholder is defined
    r = cli("smoke", cards / "stabilityai/StableBeluga-7B", *paths(models, B7))
    assert r.code == 1 and "FAIL: template placeholder(s) left unfilled: {context}" in r.out


def test_snippet_that_raises_is_a_failure_with_its_line(cli, models, cards):
    edit(cards / "stabilityai/StableBeluga-7B/card.yaml", "generation: {do_sample: true,", "generation: {no_such_option: 1, do_sample: true,")
    r = cli("smoke", cards / "stabilityai/StableBeluga-7B", *paths(models, B7))
    assert r.code == 1
    assert "FAIL: usage snippet failed at snippet line 11: 'output = model.generate(**inputs, no_such_option=1" in r.out
    assert "no_such_option" in r.out.split("FAIL: usage snippet failed")[1]


def test_model_folder_missing(cli, cards, tmp_path):
    r = cli("smoke", cards / "stabilityai/StableBeluga-7B", "--model-path", f"{B7}={tmp_path / 'nope'}")
    assert r.code == 1 and f"FAIL: model folder {tmp_path / 'nope'} does not exist" in r.out


def test_smoke_as_json_reports_results_and_warnings(cli, cards, tmp_path):
    r = cli("smoke", warned(cards) / "stabilityai/StableBeluga-7B", "--model-path", f"{B7}={tmp_path / 'nope'}",
            "--format", "json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["command"] == "smoke"
    [result] = doc["results"]
    assert result["name"] == B7 and not result["ok"] and "does not exist" in result["failures"][0]
    assert doc["warnings"] == 1 and doc["diagnostics"][0]["code"] == "CG606"


def test_chat_template_mismatch_fails_on_token_ids_unless_the_card_says_why(cli, cards, tmp_path):
    other = build_llama(tmp_path / "llama-chat", chat_template=BELUGA_CHAT.replace("### User:\n", "### User: "))
    r = cli("smoke", cards / "stabilityai/StableBeluga-7B", "--model-path", f"{B7}={other}", "--no-snippet")
    assert r.code == 1, r.out
    assert "FAIL: the card's template gives other token ids than the tokenizer's chat template, from position" in r.out
    edit(cards / "stabilityai/StableBeluga-7B/card.yaml", "  stop_strings:", "  chat_template_differs: kept as "
         "published\n  stop_strings:")
    r = cli("smoke", cards / "stabilityai/StableBeluga-7B", "--model-path", f"{B7}={other}", "--no-snippet")
    assert r.code == 0 and "(the card says why: kept as published)" in r.out, r.out


def test_a_model_that_says_nothing_fails(cli, cards, tmp_path):
    silent = build_neox(tmp_path / "silent", restrict=False)
    import safetensors.torch as st

    weights = st.load_file(silent / "model.safetensors")
    weights = {k: (v.zero_() if k.startswith("embed_out") else v) for k, v in weights.items()}
    st.save_file(weights, silent / "model.safetensors", metadata={"format": "pt"})
    r = cli("smoke", cards / "stabilityai/stablelm-tuned-alpha", "--model-path", f"{LM3}={silent}",
            "--model-path", f"{LM7}={silent}", "--shard", "2/2", "--no-snippet")
    assert r.code == 1
    assert "stopped by stop token 0 after 1 new tokens" in r.out  # every logit equal: id 0, a documented stop id
    assert "FAIL: the model returned no text" in r.out


def test_gptq_variants_without_gpu_or_kernels_are_skips_with_the_reason(cli, models):
    r = cli("smoke", CARDS / "TheBloke", *paths(models, GPTQ), "--shard", "1/9")
    assert r.code == 0
    assert "skipped: GPTQ variants need a CUDA GPU" in r.out or "skipped: GPTQ kernels are not installed" in r.out


def test_shards_split_the_targets(cli, models):
    names = []
    for i in (1, 2, 3):
        r = cli("smoke", CARDS / "stabilityai", *paths(models, B7, B2, LM3, LM7), "--shard", f"{i}/3", "--no-snippet")
        assert r.code == 0, r.out
        names += [ln.split(" (")[0] for ln in r.out.splitlines() if ln.startswith("stabilityai/")]
    assert sorted(names) == sorted([B7, B2, LM3, LM7])


def test_bad_arguments_are_usage_errors(cli):
    assert cli("smoke", CARDS, "--shard", "3/2").code == 2
    assert cli("smoke", CARDS, "--model-path", "no-equals-sign").code == 2


def test_without_the_extra_it_says_how_to_install():
    code = "import sys; sys.modules['torch'] = None; from cardgen.cli import main; sys.exit(main(['smoke']))"
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "pip install torch==2.13.0 'cardgen[smoke]'" in p.stderr and "Traceback" not in p.stderr


def test_markers_are_the_template_literals():
    from cardgen.kinds.prompt import markers

    assert markers("### System:\n{system_message}\n\n### User:\n{prompt}\n\n### Assistant:\n") == [
        "### System:", "### User:", "### Assistant:"]
    assert markers("<|SYSTEM|>{system_message}<|USER|>{prompt}<|ASSISTANT|>") == ["<|SYSTEM|>", "<|USER|>", "<|ASSISTANT|>"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_real_7b_llama_shape_on_gpu(cli, tmp_path):
    """A randomly initialised model of Llama-2-7B's shape, on the GPU, in the card's dtype."""
    from transformers import LlamaConfig, LlamaForCausalLM

    small = build_llama(tmp_path / "tok", restrict=False)
    cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                      bos_token_id=1, eos_token_id=2)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.float16)
    big = tmp_path / "llama-7b"
    model.save_pretrained(big, safe_serialization=True)
    del model
    torch.cuda.empty_cache()
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (small / f).exists():
            (big / f).write_bytes((small / f).read_bytes())
    r = cli("smoke", CARDS / "stabilityai/StableBeluga-7B", "--model-path", f"{B7}={big}", "--json", tmp_path / "r.json")
    [d] = json.loads((tmp_path / "r.json").read_text())["results"]
    assert d["device"] == "cuda" and d["dtype"] == "float16" and d["peak_gpu_mb"] > 12000, d
    assert d["new_tokens"] > 0 and d["tokens_per_s"] > 0, r.out


def test_an_imported_card_runs_its_own_snippet(cli, models, tmp_path):
    """Seed 000 imported: the prompt template and usage settings came from its README, and the snippet
    is the original's own code (the card's imported snippet template); smoke runs both."""
    seed = next((REPO / "tests/seeds").glob("000_*.txt"))
    assert cli("import", seed, "--repo-id", B7, "--out", tmp_path / "cards").code == 0
    report = tmp_path / "smoke.json"
    r = cli("smoke", tmp_path / "cards", *paths(models, B7), "--json", report, "--device", "cpu")
    [d] = json.loads(report.read_text())["results"]
    assert r.code == 0 and d["ok"] and d["style"] == "imported", r.out
    assert d["snippet"] == "ok"  # the README's own snippet, as imported, really runs
    assert d["prompt"].endswith("### User:\nSay hello.\n\n### Assistant:\n")


#: the lines a hostile snippet adds: whatever credential it finds, it reports (the test asserts it finds none)
SNOOP = ('import os, huggingface_hub\n'
         'seen = sorted(k for k, v in os.environ.items() if v in ("hf_fromtheenvironment", "cloudkey"))\n'
         'assert not seen and huggingface_hub.get_token() is None, f"the snippet sees {seen} '
         '{huggingface_hub.get_token()!r}"\n'
         'assert os.environ["HF_HUB_OFFLINE"] == "1" and huggingface_hub.constants.HF_HUB_OFFLINE\n')


def test_an_imported_snippet_runs_without_the_token(cli, models, tmp_path, monkeypatch):
    """A README whose snippet reads the token: imported and smoke-tested with HF_TOKEN (and a token file, and a
    cloud key) set, its snippet finds none of them, and runs offline."""
    seed = next((REPO / "tests/seeds").glob("000_*.txt")).read_text("utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(seed.replace("```python\nimport torch\n", "```python\nimport torch\n" + SNOOP, 1), "utf-8")
    assert cli("import", readme, "--repo-id", B7, "--out", tmp_path / "cards").code == 0
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf/token").write_text("hf_fromthefile")
    monkeypatch.setenv("HF_TOKEN", "hf_fromtheenvironment")
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_fromtheenvironment")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # where huggingface_hub looks for its token file
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloudkey")
    report = tmp_path / "smoke.json"
    r = cli("smoke", tmp_path / "cards", *paths(models, B7), "--json", report, "--device", "cpu")
    [d] = json.loads(report.read_text())["results"]
    kept = "".join(p.read_text("utf-8") for p in (tmp_path / "cards").rglob("*") if p.is_file())
    assert d["style"] == "imported" and "huggingface_hub.get_token()" in kept, r.out  # the snippet as written
    assert d["snippet"] == "ok" and r.code == 0, (d["failures"], r.out)
