"""Tiny models and tokenizers built on the spot, offline, shaped like the bundled cards' models:

* a Llama with a BPE tokenizer trained here on text carrying `### System:` / `### User:` /
  `### Assistant:` (Stable Beluga's format);
* a GPT-NeoX whose tokenizer has `<|SYSTEM|>`, `<|USER|>`, `<|ASSISTANT|>` as special tokens at the
  ids the StableLM card documents (50277-50279, with `<|endoftext|>` 0 and `<|padding|>` 1).

Weights are random; the output head is limited to ordinary word tokens so that greedy decoding
returns words (and so that a test can steer it onto a stop token when it wants to).
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "### System:\nYou are Stable Beluga, an AI that follows instructions extremely well.\n\n",
    "### User:\nWrite me a poem please\n\n### Assistant:\nThe sea is calm and the sky is blue.\n",
    "### User:\nSay hello.\n\n### Assistant:\nHello there, friend. How are you today?\n",
    "Help as much as you can. Remember, be safe, and don't do anything illegal.",
    "What's your mood today? I am happy and ready to help with poetry, stories and jokes.",
    "StableLM is a helpful and harmless open-source AI language model developed by StabilityAI.",
] * 4

WORDS = ["hello", "there", "friend", "sea", "calm", "sky", "blue", "happy", "ready", "poetry", "stories"]


def _bpe(vocab_size: int, specials: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _restrict_head(model, tokenizer, words=WORDS) -> None:
    """Zero every output row but those of a few word tokens: greedy decoding then says words."""
    import torch

    keep = {i for w in words for i in tokenizer.encode(" " + w, add_special_tokens=False)}
    head = model.get_output_embeddings().weight
    with torch.no_grad():
        mask = torch.zeros(head.shape[0], dtype=torch.bool)
        mask[list(keep)] = True
        head[~mask] = 0.0
        head[mask] *= 20.0


def build_llama(path: Path, chat_template: str | None = None, restrict: bool = True) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    tok = _bpe(400, ["<unk>", "<s>", "</s>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    if chat_template:
        tokenizer.chat_template = chat_template
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    if restrict:
        _restrict_head(model, tokenizer)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


NEOX_SPECIALS = {"<|endoftext|>": 0, "<|padding|>": 1, "<|SYSTEM|>": 50277, "<|USER|>": 50278, "<|ASSISTANT|>": 50279}


def build_neox(path: Path, specials: dict[str, int] | None = None, restrict: bool = True) -> Path:
    """A GPT-NeoX whose vocabulary reaches the StableLM ids; the gap is filled with unused tokens."""
    import json

    import torch
    from tokenizers import Tokenizer
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    specials = dict(NEOX_SPECIALS if specials is None else specials)
    base = _bpe(300, [])
    data = json.loads(base.to_str())
    vocab = data["model"]["vocab"]
    size = max(max(specials.values()) + 1, len(vocab) + 2)
    ordered = {}
    taken = set(specials.values())
    nxt = 0
    for t in sorted(vocab, key=vocab.get):
        while nxt in taken:
            nxt += 1
        ordered[t] = nxt
        nxt += 1
    filler = 0
    used = set(ordered.values()) | taken
    for i in range(size):
        if i not in used:
            ordered[f"<unused{filler}>"] = i
            filler += 1
    for t, i in specials.items():
        ordered[t] = i
    data["model"]["vocab"] = ordered
    data["added_tokens"] = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for t, i in sorted(specials.items(), key=lambda x: x[1])]
    tok = Tokenizer.from_str(json.dumps(data))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                        pad_token="<|padding|>" if "<|padding|>" in specials else None,
                                        additional_special_tokens=[t for t in specials if t not in ("<|endoftext|>", "<|padding|>")])
    cfg = GPTNeoXConfig(vocab_size=size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=512, rotary_pct=0.25,
                        eos_token_id=specials.get("<|endoftext|>", 0), bos_token_id=specials.get("<|endoftext|>", 0),
                        tie_word_embeddings=False)
    model = GPTNeoXForCausalLM(cfg)
    if restrict:
        _restrict_head(model, tokenizer)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


# -- other tasks: an encoder (BERT) with each task's head, an encoder-decoder (T5), a sentence-transformers
ENCODER_CORPUS = [
    "paris is the capital of france .", "i loved this film , it was great .", "the service was slow and bad .",
    "what is the capital of france ?", "stable beluga follows instructions well .", "hello there friend .",
] * 4
LABELS = {"text-classification": ["NEGATIVE", "POSITIVE"], "token-classification": ["O", "B-LOC", "I-LOC"]}


def _wordpiece(path: Path):
    """A BERT tokenizer (WordPiece, lower-cased) trained here, with [CLS] ... [SEP] around each input."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(ENCODER_CORPUS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials,
                                                                      show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def build_bert(path: Path, task: str) -> Path:
    """A tiny BERT with the head of ``task`` (or none, for feature extraction)."""
    import torch
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForQuestionAnswering,
        BertForSequenceClassification,
        BertForTokenClassification,
        BertModel,
    )

    torch.manual_seed(0)
    tokenizer = _wordpiece(path)
    labels = LABELS.get(task, [])
    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
                     **({"id2label": dict(enumerate(labels)), "label2id": {v: i for i, v in enumerate(labels)}}
                        if labels else {}))
    cls = {"text-classification": BertForSequenceClassification, "token-classification": BertForTokenClassification,
           "fill-mask": BertForMaskedLM, "question-answering": BertForQuestionAnswering}.get(task, BertModel)
    model = cls(cfg)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def build_sentence_transformer(path: Path) -> Path:
    """A sentence-transformers model: the tiny BERT with mean pooling, saved in its own format."""
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers 6 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer

    bert = build_bert(path.with_name(path.name + "-bert"), "feature-extraction")
    word = Transformer(str(bert))
    dim = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pooling = Pooling(dim(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling]).save(str(path))
    return path


def build_t5(path: Path) -> Path:
    """A tiny T5 (encoder-decoder) with a BPE tokenizer that ends each input with `</s>`."""
    import torch
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tok = _bpe(300, ["<pad>", "</s>", "<unk>"])
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    cfg = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4,
                   decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
                   eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    model = T5ForConditionalGeneration(cfg)
    _restrict_head(model, tokenizer)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def build_gguf(path: Path, files: dict[str, str]) -> Path:
    """A folder of GGUF files (name -> llama.cpp file type, e.g. `Q8_0`): headers and one tensor each."""
    import gguf
    import numpy as np

    path.mkdir(parents=True, exist_ok=True)
    for name, kind in files.items():
        w = gguf.GGUFWriter(str(path / name), "llama")
        w.add_file_type(int(gguf.LlamaFileType[f"MOSTLY_{kind}" if kind not in ("F32",) else "ALL_F32"]))
        w.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return path


# -- decoder families as the Hub ships them: who adds BOS, which ids end a turn ----------------------
FAMILIES = {
    "mistral": {"bos": "<s>", "eos": "</s>", "add_bos": True, "specials": ["<unk>", "<s>", "</s>"],
                "chat": "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} "
                        "[/INST]{% elif m['role'] == 'assistant' %}{{ m['content'] }}{{ eos_token }}{% endif %}"
                        "{% endfor %}"},
    "qwen2": {"bos": None, "eos": "<|im_end|>", "add_bos": False,
              "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], "extra_eos": ["<|endoftext|>"],
              "chat": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"},
    "gemma": {"bos": "<bos>", "eos": "<eos>", "add_bos": True,
              "specials": ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], "extra_eos": ["<end_of_turn>"],
              "chat": "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' "
                      "else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
                      "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"},
}


def build_family(path: Path, family: str, chat: bool = True) -> Path:
    """A tiny decoder of ``family`` (mistral, qwen2, gemma): its special tokens, whether its tokenizer adds
    BOS, its chat template, and the end-of-sequence ids of its generation config."""
    import torch
    from tokenizers import processors
    from transformers import (
        GemmaConfig,
        GemmaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    torch.manual_seed(0)
    f = FAMILIES[family]
    tok = _bpe(400, f["specials"])
    if f["add_bos"]:
        tok.post_processor = processors.TemplateProcessing(single=f"{f['bos']} $A",
                                                           special_tokens=[(f["bos"], tok.token_to_id(f["bos"]))])
    extra = [t for t in f["specials"] if t not in (f["bos"], f["eos"], "<unk>", "<pad>")]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=f["bos"], eos_token=f["eos"],
                                        pad_token="<pad>" if "<pad>" in f["specials"] else None,
                                        unk_token="<unk>" if "<unk>" in f["specials"] else None,
                                        additional_special_tokens=extra)
    if chat:
        tokenizer.chat_template = f["chat"]
    common = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    cls, cfg = {"mistral": (MistralForCausalLM, MistralConfig), "qwen2": (Qwen2ForCausalLM, Qwen2Config),
                "gemma": (GemmaForCausalLM, GemmaConfig)}[family]
    model = cls(cfg(**common, **({"head_dim": 8} if family == "gemma" else {})))
    _restrict_head(model, tokenizer)
    eos = [tokenizer.eos_token_id] + [tokenizer.convert_tokens_to_ids(t) for t in f.get("extra_eos", [])]
    model.generation_config.eos_token_id = eos if len(eos) > 1 else eos[0]
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path
