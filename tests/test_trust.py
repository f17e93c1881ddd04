"""A card tree is untrusted input in the very job that holds the Hub token: templates are sandboxed,
the usage snippet is built from typed values only, and writes leave nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import stat

import pytest

from conftest import BUNDLED, edit, warned

B7 = "stabilityai/StableBeluga-7B/card.yaml"
TOKEN = "hf_secret_token_for_the_test_0123456789"

PAYLOADS = {
    "code execution": "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "file read": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "token read": "{{ cycler.__init__.__globals__.os.environ['HF_TOKEN'] }}",
    "mutation": "{% set x = [] %}{{ x.append(1) }}",
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_an_organisation_partial_cannot_reach_python(cli, cards, tmp_path, monkeypatch, name):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    marker = tmp_path / "pwned"
    (cards / "stabilityai/_templates").mkdir()
    (cards / "stabilityai/_templates/footer.md.j2").write_text(PAYLOADS[name].replace("{marker}", str(marker)))
    out = tmp_path / "out"
    for command in (("render", "--out", out), ("check", "--out", out), ("diff", "--out", out)):
        r = cli(*command, cards / "stabilityai")
        assert r.code == 1, r.text
        assert "CG701" in r.out and ("unsafe" in r.out or "not safely callable" in r.out or "immutable" in r.out), r.out
        assert TOKEN not in r.text and "<class" not in r.text  # nothing read or listed reaches any output
    assert not marker.exists()
    assert not (out / "stabilityai/StableBeluga-7B/README.md").exists()


@pytest.mark.parametrize("old,new", [
    ("  dtype: float16", "  dtype: \"float16); __import__('os').system('touch X'); (0\""),
    ("  model_kwargs: {low_cpu_mem_usage: true, device_map: auto}",
     "  model_kwargs: {\"x=1); __import__('os').system('touch X'); f(y\": 1}"),
    ("  generation: {do_sample: true, top_p: 0.95, top_k: 0}", "  generation: {\"a b\": 1}"),
])
def test_the_snippet_is_built_from_typed_values_only(cli, cards, old, new):
    edit(cards / B7, old, new)
    r = cli("validate", cards)
    assert r.code == 1 and "CG101 usage." in r.out, r.out


def test_a_string_value_cannot_break_out_of_the_snippet(cli, cards, tmp_path):
    edit(cards / B7, "  generation: {do_sample: true, top_p: 0.95, top_k: 0}",
         "  generation: {do_sample: true, stop: \"\\\"); import os; os.system('touch X'); (\\\"\"}")
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    text = (out / "stabilityai/StableBeluga-7B/README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    import ast

    tree = ast.parse(code)  # one call to generate, its `stop` a plain string literal
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "generate"]
    [stop] = [k.value for c in calls for k in c.keywords if k.arg == "stop"]
    assert isinstance(stop, ast.Constant) and "os.system" in stop.value
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in ast.walk(tree))


def test_render_leaves_no_temporary_file_and_gives_gits_mode(cli, cards, tmp_path):
    out = tmp_path / "out"
    folder = out / "stabilityai/StableBeluga-7B"
    folder.mkdir(parents=True)
    (folder / ".README.md.abc123.tmp").write_text("left by a render killed earlier")
    old = os.umask(0o022)
    try:
        assert cli("render", "--out", out, cards).code == 0
    finally:
        os.umask(old)
    assert not list(out.rglob("*.tmp"))
    for readme in out.rglob("README.md"):
        assert stat.S_IMODE(readme.stat().st_mode) == 0o644, readme


# -- paths: every read confined to the cards folder, every write to --out ------------------------------
def test_a_templates_field_outside_the_cards_folder_is_refused(cli, cards, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "footer.md.j2").write_text("stolen {{ name }}\n")
    for value in ("../../../outside", str(outside)):
        text = (cards / B7).read_text()
        (cards / B7).write_text(text.replace("repo_id:", f"templates: {value}\nrepo_id:", 1))
        r = cli("render", "--out", tmp_path / "out", cards / "stabilityai/StableBeluga-7B")
        assert r.code == 1 and "CG304" in r.out and "leads outside" in r.out, r.out
        assert not (tmp_path / "out/stabilityai/StableBeluga-7B/README.md").exists()
        (cards / B7).write_text(text)


def _outside_with(tmp_path, name: str, files: dict[str, str]):
    target = tmp_path / name
    target.mkdir()
    for f, text in files.items():
        (target / f).write_text(text)
    return target


def test_a_linked_shared_folder_that_leaves_the_cards_folder_is_not_read(cli, cards, tmp_path):
    import shutil

    elsewhere = tmp_path / "elsewhere-shared"
    shutil.move(cards / "_shared", elsewhere)
    (cards / "_shared").symlink_to(elsewhere)
    r = cli("validate", cards)
    assert r.code == 1 and re.search(r"_shared:1:1: CG304 .*_shared is a link to .*elsewhere-shared, outside", r.out)


def test_linked_templates_and_card_folders_that_leave_the_cards_folder_are_refused(cli, cards, tmp_path):
    evil = _outside_with(tmp_path, "evil-templates", {"footer.md.j2": "{{ name }} from outside\n"})
    (cards / "stabilityai/_templates").symlink_to(evil)
    card = _outside_with(tmp_path, "evil-card", {"card.yaml": "repo_id: evil/card\nname: x\n"})
    (cards / "stabilityai/linked").symlink_to(card)
    r = cli("validate", cards)
    assert r.code == 1
    assert re.search(r"stabilityai/_templates leads outside .*: its templates are not used", r.out), r.out
    assert re.search(r"stabilityai/linked:1:1: CG304 .*linked is a link to .*evil-card", r.out), r.out
    assert "evil/card" not in r.out


def test_a_template_file_linked_outside_is_not_read(cli, cards, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    (cards / "stabilityai/_templates").mkdir()
    (cards / "stabilityai/_templates/footer.md.j2").symlink_to(secret)
    r = cli("render", "--out", tmp_path / "out", cards / "stabilityai")
    assert r.code == 1 and "outside its templates folder" in r.out and "TOP SECRET" not in r.text
    assert not list((tmp_path / "out").rglob("README.md")) or "TOP SECRET" not in "".join(
        p.read_text() for p in (tmp_path / "out").rglob("README.md"))


def test_an_owner_folder_linked_out_of_the_output_is_not_written_through(cli, cards, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "stabilityai").symlink_to(elsewhere)
    r = cli("render", "--out", out, cards)
    assert r.code == 1 and "CG304" in r.out and "outside" in r.out
    assert not list(elsewhere.rglob("*"))  # nothing written there
    assert (out / "petals-team/StableBeluga2/README.md").is_file()  # the other owners are


def test_a_branch_name_that_climbs_out_is_refused(cli, cards, tmp_path):
    edit(cards / "TheBloke/StableBeluga2-70B-GPTQ/card.yaml", "branch: gptq-4bit-32g-actorder_True",
         "branch: ../../escape")
    r = cli("validate", cards)
    assert r.code == 1 and "CG309 branch '../../escape' is not a valid git branch name" in r.out


@pytest.mark.parametrize("planted", ["writable by others", "this user's own file", "sealed with another key"])
def test_a_poisoned_bytecode_cache_entry_is_never_loaded(cli, cards, tmp_path, monkeypatch, planted):
    """Jinja's compiled templates are kept on disk; an entry is code that runs when loaded (and its header
    is unpickled). One this run did not seal with this user's key is never read: planted by another
    user, by this user (a CI cache restored from another branch is written by the same user), or sealed
    under another key (a cache copied from elsewhere)."""
    import hashlib
    import hmac
    import marshal

    from cardgen import cache as cache_mod

    cache = tmp_path / "cache"
    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(cache))
    cache_mod.folder.cache_clear()
    try:
        assert cli("render", "--out", tmp_path / "a", cards).code == 0
        entries = list(cache.rglob("*.cache"))
        assert entries
        marker = tmp_path / "ran"
        code = compile(f"open({str(marker)!r}, 'w').write('x')", "<poison>", "exec")
        other = os.urandom(32)
        import jinja2.bccache

        for e in entries:  # Jinja's header for that template, then code that would run on load
            old = e.read_bytes()
            start = old.index(jinja2.bccache.bc_magic)
            header = old[start:old.index(b"\xe3", start)] if b"\xe3" in old[start:] else old[start:]
            data = header + marshal.dumps(code)
            seal = hmac.new(other, b"jinja\0" + e.stem.encode() + b"\0" + data, hashlib.sha256).digest()
            e.write_bytes(seal + data if planted == "sealed with another key" else old[:start] + data)
            e.chmod(0o666 if planted == "writable by others" else 0o600)
        shutil.rmtree(cache / "graph")  # every card rendered again, its templates loaded from the cache
        r = cli("render", "--out", tmp_path / "b", cards)
        assert r.code == 0 and not marker.exists()
        assert (tmp_path / "b/stabilityai/StableBeluga-7B/README.md").read_text() == \
            (tmp_path / "a/stabilityai/StableBeluga-7B/README.md").read_text()
    finally:
        cache_mod.folder.cache_clear()


def test_compiled_templates_that_cannot_be_kept_are_not_an_error(cli, cards, tmp_path, monkeypatch):
    """A cache folder where no entry can be written (full, or read-only): the templates are compiled and
    the READMEs written all the same."""
    from cardgen import cache as cache_mod
    from cardgen.rendering import jinja as rendering

    monkeypatch.setenv("CARDGEN_CACHE_DIR", str(tmp_path / "cache"))
    cache_mod.folder.cache_clear()

    mkstemp = rendering.tempfile.mkstemp

    def full(*args, dir=None, **kwargs):  # the cache's disk is full, not the output's
        if str(dir).startswith(str(tmp_path / "cache")):
            raise OSError(28, "No space left on device")
        return mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(rendering.tempfile, "mkstemp", full)
    try:
        r = cli("render", "--out", tmp_path / "out", cards)
        assert r.code == 0 and len(list((tmp_path / "out").rglob("README.md"))) == BUNDLED, r.text
        assert not list((tmp_path / "cache").rglob("*.cache"))  # nothing kept, nothing failed
    finally:
        cache_mod.folder.cache_clear()


# -- the gate: every error makes validate fail ------------------------------------------------------
GATE = [
    ("stabilityai/linked-inside", "a linked card folder inside the cards folder"),
    ("stabilityai/StableBeluga-7B/card.YAML", "a card source with an upper-case extension"),
    ("stabilityai/Extra/Card.Yml", "mixed case"),
    ("stabilityai/.hidden/card.yaml", "a hidden folder"),
    ("_drafts/x/card.yaml", "an underscore folder"),
]


@pytest.mark.parametrize("rel,why", GATE, ids=[g[1] for g in GATE])
def test_an_error_anywhere_fails_validate(cli, cards, rel, why):
    p = cards / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.name == "linked-inside":
        real = cards / "_drafts-real" / "x"
        real.mkdir(parents=True)
        (real / "card.yaml").write_text("repo_id: org/linked\nname: X\nlicense: not-a-licence\n")
        p.symlink_to(real)
    elif p.name == "card.YAML":
        (p.parent / "card.yaml").rename(p)
        edit(p, "pipeline_tag:", "licence: mit\npipeline_tag:")
    else:
        p.write_text("repo_id: org/drafted\nname: X\nlicense: not-a-licence\n")
    r = cli("validate", cards)
    assert r.code == 1, (why, r.text)


def test_a_lint_error_fails_validate_as_it_fails_render(cli, cards):
    edit(cards / B7, "description: \"`{name}`", "description: \"Hello {{ name }} `{name}`")
    r = cli("validate", cards)
    assert r.code == 1 and "CG705" in r.out, r.out


@pytest.mark.parametrize("cache", [[], ["--no-cache"]], ids=["graph", "no cache"])
def test_a_card_whose_base_has_errors_fails_the_run_asked_about_it(cli, cards, tmp_path, cache):
    """`check cards/TheBloke` when the card it extends (in cards/stabilityai) has an error: the error is
    outside the paths given, so it is said at the card that cannot be built."""
    from cardgen.cache import folder

    before = os.environ["CARDGEN_CACHE_DIR"]  # `--no-cache` turns the cache off for the rest of the process
    try:
        _base_with_errors(cli, cards, tmp_path, cache)
    finally:
        os.environ["CARDGEN_CACHE_DIR"] = before
        folder.cache_clear()


def _base_with_errors(cli, cards, tmp_path, cache):
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    readme = out / "TheBloke/StableBeluga2-70B-GPTQ/README.md"
    readme.unlink()
    edit(cards / "stabilityai/StableBeluga2/card.yaml", "license: stable-beluga-nc", "license: not-a-licence")
    gptq = cards / "TheBloke"
    for command in (("check", "--out", out), ("render", "--out", out), ("validate",)):
        r = cli(*command, *cache, gptq)
        assert r.code == 1, r.text
        assert re.search(r"StableBeluga2-70B-GPTQ/card.yaml:4:10: CG311 TheBloke/StableBeluga2-70B-GPTQ is not "
                         r"rendered: \S*stabilityai/StableBeluga2/card.yaml, which it is built from, has 1 error, the "
                         r"first at 10:10: CG201", r.out), r.out
        assert re.search(r"1 (card|README)s?: 1 error", r.err) or re.search(r"0 READMEs: 1 error", r.err), r.err
    assert not readme.exists()
    import cardgen  # the library's in-memory run (publish, preview) does not build it either

    rendering = cardgen.render([gptq])
    assert "TheBloke/StableBeluga2-70B-GPTQ" not in rendering.texts
    assert any(d.code == "CG311" for d in rendering.diagnostics)


def test_a_path_that_selects_cards_but_renders_none_fails(cli, cards, tmp_path):
    (cards / "acme/nothing").mkdir(parents=True)
    (cards / "acme/nothing/card.yaml").write_text("suite: []\n")  # a card source that describes no repository
    for command in (("check", "--out", tmp_path / "out"), ("render", "--out", tmp_path / "out"), ("validate",)):
        r = cli(*command, cards / "acme")
        assert r.code == 1 and re.search(r"acme:1:1: CG312 \S*acme selects 1 card folder, from which no README "
                                         r"is rendered", r.out), r.text
    assert cli("validate", cards).code == 0  # the whole tree renders its other cards


def test_check_of_one_source_file_checks_that_card(cli, cards, tmp_path):
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    readme = out / "stabilityai/StableBeluga-7B/README.md"
    readme.write_text(readme.read_text().replace("Stable Beluga 7B", "Stale Beluga", 1))
    r = cli("check", "--out", out, cards / B7)
    assert r.code == 1 and "CG708" in r.out


def test_a_committed_readme_that_is_not_utf8_is_reported_not_crashed_on(cli, cards, tmp_path):
    out = tmp_path / "out"
    assert cli("render", "--out", out, cards).code == 0
    readme = out / "stabilityai/StableBeluga-7B/README.md"
    readme.write_bytes(readme.read_bytes().replace(b"Stable Beluga", b"Stable \xff\xfe Beluga", 1))
    for command in ("check", "diff"):
        r = cli(command, "--out", out, cards)
        assert r.code == (1 if command == "check" else 0) and "internal error" not in r.text, r.text
    assert "CG708" in cli("check", "--out", out, cards).out
    assert cli("render", "--out", out, cards).code == 0 and b"\xff" not in readme.read_bytes()


def test_control_characters_are_refused_with_their_place(cli, cards):
    edit(cards / B7, "repo_id:", "description: \"safe\\u202egnp.exe\\x1b[31m\"\nrepo_id:")
    r = cli("validate", cards)
    assert r.code == 1 and re.search(r"card.yaml:\d+:\d+: CG009 text holds the control character U\+202E", r.out)
    assert "\x1b" not in r.out and "\u202e" not in r.out


# -- no internal error, whatever the sources say ---------------------------------------------------
FUZZ_VALUES = ["[]", "{}", "", "~", "1", "-1.5e300", "true", "no", "!!bool maybe", "!!float x", "!!int 1.5",
               "!!str [a]", "!!seq x", "!!map x", "!!python/object:os.system x", "&a [*a]", "*nope", "9" * 5000,
               "x" * 5000, "\"\\x1b[2J\"", "\"\\u202e\"", "[" * 80 + "]" * 80, "{a: {b: [c]}}", "'unterminated",
               "- a\n- b", "[mit, [x]]", "{id: other}", "{level: high}", "[ai_user, nobody]"]


def _mutate_source(rng, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        line = lines[i]
        op = rng.randrange(5)
        if op == 0 and ":" in line:  # a value replaced
            key = line.split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(FUZZ_VALUES)}"
        elif op == 1:
            lines.insert(i, line)  # a duplicate key, or a repeated list item
        elif op == 2:
            lines[i] = line[: rng.randrange(len(line) + 1)]
        elif op == 3:
            lines[i] = " " * rng.randint(1, 4) + line
        else:
            lines.insert(i, f"{rng.choice(['repo_id', 'license', 'extends', 'templates', 'sections', 'x'])}: "
                            f"{rng.choice(FUZZ_VALUES)}")
    return "\n".join(lines) + "\n"


def test_fuzzed_sources_never_crash(cli, cards):
    import random

    rng = random.Random(11)
    targets = [cards / B7, cards / "petals-team/StableBeluga2/risks.yaml", cards / "_shared/citations.yaml",
               cards / "TheBloke/StableBeluga2-70B-GPTQ/card.yaml"]
    originals = {t: t.read_text() for t in targets}
    codes: set[str] = set()
    for i in range(1000):
        target = rng.choice(targets)
        target.write_text(_mutate_source(rng, originals[target]))
        folder = cards / "petals-team" if "petals" in str(target) else cards / "stabilityai/StableBeluga-7B"
        r = cli("validate", folder if rng.random() < 0.8 else cards)
        assert r.code in (0, 1, 2), (i, target.read_text()[:3000], r.text[-2000:])
        assert "internal error" not in r.text and "Traceback" not in r.text, (i, r.text[-2000:])
        codes.update(re.findall(r": (CG\d+) ", r.out))
        target.write_text(originals[target])
    assert {"CG004", "CG005", "CG006", "CG007", "CG009", "CG101"} <= codes, codes


def test_one_bad_shared_entry_hides_nothing_else(cli, cards):
    warned(cards, wording=True)
    edit(cards / "_shared/citations.yaml", "    year: 2023\n", "    year: [2023]\n")  # llama2's year
    r = cli("validate", cards)
    assert r.code == 1 and "CG101 citations.llama2.year" in r.out, r.out
    dangling = [ln for ln in r.out.splitlines() if " CG301 " in ln]
    assert dangling and all("entry 'llama2' in _shared/ has errors" in ln for ln in dangling), dangling
    assert "CG609" in r.out and "CG606" in r.out  # the other diagnostics are all still there


def test_renders_killed_midway_leave_nothing_behind(cards, tmp_path):
    """20 SIGKILLs while a render is writing 2,000 READMEs; the next render leaves no temporary file in --out,
    and every README has the mode git would give it (0644 under umask 022).

    The dependency graph is warm (one render first), and each round deletes the READMEs, so that a round
    goes straight to writing 2,000 of them: each kill is sent a random moment after the first README of
    the round appears, inside the writing, and is counted only if the round had written some READMEs and
    not all (no blind sleeps: a round waits only for its render to start writing)."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from conftest import BUNDLED, REPO

    source = (cards / B7).read_text()
    for i in range(2000):
        d = cards / "bulk" / f"m{i:04d}"
        d.mkdir(parents=True)
        (d / "card.yaml").write_text(source.replace("stabilityai/StableBeluga-7B", f"bulk/m{i:04d}"))
    out = tmp_path / "out"
    env = {**os.environ, "CARDGEN_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-c", "import os, sys; os.umask(0o022); from cardgen.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "render", "--out", str(out), str(cards)]
    assert subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, timeout=300).returncode == 0
    readmes = sorted(out.glob("bulk/*/README.md"))
    first = readmes[0]  # render writes in repo-id order: bulk/m0000 among the first
    rng = random.Random(3)
    killed_writing = 0
    for _ in range(20):
        for r in readmes:
            r.unlink(missing_ok=True)
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and not first.exists():
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            written = sum(r.exists() for r in readmes)
            killed_writing += 0 < written < len(readmes)
        p.wait()
    assert killed_writing >= 10, killed_writing  # most were killed among the writes
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    readmes = list(out.rglob("README.md"))
    assert len(readmes) == 2000 + BUNDLED
    assert {stat.S_IMODE(p.stat().st_mode) for p in readmes} == {0o644}


def test_a_readme_that_cannot_be_written_is_a_diagnostic(cli, cards, tmp_path):
    out = tmp_path / "out"
    (out / "stabilityai").mkdir(parents=True)
    (out / "stabilityai/StableBeluga-7B").write_text("a file where the README's folder should be")
    r = cli("render", "--out", out, cards)
    assert r.code == 1 and "CG008 cannot write" in r.out and "internal error" not in r.text, r.text
    assert (out / "petals-team/StableBeluga2/README.md").is_file()  # the others are written


def test_an_error_in_a_shared_entry_stops_the_cards_built_from_it(cli, cards, tmp_path):
    """A shared licence whose link is `javascript:` (CG222) stops every card that names it, as an error in the
    card's own file would: no README carries the link, and the cards built from other files are written."""
    edit(cards / "_shared/licenses.yaml", "    link: LICENSE.txt", '    link: "javascript:alert(1)"')
    out = tmp_path / "out"
    r = cli("render", cards, "--out", out)
    assert r.code == 1 and "CG222" in r.out
    written = {p.parent.relative_to(out).as_posix() for p in out.rglob("README.md")}
    assert not any("javascript:" in p.read_text() for p in out.rglob("README.md"))
    assert "stabilityai/StableBeluga-7B" not in written and "cardgen-examples/tiny-chat" in written
