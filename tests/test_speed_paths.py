"""The shortcuts taken for speed must not change results: linting a README part by part equals
linting it whole, worker processes render what one process renders, and a document sent between
processes still knows where its nodes are."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

import cardgen
import cardgen.lint as lint_mod
from cardgen.lint import chunks, lint
from cardgen.loading.scope import select
from cardgen.loading.yamlpos import loads
from cardgen.pipeline.incremental import render_incremental
from cardgen.pipeline.run import render_all as _render_all

from conftest import BUNDLED, CARDS, REPO, warned


def render_all(paths, **kw):
    return _render_all(select(paths), **kw)


def render_sharded(paths, **kw):
    """Through the dependency graph: validated and rendered shard by shard."""
    return render_incremental(select(paths), **kw)

FM = "---\nlicense: mit\n---\n\n"

TRICKY = [
    # a heading-like line inside fenced code, after a blank line, must stay code
    "# T\n\n```python\nx = 1\n\n# not a heading\n\n```\n\n## A\n\ntext\n",
    # an HTML comment running over blank lines, holding heading-like and fence-like lines
    "# T\n\n<!--\n\n# hidden\n\n```\n\n-->\n\n## A\n\n<div>\n<p>x</p>\n</div>\n",
    # a loose list: the item after the blank line continues the same list
    "# T\n\n- one\n\n- two\n\n  still two\n\n1. first\n\n2. second\n\nafter\n",
    # an unclosed tag in one part closed in a later one, and one never closed
    "# T\n\n<details>\n\n## Inside\n\ntext\n\n</details>\n\n<div>\n\n## B\n",
    # a table, a bad table and a skipped heading level in separate parts
    "# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n### Skip\n\n| a | b |\n|---|---|\n| 1 | 2 | 3 |\n",
    # a <pre> block with blank lines, then an unlabelled fence
    "# T\n\n<pre>\n\n# in pre\n\n</pre>\n\n```\ncode\n```\n\nHello {{ name }}\n",
    # a ~~~ fence closed only by a longer one, with a ``` line inside
    "# T\n\n~~~~text\n```\n\n# still code\n~~~\n\n~~~~~\n\n## After\n",
    # a fence in a list item, which the item's end closes: the ``` at column 0 opens another fence, in
    # which the heading is code
    "# T\n\nIntro.\n\n- item\n\n  ```python\n  x = 1\n```\n\nnot code\n\n```\n\n## After\n",
    # a <pre> block in a list item, ended with it, then a comment that hides a heading
    "# T\n\nIntro.\n\n1. item\n\n   <pre>\n   x\n\n<!--\n\n  </pre>\n\n## Hidden\n\n-->\n\n## After\n",
]


def whole(text: str) -> list:
    """Lint without cutting the document into parts."""
    saved = lint_mod.chunks
    lint_mod.chunks = lambda lines: [(0, len(lines))]
    try:
        return lint(text)
    finally:
        lint_mod.chunks = saved


@pytest.mark.parametrize("body", TRICKY)
def test_lint_by_parts_equals_lint_whole(body):
    text = FM + body
    assert len(chunks(body.split("\n"))) > 1  # the document really is cut
    assert lint(text) == whole(text)


DOUBTFUL = [  # found by an attack on the cuts: each was cut where the parser still had a block open
    "{{x}}\n\u00a0\nb",  # a line of a no-break space is no blank line to the parser
    "# a\n\n<div>\n```\n\nx\n\n```\n\n### h",  # a fence-like line in an HTML block, then a fence
    "# a\n\n``` a`b\n\nx\n\n```\n\n### h",  # a backtick fence's info holds no backtick: no fence
    "# a\n\n<style>\n</\u017ftyle>\n\n### h",  # the parser's HTML tags are ASCII
    "1. a\n\n    ```text\n        ```\n\nb",  # a fence the item's end closes
]


@pytest.mark.parametrize("body", DOUBTFUL)
def test_lint_by_parts_equals_lint_whole_where_a_cut_is_in_doubt(body):
    assert lint(FM + body) == whole(FM + body)


def test_lint_by_parts_finds_the_same_problems_in_the_tricky_documents():
    codes = {c for body in TRICKY for _, c, _ in lint(FM + body)}
    assert {"CG702", "CG703", "CG704", "CG705", "CG707"} <= codes


def test_lint_by_parts_equals_lint_whole_on_every_committed_readme():
    for readme in sorted((REPO / "rendered").rglob("README.md")):
        text = readme.read_text("utf-8")
        assert lint(text) == whole(text), readme


def test_cuts_are_never_inside_code_or_comments():
    body = "# T\n\n```\n\n# a\n\n```\n\n<!--\n\n# b\n\n-->\n\n## C\n"
    lines = body.split("\n")
    starts = [lines[a] for a, _ in chunks(lines)]
    assert "# a" not in starts and "# b" not in starts and "## C" in starts


def _org(tmp_path: Path) -> Path:
    """The bundled cards plus 70 generated ones: enough for workers, with the awkward cases in it."""
    root = tmp_path / "cards"
    shutil.copytree(CARDS, root)
    warned(root)  # a near-duplicate in the shared catalogue (CG606)
    source = (CARDS / "stabilityai/StableBeluga-7B/card.yaml").read_text("utf-8")
    for i in range(70):
        d = root / "org" / f"m{i:03d}"
        d.mkdir(parents=True)
        (d / "card.yaml").write_text(source.replace("stabilityai/StableBeluga-7B", f"org/m{i:03d}"), "utf-8")
    # an error, a card extending one in another folder (and shard), a repo described twice
    (root / "org/m007/card.yaml").write_text(source.replace("stabilityai/StableBeluga-7B", "org/m007")
                                             .replace("license:", "licence:"), "utf-8")
    (root / "org/m050/card.yaml").write_text("repo_id: org/m050\nextends: org/m001\nname: Fifty\n", "utf-8")
    (root / "zzz/late").mkdir(parents=True)
    (root / "zzz/late/card.yaml").write_text(source.replace("stabilityai/StableBeluga-7B", "org/m003"), "utf-8")
    return root


def test_workers_render_what_one_process_renders(tmp_path: Path):
    root = _org(tmp_path)
    one = render_all([root], jobs=1)
    pooled = render_all([root], jobs=2)  # cards loaded and rendered by workers
    sharded = render_sharded([root], jobs=2)  # validated and rendered shard by shard
    for other in (pooled, sharded):
        assert other.texts == one.texts and list(other.texts) == list(one.texts)
        assert other.diagnostics == one.diagnostics
        assert other.failed == one.failed
        assert other.where == one.where
    assert len(one.texts) == 70 + BUNDLED - 1
    assert one.failed == ["org/m007"]
    codes = {d.code for d in one.diagnostics}
    assert {"CG102", "CG307", "CG606"} <= codes  # unknown key, repo twice, the catalogue's near-duplicate
    assert "Fifty" in one.texts["org/m050"]  # inherited across shards


def test_a_subset_is_sharded_like_it_is_checked_whole(tmp_path: Path):
    root = _org(tmp_path)
    one = render_all([root / "org"], jobs=1)
    sharded = render_sharded([root / "org"], jobs=2)
    assert sharded.texts == one.texts and sharded.diagnostics == one.diagnostics and sharded.failed == one.failed
    assert set(one.texts) == {f"org/m{i:03d}" for i in range(70)} - {"org/m007"}


def test_a_document_sent_between_processes_keeps_its_positions():
    doc, _ = loads("a: 1\nb:\n  c: [x, y]\n", "f.yaml")
    back = pickle.loads(pickle.dumps(doc))
    assert back.data == doc.data
    assert back.pos(("b", "c", 1)) == doc.pos(("b", "c", 1)) == (3, 10)
    assert back.key_pos(("b",)) == (2, 1)


def test_front_matter_entry_by_entry_is_the_whole_mapping_dumped_at_once():
    import yaml

    from cardgen.frontmatter import _Dumper, dump

    def whole_dump(meta):
        return yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000,
                         default_flow_style=False)

    metas = [c.front_matter for c in cardgen.load(CARDS)[0]]
    shared = ["a", "b"]
    metas += [
        {"a": 1, "b": 1.0, "c": True, "d": "1", "e": None, "f": "x\ny\n", "g": "ünï ✓", "h": []},
        {"a": [1, 2], "b": {"x": [{"y": 2.5}]}, "c": "trailing ", "d": "- not a list", "e": "a: b"},
        {"x": shared, "y": shared},  # one list under two keys: spelled out twice, no anchors
    ]
    for meta in metas:
        assert dump(meta) == dump(meta) == whole_dump(meta)  # computed, then from the memo
        assert yaml.safe_load(dump(meta)) == meta
    assert "&id" not in dump({"x": shared, "y": shared})



def test_tidy_with_its_shortcut_equals_tidy_line_by_line():
    import random

    from cardgen.rendering.jinja import tidy as _tidy
    from cardgen.rendering.jinja import tidy_lines as _tidy_lines

    pieces = ["a", "# h", "", "  ", "\t", "```", "```py", "~~~", " ```", "text ```", "\u3000", "x  ", "\r"]
    rng = random.Random(7)
    shortcut = 0
    for _ in range(20_000):
        text = (rng.choice(["", "\n", "\n\n"]) + "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
                + rng.choice(["", "\n", "\n\n"]))
        assert _tidy(text) == _tidy_lines(text), repr(text)
        shortcut += _tidy(text) == text.strip("\n") + "\n"
    assert 0 < shortcut < 20_000  # both ways were taken
    for readme in sorted((REPO / "rendered").rglob("README.md")):
        text = readme.read_text("utf-8")
        assert _tidy(text) == _tidy_lines(text)



def test_shards_apply_the_policy_and_report_links_out_as_one_process_does(tmp_path: Path):
    from cardgen.policy import parse

    root = _org(tmp_path)
    outside = tmp_path / "outside-card"
    outside.mkdir()
    (outside / "card.yaml").write_text("repo_id: evil/card\nname: x\n")
    (root / "org/linked").symlink_to(outside)
    # the policy requires a key no card writes, and makes the catalogue's near-duplicate warning an error
    policy = parse({"require": ["thumbnail"], "severity": {"CG606": "error"}}, "cardgen.toml", tmp_path)
    one = render_all([root], jobs=1, policy=policy)
    sharded = render_sharded([root], jobs=2, policy=policy)
    assert sharded.diagnostics == one.diagnostics and sharded.failed == one.failed and sharded.texts == one.texts
    codes = {d.code for d in one.diagnostics}
    assert {"CG217", "CG304"} <= codes
    assert not one.texts and len(one.failed) == 70 + BUNDLED  # CG217 on every card stops it, in both paths


HEAVY = ("pydantic", "jinja2", "markdown_it", "huggingface_hub", "rich", "torch", "transformers", "nh3")


def _modules_after(args: list[str], env: dict[str, str], cwd: Path) -> set[str]:
    """The top-level packages a fresh process has imported after `cardgen ARGS`."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from cardgen.cli import main; code = main(sys.argv[1:]); "
            "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))")
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    code_, mods = json.loads(p.stdout.splitlines()[-1])
    assert code_ == 0, p.stderr
    return set(mods)


def test_a_run_whose_cards_are_all_fresh_imports_no_heavy_library(tmp_path: Path):
    """What docs/ARCHITECTURE.md says of the warm path: `validate`, `check` and `render` over card folders the
    dependency graph holds fresh import neither pydantic, Jinja, markdown-it nor huggingface_hub (nor the
    console library, on no terminal); the first run, which builds the graph, does."""
    import os

    shutil.copytree(CARDS, tmp_path / "cards")
    shutil.copytree(REPO / "rendered", tmp_path / "rendered")
    env = {**os.environ, "CARDGEN_CACHE_DIR": str(tmp_path / "cache")}
    cold = _modules_after(["validate", "cards"], env, tmp_path)
    assert {"pydantic", "jinja2", "markdown_it"} <= cold  # the test can fail: the cold run loads them
    for args in (["validate", "cards"], ["check", "cards"], ["render", "cards", "--out", "rendered"]):
        assert _modules_after(args, env, tmp_path).isdisjoint(HEAVY), args


def test_the_file_views_real_paths_are_os_realpaths(tmp_path):
    """The run's file view resolves a path from its folder's real path when the path is no link: the
    same answer as ``os.path.realpath`` through links to folders, links up the tree, a link loop, missing
    parts, `..`, doubled and trailing slashes and relative paths."""
    import os

    from cardgen.cache import FileView

    d = str(tmp_path)
    os.makedirs(f"{d}/a/b/c")
    os.makedirs(f"{d}/x/y")
    os.symlink(f"{d}/x", f"{d}/a/lnk")
    os.symlink("../..", f"{d}/a/b/up")
    os.symlink("loop", f"{d}/a/loop")
    open(f"{d}/a/b/c/f.yaml", "w").close()
    os.symlink(f"{d}/a/b/c/f.yaml", f"{d}/x/y/g.yaml")
    paths = [f"{d}/a/b/c/f.yaml", f"{d}/a/lnk/y/g.yaml", f"{d}/a/b/up/a/b/c/f.yaml", f"{d}/a/loop/z",
             f"{d}/a/missing/q", f"{d}/a/b/c/../c/f.yaml", f"{d}/a/lnk/../b", "relative/x", f"{d}/a//b/c/", "/",
             f"{d}/a/b/c/f.yaml/more", f"{d}/a/lnk", "."]
    view = FileView()
    for p in [*paths, *reversed(paths)]:  # asked cold and again, after its folders were resolved
        assert view.realpath(p) == os.path.realpath(p), p
