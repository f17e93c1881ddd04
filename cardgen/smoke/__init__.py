"""Smoke-test each card's documentation with transformers (GPU when present, else CPU).

What runs follows the card's snippet style (``tasks.STYLES``), in two tiers:

* the tokenizer tier (``--tokenizer-only``, no weights read): the documented prompt against the
  tokenizer, judged on token ids (the filled template against the tokenizer's chat template, BOS
  counted once, special markers one token each), the stop ids and strings against the
  end-of-sequence ids of the tokenizer and of `generation_config.json`, the tokenizer keywords of
  the snippet; for classifiers, taggers, fill-mask, question answering and embeddings the tokenizer
  (a mask token) and the configuration (an architecture with the task's head); for GGUF cards, each
  listed file's header;
* the full tier: the memory the weights need is estimated before loading (a model that cannot fit is
  a skip, with the figures); generating models are loaded once per weight folder and generate
  greedily with the card's stop criteria, and the stop path is forced (the documented stop token is
  forced as the first new tokens: generation must end there, so random weights exercise it too); the
  model is freed, then the card's own rendered usage snippet runs in a fresh process forked from a
  server that has already imported torch and transformers.

Nothing is downloaded unless ``--allow-download``: a repository that is neither given with
``--model-path`` nor in the local Hugging Face cache is skipped as not available locally. One model's
crash is that model's failure; the JSON report is written whatever happens. torch/transformers are an
optional extra (`cardgen[smoke]`).

The modules, by job: ``run`` (the run over the cards in scope, and ``run_one``: one model's checks by its
card's style), ``tokens`` (the tokenizer tier of a generating card), ``prompts`` (its prompt facts: BOS
and EOS texts, the `bos` claim, markers, stop strings, the seq2seq input), ``generate`` (loading and
generation), ``encoder`` and ``gguf`` (the cards that do not generate), ``models`` (where a model comes
from, and whether it fits in memory), ``snippet`` (the usage snippet and its forkserver), ``result``
(``SmokeResult`` and its report lines), ``options`` (``SmokeOptions``), ``codes`` (the codes of the
generating cards' failures, CG901-CG919).
"""
