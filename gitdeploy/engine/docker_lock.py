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
from pathlib import Path

from gitdeploy.core import labels as L
from gitdeploy.core.redact import printable
from gitdeploy.errors import EngineError, LockHeld, NotOwned

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
    boot_id: str = ""          # the holder's machine boot, to tell a reboot from a live run
    pid_namespace: str = ""    # the holder's pid namespace: its pid means something only in the same one
    started: str = ""          # the holder process's start time (clock ticks since boot), to tell a reused pid

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.host} pid {self.pid} ({self.command}) since {since}"

    def holder_is_gone(self) -> bool:
        """True when the holder ran on this machine and its process is provably gone.

        Its machine is this one when the host name and the boot id match (the
        boot id also tells that the machine rebooted since). Its process is
        gone when, in the same pid namespace (two containers may share a host
        name and a boot id, not their pids), no process has its pid, or the one
        that has it started at another time (the pid was reused). Whatever
        cannot be read counts as alive.
        """
        if self.host != socket.gethostname() or not self.boot_id:
            return False
        if self.boot_id != _boot_id():
            return True
        if not self.pid_namespace or self.pid_namespace != _pid_namespace():
            return False
        started = _process_start(self.pid)
        if started is None:
            return True
        return bool(started) and bool(self.started) and started != self.started


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
        self._expires = 0.0
        self.lost = False

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
            if holder is not None and holder.holder_is_gone():
                print(printable(f"gitdeploy: warning: taking over the lock of project {self.project} held by "
                                f"{holder.describe()}: that process is gone"), file=sys.stderr)
                self._remove(holder.container_id)
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
            L.HOLDER_BOOT: _boot_id(), L.HOLDER_PID_NS: _pid_namespace(),
            L.HOLDER_STARTED: _process_start(os.getpid()) or "",
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
        import docker.errors

        expires = time.time() + self.lease
        try:
            _put_file(self._api, self._container, "lease", f"{expires:.3f}".encode())
        except docker.errors.NotFound:
            # Our lock container is gone: another run took the lock over (we were
            # stalled past the lease) or someone ran `gitdeploy unlock`.
            self.lost = True
            return
        self._expires = expires

    def _renew(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self._write_lease()
            except Exception as exc:  # noqa: BLE001 - keep renewing; the run itself decides what to do
                print(printable(f"gitdeploy: warning: could not renew the lock lease: {exc}"), file=sys.stderr)

    def check(self) -> None:
        """Raises LockHeld if this run no longer holds its lock. Called before every change to the engine.

        After a stall (a suspended process, a paused VM) the lease may have run
        out while nothing ran here; then the lock is renewed now, which also
        tells whether another run took it over meanwhile.
        """
        if not self.lost and time.time() > self._expires - self.lease / 3:
            self._write_lease()
        if self.lost:
            raise LockHeld(f"this run lost the lock of project {self.project} (its lease ran out while it was "
                           "stalled, and another run or `gitdeploy unlock` took it); it stopped before changing more",
                           hint="run again: the next sync continues from what runs now")

    def _remove(self, container_id: str) -> None:
        import docker.errors

        try:
            self._api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass


def read_lock(api, project: str) -> LockInfo | None:
    """Who holds the project's lock, or None. A container by the lock's name that is not our lock is an error."""
    import docker.errors

    name = L.lock_name(project)
    try:
        info = api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    labels = info["Config"].get("Labels") or {}
    if labels.get(L.LOCK) != project or not labels.get(L.LOCK_ID):
        raise NotOwned(f"a container named {name} exists but is not gitdeploy's lock of project {project}; "
                       "gitdeploy neither removes nor uses it",
                       hint=f"rename or remove that container yourself (docker rm {name}) if it is not needed")
    since = float(labels.get(L.AT, "0") or 0)
    try:
        expires = float(_get_file(api, info["Id"], "lease"))
    except (docker.errors.APIError, ValueError, KeyError, tarfile.TarError):
        expires = since + DEFAULT_LEASE   # created but no lease written yet
    try:
        pid = int(labels.get(L.HOLDER_PID, "0") or 0)
    except ValueError:
        pid = 0
    return LockInfo(project, labels.get(L.HOLDER_HOST, "?"), pid, labels.get(L.HOLDER_COMMAND, "?"), since, expires,
                    info["Id"], labels.get(L.HOLDER_BOOT, ""), labels.get(L.HOLDER_PID_NS, ""),
                    labels.get(L.HOLDER_STARTED, ""))


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, from /proc), or None if there is no such process."""
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""     # alive, another user's
        return ""
    # Field 22, counted after the command name (which may hold spaces and parentheses).
    return stat.rsplit(")", 1)[1].split()[19]


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
