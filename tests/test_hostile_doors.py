"""The newer doors attacked as a hostile user would: `init`, `new --from` / `sync --from` (a model folder),
`evals add` (evaluation logs) and the `.eval_results/` files an import reads, `smoke --json FILE`. Each
gives a clear diagnostic and exit 0, 1 or 2, never an internal error (exit 3), reads and writes nothing
outside its root, and leaves what it was given as it was."""

from __future__ import annotations

import json
import os
import random
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

CARD = "repo_id: acme/x\nname: X\nlicense: mit\n"
LOGS = Path(__file__).parent / "fixtures" / "evals"
LM_EVAL = json.loads((LOGS / "results_2026-01-15T10-00-00.123456.json").read_text("utf-8"))
INSPECT = json.loads((LOGS / "inspect-gpqa.json").read_text("utf-8"))


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def sound(r) -> None:
    """No internal error, no traceback."""
    assert r.code in (0, 1, 2), r.text
    assert "internal error" not in r.text and "Traceback" not in r.text, r.text


def st_file(path: Path, header: bytes, data: int = 0) -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * data)


# --- a model folder (`cardgen new --from`) ------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
FOLDERS = {
    "config.json nested 100,000 deep": {"config.json": DEEP},
    "added_tokens_decoder a list": {"tokenizer_config.json": '{"eos_token": "x", "added_tokens_decoder": [1, 2]}'},
    "added_tokens_decoder a string": {"tokenizer_config.json": '{"added_tokens_decoder": "abc"}'},
    "added token id in superscript digits": {"tokenizer_config.json": '{"added_tokens_decoder": {"\u00b2": "x"}}'},
    "added token content a list": {"tokenizer_config.json": '{"added_tokens_decoder": {"2": {"content": []}}}'},
    "tokenizer.json added_tokens a number": {"tokenizer_config.json": '{"eos_token": "x"}',
                                              "tokenizer.json": '{"added_tokens": 5}'},
    "safetensors header nested 100,000 deep": {"model.safetensors": ("st", DEEP.encode())},
    "safetensors header claiming 10^600 values": {"model.safetensors": ("st", json.dumps(
        {"w": {"dtype": "F16", "shape": [10**300, 10**300], "data_offsets": [0, 2]}}).encode())},
    "quantisation config with NaN, Infinity and 1e300": {"config.json": json.dumps(
        {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False,
                                 "damp_percent": 1e300}}).replace("128", "NaN").replace("false", "Infinity")},
    "quantisation values that are mappings with YAML in their keys": {"config.json": json.dumps(
        {"quantization_config": {"quant_method": "awq", "bits": {"a: b, c": [1], "#x": "y\nz"},
                                 "group_size": 128}})},
    "model_type ending in a newline": {"config.json": '{"model_type": "llama\\n"}'},
}


@pytest.mark.parametrize("name", list(FOLDERS))
def test_a_hostile_model_folder_is_reported_not_a_crash(cli, tmp_path, name):
    model = tmp_path / "model"
    model.mkdir()
    for file, content in FOLDERS[name].items():
        if isinstance(content, tuple):
            st_file(model / file, content[1], 16)
        else:
            (model / file).write_text(content, "utf-8")
    r = cli("new", "acme/x", "--from", model, cwd=tmp_path)
    sound(r)
    folder_yaml = tmp_path / "cards" / "acme" / "x" / "folder.yaml"
    assert folder_yaml.is_file()
    assert cli("validate", tmp_path / "cards" / "acme" / "x").code != 3


def test_a_link_out_of_the_model_folder_is_not_followed_but_the_hub_cache_layout_is(cli, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET\n", "utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "chat_template.jinja").symlink_to(secret)
    (model / "config.json").symlink_to(secret)
    (model / "sub").symlink_to(tmp_path)
    r = cli("new", "acme/x", "--from", model, cwd=tmp_path)
    sound(r)
    assert "CG501" in r.text and "a link out of the model folder" in r.text
    written = "".join(p.read_text("utf-8") for p in (tmp_path / "cards").rglob("*.yaml"))
    assert "SECRET" not in written

    # a snapshot of the Hub cache: its files are links to ../../blobs, and are read
    repo = tmp_path / "hub" / "models--acme--x"
    (repo / "blobs").mkdir(parents=True)
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (repo / "blobs" / ("a" * 64)).write_text('{"model_type": "llama", "max_position_embeddings": 4096}', "utf-8")
    (snap / "config.json").symlink_to(Path("../..") / "blobs" / ("a" * 64))
    r = cli("new", "acme/y", "--from", snap, cwd=tmp_path)
    sound(r)
    assert "context_length: 4096" in (tmp_path / "cards" / "acme" / "y" / "folder.yaml").read_text("utf-8")


def test_a_chat_template_that_runs_forever_is_bounded_and_stops_the_card(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    loop = "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}"
    (model / "chat_template.jinja").write_text(loop, "utf-8")
    sound(cli("new", "acme/x", "--from", model, cwd=tmp_path))
    t0 = time.monotonic()
    r = cli("validate", tmp_path / "cards" / "acme" / "x", cwd=tmp_path)
    sound(r)
    assert r.code == 1 and "folder.yaml" in r.text and "CG408" in r.text
    assert time.monotonic() - t0 < 30

    # the check turned off by the policy: the render still stops, with a diagnostic
    (tmp_path / "cardgen.toml").write_text('severity = { CG408 = "off" }\n', "utf-8")
    r = cli("render", tmp_path / "cards" / "acme" / "x", "--out", tmp_path / "out", cwd=tmp_path)
    sound(r)
    assert r.code == 1 and "CG701" in r.text


def _kv(key: str, kind: int, payload: bytes) -> bytes:
    return struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + payload


GGUF_CLAIMS = {
    "an array of 2^40 bytes": _kv("general.x", 9, struct.pack("<IQ", 0, 2**40)),
    "an array of 2^28 strings": _kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2**28)),
    "a string of 2^60 bytes": _kv("general.name", 8, struct.pack("<Q", 2**60)),
}


@pytest.mark.parametrize("claim", list(GGUF_CLAIMS))
def test_a_gguf_header_claiming_more_than_its_file_is_refused_at_once(tmp_path, claim):
    pytest.importorskip("gguf")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + GGUF_CLAIMS[claim] + bytes(64))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "cardgen", "new", "acme/x", "--from", str(model)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, preexec_fn=_cap)
    assert p.returncode in (0, 1) and "Traceback" not in p.stderr, p.stderr
    assert "claims more than the file" in p.stdout + p.stderr
    assert time.monotonic() - t0 < 20


def test_a_fifo_in_the_model_folder_is_not_opened(cli, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("model.safetensors", "model.gguf", "config.json", "chat_template.jinja"):
        os.mkfifo(model / name)
    p = subprocess.run([sys.executable, "-m", "cardgen", "new", "acme/x", "--from", str(model)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1) and "Traceback" not in p.stderr, p.stderr


def test_a_seeded_mutation_fuzz_of_model_folders_never_crashes(cli, tmp_path):
    rnd = random.Random(20261205)
    base = {"model_type": "llama", "max_position_embeddings": 2048, "eos_token_id": [2, 3],
            "_name_or_path": "acme/base", "quantization_config": {"quant_method": "gptq", "bits": 4,
                                                                  "group_size": 128, "desc_act": True}}
    tok = {"eos_token": "</s>", "bos_token": {"content": "<s>"}, "chat_template": "{{ messages }}",
           "added_tokens_decoder": {"2": {"content": "</s>"}}}
    for i in range(40):
        model = tmp_path / f"m{i}"
        model.mkdir()
        (model / "config.json").write_text(mutate_json(rnd, base), "utf-8")
        (model / "tokenizer_config.json").write_text(mutate_json(rnd, tok), "utf-8")
        header = mutate_json(rnd, {"w": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 32]}}).encode()
        st_file(model / "model.safetensors", header, 32)
        r = cli("new", f"acme/m{i}", "--from", model, cwd=tmp_path)
        sound(r)


# --- evaluation logs (`cardgen evals add`) ---------------------------------------------------------------------

def lm(**changes) -> dict:
    return json.loads(json.dumps(LM_EVAL)) | changes


def ins(**changes) -> dict:
    d = json.loads(json.dumps(INSPECT))
    d["eval"] |= changes.pop("eval", {})
    return d | changes


LOGS_OF_ANY_SHAPE = {
    "nested 100,000 deep": DEEP,
    "configs a list": lm(configs=[1]),
    "a task's config a string": lm(configs={t: "x" for t in LM_EVAL["results"]}),
    "n-shot a list": lm(**{"n-shot": [1]}),
    "versions a list": lm(versions=[1]),
    "date 1e300": lm(date=1e300),
    "date -1e18": lm(date=-1e18),
    "model_name a mapping": lm(config={}, model_name={"a": 1}),
    "dataset name and split mappings": lm(configs={t: {"dataset_name": {"a": 1}, "test_split": [1]}
                                                   for t in LM_EVAL["results"]}),
    "scores a mapping": ins(results={"scores": {"a": 1}}),
    "scores a string": ins(results={"scores": "abc"}),
    "a score a list": ins(results={"scores": [[1]]}),
    "metrics a list": ins(results={"scores": [{"metrics": [1]}]}),
    "stderr a number": ins(results={"scores": [{"name": "c", "metrics": {"accuracy": {"value": 0.5}, "stderr": 5}}]}),
}


@pytest.fixture
def card(tmp_path) -> Path:
    d = tmp_path / "cards" / "acme" / "x"
    d.mkdir(parents=True)
    (d / "card.yaml").write_text(CARD, "utf-8")
    return d / "card.yaml"


@pytest.mark.parametrize("name", list(LOGS_OF_ANY_SHAPE))
def test_an_evaluation_log_of_any_shape_is_read_or_refused_never_a_crash(cli, tmp_path, card, name):
    log = tmp_path / "log.json"
    data = LOGS_OF_ANY_SHAPE[name]
    log.write_text(data if isinstance(data, str) else json.dumps(data), "utf-8")
    r = cli("evals", "add", card, log, "--model-differs", "test", cwd=tmp_path)
    sound(r)
    assert cli("validate", card.parent, cwd=tmp_path).code in (0, 1)


def test_nan_and_infinity_in_a_log_are_not_written_as_results(cli, tmp_path, card):
    log = tmp_path / "log.json"
    task = next(iter(LM_EVAL["results"]))
    log.write_text(json.dumps(lm(results={task: {"acc,none": float("nan"), "acc_norm,none": float("inf"),
                                                 "f1,none": 0.25}})), "utf-8")
    r = cli("evals", "add", card, log, "--model-differs", "test", cwd=tmp_path)
    sound(r)
    text = card.read_text("utf-8")
    assert "0.25" in text and "nan" not in text.lower() and "inf" not in text.lower()


def test_a_seeded_mutation_fuzz_of_evaluation_logs_never_crashes(cli, tmp_path, card):
    rnd = random.Random(5)
    for i in range(60):
        card.write_text(CARD, "utf-8")
        log = tmp_path / f"log{i}.json"
        log.write_text(mutate_json(rnd, LM_EVAL if i % 2 else INSPECT), "utf-8")
        r = cli("evals", "add", card, log, "--model-differs", "fuzz", cwd=tmp_path)
        sound(r)


def test_evals_add_refuses_a_linked_card_and_one_grown_past_the_size_bound(cli, tmp_path, card):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(CARD, "utf-8")
    linked = card.parent.parent / "y"
    linked.mkdir()
    (linked / "card.yaml").symlink_to(outside)
    log = LOGS / "results_2026-01-15T10-00-00.123456.json"
    r = cli("evals", "add", linked, log, "--model-differs", "t", cwd=tmp_path)
    sound(r)
    assert r.code == 2 and "is a link" in r.text
    assert (linked / "card.yaml").is_symlink() and outside.read_text("utf-8") == CARD

    many = tmp_path / "many.json"
    many.write_text(json.dumps(lm(results={f"task{i}": {"acc,none": 0.5} for i in range(30_000)})), "utf-8")
    r = cli("evals", "add", card, many, "--model-differs", "t", cwd=tmp_path)
    sound(r)
    assert r.code == 2 and "limit" in r.text
    assert card.read_text("utf-8") == CARD
    assert cli("validate", card.parent, cwd=tmp_path).code in (0, 1)


def test_evals_add_run_at_once_on_one_card_loses_no_ones_results(tmp_path, card):
    logs = []
    for i in range(4):
        logs.append(tmp_path / f"log{i}.json")
        logs[-1].write_text(json.dumps(lm(results={f"task{i}": {"acc,none": 0.5}})), "utf-8")
    procs = [subprocess.Popen([sys.executable, "-m", "cardgen", "evals", "add", str(card), str(log),
                               "--model-differs", "t"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for log in logs]
    for p in procs:
        out = p.communicate(timeout=120)[0].decode()
        assert p.returncode == 0, out
    text = card.read_text("utf-8")
    assert text.startswith(CARD) and all(f"task{i}" in text for i in range(4)), text


def test_eval_results_files_of_the_wrong_shape_are_left_out_with_a_reason():
    from cardgen.evals.imported import parse_files

    problems: list[str] = []
    texts = {".eval_results/a.yaml": "- dataset: {id: a/b, task_id: t}\n  value: 1\n  source: [1]\n",
             ".eval_results/b.yaml": "- dataset: {id: [1], task_id: {a: 1}}\n  value: [1]\n",
             ".eval_results/c.yaml": "- dataset: {id: a/b, task_id: t}\n  value: .nan\n",
             ".eval_results/d.yaml": "- dataset: {id: a/b, task_id: t}\n  value: 0.5\n"}
    entries = parse_files(texts, problems)
    assert [(e.dataset_id, e.task_id, e.value) for e in entries] == [("a/b", "t", 0.5)]
    assert len(problems) == 3 and all("left out" in p for p in problems)


# --- init ----------------------------------------------------------------------------------------------------

def test_init_writes_through_no_link_out_of_its_folder(cli, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True)
    (repo / "schemas").symlink_to(outside)
    (repo / ".github" / "workflows").symlink_to(outside)
    r = cli("init", repo)
    sound(r)
    assert r.code == 1 and "a link out of" in r.text
    assert list(outside.iterdir()) == []
    assert (repo / "cardgen.toml").is_file() and (repo / ".pre-commit-config.yaml").is_file()


def test_init_goes_on_past_a_file_where_a_folder_should_be(cli, tmp_path):
    (tmp_path / "schemas").write_text("mine\n", "utf-8")
    r = cli("init", tmp_path)
    sound(r)
    assert r.code == 1 and "schemas is a file where a folder should be" in r.text
    assert (tmp_path / "schemas").read_text("utf-8") == "mine\n"
    assert (tmp_path / "cardgen.toml").is_file() and (tmp_path / ".github" / "workflows" / "cards.yml").is_file()


# --- smoke --json FILE ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["a-folder", "a-file/report.json"])
def test_smoke_json_path_that_cannot_be_written_is_refused_before_the_run(cli, tmp_path, card, where):
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("mine\n", "utf-8")
    r = cli("smoke", card.parent, "--tokenizer-only", "--json", tmp_path / where, cwd=tmp_path)
    sound(r)
    assert r.code == 2 and "--json" in r.text
    assert (tmp_path / "a-file").read_text("utf-8") == "mine\n"


# --- the mutation -------------------------------------------------------------------------------------------------

ODD = [None, True, -1, 0, 10**30, 1e308, float("nan"), float("inf"), "", "a: b\n- c #", "x" * 1000, [], {},
       [1, "x", None], {"a": {"b": [1]}}, "\u00b2", "../../etc/passwd"]


def _mutate(rnd: random.Random, v, depth: int = 0):
    if rnd.random() < 0.15:
        return rnd.choice(ODD)
    if isinstance(v, dict):
        out = {k: _mutate(rnd, x, depth + 1) for k, x in v.items() if rnd.random() > 0.05}
        if rnd.random() < 0.1:
            out[rnd.choice(["a: b", "\n", "results", "configs", "scores", "metrics"])] = rnd.choice(ODD)
        return out
    if isinstance(v, list):
        return [_mutate(rnd, x, depth + 1) for x in v[:50]]
    return v


def mutate_json(rnd: random.Random, data) -> str:
    """The data with some values replaced by odd ones (of another type, non-finite, huge, YAML-breaking); now
    and then the text itself cut short or nested deep."""
    text = json.dumps(_mutate(rnd, data))
    roll = rnd.random()
    if roll < 0.05:
        return text[: rnd.randrange(len(text) + 1)]
    if roll < 0.08:
        return "[" * 50_000 + text + "]" * 50_000
    return text
