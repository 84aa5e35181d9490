"""Names of the labels gitdeploy puts on every object it owns, and object names.

Ownership is decided by labels only, never by parsing names: an object without
`io.gitdeploy.project` is invisible to every gitdeploy command.
"""
from __future__ import annotations

PREFIX = "io.gitdeploy."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
SLOT = PREFIX + "slot"                 # replica number, 1..replicas
TEMPLATE_HASH = PREFIX + "template-hash"  # hash of the canonical replica template
TEMPLATE = PREFIX + "template"         # the canonical template itself, JSON (for field-level diffs)
COMMIT = PREFIX + "commit"             # the commit the replica was created from
MANAGED_BY = PREFIX + "managed-by"
KIND = PREFIX + "kind"                 # on history records: "history"; on a job's run: "job"
DEPENDS_ON = PREFIX + "depends-on"     # on replicas and job runs: what they depended on, comma-separated
                                       # (read to remove dependents first once nothing declares them)
VOLUME = PREFIX + "volume"             # on volumes: the Volume's name (or, on an implicit one, the path it holds)
IMPLICIT = PREFIX + "implicit-volume"  # on a volume kept per slot for an image's VOLUME path: the path
# History records carry these too (see engine/docker.py: append_history).
REVISION, EVENT, AT, IMAGE, MESSAGE, GIT_HASH, EXIT_CODE, DURATION = (
    PREFIX + name for name in ("revision", "event", "at", "image", "message", "git-hash", "exit-code", "duration"))
JOB_KIND = "job"
# The lock carries LOCK=<project>, deliberately not PROJECT: it is no replica.
LOCK = PREFIX + "lock"
LOCK_ID = PREFIX + "lock-id"
# Who holds a lock: host, pid, command; boot id, pid namespace and process start time tell a dead
# holder on this machine.
HOLDER_HOST, HOLDER_PID, HOLDER_COMMAND, HOLDER_BOOT, HOLDER_PID_NS, HOLDER_STARTED = (
    PREFIX + "holder-" + name for name in ("host", "pid", "command", "boot-id", "pid-namespace", "started"))


def network_name(project: str) -> str:
    return f"gitdeploy_{project}"


def replica_name(project: str, service: str, slot: int, template_hash: str) -> str:
    # The hash is part of the name so that an old and a new revision of the same
    # slot can coexist during a start-first rolling update. '_' appears in no
    # project or service name, so (project, service) pairs never share a name
    # ("a-b" + "web" and "a" + "b-web"); slot and hash are read from the right.
    return f"{project}_{service}-{slot}-{template_hash[:7]}"


def job_run_name(project: str, job: str, template_hash: str) -> str:
    """A job's run: one container at a time per job (the previous run's goes before the next starts)."""
    return f"{project}_{job}-run-{template_hash[:7]}"


# A replica is created under its name plus this suffix, and renamed to its name
# once it has passed its checks in a rollout. The name is the one thing about a
# container the engine lets us change later and lists with it, so a replica left
# half-checked by a killed run is known as such in the next run's one listing.
PENDING = "-pending"


# A replica taken out of the ingress before it is removed is renamed with this suffix (engine/ingress.py):
# the ingress's configuration, derived from the listing, leaves it out.
DRAINING = "-draining"


def is_pending(name: str) -> bool:
    return name.endswith(PENDING)


def volume_name(project: str, volume: str) -> str:
    # '_' as in replica names: no two (project, volume) pairs share an engine volume.
    return f"{project}_{volume}"


def implicit_volume_name(project: str, service: str, slot: int, path: str) -> str:
    """The volume a slot keeps for a path its image declares as VOLUME and no mount covers."""
    import hashlib

    return f"{project}_{service}-{slot}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


def lock_name(project: str) -> str:
    return f"gitdeploy-lock-{project}"


def history_record_name(project: str, service: str, revision: int, event: str, millis: int) -> str:
    return f"gitdeploy-{project}_{service}-r{revision}-{event}-{millis}"
