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

# -- the cards that do not generate (classifiers, embeddings), the snippet's class, the run ---------------
ENCODER_LOADING = declare("CG920", "the tokenizer or config.json of a classifier, tagger or embedding model does "
                                   "not load").code
TASK_HEAD = declare("CG921", "the model's architecture has no head of the card's task").code
MASK_TOKEN = declare("CG922", "a fill-mask card, but the tokenizer has no mask token").code
DEFAULT_LABELS = declare("CG923", "the classifier's labels are transformers' untrained defaults (LABEL_0...)").code
LABEL_COUNT = declare("CG924", "the card lists another number of labels than config.json's id2label").code
LABEL_NAMES = declare("CG925", "the card's labels are not config.json's id2label (names or order)").code
NOT_SENTENCE_TRANSFORMERS = declare("CG926", "a sentence-transformers card on a folder without modules.json").code
POOLING = declare("CG927", "the pooling the card or its snippet uses is not the model's").code
NORMALIZE = declare("CG928", "the card's `embedding.normalize` is not what the model's modules or output do").code
DIMENSIONS = declare("CG929", "the card's `embedding.dimensions` is not the size of the model's vectors").code
MAX_SEQ_LENGTH = declare("CG930", "the card's `embedding.max_seq_length` is not the model's").code
EMBEDDING_RUN = declare("CG931", "embedding two sentences with the model fails").code
SNIPPET_CLASS = declare("CG935", "the snippet loads a class whose weights are not in the checkpoint").code
SNIPPET_SHAPES = declare("CG936", "the snippet loads a class whose weights have other shapes in the checkpoint").code
LOCATE = declare("CG940", "the model folder, repository or branch does not exist").code
FETCH = declare("CG941", "the model could not be fetched").code
TIMEOUT = declare("CG942", "a check ran past --timeout").code
CRASH = declare("CG943", "the smoke test crashed on this model").code
INVALID_CARD = declare("CG944", "the card fails validation or rendering").code
UNCODED = declare("CG949", "a failure without a code of its own").code
