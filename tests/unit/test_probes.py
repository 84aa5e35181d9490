"""gitdeploy's own http/tcp probes say why they failed: against real sockets on loopback."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from gitdeploy import probes
from gitdeploy.core.model import HealthCheck


class Answers503(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503 if self.path == "/healthz" else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_http_status_a_refused_connection_and_a_silent_port():
    server = HTTPServer(("127.0.0.1", 0), Answers503)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        bad = probes.probe(HealthCheck(http_port=port, http_path="/healthz", timeout=1.0), "127.0.0.1")
        assert (bad.passed, bad.why) == (False, f"GET http://127.0.0.1:{port}/healthz answered HTTP 503, not 200")
        assert probes.probe(HealthCheck(http_port=port, http_path="/", timeout=1.0), "127.0.0.1").passed
    finally:
        server.shutdown()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free = closed.getsockname()[1]
    refused = probes.probe(HealthCheck(tcp_port=free, timeout=1.0), "127.0.0.1")
    assert refused.why == f"connecting to 127.0.0.1:{free}: connection refused (nothing listens on that port)"
    with socket.socket() as silent:   # listens, never accepts: an HTTP request gets no answer
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        quiet = probes.probe(HealthCheck(http_port=silent.getsockname()[1], timeout=0.3, interval=1.0), "127.0.0.1")
    assert quiet.why.endswith("no answer within 0.3s")
    assert probes.probe(HealthCheck(tcp_port=80), "").why == "the replica has no address on the project network"
