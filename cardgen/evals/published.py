"""What a repository already holds of a card's evaluation results, for `cardgen publish`: each result of
the rendered `.eval_results/` files is on the target revision (same benchmark dataset and task, same
value), changed there, in an open pull request, or new; only the new and the changed are published (the
Hub's own converter compares by dataset and task in the same way before it opens anything). A derived
model's results (its card sets `base_model`) are flagged: the Hub's leaderboards leave them out by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cardgen.evals.entries import FOLDER, dump

if TYPE_CHECKING:
    from cardgen.hub import Hub

DERIVED = "derived model (base_model set): the Hub's leaderboards leave its results out by default"


@dataclass(frozen=True)
class Listed:
    """One result and where the Hub has it: `new`, `changed`, `present` (on the revision or in a pull request)."""

    file: str
    dataset: str
    task_id: str
    value: Any
    state: str
    where: str = ""  # `main (.eval_results/x.yaml)`, `pull request #3`, what the revision holds instead
    derived: bool = False

    def line(self, target: str) -> str:
        said = {"new": "new", "changed": f"changed ({self.where})", "present": f"already {self.where}"}[self.state]
        return (f"{target}  {self.file}  {self.dataset} {self.task_id} = {self.value!r}: {said}"
                + ("  [derived model]" if self.derived else ""))


def _entries(texts: dict[str, str], problems: list[str]) -> dict[str, list[Any]]:
    from cardgen.evals.imported import parse_files

    return {path: parse_files({path: text}, problems) for path, text in texts.items()}


def compare(local: dict[str, str], target: dict[str, str], prs: list[tuple[int, dict[str, str]]], branch: str,
            derived: bool, problems: list[str]) -> tuple[list[Listed], dict[str, str]]:
    """(each rendered result and its state, the files to commit: path -> text)."""
    from huggingface_hub import eval_result_entries_to_yaml

    there: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for path, es in _entries(target, problems).items():
        for e in es:
            there.setdefault((e.dataset_id, e.task_id), []).append((path, e))
    proposed: dict[tuple[str, str], int] = {}
    for num, files in prs:
        for es in _entries(files, problems).values():
            for e in es:
                proposed.setdefault((e.dataset_id, e.task_id), num)
    listed: list[Listed] = []
    commit: dict[str, str] = {}
    for path, es in sorted(_entries(local, problems).items()):
        keep = []
        for e in es:
            key = (e.dataset_id, e.task_id)
            same = [p for p, r in there.get(key, []) if r.value == e.value]
            if same:
                state, where = "present", f"on {branch} ({same[0]})"
                if same[0] == path:
                    keep.append(e)
            elif key in there:
                state, where = "changed", f"{branch} has {there[key][0][1].value!r} in {there[key][0][0]}"
                keep.append(e)
            elif key in proposed:
                state, where = "present", f"in open pull request #{proposed[key]}"
            else:
                state, where = "new", ""
                keep.append(e)
            listed.append(Listed(path, e.dataset_id, e.task_id, e.value, state, where, derived))
        if any(x.state in ("new", "changed") for x in listed if x.file == path):
            text = dump(eval_result_entries_to_yaml(keep))
            if target.get(path) != text:
                commit[path] = text
    return listed, commit


def on_the_hub(hub: Hub, repo: str, branch: str, into: str) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """The `.eval_results/` files on ``branch`` and in each open pull request."""
    target = hub.files_in(repo, branch, FOLDER, into)
    prs = [(num, hub.files_in(repo, ref, FOLDER, into)) for num, ref in hub.open_pull_requests(repo)]
    return target, prs
