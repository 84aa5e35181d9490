"""gitdeploy's own http and tcp health probes, against a replica's address.

They only ever reach addresses of replicas gitdeploy itself started, on the
project's network, as the rollout asks for them.
"""
from __future__ import annotations

import http.client
import socket

from gitdeploy.core.model import CheckKind, HealthCheck


def probe(check: HealthCheck, address: str) -> bool:
    if not address:
        return False
    if check.kind is CheckKind.HTTP:
        return _http_ok(address, check.http_port, check.http_path, check.http_status, check.timeout)
    return _tcp_ok(address, check.tcp_port, check.timeout)


def _http_ok(address: str, port: int, path: str, status: int, timeout: float) -> bool:
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "gitdeploy-probe"})
        return connection.getresponse().status == status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _tcp_ok(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
