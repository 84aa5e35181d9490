"""Read-only Docker Engine API calls over the local unix socket, stdlib only.

Why not the docker SDK here: importing it (requests, urllib3, certifi,
paramiko) costs about 0.1 s, and the unattended no-op pass, run thousands of
times a day, only reads: its containers, and for `status` its history and
volumes. `LocalReads` answers those listings as the SDK's low-level client
does (same arguments, same shapes), so callers take either. Everything that
changes the engine goes through the SDK. Engines reached over tcp:// or ssh://
also use the SDK.

The request itself is HTTP/1.0 on a plain socket, not http.client, whose
imports (email, ssl) cost 13 ms of a 0.15 s pass: the engine answers a 1.0
request with the whole body and closes, so reading to the end is all there is.
"""
from __future__ import annotations

import json
import os
import socket

from gitdeploy.errors import EngineError, EngineUnreachable

UNREACHABLE_HINT = ("is Docker running (`systemctl start docker`, or `dockerd`), and may this user use it (the "
                    "`docker` group)? Set DOCKER_HOST to use another engine")


def local_socket() -> str | None:
    """The unix socket path the engine is configured at, or None for a remote engine."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return "/var/run/docker.sock"
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return None


def _get(socket_path: str, path: str, timeout: float) -> tuple[int, bytes]:
    """(status, body) of one GET over the unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    try:
        status = int(head.split(b"\r\n", 1)[0].split()[1])   # HTTP/1.0 200 OK
    except (IndexError, ValueError):
        raise EngineError(f"GET {path.split('?')[0]}: the engine's answer is not HTTP: {head[:80]!r}") from None
    return status, body


def found(socket_path: str, path: str, timeout: float = 5) -> bool:
    """Whether a GET of `path` answers 200 (False for 404); EngineUnreachable/EngineError otherwise."""
    try:
        get_json(socket_path, path, timeout)
        return True
    except EngineError as exc:
        if " 404 " in exc.message:
            return False
        raise


def get_json(socket_path: str, path: str, timeout: float = 60) -> object:
    try:
        status, body = _get(socket_path, path, timeout)
    except PermissionError:
        raise EngineUnreachable(
            f"permission denied on the Docker engine socket unix://{socket_path}",
            hint="run as root or as a member of the docker group",
        ) from None
    except TimeoutError:
        raise EngineError(f"GET {path.split('?')[0]}: the engine did not answer in {timeout:g}s") from None
    except OSError:
        raise EngineUnreachable(f"cannot connect to the Docker engine at unix://{socket_path}",
                                hint=UNREACHABLE_HINT) from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 200:
        message = answer.get("message", "") if isinstance(answer, dict) else body.decode(errors="replace")[:200]
        raise EngineError(f"GET {path.split('?')[0]}: the engine answered {status} {message}")
    if answer is None and body.strip() != b"null":
        raise EngineError(f"GET {path.split('?')[0]}: the engine's answer was cut short or is not JSON")
    return answer


class LocalReads:
    """The SDK's read-only listings, over the local socket: `containers`, `images`, `volumes`."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path, self.timeout = socket_path, timeout

    def containers(self, all: bool = False, filters: dict | None = None) -> list[dict]:   # noqa: A002 - the SDK's name
        return self._get("/containers/json", {"all": "1" if all else "0"}, filters) or []

    def images(self, filters: dict | None = None) -> list[dict]:
        return self._get("/images/json", {}, filters) or []

    def volumes(self, filters: dict | None = None) -> dict:
        return self._get("/volumes", {}, filters) or {}

    def _get(self, path: str, query: dict[str, str], filters: dict | None):
        import urllib.parse

        if filters:
            query = query | {"filters": json.dumps(filters)}
        return get_json(self.socket_path, f"{path}?{urllib.parse.urlencode(query)}" if query else path,
                        timeout=self.timeout)


def local_images_missing(images: tuple[str, ...]) -> tuple[str, ...]:
    """For `validate`, which needs no engine: the images a local engine lacks, if one answers; () when none
    does (a remote one is not asked)."""
    import urllib.parse

    path = local_socket()
    if path is None or not os.path.exists(path):
        return ()
    try:
        return tuple(image for image in images if not found(path, f"/images/{urllib.parse.quote(image, safe='')}/json"))
    except (EngineError, EngineUnreachable):
        return ()
