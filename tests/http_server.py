"""A real HTTP server on 127.0.0.1 for download tests, started and stopped by the tests.

Paths are ``/<behaviour>/<file name>``:

* ``good``: the file with its ``Content-Length``;
* ``truncated``: announces the full length, sends half, closes the connection;
* ``slow``: waits ``delay`` seconds before answering;
* ``missing``: 404;
* ``trickle``: announces the full length, sends the first ``head`` bytes at once, then
  ``step`` bytes every ``interval`` seconds (a mirror that never quite stalls);
* ``huge``: announces 50 GiB, then sends the file and closes;
* ``endless``: no ``Content-Length``; sends the file over and over until the client
  goes away (or ``repeat`` times).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE = 50 * 2**30


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    delay: float = 5.0
    head: int = 0
    step: int = 1
    interval: float = 0.05
    repeat: int = 1000

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = self.path.strip("/").split("/", 1)
        behaviour, name = (parts + [""])[:2]
        body = self.files.get(name)
        if behaviour == "missing" or body is None:
            self.send_error(404, "Not Found")
            return
        if behaviour == "slow":
            time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if behaviour == "huge":
            self.send_header("Content-Length", str(HUGE))
        elif behaviour != "endless":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self._body(behaviour, body)
        except OSError:  # the client went away: what the tests want to see it do
            self.close_connection = True

    def _body(self, behaviour: str, body: bytes) -> None:
        if behaviour == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif behaviour == "trickle":
            self.wfile.write(body[: self.head])
            self.wfile.flush()
            for start in range(self.head, len(body), self.step):
                time.sleep(self.interval)
                self.wfile.write(body[start:start + self.step])
                self.wfile.flush()
        elif behaviour == "endless":
            for _ in range(self.repeat):
                self.wfile.write(body)
            self.close_connection = True
        else:
            self.wfile.write(body)


@contextmanager
def serve(files: dict[str, bytes], delay: float = 5.0, **behaviour: float) -> Iterator[str]:
    """Serve ``files`` (name → bytes); yields the base URL ``http://127.0.0.1:PORT``.

    ``behaviour`` overrides the ``trickle``/``endless`` settings (``head``, ``step``,
    ``interval``, ``repeat``).
    """
    handler = type("Handler", (_Handler,), {"files": dict(files), "delay": delay, **behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
