"""A real HTTP server on 127.0.0.1 for download tests, started and stopped by the tests.

Paths are ``/<behaviour>/<file name>``:

* ``good``: the file with its ``Content-Length``;
* ``truncated``: announces the full length, sends half, closes the connection;
* ``slow``: waits ``delay`` seconds before answering;
* ``missing``: 404.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    delay: float = 5.0

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
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def serve(files: dict[str, bytes], delay: float = 5.0) -> Iterator[str]:
    """Serve ``files`` (name → bytes); yields the base URL ``http://127.0.0.1:PORT``."""
    handler = type("Handler", (_Handler,), {"files": dict(files), "delay": delay})
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
