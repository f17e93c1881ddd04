"""Structure in an imported card's body: the parts cardgen can hold as typed fields.

Each recogniser finds a part of the body (a range of its lines) that one section slot can show from
data: BibTeX blocks (`citations`, `cite_as`), the prompt-format block (`prompt`), hyperparameter and
architecture tables (`training`), a GPTQ or GGUF table of provided files (`quantization`). The part
becomes a ``Claim``: the fields, and the slot's own partial, which is the original's text with the
data replaced by the expressions that show it (so the layout stays the author's, and the facts are
data). ``importer`` renders every claim and keeps only those whose rendering gives back the
original's blocks; the rest stays free text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cardgen.importing.blocks import parser

#: a BibTeX entry whose fields are each on one line: `@type{key,` ... `}`
_ENTRY = re.compile(r"\A@([A-Za-z]+)\s*\{\s*([^,\s{}]+)\s*,[ \t]*\n(.*)\n\s*\}\s*\Z", re.S)
_FIELD = re.compile(r"\A( *)([A-Za-z]+)( ?= ?)\{(.*)\}(,?)[ \t]*\Z")
#: a heading that introduces how to cite this model itself (else: the works it builds on)
_CITE_AS = re.compile(r"how to cite|cite (this|us|our|the model)|citing", re.I)


@dataclass
class Claim:
    """A part of the body (lines ``start``..``end``) that the slot ``slot`` shows from ``fields``."""

    start: int
    end: int
    slot: str
    fields: dict[str, Any]
    partial: str  # the slot's own template
    what: str  # for the report
    original: str = ""  # the lines it stands for
    expected: str | None = None  # those lines once `--fix` computed their counts (None: as the original)
    by_lines: bool = False  # a flattened page's part: checked line by line, not block by block
    files: dict[str, str] = field(default_factory=dict)  # more templates of the card's own, by file name
    system_prompt: str | None = None  # a usage snippet's `system_prompt = "..."` (the template's system part)


def literal(text: str) -> str:
    """Text for a Jinja template that renders as itself (no block tags: trim_blocks leaves it alone)."""
    return re.sub(r"\{[{%#]", lambda m: '{{ "' + m.group(0) + '" }}', text)


def _partial(lines: list[str], start: int, end: int, holes: list[tuple[int, int, str]]) -> str:
    """Lines ``start``..``end`` as a template: each hole (its own line range) replaced by an expression."""
    out, at = [], start
    for a, b, expr in sorted(holes):
        if a > at:
            out.append(literal("\n".join(lines[at:a])) + "\n")
        out.append(expr + "\n")
        at = b
    if at < end:
        out.append(literal("\n".join(lines[at:end])) + "\n")
    return "".join(out)


# -- BibTeX ------------------------------------------------------------------------------------
def parse_bibtex(text: str) -> dict[str, Any] | None:
    """A BibTeX entry as the fields of a ``Citation`` that renders back to the same text (lines
    compared without trailing spaces); None when it does not."""
    from pydantic import ValidationError

    from cardgen.entries import BIBTEX_FIELDS, Citation
    from cardgen.rendering.literals import bibtex

    body = "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))
    m = _ENTRY.match(body)
    if not m:
        return None
    out: dict[str, Any] = {"key": m.group(2), "type": m.group(1)}
    indents, eqs, commas = set(), set(), []
    for line in m.group(3).split("\n"):
        f = _FIELD.match(line)
        if not f or f.group(2) not in BIBTEX_FIELDS or f.group(2) in out:
            return None
        indents.add(len(f.group(1)))
        eqs.add(f.group(3))
        commas.append(f.group(5))
        out[f.group(2)] = f.group(4)
    if len(indents) != 1 or len(eqs) != 1 or any(c != "," for c in commas[:-1]):
        return None
    out["indent"] = indents.pop()
    eq = eqs.pop()
    if eq not in ("=", " = "):
        return None
    out["spaced_equals"] = eq == " = "
    out["trailing_comma"] = commas[-1] == ","
    try:
        c = Citation.model_validate(out)
    except ValidationError:
        return None
    if bibtex(c) != body:
        return None
    return {k: v for k, v in out.items() if not (k == "indent" and v == 6) and not (k == "type" and v == "misc")
            and not (k in ("spaced_equals", "trailing_comma") and v is False)}


def _looks_bibtex(content: str) -> bool:
    return content.lstrip().startswith("@") and "{" in content


# -- the recognisers -------------------------------------------------------------------------------
@dataclass
class Body:
    """The body's lines and its top-level blocks (markdown-it tokens with a line map)."""

    lines: list[str]
    tokens: list[Any]
    offset: int = 0  # lines of the README before the body (its front matter)
    fixed: dict[int, str] = field(default_factory=dict)  # line -> what it says once `--fix` computed its count

    @classmethod
    def parse(cls, text: str, offset: int = 0) -> Body:
        tokens = parser().parse(text)
        return cls(text.split("\n"), tokens, offset)

    def top(self) -> list[Any]:
        return [t for t in self.tokens if t.map and t.level == 0 and not t.type.endswith("_close")]

    def sections(self) -> list[tuple[int, int, int, str]]:
        """(start, end, level, heading text) of every heading's section, up to the next heading of its
        level or higher."""
        heads = []
        for i, t in enumerate(self.tokens):
            if t.type == "heading_open" and t.level == 0 and t.map:
                heads.append((t.map[0], int(t.tag[1]), self.tokens[i + 1].content))
        out = []
        for k, (start, level, text) in enumerate(heads):
            end = next((s for s, lv, _ in heads[k + 1:] if lv <= level), len(self.lines))
            out.append((start, end, level, text))
        return out

    def blocks_in(self, start: int, end: int) -> list[Any]:
        return [t for t in self.top() if start <= t.map[0] and t.map[1] <= end]


def _fence_holes(body: Body, fences: list[Any], name: str) -> list[tuple[int, int, str]]:
    """A hole over the content lines of each fence, showing ``name[i]``; or, when the fences are one run
    (the same info string, only blank lines between), one `for` loop over ``name``."""
    one_run = all(f.info == p.info and f.markup == p.markup and not "".join(body.lines[p.map[1]:f.map[0]]).strip()
                  for p, f in zip(fences, fences[1:], strict=False))
    if one_run and len(fences) > 1:
        first = fences[0]
        loop = (f"{{% for entry in {name} %}}\n{first.markup}{first.info}\n{{{{ entry }}}}\n{first.markup}\n\n"
                "{% endfor %}")
        return [(first.map[0], fences[-1].map[1], loop)]
    return [(f.map[0] + 1, f.map[1] - 1, f"{{{{ {name}[{i}] }}}}") for i, f in enumerate(fences)]


def _closed(body: Body, f: Any) -> bool:
    return f.map[1] - f.map[0] >= 2 and body.lines[f.map[1] - 1].strip().startswith(f.markup)


def citations(body: Body, problems: list[str]) -> Claim | None:
    """Consecutive sections whose code blocks are all BibTeX: their entries into `cite_as` (under a
    "how to cite" heading) and `citations`, the prose around them kept in the partial."""
    group: list[tuple[int, int, int, str]] = []
    for start, end, level, text in body.sections():
        if group and start < group[-1][1]:
            continue  # inside a section already taken
        code = [t for t in body.blocks_in(start, end) if t.type == "fence"]
        bib = [f for f in code if _looks_bibtex(f.content)]
        if bib and len(bib) == len(code) and (not group or group[-1][1] == start):
            group.append((start, end, level, text))
        elif group:
            break
    if not group:
        return None
    fields: dict[str, list[Any]] = {"cite_as": [], "citations": []}
    fences: dict[str, list[Any]] = {"cite_as": [], "citations": []}
    for start, end, _, text in group:
        name = "cite_as" if _CITE_AS.search(text) and not fields["citations"] else "citations"
        for f in (t for t in body.blocks_in(start, end) if t.type == "fence"):
            entry = parse_bibtex(f.content) if _closed(body, f) else None
            if entry is None:
                problems.append(f"line {f.map[0] + 1 + body.offset}: a BibTeX block that cardgen cannot hold as a "
                                "citation (a field over several lines, quotes instead of braces, or a field BibTeX "
                                "does not have): kept as text")
                continue
            fences[name].append(f)
            fields[name].append(entry)
    holes = [h for name in fences for h in _fence_holes(body, fences[name], name)]
    if not holes:
        return None
    start, end = group[0][0], group[-1][1]
    n = len(fields["cite_as"]) + len(fields["citations"])
    partial = _partial(body.lines, start, end, holes)
    return Claim(start, end, "citations", {k: v for k, v in fields.items() if v}, partial,
                 f"citations ({n} BibTeX entr{'y' if n == 1 else 'ies'})")


#: the turn markers of the prompt formats in common use, each with the role it opens
_ROLE_WORDS = {"system": "system", "user": "user", "human": "user", "instruction": "user", "prompt": "user",
               "assistant": "assistant", "response": "assistant", "gpt": "assistant", "bot": "assistant"}
_MARKER = re.compile(
    r"^(?:###[ \t]*)?(System|User|Human|Instruction|Assistant|Response|GPT|SYSTEM|USER|HUMAN|ASSISTANT)"
    r"[ \t]*:[ \t]*\n?"
    r"|<\|(system|user|assistant|SYSTEM|USER|ASSISTANT|prompter)\|>\n?"
    r"|<\|im_start\|>(system|user|assistant)\n"
    r"|<start_of_turn>(user|model)\n",
    re.M)
_END = re.compile(r"<\|im_end\|>|<end_of_turn>|<\|endoftext\|>|</s>|<\|end\|>")


def _role(m: re.Match[str]) -> str:
    word = next(g for g in m.groups() if g)
    return {"model": "assistant", "prompter": "user"}.get(word.lower(), _ROLE_WORDS.get(word.lower(), ""))


def prompt_template(block: str) -> dict[str, Any] | None:
    """A prompt-format block as a template with `{system_message}` and `{prompt}`, the example values
    it shows, and the response it shows after the last assistant marker."""
    from cardgen.kinds.prompt import PLACEHOLDER

    if set(PLACEHOLDER.findall(block)) - {"system_message", "prompt"}:
        return None
    marks = list(_MARKER.finditer(block))
    roles = [_role(m) for m in marks]
    if "user" not in roles or "assistant" not in roles or roles.count("user") > 1 or roles.count("system") > 1 \
            or roles[-1] != "assistant" or roles.count("assistant") > 1:
        return None
    template: list[str] = []
    example: dict[str, str] = {}
    last = 0
    for m, role, nxt in zip(marks, roles, [*marks[1:], None], strict=True):
        if nxt is None:  # the assistant's marker, last: what follows is the response shown
            template.append(block[last:m.end()])
            last = m.end()
            break
        content = block[m.end():nxt.start()]
        end = _END.search(content)
        raw = content[:end.start() if end else len(content.rstrip())]
        lead = len(raw) - len(raw.lstrip())
        value = raw.strip()
        if not value:
            return None
        name = "system_message" if role == "system" else "prompt"
        template.append(block[last:m.end()] + content[:lead] + "{" + name + "}")
        if value != "{" + name + "}":
            example[name] = value
        last = m.end() + lead + len(value)
    response = block[last:]
    out: dict[str, Any] = {"template": "".join(template)}
    if "system_message" not in out["template"]:
        out["placeholders"] = {"prompt": "the user's message"}
    if example:
        out["example"] = example
    if response.strip():
        out["example_response"] = response
    return out


def prompt(body: Body, problems: list[str]) -> Claim | None:
    """The first plain code block (no language, or `text`) that shows a prompt format."""
    for t in body.top():
        if t.type != "fence" or t.info.strip().lower() not in ("", "text", "txt", "plain", "prompt") \
                or not _closed(body, t):
            continue
        found = prompt_template(t.content.rstrip("\n"))
        if found is None:
            continue
        a, b = t.map
        partial = _partial(body.lines, a, b, [(a + 1, b - 1, "{{ prompt.block }}")])
        return Claim(a, b, "prompt_format", {"prompt": found}, partial, "prompt template")
    return None


_HYPER = ("batch size", "learning rate", "lr", "warm-up", "warmup", "weight decay", "epochs", "optimizer", "betas",
          "scheduler", "steps", "gradient accumulation")
_ARCH = ("hidden size", "layers", "heads", "sequence length", "vocab", "d_model", "attention heads", "context length",
         "intermediate size", "embedding")


def _cells(body: Body, table: Any) -> tuple[list[str], list[list[str]]]:
    """The source text of each cell of a table (escaped pipes unescaped)."""
    i = body.tokens.index(table)
    header: list[str] = []
    rows: list[list[str]] = []
    row: list[str] | None = None
    for t in body.tokens[i + 1:]:
        if t.type == "table_close":
            break
        if t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content.replace("\\|", "|"))
        elif t.type == "tr_close" and row is not None:
            if header:
                rows.append(row)
            else:
                header = row
            row = None
    return header, rows


def _kind(columns: list[str]) -> str | None:
    low = [c.lower().strip() for c in columns]
    if sum(any(w == c or w in c.split() or w in c for w in _HYPER) for c in low) >= 2:
        return "hyperparameters"
    if sum(any(w in c for w in _ARCH) for c in low) >= 2:
        return "architecture"
    return None


_ITEM = re.compile(r"\A(and )?\[([^\]]+)\]\(([^)\s]+)\)(?:, (.+))?\Z")


def _dataset_list(body: Body, t: Any, problems: list[str], fix: bool) -> dict[str, Any] | None:
    """A paragraph listing datasets, as cardgen writes `training.datasets`: an intro that ends with `:` and
    names how many, then one `[name](url), description` per line, the last after `and`."""
    from cardgen.rendering.literals import NUMBER_WORDS, number_word

    lines = body.lines[t.map[0]:t.map[1]]
    if len(lines) < 3 or not lines[0].rstrip().endswith(":"):
        return None
    count = re.search(r"\b(" + "|".join(NUMBER_WORDS) + r"|\d+) (?:\w+ )?datasets?\b", lines[0], re.I)
    items = [_ITEM.match(x.strip()) for x in lines[1:]]
    if count is None or None in items or any(bool(m.group(1)) != (k == len(items) - 1)  # type: ignore[union-attr]
                                             for k, m in enumerate(items)):
        return None
    found = [{"name": m.group(2), "url": m.group(3), **({"description": m.group(4)} if m.group(4) else {})}
             for m in items if m is not None]
    said, computed = count.group(1), number_word(len(found))
    intro = lines[0].strip()
    if said.lower() == computed or fix:
        intro = intro[:count.start(1)] + "{count}" + intro[count.end(1):]
        if said.lower() != computed:  # what the README says once the count is computed
            body.fixed[t.map[0]] = lines[0][:count.start(1)] + computed + lines[0][count.end(1):]
    if said.lower() != computed:
        problems.append(f"line {t.map[0] + 1 + body.offset}: the card says {said} datasets where it lists "
                        f"{len(found)}: " + ("the count is computed now (--fix)" if fix else
                                             "kept as written (`--fix` computes it)"))
    return {"intro": intro, "items": found}


def training(body: Body, problems: list[str], fix: bool = False) -> Claim | None:
    """Hyperparameter and architecture tables (one of each) and a list of datasets, in one `## ` section:
    `training`."""
    tops = [(s, e) for s, e, level, _ in body.sections() if level <= 2]
    for start, end in [(0, tops[0][0] if tops else len(body.lines)), *tops]:
        found: dict[str, Any] = {}
        for t in body.blocks_in(start, end):
            if t.type == "paragraph_open" and "datasets" not in found:
                listing = _dataset_list(body, t, problems, fix)
                if listing is not None:
                    found["datasets"] = (t, listing)
            if t.type != "table_open":
                continue
            columns, rows = _cells(body, t)
            kind = _kind(columns)
            if kind and kind not in found and all(len(r) <= len(columns) for r in rows):
                found[kind] = (t, {"columns": columns, "rows": rows})
        if not found:
            continue
        parts = sorted(found.items(), key=lambda kv: kv[1][0].map[0])
        a, b = parts[0][1][0].map[0], parts[-1][1][0].map[1]
        holes = [(t.map[0], t.map[1], "{{ training.dataset_list }}" if kind == "datasets" else
                  f"{{{{ training.{kind} }}}}") for kind, (t, _) in parts]
        data = {kind: value for kind, (_, value) in parts}
        what = ", ".join("dataset list" if k == "datasets" else k for k in data)
        return Claim(a, b, "training", {"training": data}, _partial(body.lines, a, b, holes),
                     f"training ({what})")
    return None


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")  # a markdown link: label, target
_GPTQ_HEAD = ["Branch", "Bits", "GS", "Act Order", "Damp %", "GPTQ Dataset", "Seq Len", "Size"]
_GGUF_HEAD = ["Name", "Quant method", "Bits", "Size", "Max RAM required", "Use case"]


def _yes(v: str) -> bool | None:
    return {"yes": True, "no": False}.get(v.strip().lower())


def _gptq_row(row: list[str], compat: list[str], repo: str) -> dict[str, Any] | None:
    row = [c.strip() for c in row]
    link = _LINK.fullmatch(row[0])
    if not link or link.group(2) != f"https://huggingface.co/{repo}/tree/{link.group(1)}":
        return None
    try:
        v: dict[str, Any] = {"branch": link.group(1), "bits": int(row[1]),
                             "group_size": None if row[2] == "None" else int(row[2]), "act_order": _yes(row[3]),
                             "damp_percent": float(row[4]), "seq_len": int(row[6]), "size": row[7]}
    except ValueError:
        return None
    if v["act_order"] is None or repr(v["damp_percent"]) != row[4]:
        return None
    ds = _LINK.fullmatch(row[5])
    v["dataset"] = {"name": ds.group(1), "url": ds.group(2)} if ds else {"name": row[5]}
    flags = [_yes(c) for c in row[8:8 + len(compat)]]
    if None in flags:
        return None
    if compat:
        v["compatibility"] = dict(zip(compat, flags, strict=True))
    v["description"] = row[-1]
    return v


def variants(body: Body, problems: list[str], repo: str) -> Claim | None:
    """A table of provided files as cardgen writes them for GPTQ (branches) or GGUF (files)."""
    for t in body.top():
        if t.type != "table_open":
            continue
        columns, rows = _cells(body, t)
        columns = [c.strip() for c in columns]
        q: dict[str, Any] | None = None
        if columns[:8] == _GPTQ_HEAD and columns[-1] == "Desc" and rows:
            compat = columns[8:-1]
            got = [_gptq_row(r, compat, repo) for r in rows if len(r) == len(columns)]
            if len(got) == len(rows) and None not in got:
                q = {"method": "GPTQ", "variants": got}
        elif columns == _GGUF_HEAD and rows:
            files = []
            for r in (list(map(str.strip, r)) for r in rows):
                link = _LINK.fullmatch(r[0]) if len(r) == 6 else None
                if not link or link.group(2) != f"https://huggingface.co/{repo}/blob/main/{link.group(1)}" \
                        or not r[2].isdigit():
                    break
                files.append({"file": link.group(1), "quant_method": r[1], "bits": int(r[2]), "size": r[3],
                              "max_ram": r[4], "use_case": r[5]})
            if len(files) == len(rows):
                q = {"method": "GGUF", "files": files}
        if q is None:
            continue
        a, b = t.map
        n = len(q.get("variants", q.get("files", [])))
        partial = _partial(body.lines, a, b, [(a, b, "{{ variants.table }}")])
        return Claim(a, b, "variants", {"quantization": q}, partial, f"{q['method']} provided files ({n})")
    return None


_DTYPES = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "int8", "uint8")


def _const(node: Any) -> Any:
    """A keyword value the snippet writes as a Python literal (a scalar), else a marker of none."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    return _NONE


_NONE = object()


def usage(body: Body, problems: list[str], repo: str) -> Claim | None:
    """The transformers usage snippet: its settings (the model's repo id, the tokenizer's and model's
    keyword arguments with the dtype, the message, the generation arguments, skip_special_tokens) into
    `usage`, and the snippet itself into the card's own snippet template, each setting replaced by the
    expression that shows it; a setting written in a way cardgen would not write it back stays text (and
    out of `usage`)."""
    import ast

    from cardgen.rendering.literals import kwargs, py_str, py_value

    for t in body.top():
        if t.type != "fence" or t.info.strip().lower() not in ("python", "py") or not _closed(body, t) \
                or "from_pretrained(" not in t.content or ".generate(" not in t.content:
            continue
        code = t.content
        if len(code) > 20_000:  # a usage snippet is short; a long block is something else
            continue
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python, or built to break the parser
            continue
        lines = code.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)

        def span(a: Any, b: Any = None, starts: list[int] = starts) -> tuple[int, int]:
            b = b or a
            return starts[a.lineno - 1] + a.col_offset, starts[b.end_lineno - 1] + b.end_col_offset

        holes: list[tuple[int, int, str]] = []
        u: dict[str, Any] = {"style": "imported"}
        seen: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name, kws = node.func.attr, [k for k in node.keywords if k.arg is not None]
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            values = {str(k.arg): _const(k.value) for k in kws}
            if name == "from_pretrained" and node.args and _const(node.args[0]) == repo and owner not in seen:
                a, b = span(node.args[0])
                if code[a:b] == py_str(repo):
                    holes.append((a, b, "{{ u.repo }}"))
                kind = "tokenizer" if "Tokenizer" in owner else "model" if "Model" in owner else ""
                if not kind or not kws:
                    continue
                seen.add(owner)
                if kind == "model" and kws[0].arg == "torch_dtype":
                    dt = kws[0].value
                    if isinstance(dt, ast.Attribute) and isinstance(dt.value, ast.Name) and dt.value.id == "torch" \
                            and dt.attr in _DTYPES:
                        values["torch_dtype"] = dt.attr
                rest = {k: v for k, v in values.items() if not (kind == "model" and k == "torch_dtype")}
                if _NONE in rest.values() or "trust_remote_code" in rest or values.get("torch_dtype") is _NONE:
                    continue
                shown = ({"torch_dtype": f"torch.{values['torch_dtype']}"} if "torch_dtype" in values else {})
                shown.update({k: py_value(v) for k, v in rest.items()})
                a, b = span(kws[0], kws[-1])
                if code[a:b] != kwargs(shown):
                    continue
                holes.append((a, b, "{{ u.tokenizer_args }}" if kind == "tokenizer" else "{{ u.model_args }}"))
                u["tokenizer_kwargs" if kind == "tokenizer" else "model_kwargs"] = rest
                if kind == "model":
                    u["dtype"] = values.get("torch_dtype")
            elif name == "generate" and kws and kws[-1].arg == "max_new_tokens" and _NONE not in values.values() \
                    and isinstance(values["max_new_tokens"], int) and "eos_token_id" not in values:
                a, b = span(kws[0], kws[-1])
                gen = {k: v for k, v in values.items() if k != "max_new_tokens"}
                if code[a:b] == kwargs({**{k: py_value(v) for k, v in gen.items()},
                                        "max_new_tokens": str(values["max_new_tokens"])}):
                    holes.append((a, b, "{{ u.generate_args }}"))
                    u.update(generation=gen, max_new_tokens=values["max_new_tokens"])
            elif name == "decode" and values.get("skip_special_tokens") in (True, False) and len(kws) == 1:
                a, b = span(kws[0].value)
                holes.append((a, b, "{{ u.skip_special_tokens }}"))
                u["skip_special_tokens"] = values["skip_special_tokens"]
        system = None  # the snippet's `system_prompt = "..."`: the template's system part, filled
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id == "system_prompt" and isinstance(_const(node.value), str):
                system = node.value.value  # type: ignore[attr-defined]
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id == "message" and isinstance(_const(node.value), str):
                a, b = span(node.value)
                if code[a:b] == py_str(node.value.value):  # type: ignore[attr-defined]
                    holes.append((a, b, "{{ u.message }}"))
                    u["message"] = node.value.value  # type: ignore[attr-defined]
        if len(holes) < 2:
            continue
        u.setdefault("dtype", None)  # not shown: left out (not cardgen's default, float16)
        out, at = [], 0
        for a, b, expr in sorted(holes):
            if a < at:
                return None
            out += [literal(code[at:a]), expr]
            at = b
        out.append(literal(code[at:]))
        snippet = "".join(out).rstrip("\n") + "\n"
        start, end = t.map
        partial = _partial(body.lines, start, end, [(start + 1, end - 1, "{{ snippet() }}")])
        names = [k for k in ("tokenizer_kwargs", "model_kwargs", "dtype", "message", "generation") if k in u]
        return Claim(start, end, "usage", {"usage": u}, partial, "usage snippet (" + ", ".join(
            "repo id" if k == "repo" else k for k in names) + ")", files={"snippets/imported.py.j2": snippet},
                     system_prompt=system)
    return None


_SUMMARY = re.compile(r"We identified (\d+) potential model risks? and (\d+) mitigation strateg(?:y|ies) \(M\) for "
                      r"(\d+) potential model uses?")
_LAYERS = {"capability risk": "capability", "human interaction risk": "human interaction", "systemic risk": "systemic"}
_USE_FIELDS = {"purpose": "purpose", "capability": "capability", "ai user": "ai_user", "ai subject": "ai_subject",
               "domain": "domain"}


def _plain(line: str) -> str:
    """A line of a flattened page without markdown marks: `#`, list markers, `**`, indentation."""
    t = re.sub(r"^\s*(?:#+\s*|[-*+]\s+)", "", line).strip()
    return re.sub(r"^\*\*(.*)\*\*$", r"\1", t).strip()


def risk_matrix(body: Body, problems: list[str], fix: bool = False) -> Claim | None:
    """A RiskRAG risk section as a page shows it when flattened to text (the matrix as tab-separated
    lines whose cells were lost, the uses' details, the mitigations per risk): a `risk_assessment`
    whose cells are `unknown`, shown by cardgen's matrix. A hand-typed count that disagrees with the
    lists is kept as written (reported), or computed with ``fix``."""
    from typing import get_args

    from cardgen.risk.schema import HarmArea

    HARM_AREAS = get_args(HarmArea)  # noqa: N806

    lines = body.lines
    plain = [_plain(x) for x in lines]
    head = next((i for i, t in enumerate(plain) if t.lower().startswith("summary of model risks")), None)
    if head is None:
        return None
    at = head + 1
    while at < len(lines) and not plain[at]:
        at += 1
    summary = _SUMMARY.search(plain[at]) if at < len(lines) else None
    if summary is None:
        return None
    summary_line = at
    # the matrix: risk rows `R1<tab>statement<tab>cells...` up to the uses' details
    rows: list[tuple[str, str, list[str]]] = []
    i = at + 1
    while i < len(lines) and not plain[i].lower().startswith("details of the example uses"):
        cells = lines[i].split("\t")
        if re.fullmatch(r"R\d+", cells[0].strip()) and len(cells) >= 2:
            rows.append((cells[0].strip(), cells[1].strip(), [c.strip() for c in cells[2:]]))
        i += 1
    if not rows or i >= len(lines):
        return None
    uses: list[dict[str, str]] = []
    i += 1
    while i < len(lines) and not plain[i].lower().startswith("mitigations for risks"):
        t = plain[i]
        if re.fullmatch(r"U\d+", t):
            uses.append({"id": t})
        elif uses and ":" in t:
            key, _, value = t.partition(":")
            name = _USE_FIELDS.get(key.strip().lower())
            if name:
                uses[-1][name] = re.sub(r"^\*\*(.*)\*\*$", r"\1", value.strip())
        i += 1
    if not uses or any(len(u) != 6 for u in uses) or i >= len(lines):
        return None
    # the mitigations, as a sequence of the page's lines: a risk id, its statement, layer and harm area,
    # then `M` and a mitigation, repeated (a mitigation and the next `M` may run together on one line)
    seq: list[tuple[int, str]] = []
    for j in range(i + 1, len(lines)):
        t = plain[j]
        if t.endswith(" M") and len(t) > 2:
            seq += [(j, t[:-2].strip()), (j, "M")]
        elif t:
            seq.append((j, t))
    risks: dict[str, dict[str, Any]] = {}
    mitigations: dict[str, str] = {}
    end, k = i + 1, 0
    while k < len(seq) and re.fullmatch(r"R\d+", seq[k][1]) and k + 3 < len(seq):
        rid, statement, layer, harm = (x[1] for x in seq[k:k + 4])
        area = harm[:-6].lower() if harm.endswith(" harms") else ""
        if layer.lower() not in _LAYERS or area not in HARM_AREAS or rid in risks:
            return None
        risk: dict[str, Any] = {"id": rid, "statement": statement, "layer": _LAYERS[layer.lower()],
                                "harm_area": area, "mitigations": []}
        risks[rid] = risk
        end, k = seq[k + 3][0] + 1, k + 4
        while k + 1 < len(seq) and seq[k][1] == "M":
            text = seq[k + 1][1]
            mid = next((m for m, v in mitigations.items() if v == text), f"M{len(mitigations) + 1}")
            mitigations[mid] = text
            risk["mitigations"].append(mid)
            end, k = seq[k + 1][0] + 1, k + 2
    ids = [r[0] for r in rows]
    if list(risks) != ids or any(len(r) != 5 for r in risks.values()):
        return None
    n_uses = len(uses)
    if any(len(cells) > n_uses or any(c not in ("", "<div></div>") for c in cells) for _, _, cells in rows):
        return None  # cells with content: not this flattened form
    statements = {r[0]: r[1] for r in rows}
    if any(statements[k] != v["statement"] for k, v in risks.items()):
        return None
    assessment = {
        "heading": plain[head], "order": "as_written",
        "basis": {"method": "imported", "text": "transcribed from the original card, whose matrix cells were lost: "
                                                "each is unknown"},
        "uses": uses, "risks": list(risks.values()), "mitigations": mitigations,
        "matrix": {r: {u["id"]: "unknown" for u in uses} for r in risks}}
    said = [int(x) for x in summary.groups()]
    computed = [len(risks), len(mitigations), n_uses]
    partial = ""
    if said != computed:
        what = ", ".join(f"{a} {name} where it lists {b}" for a, b, name in zip(said, computed, ("risks", "mitigation "
                         "strategies", "uses"), strict=True) if a != b)
        problems.append(f"line {summary_line + 1 + body.offset}: the card says {what}: "
                        + ("the count is computed now (--fix)" if fix else "kept as written (`--fix` computes it)"))
        if fix:  # what the README says once the counts are computed
            body.fixed[summary_line] = _SUMMARY.sub(lambda m: _with_counts(m, computed), lines[summary_line], 1)
        else:
            from cardgen.sections import package_templates

            default = (package_templates() / "risks.md.j2").read_text("utf-8")
            partial = default.replace("{{ risks.summary }}", literal(summary.group(0)), 1)
    return Claim(head, end, "risks", {"risk_assessment": assessment}, partial,
                 f"risk matrix ({len(risks)} risks × {n_uses} uses, {len(mitigations)} mitigations)", by_lines=True)


def _with_counts(m: re.Match[str], counts: list[int]) -> str:
    """The matched sentence with its numbers replaced by ``counts``, in order."""
    text, start = m.group(0), m.start()
    for k in range(len(counts), 0, -1):
        text = text[:m.start(k) - start] + str(counts[k - 1]) + text[m.end(k) - start:]
    return text


_LICENCE_ITEM = re.compile(r"^(\s*[-*+]\s+\*\*Licen[cs]e\*\*\s*:\s*)(\S.*?)\s*$")


def licence(body: Body, problems: list[str], fix: bool, repo: str, title: str) -> Claim | None:
    """A Model Details item naming the licence (`* **License**: ... [TITLE](URL)`) in a card whose metadata
    names none: the original's own problem (the Hub shows the licence as unknown). Kept as written and
    reported; with ``fix``, the licence becomes data (`license: other`, its `license_name` and
    `license_link`, the body's title, link and sentence) and the item is shown from it."""
    from cardgen import hubspec

    for t in body.top():
        if t.type != "bullet_list_open":
            continue
        for i in range(t.map[0], t.map[1]):
            m = _LICENCE_ITEM.match(body.lines[i])
            links = _LINK.findall(m.group(2)) if m else []
            if not m or len(links) != 1:
                continue
            name, url = links[0]
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            problems.append(f"line {i + 1 + body.offset}: the body names the licence {name!r}, but the metadata has "
                            "no `license` (the Hub shows it as unknown): " + (
                                "written as `license: other` with `license_name` and `license_link` (--fix)" if fix
                                else "kept as written (`--fix` writes it into the metadata)"))
            if not fix or not slug:
                return None
            own = f"https://huggingface.co/{repo}/blob/main/"
            link = url[len(own):] if url.startswith(own) and url[len(own):] in hubspec.LICENSE_FILES else url
            statement = m.group(2).replace(f"[{name}]({url})", "[{title}]({url})")
            lic = {"id": "other", "name": slug, "link": link, "title": name,
                   "url": url.replace(f"huggingface.co/{repo}/", "huggingface.co/{repo_id}/"), "statement": statement}
            fields: dict[str, Any] = {"license": lic}
            if title and title in statement:
                lic["statement"] = statement.replace(title, "{name}")
                fields["name"] = title
            a, b = t.map
            partial = _partial(body.lines, a, b, [(i, i + 1, literal(m.group(1)) + "{{ license_line }}")])
            return Claim(a, b, "model_details", fields, partial, f"licence ({name})")
    return None


def _system_prompt(found: list[Claim]) -> None:
    """The default system prompt, when the usage snippet fills the prompt template's system part with one
    (`system_prompt = "### System:\\nYou are ...\\n\\n"`): the prompt's `system_prompt`, which the smoke test
    and the chat example use."""
    from cardgen.kinds.prompt import split_system

    snippet = next((c for c in found if c.slot == "usage" and c.system_prompt), None)
    prompt_ = next((c for c in found if c.slot == "prompt_format"), None)
    if snippet is None or prompt_ is None:
        return
    parts = split_system(prompt_.fields["prompt"]["template"])
    if parts is None:
        return
    head, _, tail = parts[0].partition("{system_message}")
    text = snippet.system_prompt or ""
    if text.startswith(head) and text.endswith(tail) and len(text) > len(head) + len(tail):
        prompt_.fields["prompt"]["system_prompt"] = text[len(head):len(text) - len(tail)]


def recognise(text: str, repo: str, problems: list[str], offset: int = 0, fix: bool = False,
              licensed: bool = True, title: str = "") -> list[Claim]:
    """The claims of a body (the title excluded), in the order of the body, none overlapping; ``offset``:
    the lines before the body in the README, for the line numbers of problems."""
    body = Body.parse(text, offset)
    found = [c for c in (citations(body, problems), prompt(body, problems), training(body, problems, fix),
                         variants(body, problems, repo), risk_matrix(body, problems, fix), usage(body, problems, repo),
                         None if licensed else licence(body, problems, fix, repo, title))
             if c is not None]
    _system_prompt(found)
    claims: list[Claim] = []
    for c in sorted(found, key=lambda c: c.start):
        if any(c.start < o.end and o.start < c.end for o in claims):
            continue  # overlaps one already taken: stays text
        c.original = "\n".join(body.lines[c.start:c.end])
        if any(i in body.fixed for i in range(c.start, c.end)):
            c.expected = "\n".join(body.fixed.get(i, body.lines[i]) for i in range(c.start, c.end))
        claims.append(c)
    return claims
