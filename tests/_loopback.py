"""Loopback helpers for the service and rules tests: a free port and an HTTP receiver for webhooks."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTed JSON bodies.

    ``fail_first`` answers that many requests with 500 first; ``delay`` sleeps before answering (seconds).
    Use as a context manager; it stops when the block ends.
    """

    def __init__(self, fail_first: int = 0, delay: float = 0.0):
        self.bodies: list = []
        self.hits = 0
        self.fail_first, self.delay = fail_first, delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(min(n, 1_000_000))
                outer.hits += 1
                if outer.delay:
                    time.sleep(outer.delay)
                if outer.hits <= outer.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def wait(self, n: int, timeout: float = 10.0) -> list:
        end = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.bodies
