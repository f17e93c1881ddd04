"""The model folder as the source of the facts it holds (cardgen/folder): `cardgen new --from`, `cardgen sync`,
and `validate` against the folder (`model_dir:` or `--model-dir`). The folders are built here: a Llama-style
transformers folder with `chat_template.jinja`, a LoRA adapter, GPTQ branches, GGUF files written with
`gguf.GGUFWriter`. Large files are sparse: only their headers are written, their sizes are what the cards say."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from cardgen.commands.init import POLICY

from conftest import edit

pytest.importorskip("gguf")
pytest.importorskip("tokenizers")

TEMPLATE = ("{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}"
            "{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
OTHER_TEMPLATE = TEMPLATE.replace("<|{{ message['role'] }}|>\n", "### {{ message['role'] }}:\n")
SPECIALS = ["<unk>", "<s>", "</s>"]
SHAPES = {"model.embed_tokens.weight": (400, 64), "lm_head.weight": (400, 64), "model.layers.0.mlp.weight": (64, 64)}
PARAMS = "55.3K"  # 2 * 400 * 64 + 64 * 64 = 55,296


def _safetensors(path: Path, shapes: dict[str, tuple[int, ...]], dtype: str = "F16", size: int | None = None) -> None:
    """A safetensors file with these tensors' header (and zeros for data); sparse up to ``size`` bytes."""
    header, offset = {}, 0
    width = {"F16": 2, "BF16": 2, "F32": 4, "I32": 4}[dtype]
    for name, shape in shapes.items():
        n = width
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + offset)
    if size is not None:
        os.truncate(path, size)


def build_transformers(path: Path, template: str = TEMPLATE, eos: int = 2) -> Path:
    from transformers import PreTrainedTokenizerFast

    from tinymodels import _bpe

    path.mkdir(parents=True)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_bpe(400, SPECIALS), bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>")
    tokenizer.chat_template = template
    tokenizer.save_pretrained(path)
    (path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 2048,
        "bos_token_id": 1, "eos_token_id": eos, "vocab_size": 400, "hidden_size": 64}))
    (path / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": eos}))
    _safetensors(path / "model.safetensors", SHAPES)
    assert (path / "chat_template.jinja").is_file()
    return path


def write_gguf(path: Path, quant: str = "Q4_K_M", size: int | None = None, template: str = TEMPLATE, eos: int = 2,
               eot: int | None = 2, license: str | None = "apache-2.0", params: int | None = None) -> Path:
    """A GGUF file: its metadata, and small zero tensors; or, with ``params``, one Q4_K tensor of that many
    elements whose data is left sparse (the file is then extended to ``size``)."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("Tiny Chat")
    w.add_basename("tiny-chat")
    w.add_size_label("135M" if params else "55K")
    if license:
        w.add_license(license)
    w.add_file_type(getattr(gguf.LlamaFileType, f"MOSTLY_{quant}"))
    w.add_context_length(2048)
    w.add_chat_template(template)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(SPECIALS + [f"t{i}" for i in range(397)])
    w.add_bos_token_id(1)
    w.add_eos_token_id(eos)
    if eot is not None:
        w.add_eot_token_id(eot)
    if params:
        rows = params // 256  # Q4_K: blocks of 256 elements in 144 bytes
        w.add_tensor_info("token_embd.weight", (rows, 144), np.dtype(np.uint8), rows * 144,
                          raw_dtype=gguf.GGMLQuantizationType.Q4_K)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        assert size is not None and size > path.stat().st_size + rows * 144
    else:
        for name, shape in (("token_embd.weight", (400, 64)), ("output.weight", (400, 64)),
                            ("blk.0.ffn.weight", (64, 64))):
            w.add_tensor(name, np.zeros(shape, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    if size is not None:
        os.truncate(path, size)
    return path


def build_gguf(path: Path, files: dict[str, tuple[str, int]] | None = None, **kw) -> Path:
    path.mkdir(parents=True)
    for name, (quant, size) in (files or {"tiny-chat.Q4_K_M.gguf": ("Q4_K_M", 105_000_000)}).items():
        write_gguf(path / name, quant, size, **kw)
    return path


def build_adapter(path: Path, base: str = "acme/tiny-chat") -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({
        "base_model_name_or_path": base, "peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}))
    _safetensors(path / "adapter_model.safetensors", {"base_model.model.q_proj.lora_A.weight": (8, 64)})
    return path


# the branches of the bundled TheBloke/StableBeluga2-70B-GPTQ card: bits, group size, act order, size in bytes
GPTQ_BRANCHES = {
    "gptq-4bit-32g-actorder_True": (4, 32, True, 40_660_000_000),
    "gptq-4bit-64g-actorder_True": (4, 64, True, 37_990_000_000),
    "gptq-4bit-128g-actorder_True": (4, 128, True, 36_650_000_000),
    "gptq-3bit-128g-actorder_True": (3, 128, True, 28_030_000_000),
    "gptq-3bit-128g-actorder_False": (3, 128, False, 28_030_000_000),
    "gptq-3bit--1g-actorder_True": (3, -1, True, 26_780_000_000),
    "gptq-4bit-128g-actorder_False": (4, 128, False, 36_650_000_000),
    "gptq-3bit-64g-actorder_True": (3, 64, True, 29_300_000_000),
    "main": (4, -1, True, 35_330_000_000),
}


def build_gptq(path: Path, branches: dict[str, tuple[int, int, bool, int]] | None = None) -> Path:
    """The `main` branch in the folder itself, every other branch in a subfolder named after it."""
    path.mkdir(parents=True)
    for branch, (bits, group, act, size) in (branches or GPTQ_BRANCHES).items():
        where = path if branch == "main" else path / branch
        where.mkdir(exist_ok=True)
        (where / "config.json").write_text(json.dumps({
            "model_type": "llama", "max_position_embeddings": 4096, "eos_token_id": 2,
            "quantization_config": {"quant_method": "gptq", "bits": bits, "group_size": group, "desc_act": act,
                                    "damp_percent": 0.01, "dataset": "wikitext", "model_seqlen": 4096}}))
        _safetensors(where / "model.safetensors", {"model.layers.0.qweight": (8, 64)}, "I32", size=size)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """An empty cards folder (with the schemas beside it, as `new` links them)."""
    (tmp_path / "cards").mkdir()
    return tmp_path


def _new(cli, tree: Path, repo: str, folder: Path, *extra: str):
    r = cli("new", repo, "--from", folder, "--cards", tree / "cards", *extra)
    assert r.code == 0, r.text
    return tree / "cards" / repo


# -- new --from ---------------------------------------------------------------------------------------------
def test_new_from_a_transformers_folder_writes_its_facts(cli, tree):
    llama = build_transformers(tree / "llama")
    card = _new(cli, tree, "acme/tiny-chat", llama)
    facts = (card / "folder.yaml").read_text()
    assert "model_type: llama  # config.json" in facts
    assert f"parameters: {PARAMS}  # model.safetensors" in facts
    assert "context_length: 2048  # config.json" in facts
    assert "dtype: float16  # model.safetensors" in facts
    assert "  # chat_template.jinja" in facts and 'eos_token: "</s>"  # tokenizer_config.json' in facts
    assert "TODO" not in facts
    assert not re.search(r"^(model_type|parameters|prompt|usage):", (card / "card.yaml").read_text(), re.M)
    r = cli("validate", tree / "cards")
    assert r.code == 0 and "error" not in r.out, r.text
    assert cli("render", tree / "cards", "--out", tree / "out").code == 0
    readme = (tree / "out/acme/tiny-chat/README.md").read_text()
    assert f"* **Parameters**: {PARAMS}" in readme and "* **Context length**: 2,048 tokens" in readme
    assert "torch.float16" in readme and "<|user|>" in readme


def test_new_from_a_gguf_folder_computes_its_file_table(cli, tree):
    gg = build_gguf(tree / "gguf", {"tiny-chat.Q4_K_M.gguf": ("Q4_K_M", 105_000_000),
                                    "tiny-chat.Q8_0.gguf": ("Q8_0", 145_000_000)})
    card = _new(cli, tree, "acme/tiny-chat-GGUF", gg)
    facts = (card / "folder.yaml").read_text()
    assert ("- {file: tiny-chat.Q4_K_M.gguf, quant_method: Q4_K_M, bits: 4, size: 105 MB, max_ram: "
            in facts), facts
    assert 'use_case: "medium, balanced quality - recommended"}  # tiny-chat.Q4_K_M.gguf' in facts
    assert "- {file: tiny-chat.Q8_0.gguf, quant_method: Q8_0, bits: 8, size: 145 MB" in facts
    assert f"parameters: {PARAMS}  # tiny-chat.Q4_K_M.gguf" in facts and "context_length: 2048" in facts
    assert "file: tiny-chat.Q4_K_M.gguf" in facts  # the snippet's file
    r = cli("validate", tree / "cards")
    assert r.code == 0 and "error" not in r.out, r.text
    assert cli("render", tree / "cards", "--out", tree / "out").code == 0
    readme = (tree / "out/acme/tiny-chat-GGUF/README.md").read_text()
    assert "tiny-chat.Q8_0.gguf" in readme and "145 MB" in readme and "2,048 tokens" in readme


def test_new_from_a_gptq_folder_computes_its_branches(cli, tree):
    q = build_gptq(tree / "gptq", {"main": (4, 128, True, 3_900_000_000),
                                   "gptq-8bit": (8, -1, False, 7_010_000_000)})
    card = _new(cli, tree, "acme/tiny-GPTQ", q)
    facts = (card / "folder.yaml").read_text()
    assert ("- {branch: main, bits: 4, group_size: 128, act_order: true, damp_percent: 0.01, dataset: wikitext, "
            "seq_len: 4096, size: 3.90 GB") in facts
    assert "branch: gptq-8bit, bits: 8, group_size: null, act_order: false" in facts and "size: 7.01 GB" in facts
    assert cli("validate", tree / "cards").code == 0
    assert cli("render", tree / "cards", "--out", tree / "out").code == 0
    assert "7.01 GB" in (tree / "out/acme/tiny-GPTQ/README.md").read_text()


def test_new_from_an_adapter_names_its_base(cli, tree):
    card = _new(cli, tree, "acme/tiny-lora", build_adapter(tree / "lora"))
    facts = (card / "folder.yaml").read_text()
    assert "base_model: acme/tiny-chat  # adapter_config.json" in facts
    assert "base_model_relation: adapter  # adapter_config.json" in facts and "library_name: peft" in facts
    r = cli("validate", tree / "cards")
    assert r.code == 0, r.text


# -- one chat template, one stop set ------------------------------------------------------------------------
def _base_and_gguf(cli, tree: Path, **gguf_kw) -> Path:
    _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    return _new(cli, tree, "acme/tiny-chat-GGUF", build_gguf(tree / "gguf", **gguf_kw), "--extends", "acme/tiny-chat")


def test_a_gguf_that_agrees_with_its_base_folder_validates(cli, tree):
    _base_and_gguf(cli, tree)
    r = cli("validate", tree / "cards")
    assert r.code == 0 and "CG50" not in r.out, r.text


def test_a_gguf_with_another_chat_template_fails_naming_both_files(cli, tree):
    _base_and_gguf(cli, tree, template=OTHER_TEMPLATE)
    r = cli("validate", tree / "cards")
    assert r.code == 1
    line = next(x for x in r.out.splitlines() if "CG503" in x)
    assert line.startswith(f"{tree}/gguf/tiny-chat.Q4_K_M.gguf:1:1: CG503 the chat template of {tree}/gguf/")
    assert f"other token ids than {tree}/llama/chat_template.jinja's on the conversation user, from token position 1:" \
        in line


def test_a_gguf_with_another_eos_id_fails_naming_both_files(cli, tree):
    _base_and_gguf(cli, tree, eos=1, eot=None)
    r = cli("validate", tree / "cards")
    assert r.code == 1
    line = next(x for x in r.out.splitlines() if "CG504" in x)
    assert line.startswith(f"{tree}/gguf/tiny-chat.Q4_K_M.gguf:1:1: CG504 {tree}/gguf/tiny-chat.Q4_K_M.gguf stops at "
                           f"id(s) [1], which {tree}/llama/generation_config.json does not ([2])"), line


def test_the_folder_and_the_card_disagreeing_is_an_error_naming_both(cli, tree):
    card = _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    edit(card / "folder.yaml", "context_length: 2048", "context_length: 4096")
    r = cli("validate", tree / "cards")
    assert r.code == 1
    assert f"acme/tiny-chat/folder.yaml:6:17: CG502 context_length is 4096 here but 2048 in {tree}/llama/config.json" \
        in r.out
    r = cli("sync", card, "--from", tree / "llama")
    assert r.code == 0 and "-context_length: 4096  # config.json" in r.out and "+context_length: 2048" in r.out
    assert cli("validate", tree / "cards").code == 0


def test_model_dir_option_checks_a_card_that_names_no_folder(cli, tree):
    card = _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    other = build_transformers(tree / "other", template=OTHER_TEMPLATE, eos=1)
    edit(card / "folder.yaml", "model_dir: ", "# model_dir: ")
    assert cli("validate", card).code == 0
    r = cli("validate", card, "--model-dir", other)
    assert r.code == 1 and "CG503" in r.out and "CG502 " not in r.out


# -- derived repos ------------------------------------------------------------------------------------------
def test_a_local_path_base_model_is_refused_with_the_hub_id_of_adapter_config(cli, tree):
    card = _new(cli, tree, "acme/tiny-lora", build_adapter(tree / "lora"))
    edit(card / "folder.yaml", "base_model: acme/tiny-chat", "base_model: /home/me/models/tiny-chat")
    r = cli("validate", tree / "cards")
    assert r.code == 1
    assert ("CG508 base_model '/home/me/models/tiny-chat' is a local path, which the Hub refuses; "
            f"{tree}/lora/adapter_config.json names the Hub id 'acme/tiny-chat': write that") in r.out


def test_a_quantised_card_with_another_licence_than_its_base_is_warned_and_fails_under_the_init_policy(cli, tree):
    card = _base_and_gguf(cli, tree)
    edit(card / "card.yaml", "title:", "license: mit\ntitle:")
    r = cli("validate", tree / "cards")
    assert r.code == 0 and "CG506 warning: licence 'mit' differs from acme/tiny-chat's" in r.out
    (tree / "cardgen.toml").write_text(POLICY)  # the policy `cardgen init` writes makes it an error
    r = cli("validate", tree / "cards", cwd=tree)
    assert r.code == 1 and "CG506 licence 'mit' differs from acme/tiny-chat's" in r.out


# -- sync reproduces the bundled examples' tables -----------------------------------------------------------
def _typed_rows(card_yaml: Path, key: str) -> list[dict]:
    import yaml

    return yaml.safe_load(card_yaml.read_text())["quantization"][key]


def test_sync_reproduces_the_bundled_gguf_table(cli, tmp_path, cards):
    card = cards / "cardgen-examples/tiny-chat-GGUF"
    before = (card / "card.yaml").read_text()
    rows = _typed_rows(card / "card.yaml", "files")
    folder = build_gguf(tmp_path / "gguf", {r["file"]: (r["quant_method"], int(float(r["size"].split()[0]) * 1e6))
                                            for r in rows}, eot=None, params=135_000_064)
    r = cli("sync", card, "--from", folder)
    assert r.code == 0 and "CG5" not in r.text, r.text
    assert (card / "card.yaml").read_text() == before  # the typed table agrees: nothing to rewrite
    from cardgen.folder.read import read_folder

    computed = read_folder(folder).facts[("quantization",)].value["files"]
    assert computed == [{k: row[k] for k in ("file", "quant_method", "bits", "size")} for row in rows]
    edit(card / "card.yaml", "size: 112 MB", "size: 212 MB")
    r = cli("sync", card, "--from", folder)
    assert r.code == 1 and "CG502 tiny-chat.Q5_K_M.gguf: size is '212 MB' here but '112 MB' in " in r.out


def test_sync_reproduces_the_bundled_gptq_table(cli, tmp_path, cards):
    card = cards / "TheBloke/StableBeluga2-70B-GPTQ"
    rows = _typed_rows(card / "card.yaml", "variants")
    assert {r["branch"] for r in rows} == set(GPTQ_BRANCHES)
    folder = build_gptq(tmp_path / "gptq")
    r = cli("sync", card, "--from", folder)
    assert r.code == 0 and "CG5" not in r.text, r.text
    from cardgen.folder.read import read_folder

    computed = {v["branch"]: v for v in read_folder(folder).facts[("quantization",)].value["variants"]}
    keys = ("bits", "group_size", "act_order", "damp_percent", "dataset", "seq_len", "size")
    assert {b: {k: computed[b][k] for k in keys} for b in computed} == \
        {r["branch"]: {k: r[k] for k in keys} for r in rows}
    shutil.rmtree(folder / "gptq-3bit-64g-actorder_True")
    r = cli("sync", card, "--from", folder)
    assert r.code == 1 and "CG509 gptq-3bit-64g-actorder_True is listed but" in r.out


def test_a_quantised_card_with_its_own_chat_template_is_warned_and_fails_under_the_init_policy(cli, tree):
    card = _base_and_gguf(cli, tree)
    edit(card / "card.yaml", "title:", f"prompt: {{chat_template: {json.dumps(OTHER_TEMPLATE)}}}\ntitle:")
    r = cli("validate", tree / "cards")
    assert "CG507 warning: the chat template differs from acme/tiny-chat's" in r.out
    (tree / "cardgen.toml").write_text(POLICY)
    r = cli("validate", tree / "cards", cwd=tree)
    assert r.code == 1 and "CG507 the chat template differs from acme/tiny-chat's" in r.out


def test_smoke_tokenizer_only_compares_the_copies(cli, tree):
    _base_and_gguf(cli, tree, template=OTHER_TEMPLATE)
    r = cli("smoke", tree / "cards/acme/tiny-chat-GGUF", "--tokenizer-only",
            "--model-path", f"acme/tiny-chat-GGUF={tree / 'gguf'}")
    assert r.code == 1 and "CG503 the chat template of " in r.out, r.text


def test_gguf_general_metadata_is_compared_with_the_card(cli, tree):
    card = _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    edit(card / "card.yaml", "license: {id: other, name: todo-choose-a-licence, link: LICENSE}", "license: apache-2.0")
    _new(cli, tree, "acme/tiny-chat-GGUF", build_gguf(tree / "gguf", license="mit"), "--extends", "acme/tiny-chat")
    r = cli("validate", tree / "cards")
    assert r.code == 0
    assert f"CG505 warning: {tree}/gguf/tiny-chat.Q4_K_M.gguf says general.license 'mit', the card 'apache-2.0'" in r.out


def test_a_local_path_dataset_is_refused(cli, tree):
    card = _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    edit(card / "card.yaml", "tags: [chat]", "tags: [chat]\ndatasets: [./data/train.jsonl]")
    r = cli("validate", tree / "cards")
    assert r.code == 1 and "CG508 datasets: './data/train.jsonl' is a local path, which the Hub refuses" in r.out


def test_sync_rewrites_folder_yaml_keeping_what_the_author_wrote(cli, tree):
    gg = build_gguf(tree / "gguf")
    card = _new(cli, tree, "acme/tiny-chat-GGUF", gg)
    edit(card / "folder.yaml", 'max_ram: "TODO: RAM needed without GPU offloading"', "max_ram: 355 MB")
    write_gguf(gg / "tiny-chat.Q8_0.gguf", "Q8_0", 145_000_000)
    r = cli("sync", card, "--from", gg, "--dry-run")
    assert r.code == 0 and "+    - {file: tiny-chat.Q8_0.gguf, quant_method: Q8_0, bits: 8, size: 145 MB" in r.out
    assert "tiny-chat.Q8_0.gguf" not in (card / "folder.yaml").read_text()  # a dry run writes nothing
    r = cli("sync", card, "--from", gg)
    facts = (card / "folder.yaml").read_text()
    assert r.code == 0 and "tiny-chat.Q8_0.gguf" in facts
    assert "size: 105 MB, max_ram: 355 MB, use_case:" in facts  # the author's RAM figure kept
    r = cli("sync", card, "--from", gg)
    assert r.code == 0 and r.out.startswith(f"{card}: as the folder says")


def test_a_model_dir_that_is_not_there_is_reported_at_the_card(cli, tree):
    _new(cli, tree, "acme/tiny-chat", build_transformers(tree / "llama"))
    shutil.rmtree(tree / "llama")
    r = cli("validate", tree / "cards")
    assert r.code == 1 and f"acme/tiny-chat/folder.yaml:3:12: CG501 model_dir: no folder {tree}/llama" in r.out
