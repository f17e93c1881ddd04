"""The licence recogniser: a Model Details item that names the licence, in a card whose metadata names
none, into `license` (with ``--fix``; else it is reported and kept as written)."""

from __future__ import annotations

import re
from typing import Any

from cardgen.importing.recognise.claims import LINK, Claim, literal, partial
from cardgen.importing.recognise.registry import Context, recogniser

_LICENCE_ITEM = re.compile(r"^(\s*[-*+]\s+\*\*Licen[cs]e\*\*\s*:\s*)(\S.*?)\s*$")


@recogniser(70)
def licence(ctx: Context) -> Claim | None:
    """A Model Details item naming the licence (`* **License**: ... [TITLE](URL)`) in a card whose metadata
    names none: the original's own problem (the Hub shows the licence as unknown). Kept as written and
    reported; with ``fix``, the licence becomes data (`license: other`, its `license_name` and
    `license_link`, the body's title, link and sentence) and the item is shown from it."""
    from cardgen import hubspec

    if ctx.licensed:
        return None
    body, fix, repo, title = ctx.body, ctx.fix, ctx.repo, ctx.title
    for t in body.top():
        if t.type != "bullet_list_open":
            continue
        for i in range(t.map[0], t.map[1]):
            m = _LICENCE_ITEM.match(body.lines[i])
            links = LINK.findall(m.group(2)) if m else []
            if not m or len(links) != 1:
                continue
            name, url = links[0]
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            ctx.problems.append(f"line {i + 1 + body.offset}: the body names the licence {name!r}, but the metadata "
                                "has no `license` (the Hub shows it as unknown): " + (
                                    "written as `license: other` with `license_name` and `license_link` (--fix)"
                                    if fix else "kept as written (`--fix` writes it into the metadata)"))
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
            hole = (i, i + 1, literal(m.group(1)) + "{{ license_line }}")
            return Claim(a, b, "model_details", fields, partial(body.lines, a, b, [hole]), f"licence ({name})")
    return None

