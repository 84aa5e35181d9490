"""Secret files on the engine's host: written in memory, bind-mounted into replicas, removed when unused.

A replica's secrets are files in a folder per (project, service, template) on
a memory file system (tmpfs) of the engine's machine, each bind-mounted
read-only at its path in the replica. Nothing is written to disk: the root is
refused unless it is tmpfs or ramfs, and the engine only keeps the mount's
source path. Replicas of one template share the folder; the folder of a
template no replica uses any more is removed after each sync.

After the host restarts, the folders are gone (that is the point of memory);
replicas of the template then cannot start (a bind mount's source must exist),
and the next sync writes the files again from the commit before it starts or
replaces anything (docs/security.md).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gitdeploy.core.model import SecretFile, ServiceSpec
from gitdeploy.errors import SecretError

ROOT_ENV = "GITDEPLOY_SECRETS_DIR"
_IN_MEMORY = ("tmpfs", "ramfs")


def default_roots() -> list[Path]:
    """Where secret files go unless GITDEPLOY_SECRETS_DIR says: /run (or the user's runtime folder) when it
    is in memory, else /dev/shm."""
    uid = os.geteuid()
    runtime = Path("/run/gitdeploy/secrets") if uid == 0 else \
        Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}") / "gitdeploy" / "secrets"
    return [runtime, Path(f"/dev/shm/gitdeploy-{uid}")]


def file_system_of(path: Path) -> str:
    """The type of the file system holding `path` (its nearest existing folder), from /proc/self/mountinfo."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    resolved = str(existing.resolve())
    best, kind = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
        for line in mounts:
            fields, _, rest = line.partition(" - ")
            point = fields.split()[4].encode().decode("unicode_escape")   # \040 for a space
            if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, rest.split()[0]
    return kind


class SecretFiles:
    """The secret folders of this machine, under one root on a memory file system."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = _checked_root()
        return self._root

    def has_project(self, project: str) -> bool:
        """Whether the project has secret folders here; never fails (a project without secrets asks too)."""
        return any((root / project).is_dir() for root in ([self._root] if self._root else _candidate_roots()))

    def folder(self, project: str, service: str, template_hash: str) -> Path:
        return self.root / project / f"{service}-{template_hash}"

    def missing(self, folder: Path, spec: ServiceSpec) -> bool:
        return any(not (folder / secret.name).is_file() for secret in spec.secrets)

    def write(self, folder: Path, spec: ServiceSpec, plaintexts: dict[str, bytes]) -> None:
        """Each secret's file, with its mode and owner; written whole then renamed, so a reader never sees
        half a file."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for secret in spec.secrets:
            _write(folder, secret, plaintexts[secret.name])

    def read(self, folder: Path, name: str) -> bytes:
        try:
            return (folder / name).read_bytes()
        except OSError:
            raise SecretError(f"secret {name} is not on this machine any more ({folder}); run sync again to "
                              "restore it") from None

    def remove_unused(self, project: str, in_use: set[str]) -> None:
        """Removes the project's folders whose name (service-templatehash) no replica uses."""
        project_folder = self.root / project
        if not project_folder.is_dir():
            return
        for folder in project_folder.iterdir():
            if folder.name not in in_use:
                shutil.rmtree(folder, ignore_errors=True)
        try:
            project_folder.rmdir()
        except OSError:
            pass   # not empty: a replica still uses a folder (or another run just wrote one)


def _write(folder: Path, secret: SecretFile, plaintext: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(plaintext)
            os.fchmod(handle.fileno(), secret.mode)
            # Not root and owner left at its default: the file stays the running user's (rootless engines).
            defaults = (secret.uid, secret.gid) == (0, 0) and os.geteuid() != 0
            if (secret.uid, secret.gid) != (os.geteuid(), os.getegid()) and not defaults:
                os.fchown(handle.fileno(), secret.uid, secret.gid)
        os.replace(temporary, folder / secret.name)
    except PermissionError:
        os.unlink(temporary)
        raise SecretError(f"cannot give secret {secret.name} to uid {secret.uid}, gid {secret.gid}: only root can",
                          hint="run gitdeploy as root, or leave uid and gid at your own") from None
    except BaseException:
        os.unlink(temporary)
        raise


def _candidate_roots() -> list[Path]:
    """GITDEPLOY_SECRETS_DIR when set, else the default roots, in order of preference."""
    chosen = os.environ.get(ROOT_ENV)
    return [Path(chosen)] if chosen else default_roots()


def _chosen_root() -> Path:
    candidates = _candidate_roots()
    if os.environ.get(ROOT_ENV):
        root = candidates[0]
        if file_system_of(root) not in _IN_MEMORY:
            raise SecretError(f"{ROOT_ENV}={root} is on {file_system_of(root) or 'an unknown file system'}, not in "
                              "memory; refusing to write secrets to disk", hint="point it at a tmpfs folder")
        return root
    for root in candidates:
        if root.is_dir() and file_system_of(root) in _IN_MEMORY:
            return root
    for root in candidates:
        if file_system_of(root) in _IN_MEMORY:
            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError:
                continue   # not ours to create (a user's /run/user/UID without a session): the next one
            return root
    raise SecretError("no memory file system (tmpfs) for secret files: neither /run nor /dev/shm is one",
                      hint=f"set {ROOT_ENV} to a folder on a tmpfs")


def _checked_root() -> Path:
    """The root folder: in memory, a real folder (no link) owned by us and closed to everyone else."""
    root = _chosen_root()
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SecretError(f"cannot make the secrets folder {root}: {exc.strerror}",
                          hint=f"set {ROOT_ENV} to a tmpfs folder you may write") from None
    if file_system_of(root) not in _IN_MEMORY:   # again, now that it exists: nothing changed under us
        raise SecretError(f"{root} is not in memory; refusing to write secrets to disk")
    status = root.lstat()
    if root.is_symlink() or status.st_uid != os.geteuid() or status.st_mode & 0o077:
        raise SecretError(f"{root} is not a folder of this user's that only it can read; refusing to put secrets "
                          "there", hint=f"remove it, or set {ROOT_ENV} to another tmpfs folder")
    return root
