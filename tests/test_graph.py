"""The dependency graph kept between runs (`cardgen/graph.py`): a second `check` replays the cards whose
inputs did not change and rebuilds the others, dependents included, and reports exactly what a run
without the graph (`--no-cache`) reports. Its store is used only when it is this user's alone, and a
text in it that was altered is never trusted."""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import CARDS, REPO, edit


@pytest.fixture
def tree(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copytree(CARDS, root / "cards")
    shutil.copytree(REPO / "rendered", root / "rendered")
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))  # this test's graph, no other's
    from cardgen.cache import folder

    folder.cache_clear()
    yield root
    folder.cache_clear()


def drifted(r) -> set[str]:
    return set(re.findall(r"rendered/([^/\s]+/[^/\s]+)/README\.md is (?:out of date|missing)", r.out + r.err))


def rebuilt(r) -> tuple[int, int]:
    m = re.search(r"dependency graph: (\d+) of (\d+) card folders rebuilt", r.err)
    assert m, r.err
    return int(m.group(1)), int(m.group(2))


def problems(r) -> list[str]:
    """The diagnostics and the summary, without the notes about the graph."""
    return [ln for ln in (r.out + r.err).splitlines() if "dependency graph" not in ln]


def check(cli, tree, *more):
    return cli("check", "cards", "--out", "rendered", "-v", *more, cwd=tree)


def test_a_second_run_replays_every_card_and_reports_the_same(cli, tree):
    first = check(cli, tree)
    second = check(cli, tree)
    uncached = check(cli, tree, "--no-cache")
    n = rebuilt(first)[1]
    assert rebuilt(first) == (n, n) and rebuilt(second) == (0, n) and n >= 9
    assert problems(first) == problems(second) == problems(uncached)
    assert "warning" in second.err and second.code == uncached.code == 0  # warnings are replayed too


def test_a_base_card_change_rebuilds_it_and_the_cards_that_extend_or_embed_it(cli, tree):
    check(cli, tree)
    edit(tree / "cards/stabilityai/StableBeluga2/card.yaml", "parameters: 70B", "parameters: 70 billion")
    r = check(cli, tree)
    full = check(cli, tree, "--no-cache")
    assert drifted(r) == drifted(full) >= {"stabilityai/StableBeluga2", "TheBloke/StableBeluga2-70B-GPTQ"}
    assert "stabilityai/StableBeluga-7B" not in drifted(r)
    assert rebuilt(r)[0] == len(drifted(r)) < rebuilt(r)[1] and r.code == 1
    assert problems(r) == problems(full)


def test_a_partial_change_rebuilds_the_cards_that_use_it(cli, tree):
    check(cli, tree)
    footer = tree / "cards/TheBloke/_templates/footer.md.j2"
    footer.write_text(footer.read_text() + "\nOne more line.\n")
    r = check(cli, tree)
    assert drifted(r) == drifted(check(cli, tree, "--no-cache")) == {"TheBloke/StableBeluga2-70B-GPTQ"}
    assert rebuilt(r)[0] == 1


def test_a_new_template_that_stands_in_for_cardgens_reaches_the_cards_below_it(cli, tree):
    check(cli, tree)
    org = tree / "cards/stabilityai/_templates"
    org.mkdir(exist_ok=True)
    (org / "card.md.j2").write_text((REPO / "templates/card.md.j2").read_text() + "\nOne more line.\n")
    r = check(cli, tree)
    full = check(cli, tree, "--no-cache")
    assert drifted(r) == drifted(full) and drifted(r)
    assert "stabilityai/StableBeluga-7B" in drifted(r)
    assert not any(repo.startswith("cardgen-examples/") for repo in drifted(r))
    assert problems(r) == problems(full)


def test_a_shared_entry_change_rebuilds_the_cards_that_reference_it(cli, tree):
    check(cli, tree)
    edit(tree / "cards/_shared/citations.yaml", "Llama 2: Open Foundation", "Llama 2: Open, Foundation")
    r = check(cli, tree)
    full = check(cli, tree, "--no-cache")
    assert drifted(r) == drifted(full) and drifted(r)
    assert rebuilt(r)[0] < rebuilt(r)[1]


def test_the_hooks_file_list_selects_the_cards_built_from_those_files(cli, tree):
    check(cli, tree)
    base = tree / "cards/stabilityai/StableBeluga2/card.yaml"
    edit(base, "parameters: 70B", "parameters: 70 billion")
    r = cli("check", "cards", "--out", "rendered", "--changed", str(base), cwd=tree)
    assert drifted(r) >= {"stabilityai/StableBeluga2", "TheBloke/StableBeluga2-70B-GPTQ"}
    assert drifted(r) == drifted(check(cli, tree, "--no-cache"))
    assert re.search(rf"\b{len(drifted(r))} cards:", r.err), r.err


def test_a_card_added_mends_one_that_extended_it(cli, tree):
    extends = tree / "cards/acme/tiny-ft"
    extends.mkdir(parents=True)
    (extends / "card.yaml").write_text((tree / "cards/stabilityai/StableBeluga-7B/card.yaml").read_text()
                                       .replace("stabilityai/StableBeluga-7B", "acme/tiny-ft") + "extends: acme/tiny\n")
    first = cli("validate", "cards", cwd=tree)
    assert first.code == 1 and "acme/tiny" in first.out + first.err
    base = tree / "cards/acme/tiny"
    base.mkdir()
    (base / "card.yaml").write_text((tree / "cards/stabilityai/StableBeluga-7B/card.yaml").read_text()
                                    .replace("stabilityai/StableBeluga-7B", "acme/tiny"))
    second = cli("validate", "cards", cwd=tree)
    assert problems(second) == problems(cli("validate", "cards", "--no-cache", cwd=tree))
    assert second.code == 0, second.out + second.err


def _store(tmp_path) -> str:
    (db,) = glob.glob(str(tmp_path / "cache/graph/*.sqlite"))
    return db


def test_an_altered_text_in_the_store_is_not_trusted(cli, tree, tmp_path):
    check(cli, tree)
    readme = tree / "rendered/stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text().replace("Stable Beluga 7B", "Stable Beluga Seven", 1))
    with sqlite3.connect(_store(tmp_path)) as db:
        db.execute("UPDATE texts SET text = 'planted'")
    r = check(cli, tree)
    full = check(cli, tree, "--no-cache")
    assert r.out == full.out and "planted" not in r.out and drifted(r) == {"stabilityai/StableBeluga-7B"}
    assert rebuilt(r)[0] >= 1


def test_a_store_others_may_write_is_not_used(cli, tree, tmp_path):
    n = rebuilt(check(cli, tree))[1]
    os.chmod(_store(tmp_path), 0o666)
    assert rebuilt(check(cli, tree)) == (n, n)
    assert rebuilt(check(cli, tree)) == (n, n)


def test_an_upgraded_vocabulary_rebuilds_every_card(tree, tmp_path):
    """The vocabulary snapshot is part of cardgen's data: a copy of the package whose snapshot changes."""
    pkg = tmp_path / "pkg"
    shutil.copytree(REPO / "cardgen", pkg / "cardgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "templates", pkg / "templates")
    env = {**os.environ, "PYTHONPATH": str(pkg), "CARDGEN_CACHE_DIR": str(tmp_path / "cache")}

    def run():
        p = subprocess.run([sys.executable, "-m", "cardgen", "check", "cards", "--out", "rendered", "-v"],
                           cwd=tree, env=env, capture_output=True, text=True, timeout=300)
        return rebuilt(type("R", (), {"err": p.stderr})())

    n = run()[1]
    assert run() == (0, n)
    (vocab,) = [p for p in (pkg / "cardgen/data/hubspec").glob("*.json") if "licen" in p.name][:1]
    vocab.write_text(vocab.read_text() + "\n")
    assert run() == (n, n)


def test_a_damaged_store_is_rebuilt_not_a_crash(cli, tree, tmp_path):
    n = rebuilt(check(cli, tree))[1]
    with sqlite3.connect(_store(tmp_path)) as db:
        db.execute("UPDATE folders SET record = '{\"files\": 1}' WHERE rowid = 1")
        db.execute("UPDATE folders SET record = 'not json' WHERE rowid = 2")
        db.execute("UPDATE meta SET value = '[\"x\", [[1]]]' WHERE key = 'project'")
    r = check(cli, tree)
    assert r.code == 0 and rebuilt(r) == (2, n) and problems(r) == problems(check(cli, tree, "--no-cache"))
    with open(_store(tmp_path), "wb") as f:
        f.write(b"this is not a database" * 100)
    r = check(cli, tree)
    assert r.code == 0 and rebuilt(r) == (n, n) and problems(r) == problems(check(cli, tree, "--no-cache"))


def test_a_record_reads_back_as_written_and_one_of_another_shape_reads_as_absent():
    import copy
    import json

    from cardgen.diagnostics import Diagnostic
    from cardgen.pipeline.records import Memo, Record, Rendered, Target

    diag = Diagnostic("cards/a/card.yaml", 3, 5, "CG102", "unknown key", "warning")
    file, member = "cards/a/card.yaml", ("suite", 0, "repo_id")
    rendered = [Rendered("a/x", "h" * 64, [diag], [file], (file, member)),
                Rendered("a/y", None, [], [file], (file, ("repo_id",)))]  # not rendered
    rec = Record(["card.yaml"], ["/t/cards/a/card.yaml", "dir:/t/cards/a/templates"], "s" * 64, "d" * 64, [diag],
                 False, rendered, [Target("a/x", file, member)], True)
    stored = json.loads(json.dumps(rec.to_json()))
    assert Record.from_json(stored) == rec
    assert list(stored) == ["files", "own", "set", "digest", "diags", "errors", "rendered", "targets", "risk"]
    memo = Memo("k", [diag])
    assert Memo.from_json(json.loads(json.dumps(memo.to_json()))) == memo
    damage = [
        lambda r: r.pop("risk"),
        lambda r: r.update(errors=0),
        lambda r: r.update(files=[1]),
        lambda r: r["diags"][0].pop(),
        lambda r: r["diags"][0].__setitem__(5, "fatal"),
        lambda r: r["rendered"][0].pop(),
        lambda r: r["rendered"][0].__setitem__(1, 7),
        lambda r: r["rendered"][0][4].__setitem__(1, [["nested"]]),
        lambda r: r["targets"].append("a/z"),
    ]
    for hurt in damage:
        bad = copy.deepcopy(stored)
        hurt(bad)
        assert Record.from_json(bad) is None, bad
    for value in (None, "x", [], ["k"], ["k", [[1]]], [1, []]):
        assert Memo.from_json(value) is None


def test_a_record_from_another_cache_is_not_trusted(cli, tree, tmp_path):
    n = rebuilt(check(cli, tree))[1]
    (tmp_path / "cache/key").chmod(0o600)
    (tmp_path / "cache/key").write_bytes(b"k" * 32)  # as if the folder came from someone else
    assert rebuilt(check(cli, tree)) == (n, n)
    assert rebuilt(check(cli, tree)) == (0, n)


def test_default_workers_leave_a_busy_machine_alone():
    from cardgen.parallel import default_jobs

    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        import time

        time.sleep(0.5)
        assert default_jobs() == 1
    finally:
        for p in spin:
            p.kill()
            p.wait()


def test_the_library_versions_in_the_graphs_key_are_the_installed_ones():
    """The graph's key names the versions of the libraries that load, render and lint (read from the
    `.dist-info` folder names, quickly): they must be what importlib.metadata says."""
    from importlib.metadata import version

    from cardgen.pipeline.graph import LIBRARIES, versions

    assert versions(LIBRARIES) == {name: version(name) for name in LIBRARIES}
