"""The layers of `cardgen/` (docs/ARCHITECTURE.md names them): every import, including those made
inside functions, goes to the same layer or a lower one, and no modules import each other in a cycle.
Imports under ``if TYPE_CHECKING:`` are left out: they never run, and annotations may name a type of
any layer."""

from __future__ import annotations

import ast
import shutil
from collections import defaultdict
from pathlib import Path

import cardgen

PACKAGE = Path(cardgen.__file__).parent

#: bottom to top; a module belongs to the first entry whose prefix names it or a package above it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("cardgen.version", "cardgen.diagnostics", "cardgen.console", "cardgen.files", "cardgen.limits",
              "cardgen.hubspec", "cardgen.data", "cardgen.cache", "cardgen.parallel", "cardgen.policy",
              "cardgen.report", "cardgen.hub", "cardgen.sandbox")),
    # the risk matrix's format is part of the card's (a card holds one); the rest of `risk` is its meaning
    ("card format", ("cardgen.entries", "cardgen.schema", "cardgen.risk.schema", "cardgen.kinds")),
    ("loading", ("cardgen.loading",)),
    ("resolved card", ("cardgen.card", "cardgen.sections", "cardgen.frontmatter", "cardgen.resolve")),
    ("risk", ("cardgen.risk",)),
    ("checks", ("cardgen.lint", "cardgen.mdparts", "cardgen.rules", "cardgen.evals")),
    ("rendering", ("cardgen.rendering",)),
    ("pipeline", ("cardgen.pipeline",)),
    ("tools", ("cardgen.importing", "cardgen.smoke", "cardgen.folder", "cardgen.evals.logs", "cardgen.evals.add",
               "cardgen.evals.imported", "cardgen.evals.published")),
    ("commands", ("cardgen.commands",)),
    ("entry points", ("cardgen.cli", "cardgen.__main__", "cardgen")),
]


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def layer(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (module == pre or module.startswith(pre + ".")) and (best is None or len(pre) > len(best[1])):
                best = (i, pre)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to docs/ARCHITECTURE.md)"
    return best[0]


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(root: Path) -> dict[str, set[str]]:
    """module -> the cardgen modules it imports (at any depth in the file, TYPE_CHECKING blocks left out)."""
    mods = modules(root)
    edges: dict[str, set[str]] = defaultdict(set)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        stack: list[ast.AST] = [ast.parse(path.read_text("utf-8"))]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.If) and _type_checking(node):
                stack += node.orelse
                continue
            stack += ast.iter_child_nodes(node)
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    frm = ".".join(base + ([node.module] if node.module else []))
                else:
                    frm = node.module or ""
                # a name that is a module is an import of that module; any other name is one of `frm`
                subs = [f"{frm}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in mods]
                if len(targets) < len(subs):
                    targets.append(frm)
            for t in targets:
                if t.split(".")[0] == root.name and (k := known(t)) and k != name:
                    edges[name].add(k)
    return edges


def problems(root: Path) -> list[str]:
    edges = imports(root)
    out = [f"{m} imports {t}: layer {LAYERS[layer(t)][0]!r} is above {LAYERS[layer(m)][0]!r}"
           for m in sorted(edges) for t in sorted(edges[m]) if layer(t) > layer(m)]
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    found = []
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_layers_hold():
    assert problems(PACKAGE) == []


def test_an_upward_import_or_a_cycle_is_caught(tmp_path):
    """The check itself: a copy of the package with an import added inside a function, from the core up to
    the commands, fails; so does a cycle between two modules of one layer."""
    copy = tmp_path / "cardgen"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert problems(copy) == []
    diag = copy / "diagnostics.py"
    diag.write_text(diag.read_text() + "\n\ndef _sneaky() -> None:\n    from cardgen.commands import base  # noqa\n")
    found = problems(copy)
    assert found[0] == "cardgen.diagnostics imports cardgen.commands.base: layer 'commands' is above 'core'"
    assert all(f.startswith("import cycle: ") for f in found[1:])  # commands.base imports diagnostics back
    diag.write_text(diag.read_text().replace("from cardgen.commands import base", "from . import files"))
    found = problems(copy)
    assert len(found) == 1 and found[0].startswith("import cycle: ") and "cardgen.diagnostics" in found[0] \
        and "cardgen.files" in found[0]


def test_no_package_hides_a_public_function():
    """`import cardgen.x` sets the attribute `x` of the package: a subpackage named like a function of the
    public API (`cardgen.load`, `cardgen.render`) would replace that function once anything imported it."""
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert not subpackages & set(cardgen.__all__)
def test_modules_are_small_and_two_levels_deep_at_most():
    for name, path in modules(PACKAGE).items():
        assert len(path.relative_to(PACKAGE).parent.parts) <= 2, f"{name}: packages nest two levels at most"
        lines = path.read_text("utf-8").count("\n")
        assert lines <= 500, f"{path.relative_to(PACKAGE.parent)}: {lines} lines (500 at most: split it by job)"


def test_no_function_is_too_complex():
    """Cyclomatic complexity (radon's count) of every function and method: 30 at most. A function over it
    does several jobs; cut it into named steps."""
    from radon.complexity import cc_visit

    over = [f"{path.relative_to(PACKAGE.parent)}:{b.lineno} {b.fullname} ({b.complexity})"
            for path in sorted(PACKAGE.rglob("*.py")) for b in cc_visit(path.read_text("utf-8")) if b.complexity > 30]
    assert over == []


def test_yaml_is_parsed_in_one_place():
    """Every YAML input (card sources, shared files, a README's front matter, an imported card's) is read
    by `loading/yamlpos.py`, within cardgen's bounds: no other module calls PyYAML's parsers."""
    parsers = {"load", "safe_load", "full_load", "unsafe_load", "load_all", "safe_load_all", "compose", "parse"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "yamlpos.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            f = node.func if isinstance(node, ast.Call) else None
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "yaml" \
                    and f.attr in parsers:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} yaml.{f.attr}")
    assert found == []
