"""The loopback HTTP server of `cardgen preview`: pages of cards under review, which are other people's
text, served to the one person previewing them and to no one else.

* It answers only requests that name it: `Host` is `127.0.0.1:<port>` or `localhost:<port>`, else 403.
  A web page whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding) sends its own name, and reads
  nothing.
* A connection waits for its request without a thread: the accepting loop holds idle connections in a
  selector, closes those idle for ``idle`` seconds (and the oldest past ``waiting`` of them), and hands a
  connection to one of ``workers`` threads once its request starts to arrive; a request that stalls on
  the way times out after ``idle`` seconds too. A hundred idle connections make no thread.
"""

from __future__ import annotations

import http.server
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cardgen import limits


class LoopbackServer(http.server.HTTPServer):
    """An HTTP server on 127.0.0.1 (``port`` 0: any free one), with ``handler`` for each request."""

    request_queue_size = 64

    def __init__(self, port: int, handler: type[http.server.BaseHTTPRequestHandler],
                 idle: float = limits.PREVIEW_IDLE_SECONDS, workers: int = limits.PREVIEW_WORKERS,
                 waiting: int = limits.PREVIEW_WAITING) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.socket.setblocking(False)
        self.idle, self.waiting = idle, waiting
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="cardgen-preview")
        self._idle: dict[socket.socket, tuple[Any, float]] = {}  # connection -> (client address, deadline)
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()

    @property
    def hosts(self) -> frozenset[str]:
        """The `Host` headers that name this server."""
        port = self.server_address[1]
        return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.socket, selectors.EVENT_READ)
                sel.register(self._wake_r, selectors.EVENT_READ)
                while not self._stop.is_set():
                    for key, _ in sel.select(self._wait(poll_interval)):
                        if key.fileobj is self.socket:
                            self._accept(sel)
                        elif key.fileobj is self._wake_r:
                            self._wake_r.recv(64)
                        else:
                            self._start(sel, key.fileobj)  # type: ignore[arg-type]  # a connection
                    self._expire(sel, time.monotonic())
        finally:
            for conn in list(self._idle):
                self.shutdown_request(conn)
            self._idle.clear()
            self._stop.clear()
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (from another thread) and wait until it has."""
        self._stop.set()
        self._wake_w.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False)  # connections already handed over are still answered, and closed
        self._wake_r.close()
        self._wake_w.close()

    def _wait(self, poll_interval: float) -> float:
        """How long the loop may sleep: until the next idle connection's deadline, at most ``poll_interval``."""
        first = min((deadline for _, deadline in self._idle.values()), default=None)
        return poll_interval if first is None else max(0.0, min(poll_interval, first - time.monotonic()))

    def _accept(self, sel: selectors.BaseSelector) -> None:
        try:
            conn, address = self.socket.accept()
        except OSError:  # the client went away, or another wake-up took it
            return
        if len(self._idle) >= self.waiting:  # the longest-waiting connection makes room
            oldest = min(self._idle, key=lambda c: self._idle[c][1])
            self._drop(sel, oldest)
        self._idle[conn] = (address, time.monotonic() + self.idle)
        sel.register(conn, selectors.EVENT_READ)

    def _start(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        """The request has started to arrive: a worker thread reads and answers it."""
        sel.unregister(conn)
        address, _ = self._idle.pop(conn)
        self.pool.submit(self._answer, conn, address)

    def _answer(self, conn: socket.socket, address: Any) -> None:
        try:
            self.finish_request(conn, address)
        except Exception:  # noqa: BLE001 - one broken request does not stop the server
            self.handle_error(conn, address)
        finally:
            self.shutdown_request(conn)

    def _expire(self, sel: selectors.BaseSelector, now: float) -> None:
        for conn in [c for c, (_, deadline) in self._idle.items() if deadline <= now]:
            self._drop(sel, conn)

    def _drop(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        sel.unregister(conn)
        del self._idle[conn]
        self.shutdown_request(conn)


class Handler(http.server.BaseHTTPRequestHandler):
    """A request to a ``LoopbackServer``: refused unless its `Host` names the server; the socket times out
    after the server's ``idle`` seconds. Subclasses answer in ``answer`` (a GET whose host is right)."""

    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle)  # waiting for the rest of the request, or to send

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.hosts:
            self.reply(403, b"cardgen preview answers requests for " + " or ".join(sorted(self.server.hosts)).encode()
                       + b" alone", "text/plain; charset=utf-8")
            return
        self.answer()

    def answer(self) -> None:
        raise NotImplementedError

    def reply(self, code: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "frame-ancestors 'none'")  # no other page frames it
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
