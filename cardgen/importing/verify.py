"""The check that makes import lose nothing: the claims rendered back, and only those whose rendering
gives back the original's blocks kept (``verify``); then the finished cards rendered whole (``settle``).
What is not kept stays free text, and the reason is noted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cardgen.frontmatter import split
from cardgen.importing.body import finish, own_templates
from cardgen.importing.imported import Imported, write_card
from cardgen.importing.recognise.claims import Claim

#: between the slots of a card rendered to check its claims
_CUT = "<!-- cardgen:import-cut -->"


#: the slots whose claims may change the front matter: an embedded base card, variants, a licence item
_RISKY = ("base_card", "variants", "model_details")



def _hub_meta(text: str) -> dict[str, Any]:
    from huggingface_hub import ModelCard

    LISTS = ("language", "tags", "datasets", "base_model")
    try:
        data = ModelCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # noqa: BLE001 - a card huggingface_hub cannot read: nothing to compare with
        return {}
    return {k: [v] if k in LISTS and isinstance(v, str) else v for k, v in data.items()}


def _changed(before: dict[str, Any], after: dict[str, Any], imp: Imported) -> bool:
    keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return any(not any(k in p for p in imp.problems) for k in keys)


def _render_claims(todo: list[Imported], fixed: Sequence[Imported]) -> dict[str, str | None]:
    """Each card of ``todo`` rendered with its claimed slots alone, cut apart by a marker, and each card of
    ``fixed`` as it will be written: the README of each by repo id (None: it does not validate)."""
    import tempfile

    from cardgen.cache import RunCache
    from cardgen.diagnostics import Collector
    from cardgen.loading.scope import select
    from cardgen.pipeline.validate import validate_scope
    from cardgen.rendering.jinja import render_card

    texts: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
        for imp in todo:
            card = dict(imp.card)
            for c in imp.claims:
                card.update(c.fields)
            cut = "".join(f'{{{{ slot("{s}") }}}}{_CUT}\n\n' for s in ["title", *(c.slot for c in imp.claims)])
            write_card(Path(tmp), imp, {"card.md.j2": cut, **own_templates(imp.claims)}, card)
        for imp in fixed:
            write_card(Path(tmp), imp, imp.partials, imp.card)
        cache = RunCache()
        for scope in select([Path(tmp)]).scopes:
            res = validate_scope(scope, 1)
            bad = {d.file for d in res.errors}
            for card_ in res.cards:
                ok = not (card_.built_from() & bad)
                texts[card_.repo_id] = render_card(card_, cache, Collector()) if ok else None
    return texts


def _refusal(imp: Imported, text: str | None) -> str | None:
    """Why the card's claims cannot be kept as they are: it did not render, or the front matter
    huggingface_hub reads from it would change (checked when a claim may change it, ``_RISKY``); None
    when neither."""
    risky = [c for c in imp.claims if c.slot in _RISKY]
    before = _hub_meta(imp.original) if risky and imp.original.startswith("---") else None
    if text is None:
        return "the card did not render"
    if before is not None and _changed(before, _hub_meta(text), imp):
        return "the front matter would change"
    return None


def _drop(imp: Imported, why: str, attempt: int) -> None:
    """A refused card loses the claims that may change its front matter on the first try (the rest is
    tried again), every claim on a later one; each noted with ``why``."""
    risky = [c for c in imp.claims if c.slot in _RISKY]
    drop = risky if risky and attempt == 0 else list(imp.claims)
    for c in drop:
        imp.problems.append(f"recognised {c.what}, but with it {why}: kept as text")
    imp.claims = [c for c in imp.claims if c not in drop]


def _reproduced(imp: Imported, text: str) -> list[Claim]:
    """The claims whose slot, in the card rendered cut apart (``text``), gives back the lines they stand
    for (as `--fix` computes them, where it does); the others are noted."""
    from collections import Counter

    from cardgen.importing.blocks import body_blocks, lines_found

    keep = []
    for c, piece in zip(imp.claims, text.split(_CUT)[1:], strict=False):
        want = c.original if c.expected is None else c.expected
        if c.by_lines:  # a flattened page: each of its lines found in the rendering
            same = not lines_found(want, piece)[1]
        else:
            same = Counter(body_blocks(piece, align=True)) == Counter(body_blocks(want, align=True))
        if same:
            keep.append(c)
        else:
            imp.problems.append(f"recognised {c.what}, but cardgen's rendering of it would differ from "
                                "the original: kept as text")
    return keep


def verify(units: list[Imported], fixed: Sequence[Imported] = ()) -> None:
    """Keep only the claims whose rendering gives back the original's blocks: each card of ``units`` is
    rendered with its claimed slots alone (cut apart by a marker), and each slot's blocks compared with
    those of the lines it stands for; the cards of ``fixed`` (finished base cards) are rendered as they
    will be written. A card that does not render, or whose front matter (as huggingface_hub reads it)
    would change, loses its embedded base card and its variants, then every claim."""
    for attempt in range(3):
        todo = [i for i in units if i.claims]
        if not todo:
            return
        texts = _render_claims(todo, fixed)
        again = False
        for imp in todo:
            text = texts.get(imp.repo_id)
            why = _refusal(imp, text)
            if why is not None:
                again = True
                _drop(imp, why, attempt)
            elif text is not None:
                imp.claims = _reproduced(imp, text)
        if not again:
            return
    for imp in units:  # three tries: what is left unverified stays text
        imp.claims = []


def settle(imports: list[Imported]) -> None:
    """The finished cards rendered whole: a card whose README does not give back the original's blocks
    (its free sections and claimed parts together) loses its claims (and an embedded card becomes text
    again), reported. A card with a flattened part (checked line by line) is left as it is."""
    import tempfile
    from collections import Counter

    from cardgen.importing.blocks import body_blocks
    from cardgen.loading.scope import select
    from cardgen.pipeline.run import render_all

    cards = [imp for top in imports for imp in top.all()]
    with tempfile.TemporaryDirectory(prefix="cardgen-import-") as tmp:
        for top in imports:
            for imp in top.all():
                write_card(Path(tmp), imp, imp.partials, imp.card)
        rendering = render_all(select([Path(tmp)]), jobs=1)
        texts = {repo: rendering.texts.get(repo) for repo in [c.repo_id for c in cards]}
        _unrendered(cards, texts, rendering.diagnostics, Path(tmp))
    from cardgen.rendering.provenance import unsealed

    for top in imports:
        for imp in top.all():
            if not imp.claims or any(c.by_lines for c in imp.claims):
                continue
            text = texts.get(imp.repo_id)
            got = Counter(body_blocks(split(unsealed(text))[1], align=True)) if text else None
            lines = list(imp.lines)
            for c in sorted(imp.claims, key=lambda c: -c.start):
                if c.expected is not None:
                    lines[c.start:c.end] = c.expected.split("\n")
            if got != Counter(body_blocks("\n".join(lines), align=True)):
                imp.problems.append("the recognised parts (" + ", ".join(c.what for c in imp.claims) + ") do not "
                                    "give the original back together with the text between them: kept as text")
                imp.claims = []
                if imp is top:
                    top.base = None
                finish(imp)



def _unrendered(cards: list[Imported], texts: dict[str, str | None], diagnostics: list[Any], root: Path) -> None:
    """A card whose sources do not render is reported with the errors that stop it (import writes it
    anyway: the sources hold the original as written, and `cardgen validate` says what the Hub refuses)."""
    for imp in cards:
        if texts.get(imp.repo_id) is not None:
            continue
        folder = str(root / imp.repo_id) + "/"
        errors = [d for d in diagnostics if d.severity == "error" and str(d.file).startswith(folder)]
        said = "; ".join(f"{Path(d.file).name}:{d.line}: {d.code} {d.message}" for d in errors[:3])
        imp.problems.append(f"the imported card does not render ({said or 'see `cardgen validate`'}): fix what the "
                            "Hub refuses in card.yaml")
