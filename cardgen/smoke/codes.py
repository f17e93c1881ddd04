"""The codes of the smoke test's failures on generating cards (causal, chat, seq2seq, GGUF): each
failure names the fact it found wrong by one of these, so that a CI run can act on it."""

from __future__ import annotations

from cardgen.diagnostics import declare

NO_PROMPT = declare("CG901", "a generating card documents no prompt format").code
NOT_LOADING = declare("CG902", "the tokenizer, config.json or the weights do not load").code
TOKENIZER_KWARG = declare("CG903", "the snippet passes a tokenizer keyword that transformers ignores").code
ARCHITECTURE = declare("CG904", "the model's architecture has no head the card's snippet loads").code
STOP_IDS = declare("CG905", "a stop token id is outside the vocabulary, ordinary, or drops an end-of-sequence id").code
STOP_STRING = declare("CG906", "a stop string that neither the template writes nor the model emits to end a turn").code
MARKER = declare("CG907", "a listed special marker is not one token").code
SPECIAL_TEXT = declare("CG908", "the card's BOS or EOS token is not the tokenizer's").code
BOS_CLAIM = declare("CG909", "the `bos` claim is not what the tokenizer and the template do").code
TEMPLATE_IDS = declare("CG910", "the documented template gives other token ids than the tokenizer's chat template").code
UNFILLED = declare("CG911", "the documented template cannot be filled").code
SNIPPET_FORMAT = declare("CG912", "the snippet's input does not follow the documented prompt format").code
GENERATION = declare("CG913", "generation fails or does not end by the card's stop criteria").code
ANSWER = declare("CG914", "the answer is empty or carries template text").code
FORCED_STOP = declare("CG915", "the documented stop criteria do not end generation where they should").code
GGUF_FILE = declare("CG916", "a listed GGUF file is missing, unreadable or of another quantisation").code
GGUF_USAGE_FILE = declare("CG917", "the GGUF file the snippet loads is not listed or not in the model folder").code
SNIPPET = declare("CG918", "the usage snippet fails, runs too long or prints nothing").code
NO_SNIPPET = declare("CG919", "the card shows no usage snippet and does not say why (`usage.none`)").code
