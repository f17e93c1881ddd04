"""The publisher's policy: what cardgen enforces beyond the Hub's own rules, configured like a linter.

cardgen's defaults follow the Hub: an error is what the Hub refuses or misreads, a warning what it
accepts but shows badly. A publisher tightens or loosens that in `cardgen.toml`, or in the
`[tool.cardgen]` table of `pyproject.toml` (the first found from the working directory upwards):

```toml
[tool.cardgen]
require = ["license", "language"]          # front-matter keys every card must have (CG217)
severity = { CG211 = "off", CG212 = "error" }

[[tool.cardgen.overrides]]                 # later entries win
paths = ["cards/acme/**", "rendered/acme/**"]
require = ["base_model"]
severity = { CG209 = "error" }
```

And for one line, a comment in a card source or in a README's front matter:
`# cardgen: ignore[CG211]` (several codes separated by commas).
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from cardgen.diagnostics import Diagnostic, UsageError, Where, declare, error

declare("CG217", "a key the publisher's policy requires is missing")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Setting = Literal["error", "warning", "off"]
SETTINGS = ("error", "warning", "off")
_IGNORE = re.compile(r"#\s*cardgen:\s*ignore\[([A-Z0-9, ]+)\]")


class PolicyError(UsageError):
    """The policy file is malformed (a usage error: exit 2)."""


@dataclass(frozen=True)
class Override:
    paths: tuple[str, ...]
    require: tuple[str, ...] = ()
    severity: tuple[tuple[str, Setting], ...] = ()


@dataclass(frozen=True)
class Policy:
    source: str = ""  # the file it came from ("" for the defaults)
    base: Path = field(default_factory=Path.cwd)  # paths in overrides are relative to its folder
    require: tuple[str, ...] = ()
    severity: tuple[tuple[str, Setting], ...] = ()
    overrides: tuple[Override, ...] = ()

    def _for(self, file: str) -> tuple[dict[str, Setting], tuple[str, ...]]:
        """The severity settings and required keys that apply to a file."""
        severity, require = dict(self.severity), list(self.require)
        if not self.overrides:
            return severity, tuple(require)
        rel = _relative(file, self.base)
        for o in self.overrides:
            if any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat.rstrip("*").rstrip("/") + "/*")
                   for pat in o.paths):
                severity.update(o.severity)
                require += o.require
        return severity, tuple(dict.fromkeys(require))

    def required(self, file: str) -> tuple[str, ...]:
        return self._for(file)[1]

    def apply(self, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Diagnostics with the policy's severities, without those it turns off or a line ignores."""
        out = []
        for d in diags:
            setting = self._for(d.file)[0].get(d.code)
            if setting == "off" or d.code in _ignored(d.file, d.line):
                continue
            if d.code == "CG209" and "license" in self._for(d.file)[1]:
                setting = "error"  # `require = ["license"]`: no licence is an error here
            if setting in ("error", "warning") and setting != d.severity:
                d = Diagnostic(d.file, d.line, d.col, d.code, d.message, setting)
            out.append(d)
        return out


def _relative(file: str, base: Path) -> str:
    try:
        return Path(os.path.abspath(file)).relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(file).as_posix()


@lru_cache(maxsize=4096)
def _ignored_lines(file: str, stamp: tuple[int, int]) -> dict[int, frozenset[str]]:
    """The `# cardgen: ignore[...]` comments of a file, by line; ``stamp`` (modification time, size)
    keys the memo, so an edited file is read again."""
    try:
        with open(file, encoding="utf-8", errors="replace") as fh:
            text = fh.read(4 * 1024 * 1024)
    except OSError:
        return {}
    if "cardgen:" not in text:
        return {}
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _IGNORE.search(line)
        if m:
            out[n] = frozenset(c.strip() for c in m.group(1).split(",") if c.strip())
    return out


def _ignored(file: str, line: int) -> frozenset[str]:
    try:
        st = os.stat(file)
    except OSError:
        return frozenset()
    return _ignored_lines(file, (st.st_mtime_ns, st.st_size)).get(line, frozenset())


def _settings(table: Any, where: str) -> tuple[tuple[str, Setting], ...]:
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: `severity` must be a table of CODE = \"error\" | \"warning\" | \"off\"")
    out = []
    for code, value in table.items():
        if not re.fullmatch(r"CG\d{3}", str(code)) or value not in SETTINGS:
            raise PolicyError(f"{where}: severity {code} = {value!r}: want a code like CG209 and one of "
                              f"{', '.join(SETTINGS)}")
        out.append((str(code), value))
    return tuple(out)


def _keys(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: `require` must be a list of front-matter keys")
    return tuple(value)


def parse(table: Any, source: str, base: Path) -> Policy:
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: the cardgen table must be a table")
    unknown = set(table) - {"require", "severity", "overrides"}
    if unknown:
        raise PolicyError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}; "
                          "known: require, severity, overrides")
    overrides = []
    for i, o in enumerate(table.get("overrides") or []):
        where = f"{source} overrides[{i}]"
        if not isinstance(o, dict) or not isinstance(o.get("paths"), list) or not o["paths"]:
            raise PolicyError(f"{where}: each override needs `paths`, a list of glob patterns")
        overrides.append(Override(tuple(str(p) for p in o["paths"]), _keys(o.get("require"), where),
                                  _settings(o.get("severity"), where)))
    return Policy(source, base, _keys(table.get("require"), source), _settings(table.get("severity"), source),
                  tuple(overrides))


def find(start: Path | None = None) -> Policy:
    """The policy in force: the first `cardgen.toml`, or `pyproject.toml` with `[tool.cardgen]`, from
    ``start`` (default: the working directory) upwards; the defaults when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("cardgen.toml", "pyproject.toml"):
            p = folder / name
            if not p.is_file():
                continue
            try:
                data = tomllib.loads(p.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
                raise PolicyError(f"{p}: cannot read the policy: {e}") from None
            table = data if name == "cardgen.toml" else data.get("tool", {}).get("cardgen")
            if table is not None:
                return parse(table, str(p), folder)
    return Policy()


def required_keys(policy: Policy, meta: dict[str, Any], file: str, where: Where) -> list[Diagnostic]:
    """CG217 for each front-matter key the policy requires of ``file`` that ``meta`` lacks (a missing
    licence is CG209 already, which the policy makes an error)."""
    return [error(where, "CG217", f"`{key}` is required by the policy in {policy.source}")
            for key in policy.required(file) if key not in meta and key != "license"]
