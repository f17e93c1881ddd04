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


# -- a page of other people's text runs none of it -------------------------------------------------------------
HOSTILE = """\
<a href="java&#x09;script:alert(1)">tab</a> <a href=" JAVASCRIPT:alert(2)">upper</a>
<a href="data:text/html,<script>alert(3)</script>">data</a> <a href="vbscript:msgbox(4)">vb</a>
<a href="file:///etc/passwd">file</a> <img src="javascript:alert(5)" alt="img"> <q cite="javascript:alert(6)">q</q>

[md](javascript:alert(7)) [ok](https://example.com/ok) [mail](mailto:a@example.com) [rel](LICENSE.txt)

<table><tr><td style="position:fixed;top:0;left:0;width:100vw;height:100vh;background:red">overlay</td></tr></table>

| left | centre | right |
|:-----|:------:|------:|
| 1    | 2      | 3     |
"""
B7 = "stabilityai/StableBeluga-7B"


def hostile_cards(cards):
    """The bundled cards with script links in a free section's HTML and in a shared licence's `link` (an
    error, reported at validation; a shared file's error does not stop the cards that use it)."""
    (cards / B7 / "evil.md").write_text(HOSTILE, "utf-8")
    edit(cards / B7 / "card.yaml", "sections: [stable-chat, beluga-ethics]",
         "sections: [stable-chat, beluga-ethics, {heading: Evil, after: usage, file: evil.md}]")
    edit(cards / "_shared/licenses.yaml", "link: LICENSE.txt", 'link: " JavaScript:alert(8)"')
    return cards


def test_no_script_link_and_no_style_in_a_page(cli, cards, tmp_path):
    hostile_cards(cards)
    assert cli("validate", cards / B7).code == 1  # the licence link is refused at validation (CG222)...
    out = tmp_path / "out"
    cli("preview", cards / B7, "--html", out)
    html = (out / f"{B7}.html").read_text("utf-8")
    # ...and if it gets to a page all the same, the page shows it as text
    assert "<h2>License</h2>\n<div>stable-beluga-non-commercial-community-license</div>" in html
    assert not re.search(r"(href|src|cite)=[\"']?\s*(java|vb)script", html, re.I)  # no script link, body or panel
    assert "style=" not in html and "position:fixed" not in html
    assert '<th align="right">right</th>' in html and '<td align="center">2</td>' in html  # alignment kept
    assert '<a href="https://example.com/ok"' in html and '<a href="mailto:a@example.com"' in html
    assert '<a href="LICENSE.txt"' in html
    assert "script-src &#39;none&#39;" in html  # and a static page's policy runs no script at all


def chromium_flags(tmp_path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}"]


MEASURE = """<!DOCTYPE html><html><body><pre id="out">not loaded</pre>
<iframe id="f" width="%d" height="1600" src="%s"></iframe>
<script>
const f = document.getElementById("f");
f.onload = () => { try {
  const d = f.contentDocument, box = (id) => d.getElementById(id).getBoundingClientRect();
  const main = box("card"), aside = box("side-panel");
  document.getElementById("out").textContent = JSON.stringify({
    links: [...d.querySelectorAll("[href], [src], [cite]")].map(e => e.getAttribute("href") ?? e.getAttribute("src") ?? e.getAttribute("cite"))
      .map(url => [new URL(url, d.baseURI).protocol, url]),
    styled: d.querySelectorAll("[style]").length,
    align: Object.fromEntries([...d.querySelectorAll("th")].map(c => [c.textContent, getComputedStyle(c).textAlign])),
    main: [main.left, main.top, main.right, main.bottom], aside: [aside.left, aside.top, aside.right, aside.bottom]});
  } catch (e) { document.getElementById("out").textContent = "failed: " + e; } };
</script></body></html>"""


def measure(exe, tmp_path, page, width: int) -> dict:
    """What Chromium builds of ``page`` in a frame ``width`` px wide: every link, image and quote source as
    the browser parses it, the elements with a `style`, the header cells' alignment, where the card and the
    side panel are drawn."""
    import json

    harness = page.parent / f"measure-{width}.html"
    harness.write_text(MEASURE % (width, page.name), "utf-8")
    dom = subprocess.run([exe, *chromium_flags(tmp_path), "--allow-file-access-from-files",
                          "--virtual-time-budget=10000", "--dump-dom", harness.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1).startswith("{"), dom[-2000:]
    import html as html_

    return json.loads(html_.unescape(found.group(1)))


def test_in_chromium_no_link_runs_script_nothing_is_styled_and_a_narrow_window_stacks(cli, cards, tmp_path):
    exe = chromium()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    hostile_cards(cards)
    out = tmp_path / "out"
    cli("preview", cards / B7, "--html", out)
    page = out / f"{B7}.html"
    wide = measure(exe, tmp_path, page, 1280)
    schemes = {p for p, _ in wide["links"]}  # as Chromium parses each link, image and quote source
    assert schemes <= {"http:", "https:", "mailto:", "file:"}, wide["links"]
    assert all(re.match(r"[a-z]+:", href) is None for p, href in wide["links"] if p == "file:"), wide["links"]  # relative
    assert ["https:", "https://example.com/ok"] in wide["links"] and ["file:", "LICENSE.txt"] in wide["links"]
    assert wide["styled"] == 0
    aligned = [wide["align"][h].removeprefix("-webkit-") for h in ("left", "centre", "right")]
    assert aligned == ["left", "center", "right"]  # the table's alignment, without `style`
    main, aside = wide["main"], wide["aside"]
    assert aside[0] >= main[2]  # 1280 px: the side panel beside the card
    narrow = measure(exe, tmp_path, page, 500)
    main, aside = narrow["main"], narrow["aside"]
    assert aside[1] >= main[3] and aside[2] <= 500 and main[2] <= 500  # 500 px: below it, nothing covered


def serving(live, **bounds):
    from cardgen.commands.preview import server

    httpd = server(live, 0, **bounds)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def raw_get(port: int, path: str, host: str | None) -> tuple[int, str]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\n".encode() + (f"Host: {host}\r\n".encode() if host is not None else b"")
                  + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_a_request_naming_another_host_is_refused(cards, tmp_path):
    from cardgen.commands.preview import LiveSite

    class Counted(LiveSite):
        def current(self):
            self.asked = getattr(self, "asked", 0) + 1
            return super().current()

    live = Counted([cards / B7])
    httpd = serving(live)
    port = httpd.server_address[1]
    try:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            code, body = raw_get(port, f"/{B7}.html", host)
            assert code == 200 and "<h1>Stable Beluga 7B</h1>" in body, host
        for host in (f"rebound.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", f"localhost:{port}.evil", None):
            code, body = raw_get(port, f"/{B7}.html", host)
            assert code == 403 and "Beluga" not in body, host
        exe = chromium()
        if exe is not None:  # a DNS-rebinding page: a name of its own resolving to 127.0.0.1
            def dom(url):
                return subprocess.run([exe, *chromium_flags(tmp_path), "--host-resolver-rules=MAP rebound.example 127.0.0.1",
                                       "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True, text=True,
                                      timeout=120).stdout
            asked = live.asked
            assert "Stable Beluga 7B" in dom(f"http://localhost:{port}/{B7}.html")
            assert live.asked >= asked + 2  # the page, and its reload script's polls: the policy lets it run
            rebound = dom(f"http://rebound.example:{port}/{B7}.html")
            assert "answers requests for" in rebound and "Stable Beluga 7B" not in rebound
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_idle_or_stalled_connection_is_closed(cards):
    import socket
    import time

    from cardgen.commands.preview import LiveSite

    httpd = serving(LiveSite([cards / B7]), idle=0.5)
    try:
        for start in (b"", b"GET / HTTP/1.1\r\nHost: loc"):  # nothing sent; half a request
            with socket.create_connection(("127.0.0.1", httpd.server_address[1]), timeout=10) as s:
                s.sendall(start)
                t0 = time.monotonic()
                assert s.recv(1) == b""  # the server closed it (a socket.timeout after 10 s otherwise)
                assert time.monotonic() - t0 < 5
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_hundred_idle_connections_make_no_threads_and_a_request_is_still_answered(cards):
    import socket
    import time

    from cardgen import limits
    from cardgen.commands.preview import LiveSite

    live = LiveSite([cards / B7])
    live.current()
    before = threading.active_count()
    httpd = serving(live)
    port = httpd.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(100)]
    try:
        t0 = time.monotonic()
        assert raw_get(port, "/__version", f"127.0.0.1:{port}")[0] == 200
        assert time.monotonic() - t0 < 2
        # the serving loop, and at most the pool's workers: not a thread per connection
        assert threading.active_count() <= before + 1 + limits.PREVIEW_WORKERS
    finally:
        for s in idle:
            s.close()
        httpd.shutdown()
        httpd.server_close()


def test_a_card_with_an_error_gets_a_page_listing_why(cards, tmp_path, cli):
    from cardgen.commands.preview import LiveSite

    edit(cards / B7 / "card.yaml", "language: [en]", "language: [english]")
    live = LiveSite([cards / B7])
    httpd = serving(live)
    port = httpd.server_address[1]
    host = f"127.0.0.1:{port}"
    try:
        code, index = raw_get(port, "/", host)
        assert code == 200 and f'<a href="{B7}.html">{B7}</a>' in index  # the index links to its page
        code, body = raw_get(port, f"/{B7}.html", host)
        assert code == 200 and "This card was not rendered" in body
        assert re.search(rf"{B7}/card.yaml:\d+:\d+: CG205 language &#39;english&#39; is not an ISO 639 code", body), body
        assert "/__version" in body  # it reloads when the card is fixed
        edit(cards / B7 / "card.yaml", "language: [english]", "language: [en: [}")  # the source no longer loads
        code, body = raw_get(port, f"/{B7}.html", host)
        assert code == 404 and "There is no page" in body and re.search(rf"{B7}/card.yaml:\d+:\d+: CG0", body), body
    finally:
        httpd.shutdown()
        httpd.server_close()
    out = tmp_path / "out"  # written pages too
    edit(cards / B7 / "card.yaml", "language: [en: [}", "language: [english]")
    assert cli("preview", cards / B7, "--html", out).code == 1
    assert "CG205" in (out / f"{B7}.html").read_text("utf-8")
