"""The diagnostic codes of the model-folder checks (CG501-CG539), declared once."""

from __future__ import annotations

from cardgen.diagnostics import declare

UNREADABLE = declare("CG501", "a file of the model folder cannot be read").code
DISAGREES = declare("CG502", "the card says other than the model folder").code
TEMPLATES = declare("CG503", "copies of the chat template give different token ids").code
STOPS = declare("CG504", "copies of the stop tokens differ").code
GENERAL = declare("CG505", "a GGUF file's general.* metadata says other than the card", "warning").code
# CG506, CG507 (a quantised card against its base card) are rules: cardgen/rules/derived.py
LOCAL_PATH = declare("CG508", "a local path where the Hub wants an id",
                     rule="`base_model` and `datasets` hold Hub ids; the Hub refuses a path").code
FILE_TABLE = declare("CG509", "the card's file table and the model folder's files differ").code
UNLISTED = declare("CG510", "a model file of the folder is not in the card's file table", "warning").code
