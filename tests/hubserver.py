"""A loopback HTTP server that speaks the part of the Hub API `huggingface_hub` uses to download a
README and to create a commit (or a pull request). It records every request so tests can assert on
the exact payload. Nothing here touches the real Hub."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]


@dataclass
class FakeHub:
    token: str = "hf_test_token_0123456789"
    # (repo_id, revision) -> {path: bytes}
    files: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    fail: dict = field(default_factory=dict)  # path regex -> status code to answer with
    once: dict = field(default_factory=dict)  # path regex -> (status, headers) answered once, then normal
    hang: dict = field(default_factory=dict)  # path regex -> seconds to wait before answering
    held: set = field(default_factory=set)  # (method, path regex): never answered while the server runs
    # (method, path regex) -> (a function of the request giving the answer's chunks (an iterator, never held
    # whole), the Content-Length to declare or None): a 200 answer streamed, chunked when no length is declared
    streamed: dict = field(default_factory=dict)
    # (method, path regex) -> a function of the request giving the raw bytes of the answer, status line and
    # headers included, written as they come (an answer that never completes its headers, say)
    raw: dict = field(default_factory=dict)
    stored_then: dict = field(default_factory=dict)  # commit path regex -> status answered after storing
    heads: dict = field(default_factory=dict)  # (repo_id, revision) -> its head commit (default "a" * 40)
    before_commit: object = None  # called with (repo, revision) as a commit request arrives (a hand edit)
    answers_as: str = ""  # the address the answers spell (a Hub behind a proxy); default: the server's own
    created: list = field(default_factory=list)  # (repo_id, private) of each repository created through the API
    pr_status: dict = field(default_factory=dict)  # (repo_id, number) -> "open" (default) | "closed"

    def open_pr(self, repo: str, files: dict) -> int:
        """A pull request someone opened: its files at `refs/pr/N` (listed as an open discussion)."""
        n = 1 + max([int(rev.rsplit("/", 1)[1]) for (rid, rev) in self.files
                     if rid == repo and rev.startswith("refs/pr/")], default=0)
        self.files[(repo, f"refs/pr/{n}")] = dict(files)
        return n

    def edit(self, repo: str, rev: str, path: str, data: bytes) -> None:
        """A commit made on the Hub by someone else: the file changes and the branch moves on."""
        self.files.setdefault((repo, rev), {})[path] = data
        self.commits += 1
        self.heads[(repo, rev)] = f"{self.commits:040x}"
    commits: int = 0
    url: str = "http://127.0.0.1"
    released: threading.Event = field(default_factory=threading.Event)  # set as the server stops

    def readme(self, repo: str, rev: str = "main") -> str | None:
        data = self.files.get((repo, rev), {}).get("README.md")
        return None if data is None else data.decode()

    def commit_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and "/commit/" in r.path]


def _handler(hub: FakeHub):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _send(self, code: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(code)
            hdrs = {"Content-Type": "application/json", "X-Request-Id": "test-request"}
            hdrs.update(headers or {})
            if code >= 400 and "X-Error-Code" not in hdrs:
                hdrs["X-Error-Message"] = {401: "Invalid credentials in Authorization header",
                                           403: "You don't have the rights", 404: "Repository not found",
                                           429: "Too many requests"}.get(code, "error")
                if code == 404:
                    hdrs["X-Error-Code"] = "RepoNotFound"
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _stream(self, chunks, length: int | None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if length is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in chunks:
                    self.wfile.write(chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if length is None:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client stopped reading, as a bounded client does
                pass

        def _json(self, code, obj, **kw):
            self._send(code, json.dumps(obj).encode(), **kw)

        def _record(self) -> Request:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            u = urlparse(self.path)
            r = Request(self.command, unquote(u.path), parse_qs(u.query), {k.lower(): v for k, v in self.headers.items()}, body)
            hub.requests.append(r)
            return r

        def _auth_ok(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {hub.token}"

        def _route(self):
            r = self._record()
            head = r.method == "HEAD"
            if any(r.method == m and re.search(pattern, r.path) for m, pattern in hub.held):
                hub.released.wait()  # no answer at all, until the server stops
                self.close_connection = True
                return None
            for (method, pattern), chunks in list(hub.raw.items()):
                if r.method == method and re.search(pattern, r.path):
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the client stopped reading
                        for chunk in chunks(r):
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    return None
            for (method, pattern), (chunks, length) in list(hub.streamed.items()):
                if r.method == method and re.search(pattern, r.path):
                    return self._stream(chunks(r), length)
            for pattern, seconds in list(hub.hang.items()):
                if re.search(pattern, r.path):
                    time.sleep(seconds)
            for pattern, (code, headers) in list(hub.once.items()):
                if re.search(pattern, r.path):
                    del hub.once[pattern]
                    return self._json(code, {"error": "injected once"}, headers=headers, head=head)
            for pattern, code in list(hub.fail.items()):
                if re.search(pattern, r.path):
                    return self._json(code, {"error": "injected"}, head=head)
            m = re.fullmatch(r"/((?:datasets/)?[^/]+/[^/]+)/resolve/(refs/pr/\d+|[^/]+)/(.+)", r.path)
            if m and r.method in ("GET", "HEAD"):
                repo, rev, path = m.groups()
                if not self._auth_ok():
                    return self._json(401, {"error": "unauthorized"}, head=head)
                if (repo, rev) not in hub.files:
                    code = 404
                    hdr = {"X-Error-Code": "RepoNotFound" if not any(k[0] == repo for k in hub.files) else "RevisionNotFound"}
                    return self._json(code, {"error": "not found"}, headers=hdr, head=head)
                data = hub.files[(repo, rev)].get(path)
                if data is None:
                    return self._json(404, {"error": "entry not found"}, headers={"X-Error-Code": "EntryNotFound"}, head=head)
                etag = '"' + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() + '"'
                return self._send(200, data, headers={"Content-Type": "text/plain; charset=utf-8", "ETag": etag,
                                                      "X-Repo-Commit": hub.heads.get((repo, rev), "a" * 40)},
                                  head=head)
            m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/(refs/pr/\d+|[^/]+)(?:/(.+))?", r.path)
            if m and r.method == "GET":  # a folder's files (not recursive), as the Hub lists them
                repo, rev, folder = m.groups()
                if (repo, rev) not in hub.files:
                    return self._json(404, {"error": "not found"}, headers={"X-Error-Code": "RevisionNotFound"})
                prefix = f"{folder.rstrip('/')}/" if folder else ""
                listed = [{"type": "file", "path": p, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                          for p, d in sorted(hub.files[(repo, rev)].items())
                          if p.startswith(prefix) and "/" not in p[len(prefix):]]
                if not listed:
                    return self._json(404, {"error": "entry not found"}, headers={"X-Error-Code": "EntryNotFound"})
                return self._json(200, listed)
            m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/discussions", r.path)
            if m and r.method == "GET":  # pull requests: each `refs/pr/N` revision of the repo
                repo = m.group(1)
                want = r.query.get("status", ["all"])[0]
                prs = sorted(int(rev.rsplit("/", 1)[1]) for (rid, rev) in hub.files
                             if rid == repo and rev.startswith("refs/pr/"))
                found = [{"title": f"PR {n}", "num": n, "author": {"name": "someone"}, "createdAt": "2026-01-01T00:00:00Z",
                          "status": hub.pr_status.get((repo, n), "open"), "repo": {"name": repo, "type": "model"},
                          "isPullRequest": True} for n in prs]
                found = [d for d in found if want in ("all", d["status"])]
                return self._json(200, {"discussions": found, "count": len(found), "start": 0, "numClosedDiscussions": 0})
            if r.path == "/api/validate-yaml" and r.method == "POST":
                # the Hub checks the README's front matter before a commit; a block that is not a
                # mapping is refused with 400 and a list of errors, as the Hub does
                import yaml

                content = json.loads(r.body or b"{}").get("content", "")
                fm = re.match(r"\A\s*---\n(.*?)\n---", content, re.S)
                data = yaml.safe_load(fm.group(1)) if fm else {}
                if data is not None and not isinstance(data, dict):
                    return self._json(400, {"errors": [{"message": "metadata must be a mapping"}]})
                warnings = [] if fm else [{"message": "empty or missing yaml metadata in repo card"}]
                return self._json(200, {"errors": [], "warnings": warnings})
            if r.path == "/api/repos/create" and r.method == "POST":
                # huggingface_hub's create_repo: {name, organization, visibility (2.x) or private (1.x), type}
                if not self._auth_ok():
                    return self._json(401, {"error": "unauthorized"})
                body = json.loads(r.body or b"{}")
                repo = f"{body.get('organization')}/{body.get('name')}"
                if any(k[0] == repo for k in hub.files):
                    return self._json(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo}"})
                hub.files[(repo, "main")] = {}
                hub.created.append((repo, bool(body.get("private")) or body.get("visibility") == "private"))
                return self._json(200, {"url": f"{hub.url}/{repo}", "name": repo})
            m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/([^/]+)", r.path)
            if m and r.method == "POST":
                if not self._auth_ok():
                    return self._json(401, {"error": "unauthorized"})
                files = json.loads(r.body or b"{}").get("files", [])
                return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                  for f in files], "commitOid": "a" * 40})
            m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/([^/]+)", r.path)
            if m and r.method == "POST":
                if not self._auth_ok():
                    return self._json(401, {"error": "unauthorized"})
                repo, rev = m.groups()
                if not any(k[0] == repo for k in hub.files):
                    return self._json(404, {"error": "Repository not found"}, headers={"X-Error-Code": "RepoNotFound"})
                if callable(hub.before_commit):
                    hub.before_commit(repo, rev)
                lines = r.ndjson()
                parent = next((ln["value"].get("parentCommit") for ln in lines if ln.get("key") == "header"), None)
                if parent is not None and parent != hub.heads.get((repo, rev), "a" * 40):
                    return self._json(412, {"error": "A commit has happened since. Please refresh and try again."})
                pr = r.query.get("create_pr", ["0"])[0] in ("1", "true")
                hub.commits += 1
                if not pr:
                    store = hub.files.setdefault((repo, rev), {})
                    for line in lines:
                        if line.get("key") == "file":
                            v = line["value"]
                            store[v["path"]] = base64.b64decode(v["content"])
                oid = f"{hub.commits:040x}"
                if not pr:
                    hub.heads[(repo, rev)] = oid
                for pattern, code in hub.stored_then.items():
                    if re.search(pattern, r.path):  # stored, but the answer is an error
                        return self._json(code, {"error": "bad gateway"})
                base = hub.answers_as or hub.url
                out = {"commitUrl": f"{base}/{repo}/commit/{oid}", "commitOid": oid, "success": True}
                if pr:
                    out["pullRequestUrl"] = f"{base}/{repo}/discussions/{hub.commits}"
                return self._json(200, out)
            return self._json(404, {"error": f"no route for {r.method} {r.path}"})

        do_GET = do_HEAD = do_POST = do_PUT = _route

    return H


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a client that left
            super().handle_error(request, client_address)


class HubServer:
    def __init__(self, hub: FakeHub):
        self.hub = hub
        self.httpd = _Server(("127.0.0.1", 0), _handler(hub))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        hub.url = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.hub.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(hub: FakeHub, monkeypatch, home, token: bool = True):
    """``hub`` served on loopback, with huggingface_hub pointed at it: HF_ENDPOINT, HF_HOME in ``home``,
    online, and the hub's token in HF_TOKEN (unless ``token`` is false)."""
    with HubServer(hub) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        if token:
            monkeypatch.setenv("HF_TOKEN", hub.token)
        monkeypatch.setenv("HF_HOME", str(home))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server
