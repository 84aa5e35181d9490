"""gitdeploy's own http and tcp health probes, against a replica's address.

They only ever reach addresses of replicas gitdeploy itself started, on the
project's network, as the rollout asks for them.
"""
from __future__ import annotations

import http.client
import socket

from gitdeploy.core.model import CheckKind, HealthCheck
from gitdeploy.core.readiness import PASSED, ProbeOutcome


def probe(check: HealthCheck, address: str) -> ProbeOutcome:
    """Passed, or why not, in words a user can act on (the status got, the connection error)."""
    if not address:
        return ProbeOutcome(False, "the replica has no address on the project network")
    if check.kind is CheckKind.HTTP:
        return _http(address, check.http_port, check.http_path, check.http_status, check.timeout)
    return _tcp(address, check.tcp_port, check.timeout)


def _http(address: str, port: int, path: str, status: int, timeout: float) -> ProbeOutcome:
    where = f"GET http://{address}:{port}{path}"
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "gitdeploy-probe"})
        got = connection.getresponse().status
        return PASSED if got == status else ProbeOutcome(False, f"{where} answered HTTP {got}, not {status}")
    except (OSError, http.client.HTTPException) as exc:
        return ProbeOutcome(False, f"{where}: {_why(exc, timeout)}")
    finally:
        connection.close()


def _tcp(address: str, port: int, timeout: float) -> ProbeOutcome:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return PASSED
    except OSError as exc:
        return ProbeOutcome(False, f"connecting to {address}:{port}: {_why(exc, timeout)}")


def _why(exc: Exception, timeout: float) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
