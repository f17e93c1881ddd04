"""A card tree is untrusted input in the very job that holds the Hub token: templates are sandboxed,
the usage snippet is built from typed values only, and writes leave nothing behind."""

from __future__ import annotations

import os
import stat

import pytest

from conftest import edit

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
