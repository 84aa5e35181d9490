"""Fixtures shared by the unit tests."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


@dataclass
class Receiver:
    """A webhook receiver on loopback: what it got, as (JSON body, Authorization header)."""

    port: int
    received: list[tuple[dict, str | None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def bodies(self) -> list[dict]:
        return [body for body, _ in self.received]


@pytest.fixture
def webhook():
    got: list[tuple[dict, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                        self.headers.get("Authorization")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield Receiver(server.server_port, got)
    server.shutdown()
