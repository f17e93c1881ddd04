"""The GitHub Action (action.yml), its steps run in order as a runner would: annotations, the job
summary and the exit codes, on the bundled cards, a broken copy and a stale one; then its hardening:
hostile inputs reach cardgen as literal paths and run nothing, the token is in the publishing step's
environment only, and only the allow-listed events publish."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BUNDLED, CARDS, REPO, edit, warned

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
STEP_IDS = [s["id"] for s in ACTION["runs"]["steps"]]
TOKEN = "hf_FAKE_action_token_0123456789"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


# -- a small evaluator of GitHub expressions: the contexts and operators action.yml uses, nothing guessed

class Unevaluable(AssertionError):
    """An expression the test runner does not know how to evaluate: the harness must be extended, not guess."""


_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<name>[A-Za-z_][\w.-]*))")


def evaluate(expr: str, ctx: dict[str, Any]) -> Any:
    """The value of one expression (the text between `${{` and `}}`, or an `if:`): string literals,
    `true`/`false`, context lookups, `==` and `!=` (case-insensitive on strings, as GitHub's), `!`,
    `&&`, `||` and parentheses. Anything else raises ``Unevaluable``."""
    tokens, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise Unevaluable(f"cannot read the expression {expr!r} at {expr[pos:]!r}")
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    tokens.append(("end", ""))
    at = 0

    def take(kind: str | None = None, text: str | None = None) -> tuple[str, str] | None:
        nonlocal at
        t = tokens[at]
        if (kind and t[0] != kind) or (text and t[1] != text):
            return None
        at += 1
        return t

    def either() -> Any:
        left = both()
        while take("op", "||"):
            right = both()
            left = left or right
        return left

    def both() -> Any:
        left = compare()
        while take("op", "&&"):
            right = compare()
            left = left and right
        return left

    def compare() -> Any:
        left = unary()
        for op in ("==", "!="):
            if take("op", op):
                a, b = left, unary()
                same = a.lower() == b.lower() if isinstance(a, str) and isinstance(b, str) else a == b
                return same if op == "==" else not same
        return left

    def unary() -> Any:
        if take("op", "!"):
            return not unary()
        if take("op", "("):
            value = either()
            if not take("op", ")"):
                raise Unevaluable(f"unbalanced parentheses in {expr!r}")
            return value
        if t := take("str"):
            return t[1][1:-1].replace("''", "'")
        if t := take("name"):
            literals = {"true": True, "false": False, "null": None}
            return literals[t[1]] if t[1] in literals else lookup(t[1], ctx)
        raise Unevaluable(f"cannot evaluate {expr!r}")

    value = either()
    if tokens[at][0] != "end":
        raise Unevaluable(f"cannot evaluate {expr!r}: {tokens[at][1]!r} left over")
    return value


def lookup(name: str, ctx: dict[str, Any]) -> Any:
    """`inputs.paths`, `github.event.repository.default_branch`, `steps.paths.outputs.file`...: a known
    context and a known key, or ``Unevaluable``; the one unknown that is not an error is an output of
    a step that did not run or did not set it, which GitHub reads as null, an empty string."""
    parts = name.split(".")
    if parts[0] not in ctx:
        raise Unevaluable(f"unknown context in {name!r}")
    if parts[0] == "steps":
        if len(parts) != 4 or parts[1] not in STEP_IDS or parts[2] != "outputs":
            raise Unevaluable(f"not a step output of this action: {name!r}")
        return ctx["steps"].get(parts[1], {}).get(parts[3])
    value: Any = ctx
    for i, part in enumerate(parts):
        if not isinstance(value, dict) or part not in value:
            raise Unevaluable(f"{'.'.join(parts[:i + 1])!r} is not known to the test runner (in {name!r})")
        value = value[part]
    return value


def text(value: Any) -> str:
    """An expression's value as the runner writes it into text: null empty, booleans in lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(template: str, ctx: dict[str, Any]) -> str:
    """Every `${{ }}` in a string replaced by its value: what the runner does to `run:` (text, which
    the shell then reads as code) and to `env:` values (which no shell reads)."""
    return EXPRESSION.sub(lambda m: text(evaluate(m.group(1), ctx)), template)


def condition(step: dict[str, Any], ctx: dict[str, Any]) -> bool:
    """A step's `if:`, with or without `${{ }}` around it (the implicit success() holds: the runner
    here stops at the first failing step)."""
    if "if" not in step:
        return True
    cond = str(step["if"]).strip()
    m = EXPRESSION.fullmatch(cond)
    return bool(evaluate(m.group(1) if m else cond, ctx))


def outputs(path: Path) -> dict[str, str]:
    """A step's `$GITHUB_OUTPUT`: `name=value` lines and `name<<DELIMITER` blocks."""
    found: dict[str, str] = {}
    lines = path.read_text("utf-8").splitlines() if path.exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter)
            found[name], lines = "\n".join(lines[:end]), lines[end + 1:]
        elif line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


FAKE_CARDGEN = """#!{python}
# a stand-in for cardgen: records its arguments and the token it was given, touches nothing
import json, os, sys
with open(os.environ["FAKE_CARDGEN_LOG"], "a", encoding="utf-8") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "HF_TOKEN": os.environ.get("HF_TOKEN")}}) + "\\n")
"""


def fake_cardgen(tmp: Path) -> Path:
    """A folder holding a fake `cardgen`; its calls go to tmp/cardgen-calls.jsonl (see ``calls``)."""
    folder = tmp / "fakebin"
    folder.mkdir(exist_ok=True)
    script = folder / "cardgen"
    script.write_text(FAKE_CARDGEN.format(python=sys.executable))
    script.chmod(0o755)
    return folder


def calls(tmp: Path) -> list[dict[str, Any]]:
    log = tmp / "cardgen-calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def run_action(workdir: Path, tmp: Path, event: str = "pull_request", *, ref: str = "refs/heads/feature",
               default_branch: str = "main", job_env: dict[str, str] | None = None,
               fake: tuple[str, ...] = (), envs: dict[str, dict[str, str]] | None = None,
               **inputs: str) -> list[tuple[str, int, str]]:
    """Run the steps in order, stopping at the first that fails (as GitHub does); (id, exit code, output).

    As the runner does: each `if:` is evaluated, each `env:` value is evaluated (never read by a
    shell), every `${{ }}` in a `run:` script is replaced by its text before the shell reads it, a
    bash step runs as `bash --noprofile --norc -eo pipefail FILE` and a python one as `python FILE`,
    and each step gets a `$GITHUB_OUTPUT` file of its own that the `steps` context reads afterwards.
    ``fake`` names the steps that find a fake `cardgen` first on PATH (see ``fake_cardgen``);
    ``envs``, when given, receives each step's environment."""
    assert set(inputs) <= set(ACTION["inputs"]), f"unknown inputs {set(inputs) - set(ACTION['inputs'])}"
    values = {k: v.get("default", "") for k, v in ACTION["inputs"].items()} | inputs
    ctx: dict[str, Any] = {
        "inputs": values,
        "github": {"event_name": event, "ref": ref, "action_path": str(REPO),
                   "event": {"repository": {"default_branch": default_branch}}},
        "runner": {"temp": str(tmp)},
        "env": dict(job_env or {}),
        "steps": {},
    }
    # the runner's own variables; never a token from the environment the tests run in
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE", "GITHUB_"))}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    base |= {"GITHUB_STEP_SUMMARY": str(tmp / "summary.md"), "RUNNER_TEMP": str(tmp), "CARDGEN_CACHE_DIR": "off",
             "GITHUB_ACTION_PATH": str(REPO), "GITHUB_EVENT_NAME": event, "GITHUB_REF": ref,
             "FAKE_CARDGEN_LOG": str(tmp / "cardgen-calls.jsonl")} | (job_env or {})
    done = []
    for n, step in enumerate(ACTION["runs"]["steps"]):
        if step["id"] == "install":  # the test environment has cardgen installed already
            assert "pip install" in step["run"] and '"$GITHUB_ACTION_PATH"' in step["run"]
            continue
        if not condition(step, ctx):
            continue
        env = base | {k: interpolate(str(v), ctx) for k, v in step.get("env", {}).items()}
        env["GITHUB_OUTPUT"] = str(tmp / f"output-{n}-{step['id']}")
        if step["id"] in fake:
            env["PATH"] = f"{fake_cardgen(tmp)}{os.pathsep}{env['PATH']}"
        if envs is not None:
            envs[step["id"]] = env
        script = tmp / f"step-{n}-{step['id']}"
        script.write_text(interpolate(step["run"], ctx))
        shell = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"], "python": [sys.executable]}
        p = subprocess.run([*shell[step["shell"]], str(script)], cwd=workdir, env=env, capture_output=True,
                           text=True, timeout=300)
        ctx["steps"][step["id"]] = outputs(Path(env["GITHUB_OUTPUT"]))
        done.append((step["id"], p.returncode, p.stdout + p.stderr))
        if p.returncode:
            break
    return done


def _copy(tmp: Path) -> Path:
    work = tmp / "repo"
    shutil.copytree(CARDS, work / "cards")
    shutil.copytree(REPO / "rendered", work / "rendered")
    return work


def test_the_action_passes_on_the_bundled_cards_and_summarises(tmp_path):
    steps = run_action(_copy(tmp_path), tmp_path, strict="true")  # the bundled cards pass the strict gate
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 0), ("check", 0)]
    summary = (tmp_path / "summary.md").read_text()
    assert f"### cardgen check: {BUNDLED} cards: 0 errors, 0 warnings" in summary


def test_warnings_are_annotations_and_fail_only_with_strict(tmp_path):
    work = _copy(tmp_path)
    warned(work / "cards")  # a near-duplicate mitigation: a warning, the READMEs unchanged
    line = len((work / "cards/_shared/mitigations.yaml").read_text().splitlines())
    for run in ("loose", "strict"):
        (tmp_path / run).mkdir()
    steps = run_action(work, tmp_path / "loose")
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 0), ("check", 0)]
    assert f"::warning file=cards/_shared/mitigations.yaml,line={line}" in steps[1][2]  # warnings annotated too
    steps = run_action(work, tmp_path / "strict", strict="true")
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 1)]
    assert f"::warning file=cards/_shared/mitigations.yaml,line={line}" in steps[1][2]
    assert "--strict: 2 warnings fail this run" in steps[1][2]


@pytest.mark.parametrize("value", ["yes", "true; touch PWNED", "::add-mask::x"])
def test_a_strict_input_other_than_true_or_false_is_an_error_that_does_not_echo_it(tmp_path, value):
    steps = run_action(_copy(tmp_path), tmp_path, strict=value)
    _nothing_ran(tmp_path, steps)
    assert [(s, code) for s, code, _ in steps] == [("paths", 2)]
    assert "::error title=cardgen::the strict input must be 'true' or 'false'" in steps[0][2]
    assert value not in steps[0][2]


def test_strict_reaches_every_cardgen_step_as_one_flag(tmp_path):
    steps = run_action(tmp_path, tmp_path, "push", ref="refs/heads/main", fake=tuple(STEP_IDS), paths="cards",
                       publish="true", token=TOKEN, strict="TRUE")
    assert [(s, code) for s, code, _ in steps][-1] == ("publish", 0), steps
    assert [c["argv"] for c in calls(tmp_path)] == [
        ["validate", "--format", "github", "--strict", "--", "cards"],
        ["check", "--format", "markdown", "--out=rendered", "--strict", "--", "cards"],
        ["publish", "--out=rendered", "--strict", "--", "cards"],
    ]


def test_a_broken_card_fails_the_action_with_an_annotation_on_its_line(tmp_path):
    work = _copy(tmp_path)
    edit(work / "cards/stabilityai/StableBeluga-7B/card.yaml", "language: [en]", "language: [english]")
    steps = run_action(work, tmp_path)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 1)]  # the job stops there
    assert re.search(r"^::error file=cards/stabilityai/StableBeluga-7B/card.yaml,line=9,col=\d+,title=CG205::",
                     steps[1][2], re.M), steps[1][2]


def test_a_stale_readme_fails_the_check_with_the_drift_in_the_summary(tmp_path):
    work = _copy(tmp_path)
    edit(work / "cards/stabilityai/StableBeluga-7B/card.yaml", "license: stable-beluga-nc", "license: mit")
    steps = run_action(work, tmp_path)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 0), ("check", 1)]
    summary = (tmp_path / "summary.md").read_text()
    assert "<details><summary><code>rendered/stabilityai/StableBeluga-7B/README.md</code>: out of date" in summary
    assert '| `license` | `"other"` | `"mit"` |' in summary and "````diff" in summary


# -- the runner's model itself: what it evaluates, and that it refuses what it cannot

def test_the_test_runner_evaluates_expressions_as_github_does_and_refuses_the_unknown():
    ctx = {"inputs": {"publish": "true"}, "github": {"event_name": "push", "ref": "refs/heads/main"},
           "steps": {"decide": {"mode": "publish"}}, "env": {}}
    assert evaluate("inputs.publish == 'TRUE'", ctx) is True  # string comparison ignores case
    assert evaluate("github.event_name == 'push' && github.ref != 'refs/heads/x'", ctx) is True
    assert evaluate("!(steps.decide.outputs.mode == 'publish') || false", ctx) is False
    assert evaluate("steps.dry-run.outputs.mode", ctx) is None  # a step that did not run: null
    assert interpolate("refs/heads/${{ github.ref }} ${{ inputs.publish }}", ctx) == "refs/heads/refs/heads/main true"
    for bad in ("secrets.HF_TOKEN", "github.sha", "inputs.nothing", "steps.nowhere.outputs.x",
                "contains(github.ref, 'main')", "github.ref == 'a' 'b'", "vars.X"):
        with pytest.raises(Unevaluable):
            evaluate(bad, ctx)


# -- hardening: nothing from an input or an event is ever read as code

def test_no_expression_in_any_script_and_inputs_only_through_env():
    """GitHub's hardening rule: a `${{ }}` inside `run:` is pasted into the script's text."""
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step["run"], f"an expression in the script of step {step['id']}"
        for name, value in step.get("env", {}).items():
            assert "inputs.token" not in str(value) or (step["id"], name) == ("publish", "HF_TOKEN")


HOSTILE_PATHS = {
    'cards; echo "$HF_TOKEN" > leak': "cards;",
    "cards $(touch PWNED)": "$(touch",
    "cards `touch PWNED`": "`touch",
    "cards\ntouch PWNED": "touch",
    "cards/*": "cards/*",
}


def _nothing_ran(tmp: Path, steps: list[tuple[str, int, str]]) -> None:
    assert not [p for p in tmp.rglob("*") if p.name in ("leak", "PWNED")], "a command in an input ran"
    summary = tmp / "summary.md"
    assert all(TOKEN not in out for _, _, out in steps) and TOKEN not in (summary.read_text() if summary.exists() else "")


@pytest.mark.parametrize("paths", list(HOSTILE_PATHS))
def test_hostile_paths_reach_cardgen_as_literal_paths_and_run_nothing(tmp_path, paths):
    # the token is also in the whole job's environment, where an injected `echo "$HF_TOKEN"` would find it
    steps = run_action(_copy(tmp_path), tmp_path, "push", ref="refs/heads/main", job_env={"HF_TOKEN": TOKEN},
                       paths=paths, publish="true", token=TOKEN)
    _nothing_ran(tmp_path, steps)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("decide", 0), ("validate", 2)], steps
    assert f"cardgen: error: {HOSTILE_PATHS[paths]}: no such file or folder" in steps[-1][2]


def test_every_step_gives_cardgen_the_paths_as_literal_arguments(tmp_path):
    """With a fake cardgen that records its arguments: every step, publishing included, passes each
    path as one argument, quotes grouping as a shell's would and nothing expanded."""
    paths = """cards; echo "$HF_TOKEN" > leak $(touch PWNED) `touch PWNED` 'a b' "x\ny" -v *"""
    out = "rendered; touch PWNED $(touch PWNED)"
    steps = run_action(tmp_path, tmp_path, "push", ref="refs/heads/main", fake=tuple(STEP_IDS), paths=paths,
                       out=out, publish="true", token=TOKEN)
    _nothing_ran(tmp_path, steps)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("decide", 0), ("validate", 0), ("check", 0),
                                                   ("publish", 0)], steps
    literal = ["--", "cards;", "echo", "$HF_TOKEN", ">", "leak", "$(touch", "PWNED)", "`touch", "PWNED`", "a b",
               "x\ny", "-v", "*"]
    assert [c["argv"] for c in calls(tmp_path)] == [
        ["validate", "--format", "github", *literal],
        ["check", "--format", "markdown", f"--out={out}", *literal],
        ["publish", f"--out={out}", *literal],
    ]


def test_a_hostile_out_is_a_literal_folder(tmp_path):
    out = 'rendered; echo "$HF_TOKEN" > leak; $(touch PWNED)'
    steps = run_action(_copy(tmp_path), tmp_path, "push", ref="refs/heads/main", job_env={"HF_TOKEN": TOKEN},
                       out=out, publish="true", token=TOKEN)
    _nothing_ran(tmp_path, steps)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("decide", 0), ("validate", 0), ("check", 1)]
    assert f"{out}/stabilityai/StableBeluga-7B/README.md is missing" in (tmp_path / "summary.md").read_text()


def test_a_paths_input_that_cannot_be_split_is_an_error_that_does_not_echo_it(tmp_path):
    steps = run_action(_copy(tmp_path), tmp_path, paths="cards 'unclosed ::add-mask::x")
    assert [(s, code) for s, code, _ in steps] == [("paths", 2)]
    assert "::error title=cardgen::the paths input cannot be split (No closing quotation)" in steps[0][2]
    assert "add-mask" not in steps[0][2]


def test_a_card_folder_named_like_a_command_is_only_a_name(tmp_path):
    """The Action lists no changed files; a card folder whose name holds a command substitution,
    named in `paths` and found inside `cards`, is read as a name (here one with an error, so that
    cardgen names it)."""
    work = _copy(tmp_path)
    weird = work / "cards/stabilityai/x$(touch${IFS}PWNED)"
    (work / "cards/stabilityai/StableBeluga-7B").rename(weird)
    edit(weird / "card.yaml", "language: [en]", "language: [english]")
    steps = run_action(work, tmp_path, paths=f"cards/stabilityai/{weird.name} cards")
    _nothing_ran(tmp_path, steps)
    assert [(s, code) for s, code, _ in steps] == [("paths", 0), ("validate", 1)]
    assert "::error file=cards/stabilityai/x$(touch${IFS}PWNED)/card.yaml,line=9," in steps[1][2]


# -- publishing: the event decides, and only the publishing step holds the token

EVENTS = {  # (event, ref, default branch) -> what happens with publish: 'true'
    ("push", "refs/heads/main", "main"): "publish",
    ("push", "refs/heads/trunk", "trunk"): "publish",
    ("push", "refs/heads/feature", "main"): "nothing",
    ("push", "refs/heads/main", "trunk"): "nothing",  # the default branch is read, not assumed
    ("push", "refs/tags/v1", "main"): "nothing",
    ("release", "refs/tags/v1", "main"): "publish",
    ("workflow_dispatch", "refs/heads/main", "main"): "publish",
    ("pull_request", "refs/pull/7/merge", "main"): "dry run",
    ("pull_request_target", "refs/heads/main", "main"): "refused",
    ("merge_group", "refs/heads/gh-readonly-queue/main/pr-7", "main"): "refused",
    ("issue_comment", "refs/heads/main", "main"): "refused",
    ("schedule", "refs/heads/main", "main"): "refused",
    ("workflow_run", "refs/heads/main", "main"): "refused",
}


@pytest.mark.parametrize(("event", "ref", "default"), list(EVENTS))
def test_only_the_allowed_events_publish(tmp_path, event, ref, default):
    """Validate and check are the real cardgen (on one card, for speed); the publishing steps find a
    fake one, so no request leaves the machine."""
    card = "cards/stabilityai/StableBeluga-7B"
    steps = run_action(_copy(tmp_path), tmp_path, event, ref=ref, default_branch=default,
                       fake=("dry-run", "publish"), paths=card, publish="true", token=TOKEN)
    ran = [(s, code) for s, code, _ in steps]
    made = [(c["argv"], c["HF_TOKEN"]) for c in calls(tmp_path)]
    expected = EVENTS[(event, ref, default)]
    if expected == "publish":
        assert ran == [("paths", 0), ("decide", 0), ("validate", 0), ("check", 0), ("publish", 0)]
        assert made == [(["publish", "--out=rendered", "--", card], TOKEN)]
    elif expected == "dry run":
        assert ran == [("paths", 0), ("decide", 0), ("validate", 0), ("check", 0), ("dry-run", 0)]
        assert made == [(["publish", "--dry-run", "--out=rendered", "--", card], "")]  # without the token
        assert "cardgen: a dry run on a pull request, without the token" in steps[1][2]
    elif expected == "nothing":
        assert ran == [("paths", 0), ("decide", 0), ("validate", 0), ("check", 0)] and made == []
        assert "cardgen: not publishing: a push publishes only on the repository's default branch" in steps[1][2]
    else:  # a workflow that asks to publish here is wrong: the job fails, saying so, before anything runs
        assert ran == [("paths", 0), ("decide", 1)] and made == []
        assert (f"::error title=cardgen::publish is 'true' on a {event} event: cardgen publishes only on a push "
                "to the default branch") in steps[1][2]
    assert all(TOKEN not in out for _, _, out in steps)


def test_without_publish_no_event_publishes(tmp_path):
    steps = run_action(_copy(tmp_path), tmp_path, "push", ref="refs/heads/main", fake=("dry-run", "publish"),
                       paths="cards/stabilityai/StableBeluga-7B", token=TOKEN)
    assert [s for s, _, _ in steps] == ["paths", "validate", "check"] and calls(tmp_path) == []


def test_the_token_is_in_the_publishing_steps_environment_only(tmp_path):
    envs: dict[str, dict[str, str]] = {}
    steps = run_action(tmp_path, tmp_path, "push", ref="refs/heads/main", fake=tuple(STEP_IDS), envs=envs,
                       publish="true", token=TOKEN)
    assert [s for s, _, _ in steps] == ["paths", "decide", "validate", "check", "publish"]
    assert envs["publish"]["HF_TOKEN"] == TOKEN
    for step, env in envs.items():
        if step != "publish":
            assert not [k for k, v in env.items() if TOKEN in v], step
    assert [c["HF_TOKEN"] for c in calls(tmp_path)] == ["", "", TOKEN]  # validate, check, publish


def test_a_token_the_workflow_set_for_the_whole_job_does_not_reach_cardgen_before_publishing(tmp_path):
    """A workflow that puts HF_TOKEN in the job's env (instead of the `token` input): the steps that
    read the card tree, and the pull request's dry run, still run without it."""
    run_action(tmp_path, tmp_path, "pull_request", fake=tuple(STEP_IDS), job_env={"HF_TOKEN": TOKEN}, publish="true")
    assert [(c["argv"][0], c["HF_TOKEN"]) for c in calls(tmp_path)] == [("validate", ""), ("check", ""),
                                                                        ("publish", "")]
