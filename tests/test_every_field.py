"""No accepted field is silently dropped: every field of the card schema reaches the rendered README
(its body or its front matter) or is refused.

The schema is walked (every model reachable from ``CardSource``, every field of each); the cards in
``fixtures/every_field`` must write each of those fields; then each field, in turn, is removed (or,
when the schema requires it, changed) and the cards rendered again: the READMEs must differ, or the
change must be refused with an error. A field added to the schema without reaching the output fails
here, as does one the fixture forgets.
"""

from __future__ import annotations

import json
import shutil
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cardgen.entries import Training
from cardgen.loading.scope import select
from cardgen.pipeline.run import render_all
from cardgen.risk import matrix as risks
from cardgen.schema import CardSource

FIXTURE = Path(__file__).parent / "fixtures" / "every_field"


def _members(ann: Any) -> list[Any]:
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(ann) for m in _members(a)]
    if origin is typing.Annotated:
        return _members(typing.get_args(ann)[0])
    if origin in (list, dict):
        return _members(typing.get_args(ann)[-1])
    return [ann]


def schema_fields(model: type[BaseModel] = CardSource, seen: set | None = None) -> set[tuple[str, str]]:
    """(model name, field name) for every field of every model reachable from the card schema."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    out = set()
    for name, f in model.model_fields.items():
        out.add((model.__name__, name))
        for m in _members(f.annotation):
            if isinstance(m, type) and issubclass(m, BaseModel):
                out |= schema_fields(m, seen)
    return out


def written(value: Any, path: tuple, data: Any, found: dict[tuple[str, str], tuple[Path, tuple]], file: Path) -> None:
    """Where each (model, field) is written in the fixture: the first place, by data path."""
    if isinstance(value, BaseModel):
        for name in value.model_fields_set:
            found.setdefault((type(value).__name__, name), (file, (*path, name)))
            if isinstance(data, dict) and name in data:
                written(getattr(value, name), (*path, name), data[name], found, file)
    elif isinstance(value, list) and isinstance(data, list):
        for i, (v, d) in enumerate(zip(value, data, strict=False)):
            written(v, (*path, i), d, found, file)
    elif isinstance(value, dict) and isinstance(data, dict):
        for k, v in value.items():
            if k in data:
                written(v, (*path, k), data[k], found, file)


def fixture_fields() -> dict[tuple[str, str], tuple[Path, tuple]]:
    found: dict[tuple[str, str], tuple[Path, tuple]] = {}
    for file in sorted(FIXTURE.rglob("card.yaml")):
        data = yaml.safe_load(file.read_text("utf-8"))
        written(CardSource.model_validate(data), (), data, found, file)
    return found


def render(root: Path) -> tuple[dict[str, str], bool]:
    """What a cards folder outputs (its READMEs, and the risk export of the cards that assess risks),
    and whether it had errors."""
    r = render_all(select([root]))
    out = dict(r.texts)
    out |= {f"{repo} {path}": text for repo, files in r.extras.items() for path, text in files.items()}
    for repo, card in r.cards.items():
        if card.model.risk_assessment is not None:
            out[f"{repo} risks"] = json.dumps(risks.export(card), sort_keys=True, default=str)
    return out, any(d.severity == "error" for d in r.diagnostics)


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "Z"
    if isinstance(value, list):
        return value[:-1] if len(value) > 1 else []
    if isinstance(value, dict):  # its scalars changed, else its last entry dropped
        if any(not isinstance(v, (dict, list)) for v in value.values()):
            return {k: v if isinstance(v, (dict, list)) else changed(v) for k, v in value.items()}
        return dict(list(value.items())[:-1])
    raise AssertionError(f"no change for {value!r}")


def required(model_name: str, field: str) -> bool:
    models = {m.__name__: m for m in _all_models(CardSource)}
    return models[model_name].model_fields[field].is_required()


def _all_models(model: type[BaseModel], seen: set | None = None) -> set[type[BaseModel]]:
    seen = set() if seen is None else seen
    if model not in seen:
        seen.add(model)
        for f in model.model_fields.values():
            for m in _members(f.annotation):
                if isinstance(m, type) and issubclass(m, BaseModel):
                    _all_models(m, seen)
    return seen


#: fields that point a check at local files and are never published: tests/test_folder.py shows each one used
CHECKED_ONLY = {("CardSource", "model_dir")}
FIELDS = sorted(schema_fields() - CHECKED_ONLY)


def test_the_fixture_writes_every_field_of_the_schema():
    missing = sorted(set(FIELDS) - set(fixture_fields()))
    assert not missing, f"fields the fixture does not write: {missing}"


@pytest.fixture(scope="module")
def baseline():
    texts, errors = render(FIXTURE)
    assert not errors and len([k for k in texts if " " not in k]) == 9
    return texts


@pytest.mark.parametrize("model, field", FIELDS, ids=[f"{m}.{f}" for m, f in FIELDS])
def test_each_field_reaches_the_readme_or_is_refused(baseline, tmp_path, model, field):
    found = fixture_fields()
    if (model, field) not in found:
        pytest.fail(f"the fixture does not write {model}.{field}")
    file, path = found[(model, field)]
    root = tmp_path / "cards"
    shutil.copytree(FIXTURE, root)
    target = root / file.relative_to(FIXTURE)
    data = yaml.safe_load(target.read_text("utf-8"))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if required(model, field):
        parent[path[-1]] = changed(parent[path[-1]])
    else:
        del parent[path[-1]]
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    texts, errors = render(root)
    assert errors or texts != baseline, f"{model}.{field} ({'.'.join(map(str, path))} in {file.name}) changed " \
                                        "nothing in the READMEs and was not refused"


TRAINING = sorted(Training.model_fields)


@pytest.mark.parametrize("alongside", [{}, {"procedure": "Trained with care."}], ids=["alone", "with-prose"])
@pytest.mark.parametrize("field", TRAINING)
def test_each_training_field_reaches_the_readme_or_is_refused_without_the_others(baseline, tmp_path, field,
                                                                                 alongside):
    """Every field of `training`, given on a card that has no other training field (or only prose that
    does not name it, as `{precision}` would): the README shows it, or the card is refused. The walk
    above removes a field from a card that writes them all, where prose may be what shows another."""
    full = yaml.safe_load((FIXTURE / "acme/full/card.yaml").read_text("utf-8"))["training"]
    assert field in full, f"acme/full in the fixture does not write training.{field}"
    if field in alongside:
        pytest.skip("the prose itself")
    root = tmp_path / "cards"
    shutil.copytree(FIXTURE, root)
    target = root / "acme/embed/card.yaml"
    data = yaml.safe_load(target.read_text("utf-8"))
    assert "training" not in data
    expected = baseline["acme/embed"]
    if alongside:
        data["training"] = dict(alongside)
        target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        expected, errors = render(root)
        assert not errors
        expected = expected["acme/embed"]
    data["training"] = {**alongside, field: full[field]}
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    texts, errors = render(root)
    assert errors or texts["acme/embed"] != expected, f"training.{field} ({'with prose' if alongside else 'alone'}) " \
                                                      "changed nothing in the README and was not refused"
