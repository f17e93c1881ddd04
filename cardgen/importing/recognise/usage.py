"""The usage-snippet recogniser: the transformers snippet that loads the model and generates, into
`usage`, and the snippet itself into the card's own snippet template.

The snippet is read in steps: the code block found and parsed (``_python_block``); its calls read for
the settings cardgen writes (``_calls``: the repo id and the keyword arguments of `from_pretrained`, the
generation arguments, `skip_special_tokens`); its assignments (``_assignments``: the message, the
system prompt); then each setting's place in the code (a hole) replaced by the expression that shows
it (``_template``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from cardgen.importing.recognise.claims import Body, Claim, closed, literal, partial
from cardgen.importing.recognise.registry import Context, recogniser

_DTYPES = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "int8", "uint8")


def _const(node: Any) -> Any:
    """A keyword value the snippet writes as a Python literal (a scalar), else a marker of none."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    return _NONE


_NONE = object()


@dataclass
class _Snippet:
    """A usage snippet being read: its code and syntax tree, where each of its lines starts, and what is
    found so far: the holes (a range of the code's characters and the expression that shows it), the
    settings (``u``: the card's `usage`), and its system prompt."""

    code: str
    tree: ast.Module
    starts: list[int]
    holes: list[tuple[int, int, str]] = field(default_factory=list)
    u: dict[str, Any] = field(default_factory=lambda: {"style": "imported"})
    system: str | None = None  # the snippet's `system_prompt = "..."`: the template's system part, filled

    def span(self, a: Any, b: Any = None) -> tuple[int, int]:
        """The range of the code's characters from node ``a`` to node ``b`` (default: ``a``) included."""
        b = b or a
        return self.starts[a.lineno - 1] + a.col_offset, self.starts[b.end_lineno - 1] + b.end_col_offset


@dataclass
class _Call:
    """A method call of the snippet, ``owner.name(args, ...)``: its keyword arguments (``**kwargs`` left
    out) and their values (a literal's, else the marker ``_NONE``)."""

    name: str
    owner: str  # the name the method is called on ("" when not a plain name)
    args: list[ast.expr]
    kws: list[ast.keyword]
    values: dict[str, Any]


def _python_block(body: Body, t: Any) -> _Snippet | None:
    """The block ``t`` parsed, when it is a closed Python code block that loads a model and generates,
    short enough to be a usage snippet."""
    if t.type != "fence" or t.info.strip().lower() not in ("python", "py") or not closed(body, t) \
            or "from_pretrained(" not in t.content or ".generate(" not in t.content:
        return None
    code = t.content
    if len(code) > 20_000:  # a usage snippet is short; a long block is something else
        return None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, or built to break the parser
        return None
    starts = [0]
    for line in code.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    return _Snippet(code, tree, starts)


def _calls(s: _Snippet, repo: str) -> None:
    """The settings the snippet's method calls show: `from_pretrained`, `generate`, `decode`, in the order
    the tree is walked."""
    seen: set[str] = set()  # the classes whose from_pretrained arguments are read: each one's first call
    for node in ast.walk(s.tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        kws = [k for k in node.keywords if k.arg is not None]
        call = _Call(node.func.attr, node.func.value.id if isinstance(node.func.value, ast.Name) else "", node.args,
                     kws, {str(k.arg): _const(k.value) for k in kws})
        if call.name == "from_pretrained":
            _from_pretrained(s, call, repo, seen)
        elif call.name == "generate":
            _generate(s, call)
        elif call.name == "decode":
            _decode(s, call)


def _from_pretrained(s: _Snippet, call: _Call, repo: str, seen: set[str]) -> None:
    """`X.from_pretrained("owner/name", ...)` with the card's repo id: the id written as cardgen writes it
    is shown as `u.repo`; the first such call of a tokenizer or model class has its keyword arguments
    read (``_pretrained_kwargs``)."""
    from cardgen.rendering.literals import py_str

    if not call.args or _const(call.args[0]) != repo or call.owner in seen:
        return
    a, b = s.span(call.args[0])
    if s.code[a:b] == py_str(repo):
        s.holes.append((a, b, "{{ u.repo }}"))
    kind = "tokenizer" if "Tokenizer" in call.owner else "model" if "Model" in call.owner else ""
    if not kind or not call.kws:
        return
    seen.add(call.owner)
    _pretrained_kwargs(s, call, kind)


def _pretrained_kwargs(s: _Snippet, call: _Call, kind: str) -> None:
    """A tokenizer's or model's `from_pretrained` keyword arguments (a model's `torch_dtype=torch.X` first,
    its dtype), shown as `u.tokenizer_args` or `u.model_args`, when each is a literal, none is
    `trust_remote_code`, and cardgen writes them back as the snippet does."""
    from cardgen.rendering.literals import kwargs, py_value

    kws, values = call.kws, call.values
    # the dtype's keyword: `dtype`, or `torch_dtype` in a snippet written for transformers before 4.56
    key = kws[0].arg if kind == "model" and kws[0].arg in ("dtype", "torch_dtype") else "torch_dtype"
    if kind == "model" and kws[0].arg == key:
        dt = kws[0].value
        if isinstance(dt, ast.Attribute) and isinstance(dt.value, ast.Name) and dt.value.id == "torch" \
                and dt.attr in _DTYPES:
            values[key] = dt.attr
    rest = {k: v for k, v in values.items() if not (kind == "model" and k == key)}
    if _NONE in rest.values() or "trust_remote_code" in rest or values.get(key) is _NONE:
        return
    shown = ({key: f"torch.{values[key]}"} if key in values else {})
    shown.update({k: py_value(v) for k, v in rest.items()})
    a, b = s.span(kws[0], kws[-1])
    if s.code[a:b] != kwargs(shown):
        return
    s.holes.append((a, b, "{{ u.tokenizer_args }}" if kind == "tokenizer" else "{{ u.model_args }}"))
    s.u["tokenizer_kwargs" if kind == "tokenizer" else "model_kwargs"] = rest
    if kind == "model":
        s.u["dtype"] = values.get(key)
        if key == "torch_dtype" and key in values:  # the last release that documented it: rendered as written
            s.u["transformers"] = "4.55"


def _generate(s: _Snippet, call: _Call) -> None:
    """`.generate(..., max_new_tokens=N)`: its literal keyword arguments, shown as `u.generate_args` when
    cardgen writes them back as the snippet does (max_new_tokens last; no eos_token_id)."""
    from cardgen.rendering.literals import kwargs, py_value

    kws, values = call.kws, call.values
    if not kws or kws[-1].arg != "max_new_tokens" or _NONE in values.values() \
            or not isinstance(values["max_new_tokens"], int) or "eos_token_id" in values:
        return
    a, b = s.span(kws[0], kws[-1])
    gen = {k: v for k, v in values.items() if k != "max_new_tokens"}
    if s.code[a:b] == kwargs({**{k: py_value(v) for k, v in gen.items()},
                              "max_new_tokens": str(values["max_new_tokens"])}):
        s.holes.append((a, b, "{{ u.generate_args }}"))
        s.u.update(generation=gen, max_new_tokens=values["max_new_tokens"])


def _decode(s: _Snippet, call: _Call) -> None:
    """`.decode(..., skip_special_tokens=True|False)`, its only keyword argument: `u.skip_special_tokens`."""
    if call.values.get("skip_special_tokens") not in (True, False) or len(call.kws) != 1:
        return
    a, b = s.span(call.kws[0].value)
    s.holes.append((a, b, "{{ u.skip_special_tokens }}"))
    s.u["skip_special_tokens"] = call.values["skip_special_tokens"]


def _assignments(s: _Snippet) -> None:
    """The snippet's top-level string assignments: `system_prompt = "..."` (kept, for the prompt
    template's system part) and `message = "..."` (shown as `u.message` when written as cardgen writes it)."""
    from cardgen.rendering.literals import py_str

    for node in s.tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        value = _const(node.value)
        if not isinstance(value, str):
            continue
        if node.targets[0].id == "system_prompt":
            s.system = value
        if node.targets[0].id == "message":
            a, b = s.span(node.value)
            if s.code[a:b] == py_str(value):
                s.holes.append((a, b, "{{ u.message }}"))
                s.u["message"] = value


def _template(s: _Snippet) -> str | None:
    """The snippet as the card's own template: each hole replaced by its expression, the rest literal;
    None when two holes overlap."""
    out, at = [], 0
    for a, b, expr in sorted(s.holes):
        if a < at:
            return None
        out += [literal(s.code[at:a]), expr]
        at = b
    out.append(literal(s.code[at:]))
    return "".join(out).rstrip("\n") + "\n"


@recogniser(60)
def usage(ctx: Context) -> Claim | None:
    """The transformers usage snippet: its settings (the model's repo id, the tokenizer's and model's
    keyword arguments with the dtype, the message, the generation arguments, skip_special_tokens) into
    `usage`, and the snippet itself into the card's own snippet template, each setting replaced by the
    expression that shows it; a setting written in a way cardgen would not write it back stays text (and
    out of `usage`)."""
    body = ctx.body
    for t in body.top():
        s = _python_block(body, t)
        if s is None:
            continue
        _calls(s, ctx.repo)
        _assignments(s)
        if len(s.holes) < 2:
            continue
        s.u.setdefault("dtype", None)  # not shown: left out (not cardgen's default, float16)
        snippet = _template(s)
        if snippet is None:
            return None
        start, end = t.map
        names = [k for k in ("tokenizer_kwargs", "model_kwargs", "dtype", "message", "generation") if k in s.u]
        return Claim(start, end, "usage", {"usage": s.u},
                     partial(body.lines, start, end, [(start + 1, end - 1, "{{ snippet() }}")]),
                     "usage snippet (" + ", ".join("repo id" if k == "repo" else k for k in names) + ")",
                     files={"snippets/imported.py.j2": snippet}, system_prompt=s.system)
    return None
