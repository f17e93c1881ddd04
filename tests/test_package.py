"""Schemas, vocabulary data and the installed package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cardgen import hubspec
from cardgen.commands.schema import all_schemas, schema_text

from conftest import CARDS, REPO


def _shape(schema: dict) -> dict:
    """Every object of a schema (the root and each definition): its properties and required keys. The
    exact JSON differs between pydantic versions; the shape is what an editor completes and checks."""
    objects = {"(root)": schema, **schema.get("$defs", {})}
    return {name: (sorted(d.get("properties", {})), sorted(d.get("required", []))) for name, d in objects.items()}


def test_committed_schemas_match_the_models():
    for name, model in all_schemas().items():
        committed = json.loads((REPO / "schemas" / name).read_text("utf-8"))
        assert _shape(committed) == _shape(json.loads(schema_text(model))), f"schemas/{name} is stale: run `cardgen schema`"


def test_schema_command_writes_the_files(cli, tmp_path):
    r = cli("schema", "--out", tmp_path)
    assert r.code == 0
    card = json.loads((tmp_path / "card.schema.json").read_text())
    assert card["additionalProperties"] is False and "repo_id" in card["properties"]


def test_sources_point_editors_at_the_schema():
    for f in CARDS.rglob("*.yaml"):
        first = f.read_text("utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), f
        target = (f.parent / first.split("=", 1)[1]).resolve()
        assert target.is_file(), f


def test_vocabulary_is_carried_with_its_origin():
    src = hubspec.sources()
    assert all("@" in v for v in src.values())  # repository, path and commit are named
    assert (hubspec.DATA / "ORIGIN.md").is_file()
    assert "apache-2.0" in hubspec.licenses() and "other" in hubspec.licenses()
    assert "text-generation" in hubspec.pipeline_tags() and "transformers" in hubspec.library_names()
    assert hubspec.languages()["en"] == "English" and "nob" in hubspec.languages()
    assert len(hubspec.licenses()) == 83 and len(hubspec.pipeline_tags()) == 57


def test_repo_id_rule_is_huggingface_hubs():
    assert hubspec.repo_id_problem("stabilityai/StableBeluga2") is None
    for bad in ("a--b/c", "a/b.git", "-a/b", "a/b/c", "noowner", "a/" + "x" * 97):
        assert hubspec.repo_id_problem(bad), bad


def test_wheel_carries_templates_and_schemas_and_runs_from_anywhere(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    [wheel] = (tmp_path / "dist").glob("cardgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cardgen/templates/card.md.j2" in names
    snippets = {f"cardgen/templates/snippets/{p.name}" for p in (REPO / "templates/snippets").glob("*.py.j2")}
    assert len(snippets) >= 10 and snippets <= set(names)  # every task's snippet style ships
    assert "cardgen/schemas/card.schema.json" in names and "cardgen/data/hubspec/languages.json" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}  # a bare user
    where = subprocess.run([sys.executable, "-c", "import cardgen; print(cardgen.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, env=env)
    assert where.stdout.startswith(str(site)), where.stdout  # the wheel's copy, not the checkout
    run = subprocess.run([sys.executable, "-m", "cardgen", "render", "--out", str(elsewhere / "out"), str(CARDS)],
                         cwd=elsewhere, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    out = elsewhere / "out/stabilityai/StableBeluga-7B/README.md"
    assert out.read_text() == (REPO / "rendered/stabilityai/StableBeluga-7B/README.md").read_text()


@pytest.mark.skipif(shutil.which("node") is None, reason="the vocabulary command reads @huggingface/tasks with Node.js")
def test_the_vocabulary_is_rebuilt_from_the_hubs_sources(cli, tmp_path):
    pkg = tmp_path / "package"
    (pkg / "dist/commonjs").mkdir(parents=True)
    (pkg / "package.json").write_text('{"name": "@huggingface/tasks", "version": "9.9.9"}')
    (pkg / "dist/commonjs/pipelines.js").write_text(
        'exports.PIPELINE_DATA = {"text-generation": {name: "Text Generation", modality: "nlp"},'
        ' "robot-dancing": {name: "Robot Dancing", modality: "other"}};')
    (pkg / "dist/commonjs/model-libraries.js").write_text(
        'exports.MODEL_LIBRARIES_UI_ELEMENTS = {transformers: {prettyLabel: "Transformers", snippets: () => []}};')
    docs = tmp_path / "hub-docs/docs/hub"
    docs.mkdir(parents=True)
    (docs / "repositories-licenses.md").write_text(
        "# Licenses\n\n<!-- region licenses -->\n\n| Fullname | License identifier (to use in repo card) |\n"
        "| --- | --- |\n| Apache license 2.0 | `apache-2.0` |\n| Do What The F\\*ck You Want | `wtfpl` |\n"
        "| Other | `other` |\n\n<!-- endregion -->\n")
    out = tmp_path / "hubspec"
    r = cli("vocabulary", "--tasks", pkg, "--hub-docs", tmp_path / "hub-docs", "--out", out)
    assert r.code == 0, r.text
    tags = json.loads((out / "pipeline_tags.json").read_text())
    assert [t["id"] for t in tags["pipeline_tags"]] == ["text-generation", "robot-dancing"]
    assert tags["source"].startswith("@huggingface/tasks 9.9.9 (npm) PIPELINE_DATA, read ")
    libs = json.loads((out / "library_names.json").read_text())["library_names"]
    assert libs == [{"id": "transformers", "name": "Transformers"}]
    lic = json.loads((out / "licenses.json").read_text())
    assert lic["licenses"][1] == {"id": "wtfpl", "name": "Do What The F*ck You Want"}
    assert lic["source"].startswith("huggingface/hub-docs docs/hub/repositories-licenses.md @ ")
    assert cli("vocabulary", "--tasks", tmp_path / "nothing").code == 2


def test_the_tests_caches_are_their_own():
    """What conftest sets before anything imports huggingface_hub holds for it: its cache, its token file
    and cardgen's cache are in the test run's folder (the session fixture `users_caches_untouched` checks at
    the end that the user's own caches did not change)."""
    import os

    from huggingface_hub import constants

    from conftest import USER_CACHES

    run = Path(os.environ["HF_HOME"]).parent
    for path in (constants.HF_HUB_CACHE, constants.HF_TOKEN_PATH, os.environ["CARDGEN_CACHE_DIR"]):
        assert Path(path).is_relative_to(run), path
    assert not any(Path(p).is_relative_to(c) for c in USER_CACHES for p in (constants.HF_HUB_CACHE,))
