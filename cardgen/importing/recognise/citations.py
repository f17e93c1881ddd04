"""The BibTeX recogniser: consecutive sections whose code blocks are all BibTeX entries, into `cite_as`
and `citations` (``parse_bibtex`` reads one entry back into a ``Citation``'s fields)."""

from __future__ import annotations

import re
from typing import Any

from cardgen.importing.recognise.claims import Body, Claim, closed, partial
from cardgen.importing.recognise.registry import Context, recogniser

#: a BibTeX entry whose fields are each on one line: `@type{key,` ... `}`
_ENTRY = re.compile(r"\A@([A-Za-z]+)\s*\{\s*([^,\s{}]+)\s*,[ \t]*\n(.*)\n\s*\}\s*\Z", re.S)
_FIELD = re.compile(r"\A( *)([A-Za-z]+)( ?= ?)\{(.*)\}(,?)[ \t]*\Z")
#: a heading that introduces how to cite this model itself (else: the works it builds on)
_CITE_AS = re.compile(r"how to cite|cite (this|us|our|the model)|citing", re.I)


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


#: a section and its heading: (start, end, level, heading text)
Section = tuple[int, int, int, str]
#: `cite_as` and `citations`, each with what it holds
ByName = dict[str, list[Any]]


def _bibtex_sections(body: Body) -> list[Section]:
    """The first run of consecutive sections whose code blocks are all BibTeX (a section inside one
    already taken is part of it)."""
    group: list[Section] = []
    for start, end, level, text in body.sections():
        if group and start < group[-1][1]:
            continue  # inside a section already taken
        code = [t for t in body.blocks_in(start, end) if t.type == "fence"]
        bib = [f for f in code if _looks_bibtex(f.content)]
        if bib and len(bib) == len(code) and (not group or group[-1][1] == start):
            group.append((start, end, level, text))
        elif group:
            break
    return group


def _entries(body: Body, group: list[Section], problems: list[str]) -> tuple[ByName, ByName]:
    """The entries of the sections' BibTeX blocks, and the blocks they come from, each under `cite_as` (a
    "how to cite" section before any other) or `citations`; a block cardgen cannot hold is reported."""
    fields: ByName = {"cite_as": [], "citations": []}
    fences: ByName = {"cite_as": [], "citations": []}
    for start, end, _, text in group:
        name = "cite_as" if _CITE_AS.search(text) and not fields["citations"] else "citations"
        for f in (t for t in body.blocks_in(start, end) if t.type == "fence"):
            entry = parse_bibtex(f.content) if closed(body, f) else None
            if entry is None:
                problems.append(f"line {f.map[0] + 1 + body.offset}: a BibTeX block that cardgen cannot hold as a "
                                "citation (a field over several lines, quotes instead of braces, or a field BibTeX "
                                "does not have): kept as text")
                continue
            fences[name].append(f)
            fields[name].append(entry)
    return fields, fences


@recogniser(10)
def citations(ctx: Context) -> Claim | None:
    """Consecutive sections whose code blocks are all BibTeX: their entries into `cite_as` (under a
    "how to cite" heading) and `citations`, the prose around them kept in the partial."""
    body = ctx.body
    group = _bibtex_sections(body)
    if not group:
        return None
    fields, fences = _entries(body, group, ctx.problems)
    holes = [h for name in fences for h in _fence_holes(body, fences[name], name)]
    if not holes:
        return None
    start, end = group[0][0], group[-1][1]
    n = len(fields["cite_as"]) + len(fields["citations"])
    return Claim(start, end, "citations", {k: v for k, v in fields.items() if v},
                 partial(body.lines, start, end, holes), f"citations ({n} BibTeX entr{'y' if n == 1 else 'ies'})")
