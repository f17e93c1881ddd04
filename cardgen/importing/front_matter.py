"""A README's front matter into the card's typed fields: the licence, languages, datasets, base model and
relation, task, library, tags, new version, inference, evaluation results from the model-index
(through huggingface_hub's own parser), emissions and widget; everything else into the `metadata:`
pass-through, so that the rendered card's front matter, read by huggingface_hub, equals the original's."""

from __future__ import annotations

from typing import Any

from cardgen import hubspec
from cardgen.importing.imported import Imported

#: front-matter keys with a typed field (the rest go through `metadata:`)
PLAIN_TYPED = ("language", "library_name", "pipeline_tag", "tags", "base_model", "base_model_relation",
               "new_version", "inference")


def _licence(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    lic = meta.get("license")
    if lic is None:
        for key in ("license_name", "license_link"):
            if meta.get(key) is not None:
                imp.problems.append(f"`{key}` without `license`: left out (cardgen writes it from `license:`; give "
                                    "`license: {id: other, " + key.removeprefix("license_") + ": ...}`)")
        return
    if isinstance(lic, list) and len(lic) == 1:
        lic = lic[0]
        imp.problems.append(f"license was a one-item list: written as its item, {lic!r} (the Hub wants one id)")
    entry: dict[str, Any] = {"id": lic}
    for key, sub in (("license_name", "name"), ("license_link", "link")):
        if meta.get(key) is not None:
            entry[sub] = meta[key]
    out["license"] = lic if len(entry) == 1 else entry
    imp.recognised.append("license")
    if not (isinstance(lic, str) and (lic in hubspec.licenses() or lic == "other")):
        imp.problems.append(f"license {lic!r} is not a Hub licence id: kept as written, `cardgen validate` says "
                            "what to write")


def _evaluation(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    index = meta.get("model-index")
    if index is None:
        return
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        name, results = model_index_to_eval_results(index)
    except Exception as e:  # noqa: BLE001 - huggingface_hub's verdict, whatever it raises
        imp.problems.append(f"model-index does not parse with huggingface_hub ({type(e).__name__}: {e}), and the "
                            "Hub refuses such a card: left out; write its results as `evaluation:`")
        return
    rebuilt = [{k: v for k, v in vars(r).items() if v is not None} for r in results]
    if not rebuilt:
        imp.problems.append("model-index has no results: left out (the Hub shows none either way)")
        return
    if name != out["repo_id"].split("/")[-1]:
        imp.problems.append(f"model-index names the model {name!r}; the rendered one names it after the repository")
    out["evaluation"] = rebuilt
    imp.recognised.append("evaluation")


def front_matter(meta: dict[str, Any], out: dict[str, Any], imp: Imported) -> None:
    """The front matter ``meta`` into the card's fields ``out``: a typed field where cardgen has one, else
    `metadata:`; what had to change is noted in ``imp.problems``."""
    _licence(meta, out, imp)
    for key in (*PLAIN_TYPED, "datasets"):
        if key in meta and meta[key] is not None:
            v = meta[key]
            if key in ("tags", "datasets") and isinstance(v, str):
                v = [v]  # one item, as a list: the same to the Hub
                imp.problems.append(f"`{key}: {v[0]}` written as the one-item list `{key}: [{v[0]}]` (the same to "
                                    "the Hub)")
            if v == []:
                imp.problems.append(f"`{key}: []` is empty, which the Hub reads as no value: left out")
                continue
            out[key] = v
            imp.recognised.append(key)
    _evaluation(meta, out, imp)
    co2 = meta.get("co2_eq_emissions")
    if isinstance(co2, (int, float)) and not isinstance(co2, bool):
        co2 = {"emissions": co2}
        imp.problems.append("co2_eq_emissions was a number: written as {emissions: N}, the Hub's mapping")
    if co2 is not None:
        out["co2_eq_emissions"] = co2
        imp.recognised.append("co2_eq_emissions")
    if meta.get("widget") is not None:
        out["widget"] = meta["widget"]
        imp.recognised.append("widget")
    handled = {"license", "license_name", "license_link", "datasets", "model-index", "co2_eq_emissions", "widget",
               *PLAIN_TYPED}
    for key, value in meta.items():
        if key not in handled:
            out.setdefault("metadata", {})[key] = value
