"""One chat template: each copy (`tokenizer_config.json`, `chat_template.jinja`, a GGUF header, the base's
folder, the card) filled with the same conversations must give the same token ids. The copies are
rendered as transformers renders them (``kinds.chat``); only when two texts differ is the folder's
tokenizer loaded, to compare ids as the smoke tokenizer tier does."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from cardgen.diagnostics import CODES, Diagnostic, Where
from cardgen.folder import codes
from cardgen.smoke.tokens import _first_difference

if TYPE_CHECKING:
    from cardgen.card import Card
    from cardgen.folder.read import Folder

CONVERSATIONS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Say hello."}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Say hello."}],
    [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello."},
     {"role": "user", "content": "Write me a poem please"}],
]


def _specials(folders: list[Folder]) -> tuple[str | None, str | None]:
    """The BOS and EOS texts the templates are filled with: the tokenizer's, else a GGUF header's."""
    for f in folders:
        if f.tokens:
            return f.tokens.get("bos_token"), f.tokens.get("eos_token")
    for f in folders:
        for g in f.ggufs:
            return g.token("tokenizer.ggml.bos_token_id"), g.token("tokenizer.ggml.eos_token_id")
    return None, None


def _render(text: str, bos: str | None, eos: str | None) -> list[str | Exception]:
    from cardgen.kinds import chat

    out: list[str | Exception] = []
    for conv in CONVERSATIONS:
        try:
            out.append(chat.render(text, conv, bos, eos))
        except chat.ChatTemplateError as e:
            out.append(e)
    return out


def _tokenizer(folders: list[Folder]) -> Any:
    """The first folder's transformers tokenizer (None when none loads: texts are compared instead)."""
    for f in folders:
        if (f.root / "tokenizer.json").is_file() or (f.root / "tokenizer.model").is_file():
            try:
                from transformers import AutoTokenizer

                return AutoTokenizer.from_pretrained(str(f.root))
            except Exception:  # noqa: BLE001 - not loadable here: texts are compared
                continue
    return None


def _difference(a: str, b: str, tok: Any) -> str | None:
    """Where two rendered texts part, in token ids (or characters without a tokenizer); None if they don't."""
    if tok is None:
        pos = len(os.path.commonprefix([a, b]))
        return f"from character {pos}: {a[pos:pos + 24]!r} vs {b[pos:pos + 24]!r}"
    x = list(tok(a, add_special_tokens=False)["input_ids"])
    y = list(tok(b, add_special_tokens=False)["input_ids"])
    if x == y:
        return None
    pos = _first_difference(x, y)
    return (f"from token position {pos}: {x[pos:pos + 4]} {tok.decode(x[pos:pos + 4])!r} vs {y[pos:pos + 4]} "
            f"{tok.decode(y[pos:pos + 4])!r}")


def copies(card: Card, folders: list[Folder]) -> list[tuple[str, Where, str]]:
    """(name, where, template text) of each copy: the folders' files, then the card's own text."""
    from cardgen.kinds.chat import FROM_TOKENIZER

    out = [(f.where(file), Where(f.where(file)), text) for f in folders for file, text in f.templates.items()]
    p = card.model.prompt
    if p is not None and p.chat_template not in (None, FROM_TOKENIZER) and not p.chat_template_differs:
        w = card.loc("prompt", "chat_template")
        out.append((f"the card ({w.file}:{w.line})", w, str(p.chat_template)))
    return out


def template_copies(card: Card, folders: list[Folder]) -> list[Diagnostic]:
    found = copies(card, folders)
    if len(found) < 2 or len({t for _, _, t in found}) == 1:
        return []
    bos, eos = _specials(folders)
    rendered = {name: _render(text, bos, eos) for name, _, text in found}
    ref = found[0][0]
    tok: Any = False
    out = []
    for name, where, _ in found[1:]:
        for i, (a, b) in enumerate(zip(rendered[ref], rendered[name], strict=True)):
            if a == b or (isinstance(a, Exception) and isinstance(b, Exception)):
                continue
            if isinstance(a, Exception) or isinstance(b, Exception):
                bad, good = (ref, name) if isinstance(a, Exception) else (name, ref)
                why = f"{bad}'s fails ({a if isinstance(a, Exception) else b}) where {good}'s renders"
            else:
                if tok is False:
                    tok = _tokenizer(folders)
                if (why := _difference(a, b, tok)) is None:  # type: ignore[assignment]
                    continue
            roles = "/".join(m["role"] for m in CONVERSATIONS[i])
            out.append(Diagnostic(where.file, where.line, where.col, codes.TEMPLATES,
                                  f"the chat template of {name} gives other token ids than {ref}'s on the conversation "
                                  f"{roles}, {why}", CODES[codes.TEMPLATES].severity))
            break
    return out
