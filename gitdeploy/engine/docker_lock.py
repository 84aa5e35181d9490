"""One run at a time per project and engine: a lock held on the engine itself.

The lock is a container that is created but never started, named
`gitdeploy-lock-PROJECT`: the daemon reserves container names atomically, so of
two runs creating it at once exactly one succeeds, on whichever machine they
run. Its labels say who holds it (host, pid, command, since when); the lease,
renewed by a background thread while the lock is held, is a small file in it
(labels cannot change). A lock whose lease has expired (its holder was killed)
is taken over: removed by its ID, then created anew, so of two runs taking it
over, again exactly one wins. Leases compare wall clocks: machines sharing an
engine should keep time (NTP); the default lease of 30 s tolerates small skew.

A container needs an image: an empty one, `gitdeploy/lock:1`, is imported on
first use (no registry involved).
"""
from __future__ import annotations

import io
import os
import socket
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass

from gitdeploy.core import labels as L
from gitdeploy.errors import EngineError, LockHeld

LOCK_IMAGE = "gitdeploy/lock:1"
DEFAULT_LEASE = 30.0


def lease_seconds() -> float:
    """The lease this run holds its lock with: GITDEPLOY_LOCK_LEASE, default 30 s."""
    try:
        return max(1.0, float(os.environ.get("GITDEPLOY_LOCK_LEASE", DEFAULT_LEASE)))
    except ValueError:
        return DEFAULT_LEASE


@dataclass(frozen=True, slots=True)
class LockInfo:
    project: str
    host: str
    pid: int
    command: str
    since: float
    expires: float
    container_id: str

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.host} pid {self.pid} ({self.command}) since {since}"


class EngineLock:
    """Acquired by `acquire()`, released by `release()` (or use it as a context manager)."""

    def __init__(self, api, project: str, lease: float | None = None, timeout: float = 0.0,
                 command: str | None = None) -> None:
        self._api, self.project, self.timeout = api, project, timeout
        self.lease = lease if lease is not None else lease_seconds()
        self.command = command or " ".join(["gitdeploy", *sys.argv[1:2]])
        self._id = uuid.uuid4().hex
        self._container: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> "EngineLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        import docker.errors

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._container = self._create()
                self._write_lease()
                self._renewer = threading.Thread(target=self._renew, daemon=True, name="gitdeploy-lease")
                self._renewer.start()
                return
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise EngineError(f"taking the lock of project {self.project}: {exc.explanation or exc}") from exc
            holder = read_lock(self._api, self.project)
            if holder is not None and holder.expires < time.time():
                self._remove(holder.container_id)   # stale: its holder is gone
                continue
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "another run"
                raise LockHeld(
                    f"project {self.project} is locked by {who}",
                    hint="wait (--lock-timeout SECONDS), or if that run is gone and its lease will not expire, "
                         f"`gitdeploy unlock`",
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self._container is not None:
            self._remove(self._container)
            self._container = None

    def _create(self) -> str:
        import docker.errors

        labels = {
            L.LOCK: self.project, L.LOCK_ID: self._id, L.HOLDER_HOST: socket.gethostname(),
            L.HOLDER_PID: str(os.getpid()), L.HOLDER_COMMAND: self.command, L.AT: f"{time.time():.3f}",
        }
        for attempt in (1, 2):
            try:
                return self._api.create_container(LOCK_IMAGE, command=["lock"], name=L.lock_name(self.project),
                                                  labels=labels)["Id"]
            except docker.errors.ImageNotFound:
                if attempt == 2:
                    raise
                _import_lock_image(self._api)
        raise AssertionError("unreachable")

    def _write_lease(self) -> None:
        _put_file(self._api, self._container, "lease", f"{time.time() + self.lease:.3f}".encode())

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self._write_lease()
            except Exception as exc:  # noqa: BLE001 - keep renewing; the run itself decides what to do
                print(f"gitdeploy: warning: could not renew the lock lease: {exc}", file=sys.stderr)

    def _remove(self, container_id: str) -> None:
        import docker.errors

        try:
            self._api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass


def read_lock(api, project: str) -> LockInfo | None:
    """Who holds the project's lock, or None."""
    import docker.errors

    try:
        info = api.inspect_container(L.lock_name(project))
    except docker.errors.NotFound:
        return None
    labels = info["Config"].get("Labels") or {}
    since = float(labels.get(L.AT, "0") or 0)
    try:
        expires = float(_get_file(api, info["Id"], "lease"))
    except (docker.errors.APIError, ValueError, KeyError, tarfile.TarError):
        expires = since + DEFAULT_LEASE   # created but no lease written yet
    return LockInfo(project, labels.get(L.HOLDER_HOST, "?"), int(labels.get(L.HOLDER_PID, "0") or 0),
                    labels.get(L.HOLDER_COMMAND, "?"), since, expires, info["Id"])


def break_lock(api, project: str) -> LockInfo | None:
    """Removes the project's lock whoever holds it (`gitdeploy unlock`)."""
    import docker.errors

    holder = read_lock(api, project)
    if holder is not None:
        try:
            api.remove_container(holder.container_id, force=True)
        except docker.errors.NotFound:
            pass
    return holder


def _import_lock_image(api) -> None:
    empty = io.BytesIO()
    with tarfile.open(fileobj=empty, mode="w"):
        pass
    repository, tag = LOCK_IMAGE.split(":")
    api.import_image_from_data(empty.getvalue(), repository=repository, tag=tag)


def _put_file(api, container: str, name: str, payload: bytes) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(payload), int(time.time())
        tar.addfile(info, io.BytesIO(payload))
    api.put_archive(container, "/", data.getvalue())


def _get_file(api, container: str, name: str) -> str:
    stream, _ = api.get_archive(container, f"/{name}")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(name)
        return member.read().decode() if member else ""
