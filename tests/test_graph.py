"""The dependency graph kept between runs (`cardgen/graph.py`): a second `check` replays the cards whose
inputs did not change and rebuilds the others, dependents included, and reports exactly what a run
without the graph (`--no-cache`) reports. Its store is used only when it is this user's alone, and a
text in it that was altered is never trusted."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import BUNDLED, CARDS, REPO, edit


def test_no_cache_is_for_its_command_alone(cli, tree, tmp_path):
    """`--no-cache` turns the cache off while its command runs; the next command in the same process (a
    library caller, a test) uses the cache as before."""
    from cardgen.cache import folder

    assert cli("check", tree / "cards", "--out", tree / "rendered", "--no-cache").code == 0
    assert os.environ["CARDGEN_CACHE_DIR"] == str(tmp_path / "cache") and folder() == str(tmp_path / "cache")


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


def test_a_shared_entry_change_rebuilds_the_cards_that_use_that_entry_not_every_user_of_its_file(cli, tree):
    """A card depends on the shared entries it uses (their data and their places), not on their whole file:
    a citation's title changed rebuilds the one folder that cites it, though five cite from that file; an
    entry moved down by a line added above it is rebuilt too (a diagnostic may name its place)."""
    check(cli, tree)
    citations = tree / "cards/_shared/citations.yaml"
    edit(citations, 'title: "GPT4All:', 'title: "GPT4ALL:')
    r = check(cli, tree)
    full = check(cli, tree, "--no-cache")
    assert rebuilt(r) == (1, 9) and drifted(r) == drifted(full) == {
        "stabilityai/stablelm-tuned-alpha-3b", "stabilityai/stablelm-tuned-alpha-7b"}, r.err
    assert problems(r) == problems(full)
    edit(citations, "  riskrag:\n", "  riskrag:\n\n")  # a blank line in the first entry: every entry below moves
    r = check(cli, tree)
    assert rebuilt(r)[0] > 1 and problems(r) == problems(check(cli, tree, "--no-cache")), r.err


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
    assert rebuilt(check(cli, tree)) == (0, n)  # (a file of garbage: below)


def test_a_record_reads_back_as_written_and_one_of_another_shape_reads_as_absent():
    import copy
    import json

    from cardgen.diagnostics import Diagnostic
    from cardgen.pipeline.records import Memo, Record, Rendered, Target
    from cardgen.rules.registry import RiskFacts

    diag = Diagnostic("cards/a/card.yaml", 3, 5, "CG102", "unknown key", "warning")
    file, member = "cards/a/card.yaml", ("suite", 0, "repo_id")
    rendered = [Rendered("a/x", "h" * 64, [diag], [file], (file, member)),
                Rendered("a/y", None, [], [file], (file, ("repo_id",)))]  # not rendered
    rec = Record(["card.yaml"], ["/t/cards/a/card.yaml", "dir:/t/cards/a/templates"], "s" * 64, "d" * 64, [diag],
                 False, rendered, [Target("a/x", file, member)],
                 [RiskFacts(frozenset({"M1", "M2"}), (("M1", "Check it.", (file, ("risk_assessment", "mitigations", "M1"))),
                                                     ("M3", "Log it.", ("cards/_shared/m.yaml", ("mitigations", "M3")))))])
    stored = json.loads(json.dumps(rec.to_json()))
    assert Record.from_json(stored) == rec == Record.from_sealed(stored)
    assert rec.risk
    assert list(stored) == ["files", "own", "set", "digest", "diags", "errors", "rendered", "targets", "facts"]
    memo = Memo("k", [diag])
    assert Memo.from_json(json.loads(json.dumps(memo.to_json()))) == memo
    damage = [
        lambda r: r.pop("facts"),
        lambda r: r["facts"][0][1][0].pop(),
        lambda r: r["facts"][0][1][1][3].append(["nested"]),
        lambda r: r["facts"][0].__setitem__(0, "M1"),
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


# -- the graph errs only towards rebuilding: what resolution looked up, links, edits during a run ------

def agree(cli, tree, *more):
    """A cached `check` and one without the graph report the same (problems and drift)."""
    r = check(cli, tree, *more)
    full = check(cli, tree, "--no-cache", *more)
    assert problems(r) == problems(full) and drifted(r) == drifted(full) and r.code == full.code, \
        (problems(r), problems(full))
    return r


def test_a_name_that_resolved_to_no_shared_entry_gaining_one_rebuilds_its_cards(cli, tree):
    sentiment = "cardgen-examples/tiny-sentiment"
    check(cli, tree)
    (tree / "cards/_shared/more.yaml").write_text(  # a new shared file defines the plain dataset id the card names
        "datasets:\n  stanfordnlp/sst2: {id: stanfordnlp/sst2-full, name: The Stanford Sentiment Treebank}\n")
    assert sentiment in drifted(agree(cli, tree))
    hook = cli("check", "cards", "--out", "rendered", "--changed", tree / "cards/_shared/more.yaml", cwd=tree)
    assert sentiment in drifted(hook)  # the pre-commit hook's file list reaches it too
    edit(tree / "cards/_shared/licenses.yaml", "licenses:\n",  # and an existing one the licence id it names
         "licenses:\n  apache-2.0: {id: apache-2.0, name: The Apache Licence, link: LICENCE}\n")
    assert sentiment in drifted(agree(cli, tree))


def test_a_dataset_named_only_by_a_training_listing_or_a_variant_is_an_input(cli, tree):
    datasets = tree / "cards/_shared/datasets.yaml"
    text = datasets.read_text()
    keep, moved = [], []
    for block in re.split(r"\n(?=  \S)", text.split("datasets:\n", 1)[1]):
        (moved if block.lstrip().startswith(("wikitext:", "gpt4all:")) else keep).append(block)
    datasets.write_text(text.split("datasets:\n", 1)[0] + "datasets:\n" + "\n".join(keep) + "\n")
    (tree / "cards/_shared/listed.yaml").write_text("datasets:\n" + "\n".join(moved) + "\n")
    # gpt4all is named by the suite's training listing alone, wikitext by the GPTQ card's variants alone
    edit(tree / "cards/stabilityai/stablelm-tuned-alpha/card.yaml", "gpt4all, anthropic-hh", "anthropic-hh")
    assert cli("render", "cards", "--out", "rendered", cwd=tree).code == 0
    check(cli, tree)
    edit(tree / "cards/_shared/listed.yaml", "GPT4All Prompt Generations", "GPT4All Prompts")
    edit(tree / "cards/_shared/listed.yaml", "name: wikitext", "name: WikiText-2")
    r = agree(cli, tree)
    assert drifted(r) == {"stabilityai/stablelm-tuned-alpha-3b", "stabilityai/stablelm-tuned-alpha-7b",
                          "TheBloke/StableBeluga2-70B-GPTQ"}, drifted(r)
    changed = cli("check", "cards", "--out", "rendered", "--changed", tree / "cards/_shared/listed.yaml", cwd=tree)
    assert drifted(changed) == drifted(r)
    w = cli("render", "cards", "--out", "rendered", cwd=tree)
    assert sorted(re.findall(r"written\s+rendered/(\S+)/README\.md", w.err)) == sorted(drifted(r)), w.err


def test_a_section_file_that_is_a_link_re_pointed_rebuilds_its_card(cli, tree):
    folder = tree / "cards/stabilityai/StableBeluga-7B"
    (folder / "notes-a.md").write_text("First notes.\n")
    (folder / "notes-b.md").write_text("Second notes.\n")
    (folder / "notes.md").symlink_to("notes-a.md")
    edit(folder / "card.yaml", "sections: [stable-chat, beluga-ethics]",
         "sections: [stable-chat, beluga-ethics, {id: notes, heading: Notes, after: description, file: notes.md}]")
    assert cli("render", "cards", "--out", "rendered", cwd=tree).code == 0
    check(cli, tree)
    (folder / "notes.md").unlink()
    (folder / "notes.md").symlink_to("notes-b.md")
    assert drifted(agree(cli, tree)) == {"stabilityai/StableBeluga-7B"}


def test_a_card_edited_while_render_runs_is_rebuilt_by_the_next_run(cli, tree, monkeypatch):
    """The edit lands after the card was read and before its record is made: the README written is the
    old text, and the record must say so (hashed as read), so that the next run rebuilds it."""
    from cardgen.pipeline import shard

    card = tree / "cards/stabilityai/StableBeluga-7B/card.yaml"
    record = shard._record_folders

    def edited_meanwhile(folders, *args, **kwargs):
        if card.parent in folders and "7 billion" not in card.read_text():
            edit(card, "parameters: 7B", "parameters: 7 billion")
        return record(folders, *args, **kwargs)

    monkeypatch.setattr(shard, "_record_folders", edited_meanwhile)
    assert cli("render", "cards", "--out", "rendered", cwd=tree).code == 0
    monkeypatch.setattr(shard, "_record_folders", record)
    assert "7 billion" in card.read_text()
    assert drifted(agree(cli, tree)) == {"stabilityai/StableBeluga-7B"}
    w = cli("render", "cards", "--out", "rendered", cwd=tree)
    assert re.findall(r"written\s+rendered/(\S+)/README\.md", w.err) == ["stabilityai/StableBeluga-7B"], w.err
    assert drifted(agree(cli, tree)) == set()


def test_an_edit_while_render_runs_is_seen_in_a_tree_without_shared_files(cli, tmp_path, monkeypatch):
    """The same, where the build reads no shared file before the card's own (nothing read yet)."""
    import yaml

    from cardgen.pipeline import shard

    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    solo = tmp_path / "cards/other/solo/card.yaml"
    solo.parent.mkdir(parents=True)
    solo.write_text(yaml.safe_dump(_fuzz_state(__import__("random").Random(0))["cards"]["other/solo"] | {"license": "mit"}))
    record = shard._record_folders

    def edited_meanwhile(folders, *args, **kwargs):
        if "Solo Two" not in solo.read_text():
            edit(solo, "name: Solo", "name: Solo Two")
        return record(folders, *args, **kwargs)

    monkeypatch.setattr(shard, "_record_folders", edited_meanwhile)
    assert cli("render", "cards", "--out", "rendered", cwd=tmp_path).code == 0
    monkeypatch.setattr(shard, "_record_folders", record)
    r = check(cli, tmp_path)
    assert drifted(r) == drifted(check(cli, tmp_path, "--no-cache")) == {"other/solo"}, r.text



def _small_tree(root, **more):
    """A one-card tree: ``other/solo`` of the fuzz state, with ``more`` keys, and an empty `_shared`."""
    import yaml

    card = _fuzz_state(__import__("random").Random(0))["cards"]["other/solo"] | {"license": "mit"} | more
    (root / "cards/other/solo").mkdir(parents=True)
    (root / "cards/_shared").mkdir()
    (root / "cards/other/solo/card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))


@pytest.mark.parametrize("where", ["card folder", "shared folder"])
def test_a_folder_moved_out_of_the_cards_folder_and_linked_in_its_place_is_not_vouched_for(cli, tmp_path,
                                                                                            monkeypatch, where):
    """A section file's folder moved outside the cards folder (its file keeps its inode and times, so its
    signature) and a link put where it was: the index must not vouch for the card (the file now escapes the
    cards folder), whether the folder is below the card's or below `_shared`."""
    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    if where == "card folder":
        _small_tree(tmp_path, sections=[{"id": "notes", "heading": "Notes", "after": "description",
                                         "file": "sub/notes.md"}])
        sub = tmp_path / "cards/other/solo/sub"
    else:
        _small_tree(tmp_path, sections=["s1"])
        (tmp_path / "cards/_shared/text.yaml").write_text(
            "sections:\n  s1: {heading: Shared, after: description, file: sub/notes.md}\n")
        sub = tmp_path / "cards/_shared/sub"
    sub.mkdir()
    (sub / "notes.md").write_text("Notes A.\n")
    assert cli("render", "cards", "--out", "rendered", cwd=tmp_path).code == 0
    for _ in range(2):
        r = check(cli, tmp_path)
    assert r.code == 0 and "1 vouched for by the scope's index" in r.err, r.text
    (tmp_path / "outside").mkdir()
    sub.rename(tmp_path / "outside/sub")
    sub.symlink_to(tmp_path / "outside/sub")
    cached = cli("check", "cards", "--out", "rendered", cwd=tmp_path)
    full = cli("check", "cards", "--out", "rendered", "--no-cache", cwd=tmp_path)
    assert "escapes cards" in full.text and (cached.code, cached.text) == (full.code, full.text), \
        (cached.text, full.text)


def test_a_repository_described_again_in_a_folder_walked_first_is_compared_with_its_committed_readme(
        cli, tmp_path, monkeypatch):
    """A folder the walk meets first that describes a repository again: its text is the one compared and
    written, not the committed README the record of the later description matched."""
    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    _small_tree(tmp_path)
    assert cli("render", "cards", "--out", "rendered", cwd=tmp_path).code == 0
    for _ in range(2):
        check(cli, tmp_path)
    solo = (tmp_path / "cards/other/solo/card.yaml").read_text()
    (tmp_path / "cards/other/aaa").mkdir()
    (tmp_path / "cards/other/aaa/card.yaml").write_text(solo.replace("name: Solo", "name: Other"))
    cached = cli("check", "cards", "--out", "rendered", cwd=tmp_path)
    full = cli("check", "cards", "--out", "rendered", "--no-cache", cwd=tmp_path)
    assert "out of date" in full.text and (cached.code, cached.text) == (full.code, full.text), \
        (cached.text, full.text)
    cli("render", "cards", "--out", "rendered", cwd=tmp_path)
    assert "Other" in (tmp_path / "rendered/other/solo/README.md").read_text()  # render writes that text



def test_a_folder_rebuilt_beside_a_card_whose_base_is_missing_keeps_no_other_cards_warning(cli, tmp_path,
                                                                                          monkeypatch):
    """A card whose base is nowhere makes its batch load every card folder; what checking those others
    finds is theirs (their own records hold it), not a record of the batch's: once mended there, it is
    not replayed from a folder that was rebuilt beside that card."""
    import random

    import yaml

    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    rng = random.Random(0)
    solo = _fuzz_state(rng)["cards"]["other/solo"] | {"license": "mit"}
    risky = _risky(rng, "risky")
    risky["risk_assessment"]["risks"][0]["mitigations"] = ["M1"]  # its own M9 is used by no risk: CG605

    def write(rel, data):
        p = tmp_path / "cards" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(data, sort_keys=False))

    write("_shared/mitigations.yaml", {"mitigations": {"M1": "Check outputs"}})
    write("acme/lone/card.yaml", dict(solo, repo_id="acme/lone", extends="acme/nothere"))
    write("other/solo/card.yaml", solo)
    write("other/risky/card.yaml", risky)
    cli("render", "cards", "--out", "rendered", cwd=tmp_path)
    for _ in range(2):
        check(cli, tmp_path)
    write("other/solo/card.yaml", dict(solo, name="Solo Two"))  # rebuilt in acme/lone's batch
    assert "M9 is defined but no risk uses it" in check(cli, tmp_path).text
    risky["risk_assessment"]["risks"][0]["mitigations"] = ["M1", "M9"]  # mended
    write("other/risky/card.yaml", risky)
    cached = cli("check", "cards", "--out", "rendered", cwd=tmp_path)
    full = cli("check", "cards", "--out", "rendered", "--no-cache", cwd=tmp_path)
    assert "M9" not in full.text and (cached.code, cached.text) == (full.code, full.text), (cached.text, full.text)



def test_the_catalogue_is_not_judged_from_a_second_description_of_a_repository(cli, tmp_path, monkeypatch):
    """A risk-bearing repository described again in a folder the walk meets first: the later description
    is no card, so the catalogue rules do not judge its mitigations (a near repeat of a shared one)."""
    import random

    import yaml

    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    risky = _risky(random.Random(0), "risky")
    risky["risk_assessment"]["risks"][0]["mitigations"] = ["M1", "M9"]
    risky["risk_assessment"]["mitigations"] = {"M9": "Perform safety tests"}  # nearly the shared M1: CG606

    def write(rel, data):
        p = tmp_path / "cards" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump(data, sort_keys=False))

    write("_shared/mitigations.yaml", {"mitigations": {"M1": "Perform safety testing"}})
    write("other/risky/card.yaml", risky)
    cli("render", "cards", "--out", "rendered", cwd=tmp_path)
    for _ in range(2):
        assert "CG606" in check(cli, tmp_path).text
    risky["risk_assessment"]["mitigations"] = {"M9": "Avoid harm"}
    write("other/aaa/card.yaml", risky)  # the same repository, walked first, with a mitigation of its own
    cached = cli("check", "cards", "--out", "rendered", cwd=tmp_path)
    full = cli("check", "cards", "--out", "rendered", "--no-cache", cwd=tmp_path)
    assert "CG606" not in full.text and (cached.code, cached.text) == (full.code, full.text), (cached.text, full.text)


# -- a store that cannot be used: one warning, every README, the exit code of a run without it ------------

class _Failing:
    """A SQLite connection whose writes fail as a full disk or a read-only file makes them fail."""

    def __init__(self, conn, fault):
        self._conn, self._fault = conn, fault

    def _check(self, sql):
        if sql.lstrip().upper().startswith(("INSERT", "DELETE", "BEGIN", "COMMIT", "CREATE")):
            raise self._fault()

    def execute(self, sql, *args):
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql, *args):
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def executescript(self, sql):
        self._check(sql)
        return self._conn.executescript(sql)

    def close(self):
        self._conn.close()


FAULTS = {
    "full disk": lambda: sqlite3.OperationalError("database or disk is full"),
    "full disk, from the system": lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    "read-only file": lambda: sqlite3.OperationalError("attempt to write a readonly database"),
}


def warnings_cg010(r) -> list[str]:
    return [ln for ln in r.out.splitlines() if " CG010 " in ln]


def findings(r) -> list[str]:
    """The diagnostics, without the store's warning."""
    return [ln for ln in r.out.splitlines() if re.search(r" CG\d{3} ", ln) and " CG010 " not in ln]


@pytest.mark.parametrize("kept", [False, True], ids=["empty store", "store with records"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_store_that_cannot_be_written_is_one_warning_and_every_readme_is_written(cli, tree, tmp_path, monkeypatch,
                                                                                    fault, kept):
    if kept:
        assert cli("render", "cards", "--out", tmp_path / "first", cwd=tree).code == 0
    edit(tree / "cards/stabilityai/StableBeluga-7B/card.yaml", "parameters: 7B", "parameters: 7 billion")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _Failing(connect(*a, **k), FAULTS[fault]))
    out = tmp_path / "out"
    r = cli("render", "cards", "--out", out, cwd=tree)
    assert r.code == 0 and "internal error" not in r.text, r.text
    assert len(warnings_cg010(r)) == 1 and "the run went on without it" in r.out, r.out
    assert len(list(out.rglob("README.md"))) == BUNDLED
    c = check(cli, tree)
    assert c.code == 1 and drifted(c) == {"stabilityai/StableBeluga-7B"} and len(warnings_cg010(c)) == 1
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert problems(check(cli, tree, "--out", out)) == problems(check(cli, tree, "--out", out, "--no-cache"))


def test_texts_the_store_cannot_give_back_are_built_again(cli, tree, tmp_path, monkeypatch):
    """The records read, the texts checked, then not given back when they are written (the file damaged
    meanwhile): each README is built again."""
    assert cli("render", "cards", "--out", tmp_path / "first", cwd=tree).code == 0
    connect = sqlite3.connect

    class Reads(_Failing):  # the writes read their texts a batch at a time, in one query
        def _check(self, sql):
            if sql.lstrip().upper().startswith("SELECT SHA, TEXT"):
                raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Reads(connect(*a, **k), None))
    r = cli("render", "cards", "--out", tmp_path / "out", "-v", cwd=tree)
    assert r.code == 0 and len(warnings_cg010(r)) == 1 and "malformed" in r.out, r.text
    assert rebuilt(r)[0] == 0  # every record held: the texts were built again as they were asked for
    for readme in (tmp_path / "first").rglob("README.md"):
        assert (tmp_path / "out" / readme.relative_to(tmp_path / "first")).read_text() == readme.read_text()
    assert len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED


def test_a_store_of_garbage_is_started_afresh_with_one_warning(cli, tree, tmp_path):
    n = rebuilt(check(cli, tree))[1]
    for f in glob.glob(_store(tmp_path) + "*"):  # the file, and SQLite's journal beside it
        with open(f, "wb") as fh:
            fh.write(os.urandom(4096) * 4)
    r = cli("render", "cards", "--out", tmp_path / "out", "-v", cwd=tree)
    assert r.code == 0 and rebuilt(r) == (n, n) and len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED
    assert len(warnings_cg010(r)) == 1 and "damaged" in r.out and "started afresh" in r.out, r.out
    again = check(cli, tree, "--out", tmp_path / "out")
    assert rebuilt(again) == (0, n) and not warnings_cg010(again) and again.code == 0


def test_a_store_damaged_inside_is_a_warning_not_a_crash(cli, tree, tmp_path):
    n = rebuilt(check(cli, tree))[1]
    with sqlite3.connect(_store(tmp_path)) as db:  # everything in the file itself, then pages overwritten
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(_store(tmp_path))
    with open(_store(tmp_path), "r+b") as f:
        f.seek(100)  # past SQLite's header: the schema and the tables' pages
        f.write(os.urandom(size - 100))
    r = cli("render", "cards", "--out", tmp_path / "out", "-v", cwd=tree)
    assert r.code == 0 and "internal error" not in r.text and len(warnings_cg010(r)) == 1, r.text
    assert len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED and rebuilt(r) == (n, n)
    assert problems(check(cli, tree)) == problems(check(cli, tree, "--no-cache"))


@contextlib.contextmanager
def read_only(path):
    """``path`` read-only: by its mode, or for root (whom modes do not stop) by a read-only bind mount."""
    if os.geteuid() != 0:
        mode = os.stat(path).st_mode
        os.chmod(path, 0o500 if os.path.isdir(path) else 0o400)
        try:
            yield
        finally:
            os.chmod(path, mode)
        return
    ok = subprocess.run(["mount", "--bind", path, path], capture_output=True).returncode == 0
    if not ok:
        pytest.skip("running as root, and no read-only bind mount can be made here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", path, path], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)  # lazily: a connection may hold it open


@pytest.mark.parametrize("which", ["file", "folder"])
def test_a_read_only_store_is_one_warning_and_every_readme_is_written(cli, tree, tmp_path, which):
    check(cli, tree)
    edit(tree / "cards/stabilityai/StableBeluga-7B/card.yaml", "parameters: 7B", "parameters: 7 billion")
    with read_only(_store(tmp_path) if which == "file" else str(tmp_path / "cache/graph")):
        r = cli("render", "cards", "--out", tmp_path / "out", cwd=tree)
        assert r.code == 0 and len(warnings_cg010(r)) == 1, r.text
        assert len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED
        c = check(cli, tree, "--out", tmp_path / "out")
        assert c.code == 0 and len(warnings_cg010(c)) == 1
        assert findings(c) == findings(check(cli, tree, "--out", tmp_path / "out", "--no-cache"))


def test_a_full_cache_disk_is_one_warning_and_every_readme_is_written(cli, tree, tmp_path, monkeypatch):
    """A real full disk: a tiny file system for the cache, filled (where one can be mounted)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("no file system can be mounted here (the simulated full disk is tested above)")
    try:
        monkeypatch.setenv("CARDGEN_CACHE_DIR", str(disk / "cache"))
        from cardgen.cache import folder

        folder.cache_clear()
        r = cli("render", "cards", "--out", tmp_path / "out", cwd=tree)  # the store fills the disk
        assert r.code == 0 and "internal error" not in r.text and len(warnings_cg010(r)) == 1, r.text
        assert len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED
        with contextlib.suppress(OSError):  # what is left, filled
            (disk / "filler").write_bytes(b"x" * (1 << 20))
        edit(tree / "cards/stabilityai/StableBeluga-7B/card.yaml", "parameters: 7B", "parameters: 7 billion")
        r = cli("render", "cards", "--out", tmp_path / "out2", cwd=tree)
        assert r.code == 0 and "internal error" not in r.text, r.text
        assert len(list((tmp_path / "out2").rglob("README.md"))) == BUNDLED
        assert "7 billion" in (tmp_path / "out2/stabilityai/StableBeluga-7B/README.md").read_text()
    finally:
        folder.cache_clear()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


# -- the cache oracle: after any edits, a cached `check` reports what `check --no-cache` reports -------

POOL = ["d1", "d2", "d3", "hub/x", "hub/y"]  # dataset names: some defined in `_shared/`, some not, by turns
LICENCES = ["mit", "apache-2.0", "lic", "lic2"]
WORDS = "alpha beta gamma delta river stone cloud maple cedar falcon otter raven".split()


def _words(rng, n=3) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _fuzz_state(rng) -> dict:
    """A small cards folder, as data: a base card with a section file behind a link, a GPTQ card that
    extends it, a card of its own; two shared files."""
    base = {"repo_id": "acme/base", "name": "Base", "description": "`{name}` is a base model.", "model_type": "llama",
            "parameters": "7B", "language": ["en"], "license": "mit", "library_name": "transformers",
            "pipeline_tag": "text-generation", "datasets": ["d1", "hub/x"],
            "training": {"heading": "Training", "datasets": {"intro": "Trained on {count} datasets:",
                                                             "items": ["d2", "hub/y"]}},
            "sections": ["s1", {"id": "notes", "heading": "Notes", "after": "description", "file": "notes.md"}]}
    gptq = {"repo_id": "acme/gptq", "extends": "acme/base", "base_model_relation": "quantized", "title": "Base GPTQ",
            "quantization": {"method": "GPTQ", "variants": [
                {"branch": "main", "bits": 4, "group_size": 128, "act_order": True, "damp_percent": 0.01,
                 "dataset": "d3", "seq_len": 4096, "size": "4 GB", "description": "4-bit."}]}}
    solo = {"repo_id": "other/solo", "name": "Solo", "description": "`{name}` stands alone.", "model_type": "bert",
            "parameters": "4M", "language": ["en"], "license": "lic", "library_name": "transformers",
            "pipeline_tag": "text-classification", "datasets": ["hub/y"]}
    return {
        "cards": {"acme/base": base, "acme/gptq": gptq, "other/solo": solo, "other/risky": _risky(rng, "risky"),
                  "acme/risky2": _risky(rng, "risky2")},
        "shared": {"mitigations.yaml": {"mitigations": {f"M{i}": _mitigation(rng) for i in range(1, 4)}},
                   "data.yaml": {"datasets": {"d1": {"id": "org/d1", "name": "Data One"},
                                              "d2": {"id": "org/d2", "name": "Data Two"}},
                                 "licenses": {"lic": {"id": "other", "name": "acme-licence", "link": "LICENSE"}}},
                   "text.yaml": {"sections": {"s1": {"heading": "Shared", "after": "description", "body": _words(rng)}}}},
        "texts": {"acme/base/notes-a.md": "Notes A.\n", "acme/base/notes-b.md": "Notes B.\n"},
        "links": {"acme/base/notes.md": "notes-a.md"},
    }


MITIGATIONS = ["Perform safety testing", "Perform safety tests", "Run your own suite of tests", "Avoid harm",
               "Tune model to specific applications", "Check outputs"]


def _mitigation(rng) -> str:
    return rng.choice(MITIGATIONS)


def _risky(rng, name: str) -> dict:
    """A card with a risk matrix whose risks name shared mitigations and its own (for the catalogue rules:
    a mitigation unused, two nearly the same)."""
    return {"repo_id": f"other/{name}", "name": name.title(), "description": "`{name}` carries risks.",
            "model_type": "bert", "parameters": "4M", "language": ["en"], "license": "mit",
            "library_name": "transformers", "pipeline_tag": "text-classification",
            "risk_assessment": {
                "uses": [{"id": "U1", "purpose": "Answer questions", "capability": "Text generation",
                          "ai_user": "Teams", "ai_subject": "Users", "domain": "General"}],
                "risks": [{"id": "R1", "statement": "Misleads users with false answers", "layer": "capability",
                           "harm_area": "misinformation", "mitigations": ["M1", "M9"]}],
                "matrix": {"R1": {"U1": ["ai_user"]}},
                "mitigations": {"M9": _mitigation(rng)}}}


def _edit_risk(rng, s):
    """A risk-bearing card's facts or places changed: its risks' mitigations, its own mitigation's text,
    lines added above them, or the risk matrix removed; or a shared mitigation's text."""
    what = rng.choice(["uses", "own", "shift", "drop", "shared"])
    if what == "shared":
        table = s["shared"].setdefault("mitigations.yaml", {}).setdefault("mitigations", {})
        table[f"M{rng.randint(1, 4)}"] = _mitigation(rng)
        return "shared mitigation"
    name = rng.choice(["other/risky", "acme/risky2"])
    card = s["cards"][name]
    ra = card.get("risk_assessment")
    if ra is None or what == "drop":
        if ra is None:
            card["risk_assessment"] = _risky(rng, name.split("/")[1])["risk_assessment"]
        else:
            del card["risk_assessment"]
        return f"{name} risk matrix {'added' if ra is None else 'removed'}"
    if what == "uses":
        ra["risks"][0]["mitigations"] = rng.sample(["M1", "M2", "M3", "M9"], rng.randint(1, 3))
    elif what == "own":
        ra["mitigations"] = {"M9": _mitigation(rng)}
    else:  # the same facts, written lines lower
        card["tags"] = [_words(rng, 1) for _ in range(rng.randint(1, 4))]
        card = {"tags": card.pop("tags"), **card}
        s["cards"][name] = card
    return f"{name} risk {what}"


def _materialize(root, state, known: set, keep_times: bool = False) -> None:
    """Write the state's files under ``root`` (only those that differ), remove the ones it no longer has;
    with ``keep_times``, a file that is there is rewritten in place and its times put back as they were
    (an edit that keeps the size then leaves only the change time to show it)."""
    import yaml

    files = {f"{folder}/card.yaml": yaml.safe_dump(card, sort_keys=False) for folder, card in state["cards"].items()}
    files |= {f"_shared/{name}": yaml.safe_dump(data, sort_keys=False) for name, data in state["shared"].items()}
    files |= state["texts"]
    for rel in known - set(files) - set(state["links"]):
        (root / rel).unlink(missing_ok=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink() or not p.exists() or p.read_text() != text:
            if keep_times and not p.is_symlink() and p.is_file():
                before = p.stat()
                p.write_text(text)
                os.utime(p, ns=(before.st_atime_ns, before.st_mtime_ns))
                continue
            p.unlink(missing_ok=True)
            p.write_text(text)
    for rel, target in state["links"].items():
        p = root / rel
        if not p.is_symlink() or os.readlink(p) != target:
            p.unlink(missing_ok=True)
            p.symlink_to(target)
    known.clear()
    known.update(files, state["links"])


def _edit_card(rng, s):
    card = s["cards"][rng.choice(sorted(s["cards"]))]
    key = rng.choice(["description", "name", "parameters", "datasets", "license"])
    card[key] = (rng.sample(POOL, rng.randint(1, 3)) if key == "datasets" else rng.choice(LICENCES)
                 if key == "license" else _words(rng) if key != "description" else f"`{{name}}` {_words(rng)}.")
    return f"card {card['repo_id']} {key}"


def _edit_lookups(rng, s):
    if rng.random() < 0.5:
        s["cards"]["acme/base"]["training"]["datasets"]["items"] = rng.sample(POOL, rng.randint(1, 3))
        return "training items"
    s["cards"]["acme/gptq"]["quantization"]["variants"][0]["dataset"] = rng.choice(POOL)
    return "variant dataset"


def _edit_shared(rng, s):
    name = rng.choice([*sorted(s["shared"]), f"extra{rng.randint(1, 3)}.yaml"])
    data = s["shared"].setdefault(name, {})
    kind = rng.choice(["datasets", "licenses", "sections"])
    table = data.setdefault(kind, {})
    what = rng.choice(["add", "change", "remove"]) if table else "add"
    if what == "remove":
        del table[rng.choice(sorted(table))]
        if not table:
            del data[kind]
        if not data and name.startswith("extra"):
            del s["shared"][name]
        return f"{name}: {kind} entry removed"
    key = (rng.choice(sorted(table)) if what == "change" else
           rng.choice({"datasets": POOL, "licenses": LICENCES, "sections": ["s1"]}[kind]))
    table[key] = ({"id": f"org/{rng.choice(WORDS)}", "name": _words(rng, 2)} if kind == "datasets" else
                  {"id": "other", "name": rng.choice(WORDS), "link": "LICENSE"} if kind == "licenses" else
                  {"heading": _words(rng, 1).title(), "after": "description", "body": _words(rng)})
    return f"{name}: {kind} {key} {what}"


def _edit_files(rng, s):
    what = rng.choice(["section text", "link", "template", "template"])
    if what == "section text":
        rel = rng.choice(["acme/base/notes-a.md", "acme/base/notes-b.md", "acme/base/notes-c.md"])
        s["texts"][rel] = _words(rng) + "\n"
        return f"{rel} written"
    if what == "link":
        target = rng.choice(["notes-a.md", "notes-b.md", "notes-c.md"])
        s["links"]["acme/base/notes.md"] = target
        return f"notes.md -> {target}"
    rel = rng.choice(["acme/_templates/footer.md.j2", "acme/base/templates/footer.md.j2",
                      "other/_templates/title.md.j2"])
    if rel in s["texts"] and rng.random() < 0.5:
        del s["texts"][rel]
        return f"{rel} removed"
    s["texts"][rel] = f"{_words(rng)}\n" if "footer" in rel else f"# {_words(rng, 2).title()}\n"
    return f"{rel} written"


def _edit_same_size(rng, s):
    """A card's name or title changed to another of the same length (its file keeps its size)."""
    card = s["cards"][rng.choice(sorted(s["cards"]))]
    key = "name" if "name" in card else "title"
    old = card.get(key, "Title")
    card[key] = "".join(rng.choice("ABCDEFGHIJ") for _ in old)
    return f"card {card['repo_id']} {key} same size"


FUZZ_EDITS = [_edit_card, _edit_lookups, _edit_shared, _edit_files, _edit_risk, _edit_same_size]


def test_fuzzed_edit_sequences_the_cached_check_agrees_with_no_cache(cli, tmp_path, monkeypatch):
    """Seeded random edits to small cards folders (cards, shared entries added, removed and changed,
    section files, links pointed elsewhere, templates added and removed, READMEs rendered between): after
    each sequence of 1 to 3 edits, `check` through the graph says exactly what `check --no-cache` says.
    Risk-bearing cards change their facts and places (the catalogue rules judge them from the records); now
    and then a scoped `validate` of one card folder runs first, and says what its `--no-cache` run says,
    and the whole-tree `check` after it still agrees; now and then the hook's `check --changed FILE` runs
first, and says what its `--no-cache` run says. Files are trusted by their signature as soon as their
    times are past (``stats.MARGIN_NS`` 0), and half the edits keep a file's size and put its times back."""
    import random
    import time

    from cardgen.cache import folder
    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)  # no edit falls in the tick of a hash: a command runs between
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    folder.cache_clear()
    cases = edits = trees = 0
    start = time.monotonic()
    for seed in range(24):
        rng = random.Random(seed)
        root = tmp_path / f"t{seed}"
        state, known = _fuzz_state(rng), set()
        _materialize(root / "cards", state, known)
        cli("render", "cards", "--out", "rendered", cwd=root)
        trees += 1
        for case in range(12):
            done = [rng.choice(FUZZ_EDITS)(rng, state) for _ in range(rng.randint(1, 3))]
            _materialize(root / "cards", state, known, keep_times=rng.random() < 0.5)
            if rng.random() < 0.3:
                cli("render", "cards", "--out", "rendered", cwd=root)
                done.append("rendered")
            if rng.random() < 0.3:
                one = f"cards/{rng.choice(sorted(state['cards']))}"
                scoped = cli("validate", one, cwd=root)
                alone = cli("validate", one, "--no-cache", cwd=root)
                assert (scoped.code, scoped.text) == (alone.code, alone.text), (seed, case, done, one, scoped.text,
                                                                                alone.text)
                done.append(f"validate {one}")
            if rng.random() < 0.3:  # what the hook runs: the cards built from one file, the whole tree walked
                one = f"cards/{rng.choice(sorted(state['cards']))}/card.yaml"
                hooked = cli("check", "--out", "rendered", "--changed", one, "--", "cards", cwd=root)
                alone = cli("check", "--out", "rendered", "--changed", one, "--no-cache", "--", "cards", cwd=root)
                assert (hooked.code, hooked.text) == (alone.code, alone.text), (seed, case, done, one)
                done.append(f"check --changed {one}")
            edits += len(done)
            cached = cli("check", "cards", "--out", "rendered", cwd=root)
            full = cli("check", "cards", "--out", "rendered", "--no-cache", cwd=root)
            cases += 1
            assert (cached.code, cached.text) == (full.code, full.text), (
                seed, case, done, set(cached.text.splitlines()) ^ set(full.text.splitlines()))
    print(f"\n{cases} edit sequences ({edits} edits) on {trees} trees: the cached check agreed with --no-cache "
          f"on every one ({time.monotonic() - start:.0f} s)")
    assert cases >= 250


# -- cost in proportion to the change: the catalogue from the records, scoped runs ----------------------

@pytest.fixture
def risky_tree(tmp_path, monkeypatch, cli):
    """The fuzz's small cards folder (two risk-bearing cards among five), rendered, its graph warm; and a
    count of the card folders (and shared files) each later run loads."""
    import random

    from cardgen.cache import folder
    from cardgen.loading import sources

    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    folder.cache_clear()
    root = tmp_path / "risky"
    state = _fuzz_state(random.Random(5))
    _materialize(root / "cards", state, set())
    assert cli("render", "cards", "--out", "rendered", cwd=root).code == 0
    loaded: list[str] = []
    load = sources.load_source

    def counted(folder_, files, kind, root_):
        loaded.append(os.path.relpath(folder_, root / "cards"))
        return load(folder_, files, kind, root_)

    monkeypatch.setattr(sources, "load_source", counted)
    yield root, loaded
    folder.cache_clear()


def test_a_risk_bearing_card_changed_loads_that_card_alone(cli, risky_tree):
    """The catalogue rules judge every risk-bearing card; they read its facts from the graph, so a change
    to one loads that one (and the shared files the rules read), not every other risk-bearing card."""
    root, loaded = risky_tree
    edit(root / "cards/acme/risky2/card.yaml", "Misleads users", "Misleads readers")
    r = cli("check", "cards", "--out", "rendered", "-v", cwd=root)
    assert rebuilt(r) == (1, 5)
    assert "other/risky" not in loaded and "acme/risky2" in loaded, loaded
    assert problems(r) == problems(cli("check", "cards", "--out", "rendered", "-v", "--no-cache", cwd=root))


def test_a_whole_tree_check_after_a_scoped_validate_loads_nothing(cli, risky_tree):
    """The pre-commit hooks run `validate FILE` then a whole-tree `check`: the scoped run leaves the whole
    tree's catalogue as it was, so the check that follows with nothing changed loads no card and no
    shared file."""
    root, loaded = risky_tree
    assert cli("validate", "cards/other/solo", cwd=root).code == 0
    loaded.clear()
    r = cli("check", "cards", "--out", "rendered", "-v", cwd=root)
    assert r.code == 0 and rebuilt(r) == (0, 5) and loaded == [], loaded


def test_a_one_card_validate_reads_that_cards_record_alone(cli, risky_tree, monkeypatch):
    """`validate PATH` inside a big tree reads and checks the record of the folder it names, not all."""
    from cardgen.pipeline import records

    root, _ = risky_tree
    read: list[object] = []
    from_sealed = records.Record.from_sealed.__func__

    monkeypatch.setattr(records.Record, "from_sealed",
                        classmethod(lambda cls, v: read.append(v) or from_sealed(cls, v)))
    r = cli("validate", "cards/acme/risky2", cwd=root)
    assert r.code == 0 and len(read) == 1, (r.text, len(read))


def indexed(r) -> int:
    m = re.search(r"\((\d+) vouched for by the scope's index\)", r.err)
    return int(m.group(1)) if m else 0


def test_a_warm_whole_check_reads_no_record_and_a_change_reads_only_its_folders(cli, risky_tree, monkeypatch):
    """Once a whole check has hashed every input, the next reads no record and hashes no file: the scope's
    index vouches for every folder by its inputs' signatures (``pipeline.index``), but for the two built
    from a section file that is a link (a link has no signature: they are judged from their records). An
    edited card has its record read and is rebuilt alone (its inputs were hashed before it was built: the
    next run's index vouches for it); a card copied over itself (same bytes, another file) has its record
    read and is not rebuilt; and each run says what `--no-cache` says."""
    from cardgen.pipeline import records, stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)  # the files were just written: trusted once their times are past
    root, _ = risky_tree
    assert (root / "cards/acme/base/notes.md").is_symlink()
    read: list[object] = []
    from_sealed = records.Record.from_sealed.__func__
    monkeypatch.setattr(records.Record, "from_sealed",
                        classmethod(lambda cls, v: read.append(v) or from_sealed(cls, v)))
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr(stats, "open", lambda p, *a, **k: opened.append(os.path.basename(p)) or real_open(p, *a, **k),
                        raising=False)

    def run():
        read.clear()
        opened.clear()
        r = cli("check", "cards", "--out", "rendered", "-v", cwd=root)
        seen = len(read), sorted(opened)
        assert problems(r) == problems(cli("check", "cards", "--out", "rendered", "-v", "--no-cache", cwd=root))
        return r, seen

    run()  # every folder judged from its record, its inputs hashed: the index is written
    r, seen = run()
    assert r.code == 0 and rebuilt(r) == (0, 5) and indexed(r) == 3 and seen == (2, []), (r.err, seen)

    edit(root / "cards/acme/risky2/card.yaml", "Misleads users", "Misleads readers")
    r, seen = run()
    assert rebuilt(r) == (1, 5) and indexed(r) == 2 and seen[0] == 3 and r.code == 1, (r.err, seen)

    solo = root / "cards/other/solo/card.yaml"
    copy = solo.with_name("copy")
    shutil.copy2(solo, copy)
    os.replace(copy, solo)
    r, seen = run()
    assert rebuilt(r) == (0, 5) and indexed(r) == 2 and seen == (3, ["card.yaml"]), (r.err, seen)
    r, seen = run()
    assert rebuilt(r) == (0, 5) and indexed(r) == 3 and seen == (2, []), (r.err, seen)


def test_an_index_that_does_not_read_back_under_its_seal_is_not_used(cli, risky_tree, monkeypatch, tmp_path):
    """The index's values are sealed: one altered, every folder is judged from its record, and the run says
    what `--no-cache` says."""
    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)
    root, _ = risky_tree
    for _ in range(2):
        cli("check", "cards", "--out", "rendered", "-v", cwd=root)
    edit(root / "cards/acme/risky2/card.yaml", "Misleads users", "Misleads readers")
    with contextlib.closing(sqlite3.connect(_store(tmp_path))) as db, db:
        key, value = db.execute("SELECT key, value FROM meta WHERE key LIKE 'blob:index:%' AND value LIKE '%risky2%'"
                                ).fetchone()
        db.execute("UPDATE meta SET value=? WHERE key=?", (value.replace("risky2", "risky1"), key))
    r = cli("check", "cards", "--out", "rendered", "-v", cwd=root)
    assert indexed(r) == 0 and rebuilt(r) == (1, 5) and r.code == 1, r.err
    assert problems(r) == problems(cli("check", "cards", "--out", "rendered", "-v", "--no-cache", cwd=root))


# -- files not read again while their signature is as kept (``pipeline.stats``) ------------------------

def _same_size_edit(path, old: str, new: str) -> None:
    """Rewrite a file in place with a same-length change and put its times back: only its change time
    differs (written again until the clock has moved past the one it had)."""
    assert len(old) == len(new)
    before = path.stat()
    while True:
        edit(path, old, new)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = path.stat()
        if after.st_ctime_ns != before.st_ctime_ns:
            break
        edit(path, new, old)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def test_a_warm_check_reads_no_settled_file_and_sees_an_edit_that_keeps_size_and_time(cli, tree, monkeypatch):
    """Once a check has hashed them, the next check reads no card source and no committed README whose
    signature is as kept; an edit that keeps a file's size and puts its modification time back (``os.utime``)
    is still seen, by its change time, and the check says what `--no-cache` says."""
    from cardgen.pipeline import stats

    monkeypatch.setattr(stats, "MARGIN_NS", 0)  # the files were just copied: trusted once their times are past
    check(cli, tree)
    check(cli, tree)  # every folder fresh: its inputs and READMEs hashed, and kept
    opened: list[str] = []
    real_open = open
    monkeypatch.setattr(stats, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k),
                        raising=False)
    r = check(cli, tree)
    assert r.code == 0 and rebuilt(r)[0] == 0 and opened == [], opened

    card = tree / "cards/TheBloke/StableBeluga2-70B-GPTQ/card.yaml"
    _same_size_edit(card, "highest possible", "HIGHEST POSSIBLE")
    r = check(cli, tree)
    assert rebuilt(r)[0] >= 1 and drifted(r) == drifted(check(cli, tree, "--no-cache")) != set(), r.text

    readme = tree / "rendered/cardgen-examples/tiny-chat/README.md"
    word = re.search(r"[a-z]{6,}", readme.read_text().split("---", 2)[-1]).group(0)
    _same_size_edit(readme, word, word.upper())
    r = check(cli, tree)
    assert "cardgen-examples/tiny-chat" in drifted(r) and drifted(r) == drifted(check(cli, tree, "--no-cache")), r.text


def test_a_hash_taken_within_the_margin_of_a_files_last_write_is_not_kept(tmp_path, monkeypatch):
    """A file written just before it is hashed may be written again within the same tick of the clock: its
    hash is not kept (git's racily clean entries). A kept hash is used while the signature is the same,
    and a file whose change time moved is read again."""
    from cardgen.pipeline import stats
    from cardgen.pipeline.graph import sha

    f = tmp_path / "card.yaml"
    f.write_text("a: 1\n")
    fresh = stats.Stats()
    assert fresh.sha(str(f)) == sha(b"a: 1\n") and fresh.added == {}

    monkeypatch.setattr(stats.time, "time_ns", lambda: f.stat().st_ctime_ns + stats.MARGIN_NS + 1)
    later = stats.Stats()
    assert later.sha(str(f)) == sha(b"a: 1\n") and str(f) in later.added
    sig = later.added[str(f)][:-65]
    kept = "k" * 64
    assert stats.Stats({str(f): f"{sig} {kept}"}).sha(str(f)) == kept  # the signature is the same: not read
    size, mtime, ctime, ino, dev = sig.split()
    moved = f"{size} {mtime} {int(ctime) + 1} {ino} {dev}"
    assert stats.Stats({str(f): f"{moved} {kept}"}).sha(str(f)) == sha(b"a: 1\n")
