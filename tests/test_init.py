"""`cardgen init` in a publisher's own repository: the folder it sets up works with `new` and `validate`,
its workflow and pre-commit configuration are valid and pinned to the installed version, an existing file
is kept; and the README shows a publisher the same install line, workflow and configuration (kept in step
with `action.yml` and `.pre-commit-hooks.yaml`)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from cardgen.commands.init import install_line, precommit, workflow
from cardgen.version import __version__

from conftest import REPO

TAG = f"v{__version__}"
README = (REPO / "README.md").read_text("utf-8")
ACTION_INPUTS = set(yaml.safe_load((REPO / "action.yml").read_text("utf-8"))["inputs"])
HOOK_IDS = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))}


def modelines(folder):
    """(source, the file its `$schema` modeline names) for every YAML source under ``folder``."""
    for src in folder.rglob("*.yaml"):
        m = re.match(r"# yaml-language-server: \$schema=(\S+)", src.read_text("utf-8"))
        if m:
            yield src, (src.parent / m.group(1)).resolve()


def test_init_new_validate_in_an_empty_folder(cli, tmp_path):
    r = cli("init", cwd=tmp_path)
    assert r.code == 0, r.text
    assert (tmp_path / "cards").is_dir() and (tmp_path / "cardgen.toml").is_file()
    r = cli("new", "a/b", "--kind", "chat")
    assert r.code == 0, r.text
    r = cli("validate")
    assert r.code == 0 and " 0 errors" in r.err, r.text
    found = list(modelines(tmp_path))
    assert [s.name for s, _ in found] == ["card.yaml"]
    for src, schema in found:
        assert schema.is_file(), f"{src} names {schema}, which does not exist"


def test_the_policy_file_is_read_and_raises_only_the_derived_repo_rules(cli, tmp_path):
    """The one setting `init` turns on: a quantised repo keeps its base's licence and prompt (CG506, CG507
    are warnings by the Hub's rules, errors in this policy); the rest is commented out until edited."""
    cli("init", tmp_path)
    from cardgen.policy import find

    policy = find(tmp_path)
    assert policy.source == str(tmp_path / "cardgen.toml") and not policy.require
    assert dict(policy.severity) == {"CG506": "error", "CG507": "error"}


def test_the_workflow_and_the_precommit_configuration_are_valid_and_pinned(cli, tmp_path):
    assert cli("init", tmp_path, "--repo", "acme/cardgen").code == 0
    config = tmp_path / ".pre-commit-config.yaml"
    r = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config)], capture_output=True,
                       text=True, timeout=120, env={"PATH": "", "PRE_COMMIT_HOME": str(tmp_path / "pc-home")})
    assert r.returncode == 0, r.stdout + r.stderr
    [repo] = yaml.safe_load(config.read_text())["repos"]
    assert repo["repo"] == "https://github.com/acme/cardgen" and repo["rev"] == TAG
    assert {h["id"] for h in repo["hooks"]} <= HOOK_IDS
    flow = yaml.safe_load((tmp_path / ".github/workflows/cards.yml").read_text())
    [step] = [s for s in flow["jobs"]["cards"]["steps"] if "cardgen" in s["uses"]]
    assert step["uses"] == f"acme/cardgen@{TAG}" and set(step["with"]) <= ACTION_INPUTS


def test_an_existing_file_is_kept_unless_force(cli, tmp_path):
    (tmp_path / "cardgen.toml").write_text("require = ['license']\n")
    r = cli("init", tmp_path)
    assert r.code == 0, r.text
    assert (tmp_path / "cardgen.toml").read_text() == "require = ['license']\n"
    assert re.search(r"kept\s+\S*cardgen.toml \(exists; --force replaces it\)", r.out)
    assert (tmp_path / ".pre-commit-config.yaml").is_file() and (tmp_path / "schemas/card.schema.json").is_file()
    r = cli("init", tmp_path, "--force")
    assert r.code == 0 and "replaced" in r.out and (tmp_path / "cardgen.toml").read_text().startswith("# cardgen.toml")


def test_init_in_a_file_is_a_usage_error(cli, tmp_path):
    (tmp_path / "f").write_text("")
    assert cli("init", tmp_path / "f").code == 2


# -- the README's publisher examples ----------------------------------------------------------------------
def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.S | re.M)


def test_the_readme_gives_a_publisher_an_install_line_on_the_installed_tag():
    assert any(install_line() in b.splitlines() for b in blocks("shell")), install_line()
    assert "@" + TAG in install_line() and "git+https://github.com/" in install_line()


@pytest.mark.parametrize("first_line, text", [("# .github/workflows/cards.yml", workflow()),
                                              ("# .pre-commit-config.yaml", precommit())])
def test_the_readme_shows_what_init_writes(first_line, text):
    [block] = [b for b in blocks("yaml") if b.startswith(first_line + "\n")]
    assert block == text


def test_the_readme_examples_use_only_inputs_and_hooks_that_exist():
    [flow] = [yaml.safe_load(b) for b in blocks("yaml") if b.startswith("# .github/workflows/")]
    [step] = [s for s in flow["jobs"]["cards"]["steps"] if "/cardgen@" in s["uses"]]
    assert set(step["with"]) <= ACTION_INPUTS and step["uses"].endswith("@" + TAG)
    [config] = [yaml.safe_load(b) for b in blocks("yaml") if b.startswith("# .pre-commit-config.yaml")]
    [repo] = config["repos"]
    assert repo["rev"] == TAG and {h["id"] for h in repo["hooks"]} <= HOOK_IDS
