"""Generating cards (causal, chat, seq2seq, GGUF) wrong in one prompt fact each, on tiny models built here
offline: each fails with one line that names the fact, where the artefact says otherwise, and its code;
a correct card of each kind passes with no warning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch", reason="the [smoke] extra is not installed")
pytest.importorskip("transformers")

from conftest import with_  # noqa: E402
from tinymodels import build_family, build_gguf, build_llama, build_t5  # noqa: E402

USAGE = {"message": "Say hello.", "max_new_tokens": 6, "dtype": "float32"}
#: the example chat card's template (cards/cardgen-examples/tiny-chat): it writes BOS, and EOS after each turn
CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
                 "{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
CHAT_OK = {"pipeline_tag": "text-generation", "usage": USAGE,
           "prompt": {"chat_template": CHAT_TEMPLATE, "bos": "template", "bos_token": "<s>", "eos_token": "</s>",
                      "template": "<s><|user|>\n{prompt}</s>\n<|assistant|>\n", "placeholders": {"prompt": "the message"},
                      "stop_strings": ["<|user|>"]}}
MISTRAL_OK = {"pipeline_tag": "text-generation", "usage": USAGE,
              "prompt": {"template": "[INST] {prompt} [/INST]", "placeholders": {"prompt": "the message"},
                         "bos": "tokenizer", "bos_token": "<s>", "stop_strings": ["[INST]"]}}
QWEN_OK = {"pipeline_tag": "text-generation", "usage": USAGE,
           "prompt": {"template": "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
                      "placeholders": {"prompt": "the message"}, "bos": "none",
                      "special_tokens": ["<|im_start|>", "<|im_end|>"], "stop_strings": ["<|im_end|>"]}}
T5_OK = {"pipeline_tag": "summarization", "usage": {**USAGE, "message": "summarize: Say hello."},
         "prompt": {"template": "summarize: {prompt}", "placeholders": {"prompt": "the text"},
                    "special_tokens": ["</s>"]}}
GGUF_FILES = {"tiny.Q4_K_M.gguf": "Q4_K_M", "tiny.Q8_0.gguf": "Q8_0"}
GGUF_OK = {"pipeline_tag": "text-generation", "usage": {"file": "tiny.Q8_0.gguf", "message": "Say hello."},
           "quantization": {"method": "GGUF", "files": [
               {"file": f, "quant_method": q, "bits": 8, "size": "1 MB", "max_ram": "2 MB", "use_case": "test"}
               for f, q in GGUF_FILES.items()]}}



CHAT_ONLY = with_(CHAT_OK, prompt__template=None)  # the chat template alone
CORRECT = {"chat": (CHAT_OK, "llama-chat"), "causal": (MISTRAL_OK, "mistral"), "causal-no-bos": (QWEN_OK, "qwen2"),
           "seq2seq": (T5_OK, "t5"), "gguf": (GGUF_OK, "gguf")}
#: (model, card, code, what the failing line says): each card is one of CORRECT with one fact wrong
WRONG = {
    "chat BOS text": ("llama-chat", with_(CHAT_ONLY, prompt__bos_token="<bos>"), "CG908",
                      "`prompt.bos_token` is '<bos>', but the tokenizer's BOS token is '<s>'"),
    "chat EOS text": ("llama-chat", with_(CHAT_ONLY, prompt__eos_token="<|end|>"), "CG908",
                      "`prompt.eos_token` is '<|end|>', but the tokenizer's EOS token is '</s>'"),
    "chat EOS not given": ("llama-chat", with_(CHAT_ONLY, prompt__eos_token=None), "CG908",
                           "the card's chat template writes `eos_token`, which the card does not give: the README's "
                           "example shows it empty where the tokenizer writes '</s>'"),
    "raw vs chat template": ("llama-chat", with_(CHAT_OK, prompt__template="<s><|user|> {prompt}</s>\n<|assistant|>\n"),
                             "CG910", "the card's template gives other token ids than the tokenizer's chat template"),
    "bos none, tokenizer adds": ("mistral", with_(MISTRAL_OK, prompt__bos="none"), "CG909",
                                 "`prompt.bos: none` says no BOS is used, but the tokenizer adds '<s>'"),
    "bos tokenizer, it adds none": ("qwen2", with_(QWEN_OK, prompt__bos="tokenizer"), "CG909",
                                    "`prompt.bos: tokenizer` says the tokenizer adds BOS when it encodes, and the "
                                    "prompt text does not write it, but the tokenizer has no BOS token"),
    "bos template, it writes none": ("qwen2", with_(QWEN_OK, prompt__bos="template"), "CG909",
                                     "`prompt.bos: template` says the prompt text writes BOS itself, but the tokenizer "
                                     "has no BOS token (tokenizer_config.json `bos_token`): set `prompt.bos: none`"),
    "chat bos tokenizer, template writes it": (
        "llama-chat", with_(CHAT_OK, prompt__bos="tokenizer", prompt__template=None, prompt__stop_strings=None),
        "CG909", "`prompt.bos: tokenizer` says the tokenizer adds BOS when it encodes, and the prompt text does not "
                 "write it, but the tokenizer does not add '<s>'"),
    "seq2seq bos claim": ("t5", with_(T5_OK, prompt__bos="tokenizer"), "CG909",
                          "`prompt.bos: tokenizer` says the tokenizer adds BOS when it encodes, and the prompt text "
                          "does not write it, but the tokenizer has no BOS token"),
    "seq2seq marker": ("t5", with_(T5_OK, prompt__special_tokens=["</s>", "<extra_id_0>"]), "CG907",
                       "'<extra_id_0>' should be one special token but tokenises into"),
    "stop string never written": ("mistral", with_(MISTRAL_OK, prompt__stop_strings=["### User:"]), "CG906",
                                  "stop string '### User:' is never met: the prompt format writes '[INST]', '[/INST]'"),
    "chat stop string never written": ("llama-chat", with_(CHAT_OK, prompt__stop_strings=["<|im_end|>"]), "CG906",
                                       "stop string '<|im_end|>' is never met"),
    "no snippet": ("mistral", with_(MISTRAL_OK, usage=None), "CG919",
                   "the README shows no python usage snippet, and the card does not say why"),
}
#: wrong cards that validation already refuses, without the model: (card, code, line)
REFUSED = {
    "seq2seq input ignores the format": (with_(T5_OK, usage__message="Say hello."), "CG421",
                                         "the seq2seq snippet feeds `usage.message` 'Say hello.' to the model as it "
                                         "is, but the documented prompt format is 'summarize: {prompt}'"),
    "GGUF usage.file unlisted": (with_(GGUF_OK, usage__file="tiny.Q2_K.gguf"), "CG420",
                                 "`usage.file` 'tiny.Q2_K.gguf', the file the snippet downloads, is not among "
                                 "`quantization.files` (tiny.Q4_K_M.gguf, tiny.Q8_0.gguf)"),
    "bos template, the chat template does not write it": (
        with_(CHAT_OK, prompt__template=None, prompt__chat_template=CHAT_TEMPLATE.replace("{{ bos_token }}", "")),
        "CG423", "`prompt.bos: template` says the prompt text writes the BOS token, but the chat template's example "
                 "does not start with '<s>'"),
}
#: what the card alone shows to be doubtful: warned of at validation, and failed by smoke on the model
WARNED = {
    "raw vs chat template": (with_(CHAT_OK, prompt__template="<s><|user|> {prompt}</s>\n<|assistant|>\n"), "CG422",
                             "`prompt.template` and `prompt.chat_template` format the same conversation differently, "
                             "from character 11: template ' Say hello."),
    "stop string never written": (with_(CHAT_OK, prompt__stop_strings=["<|im_end|>"]), "CG424",
                                  "stop string '<|im_end|>' is never met: neither the prompt format writes it nor is "
                                  "it the EOS token '</s>'"),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("generating")
    out = {f: build_family(root / f, f) for f in ("mistral", "qwen2")}
    out["llama-chat"] = build_llama(root / "llama-chat", chat_template=CHAT_TEMPLATE)
    out["t5"] = build_t5(root / "t5")
    out["gguf"] = build_gguf(root / "gguf", GGUF_FILES)
    return out


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def write(root: Path, card: dict) -> Path:
    folder = root / "cards/acme/tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.yaml").write_text(yaml.safe_dump({"repo_id": "acme/tiny", "license": "apache-2.0",
                                                      "library_name": "transformers", **card}), "utf-8")
    return root / "cards"


def smoke(cli, root: Path, card: dict, model: Path, *extra: str):
    report = root / "smoke.json"
    r = cli("smoke", write(root, card), "--model-path", f"acme/tiny={model}", "--device", "cpu", "--json", report,
            *extra)
    return r, json.loads(report.read_text())


def fail_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("FAIL:")]


@pytest.mark.parametrize("kind", list(CORRECT))
def test_a_correct_generating_card_passes_with_no_warning(cli, models, tmp_path, kind):
    card, model = CORRECT[kind]
    r, doc = smoke(cli, tmp_path, card, models[model], *(["--no-snippet"] if kind == "gguf" else []))
    [res] = doc["results"]
    assert r.code == 0 and res["ok"], r.out
    assert not res["warnings"] and "warning" not in r.out, r.out
    if kind != "gguf":  # llama-cpp-python is not a test dependency
        assert res["snippet"] == "ok", r.out
    checks = {"chat": ("BOS and EOS texts", "bos claim", "stop strings", "chat template", "raw template"),
              "causal": ("bos claim", "stop strings", "chat template"), "causal-no-bos": ("bos claim", "special tokens"),
              "seq2seq": ("special tokens", "snippet input"), "gguf": ("GGUF files",)}[kind]
    assert all(res["checks"].get(c) == "ok" for c in checks), res["checks"]


@pytest.mark.parametrize("case", list(WRONG))
def test_a_wrong_generating_card_fails_with_one_line_naming_the_fact(cli, models, tmp_path, case):
    model, card, code, says = WRONG[case]
    r, doc = smoke(cli, tmp_path, card, models[model], "--no-snippet")
    assert r.code == 1, r.out
    [line] = fail_lines(r.out)  # one line, naming the fact
    assert says in line and line.endswith(f"[{code}]"), r.out
    [res] = doc["results"]
    assert res["codes"] == {res["failures"][0]: code}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_wrong_fact_checkable_without_the_model_is_refused_by_validation(cli, models, tmp_path, case):
    card, code, says = REFUSED[case]
    r = cli("validate", write(tmp_path, card))
    assert r.code == 1
    [line] = [ln for ln in r.out.splitlines() if f" {code} " in ln]
    assert says in line, r.out
    assert "1 error, 0 warnings" in r.text, r.text  # nothing else is said about the card


@pytest.mark.parametrize("case", list(WARNED))
def test_a_doubtful_fact_the_card_shows_is_warned_of_by_validation(cli, tmp_path, case):
    card, code, says = WARNED[case]
    r = cli("validate", write(tmp_path, card))
    assert r.code == 0
    [line] = [ln for ln in r.out.splitlines() if f" {code} " in ln]
    assert f"{code} warning: {says}" in line, r.out
    assert "0 errors, 1 warning" in r.text, r.text


def test_the_gguf_file_the_snippet_loads_must_be_in_the_model_folder(cli, models, tmp_path):
    folder = build_gguf(tmp_path / "gguf", {"tiny.Q4_K_M.gguf": "Q4_K_M"})  # not the snippet's tiny.Q8_0.gguf
    r, _ = smoke(cli, tmp_path, GGUF_OK, folder, "--no-snippet")
    assert r.code == 1
    [line] = fail_lines(r.out)
    assert f"tiny.Q8_0.gguf is listed but not in {folder} (the usage snippet downloads it) [CG917]" in line


def test_a_card_that_says_why_it_has_no_snippet_passes_and_its_readme_says_it(cli, models, tmp_path):
    why = "{name} runs through its own serving client: there is no one-machine snippet."
    card = with_(MISTRAL_OK, usage={"none": why})
    r, doc = smoke(cli, tmp_path, card, models["mistral"])
    [res] = doc["results"]
    assert r.code == 0 and res["ok"] and res["snippet"] == "skipped" and not res["warnings"], r.out
    assert cli("render", tmp_path / "cards", "--out", tmp_path / "out").code == 0
    readme = (tmp_path / "out/acme/tiny/README.md").read_text("utf-8")
    assert "## Usage\n\ntiny runs through its own serving client: there is no one-machine snippet.\n" in readme
    assert "```python" not in readme
    r = cli("validate", write(tmp_path, with_(MISTRAL_OK, usage={"none": why, "message": "hi"})))
    assert r.code == 1 and "`usage.none` says why the card shows no snippet: give it alone, without `message`" in r.out


def test_the_smoke_codes_are_listed(cli):
    out = cli("codes").out
    for code in ("CG901", "CG906", "CG909", "CG919", "CG420", "CG421", "CG423"):
        assert re.search(rf"^{code}\s+error\s", out, re.M), code
    for code in ("CG422", "CG424"):
        assert re.search(rf"^{code}\s+warning\s", out, re.M), code
