"""`cardgen preview`: each card as the Hub shows a model page. Static pages are checked as HTML and in
headless Chromium (a screenshot per card is kept in test-artifacts/preview/); the live server re-renders
when a source changes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import urllib.request
from html.parser import HTMLParser

import pytest
import yaml

from cardgen.frontmatter import split

from conftest import BUNDLED, CARDS, REPO, edit

ARTIFACTS = REPO / "test-artifacts" / "preview"


class Page(HTMLParser):
    """Headings, tables, side-panel labels and scripts of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.tables = 0
        self.scripts = 0
        self.panel: list[str] = []
        self._in: list[str] = []
        self._aside = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tables += tag == "table"
        self.scripts += tag == "script"
        if tag == "aside" and ("id", "side-panel") in attrs:
            self._aside = True
        if tag in ("h1", "h2", "h3", "h4"):
            self._in.append(tag)
            if self._aside:
                self.panel.append("")
            else:
                self.headings.append((tag, ""))

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4") and self._in:
            self._in.pop()
            if self._aside:
                self.panel[-1] = self.panel[-1].strip()
        if tag == "aside":
            self._aside = False

    def handle_data(self, data):
        if not self._in:
            return
        if self._aside:
            self.panel[-1] += data
        else:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def readme(repo: str) -> str:
    return (REPO / "rendered" / repo / "README.md").read_text("utf-8")


def md_headings(text: str) -> list[str]:
    """The README's headings as text (links and code marks dropped), by markdown-it-py."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(split(text)[1])
    return [tokens[i + 1].children and "".join(c.content for c in tokens[i + 1].children if c.type in ("text", "code_inline"))
            for i, t in enumerate(tokens) if t.type == "heading_open" and int(t.tag[1]) <= 4]


def expected_panel(meta: dict) -> list[str]:
    keys = [("license", "License"), ("pipeline_tag", "Task"), ("library_name", "Library"), ("language", "Languages"),
            ("datasets", "Datasets"), ("base_model", "Model tree"), ("tags", "Tags"),
            ("model-index", "Evaluation results"), ("co2_eq_emissions", "Carbon emissions")]
    return [label for key, label in keys if meta.get(key)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from cardgen.cli import main

    out = tmp_path_factory.mktemp("preview")
    assert main(["preview", str(CARDS), "--html", str(out)]) == 0
    return out


def test_a_page_per_card_with_the_hubs_side_panel_headings_and_tables(site):
    pages = sorted(p.relative_to(site).with_suffix("") for p in site.rglob("*.html") if p.name != "index.html")
    assert len(pages) == BUNDLED
    for rel in pages:
        repo = str(rel)
        text = readme(repo)
        meta = yaml.safe_load(split(text)[0])
        page = Page((site / f"{repo}.html").read_text("utf-8"))
        assert page.panel == expected_panel(meta), repo
        assert [t for _, t in page.headings] == md_headings(text), repo
        assert page.tables == len(re.findall(r"^\|[-| ]+\|$", split(text)[1], re.M)), repo
        assert page.scripts == 0, repo  # static pages carry no script
    index = (site / "index.html").read_text("utf-8")
    assert all(f'href="{rel}.html"' in index for rel in pages)


def test_raw_html_in_a_card_is_sanitised(cli, cards, tmp_path):
    edit(cards / "stabilityai/StableBeluga-7B/card.yaml", "sections: [stable-chat, beluga-ethics]",
         "sections: [stable-chat, beluga-ethics, {heading: Evil, after: usage, body: \"<details><summary>More</summary>"
         "kept</details>\\n\\n<script>alert(1)</script>\\n\\n<img src=x onerror=alert(2)>\"}]")
    out = tmp_path / "out"
    assert cli("preview", cards / "stabilityai/StableBeluga-7B", "--html", out).code == 0
    html = (out / "stabilityai/StableBeluga-7B.html").read_text()
    assert "<details><summary>More</summary>kept</details>" in html
    assert "<script>alert(1)" not in html and "onerror" not in html


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CARDGEN_REQUIRE_CHROMIUM"):
        pytest.fail("chromium is not installed, and .ci/run said it would be")
    return found


def test_every_page_in_headless_chromium(site, tmp_path):
    exe = chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    for page_file in sorted(site.rglob("*.html")):
        if page_file.name == "index.html":
            continue
        repo = str(page_file.relative_to(site).with_suffix(""))
        dom = subprocess.run([exe, *flags, "--dump-dom", page_file.as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
        page = Page(dom)  # what the browser built, not the file's text
        meta = yaml.safe_load(split(readme(repo))[0])
        assert page.panel == expected_panel(meta), repo
        assert page.headings and page.headings[0][0] == "h1", repo
        assert page.tables == len(re.findall(r"^\|[-| ]+\|$", split(readme(repo))[1], re.M)), repo
        if "Summary of Model Risks by Example Uses" in readme(repo):  # the risk matrix, readable with its legend
            assert "Cells: ● applies, to whom" in dom and "Recommending personalized content (U1)" in dom, repo
        shot = ARTIFACTS / f"{repo.replace('/', '__')}.png"
        subprocess.run([exe, *flags, "--window-size=1280,1600", f"--screenshot={shot}", page_file.as_uri()],
                       capture_output=True, timeout=120)
        assert shot.is_file() and shot.stat().st_size > 20_000, repo  # a page was drawn, not a blank


def test_the_live_server_renders_again_when_a_source_changes(cards):
    from cardgen.commands.preview import LiveSite, server

    live = LiveSite([cards / "stabilityai/StableBeluga-7B"])
    httpd = server(live, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        get = lambda path: urllib.request.urlopen(base + path, timeout=30).read().decode()  # noqa: E731
        first = get("/__version")
        page = get("/stabilityai/StableBeluga-7B.html")
        assert "<h1>Stable Beluga 7B</h1>" in page and "/__version" in page  # live pages poll for changes
        edit(cards / "stabilityai/StableBeluga-7B/card.yaml", "name: Stable Beluga 7B", "name: Stable Beluga 7B Edited")
        assert get("/__version") != first
        assert "<h1>Stable Beluga 7B Edited</h1>" in get("/stabilityai/StableBeluga-7B.html")
        with pytest.raises(urllib.error.HTTPError):
            get("/../../etc/passwd")
    finally:
        httpd.shutdown()
        httpd.server_close()
