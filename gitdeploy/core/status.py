"""Per-service status: desired against running, and whether it is in sync. Pure."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from gitdeploy.core.history import History
from gitdeploy.core.model import DesiredState, MountKind
from gitdeploy.core.observed import ObservedState, ObservedVolume
from gitdeploy.core.plan import Plan, ServiceAction


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What runs (image, revision, commit of the replicas) and, apart, what Git declares and why they differ."""

    name: str
    desired: int
    running: int
    image: str           # what runs: the image of the most common template among the replicas ("" if none runs)
    commit: str          # what runs: the commit its replicas were made from ("mixed" only across templates)
    synced: bool
    pending: ServiceAction   # what `sync` would do
    note: str = ""           # pinned by a manual rollback, held after a failed rollout, or what differs
    revision: int = 0        # what runs: its revision number (0: unknown, or nothing runs)
    declared_image: str = ""     # what Git declares ("" for a service no longer declared)
    declared_revision: int = 0   # the declared template's revision number (new ones get the next number)
    nodes: tuple[tuple[str, int], ...] = ()   # on a Swarm: (node, replicas running there), by node

    @property
    def sync_word(self) -> str:
        return "Synced" if self.synced else "OutOfSync"


def service_statuses(plan: Plan, observed: ObservedState, history: History | None = None) -> tuple[ServiceStatus, ...]:
    history = history or History()
    rows = []
    for service in plan.services:
        replicas = observed.of_service(service.name)
        templates = Counter(r.template_hash for r in replicas if r.recognised)
        runs = templates.most_common(1)[0][0] if templates else ""
        of_it = [r for r in replicas if r.template_hash == runs]
        commits = Counter(r.commit for r in of_it if r.commit)
        # A replica repaired from a later commit carries that commit; the template is still the one a
        # rollout brought: say that commit (from the history), "mixed" only across templates.
        commit = "mixed" if len(templates) > 1 else history.deployed_by(service.name, runs) or \
            (commits.most_common(1)[0][0] if commits else "")
        declared = service.declared
        synced = not service.work and service.action not in (ServiceAction.ORPHANED, ServiceAction.HELD) \
            and service.pinned is None
        rows.append(ServiceStatus(
            name=service.name,
            desired=service.desired_replicas,
            running=sum(r.running for r in replicas),
            image=of_it[0].image if of_it else "",
            commit=commit,
            synced=synced,
            pending=service.action,
            note=_note(service, synced, declared),
            revision=history.revision_of(service.name, runs)
            if any(e.template_hash == runs for e in history.of(service.name)) else 0,
            declared_image=declared.image if declared else "",
            declared_revision=service.held.revision if service.held else
            history.revision_of(service.name, declared.template_hash()) if declared else 0,
            nodes=tuple(sorted(Counter(r.node for r in replicas if r.node and r.running).items())),
        ))
    return tuple(rows)


def _note(service, synced: bool, declared) -> str:
    if service.pinned is not None:
        return f"rolled back to revision {service.pinned.revision} (gitdeploy rollback {service.name} --clear to follow Git again)"
    if service.held is not None:
        return (f"Git declares revision {service.held.revision} ({declared.image if declared else '?'}), which failed "
                "and was rolled back; not retried until the manifest changes (or sync --retry-failed)")
    if not synced and service.action is not ServiceAction.ORPHANED:
        return f"sync would {service.action.value} it" + (f": {service.changes[0].describe().splitlines()[0]}"
                                                          if service.changes else "")
    return ""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job: its last run (what ran, how it ended, when, how long), and whether that is what Git declares."""

    name: str
    last: str                 # succeeded | failed | did not finish | never ran
    revision: int             # of the last run; 0 if unknown
    image: str                # the last run's image ("" if it never ran)
    exit_code: int | None
    at: float | None          # when the last run ended (or its container was created)
    duration: float | None    # seconds
    synced: bool              # the last run is of the declared template, and it succeeded
    pending: ServiceAction    # what `sync` would do: run, unchanged, held, remove...
    note: str = ""

    @property
    def sync_word(self) -> str:
        return "Synced" if self.synced else "OutOfSync"


def job_statuses(plan: Plan) -> tuple[JobStatus, ...]:
    rows = []
    for job in plan.jobs:
        last = job.last
        word = "never ran" if last is None else "did not finish" if last.outcome is None else last.outcome.value
        rows.append(JobStatus(job.name, word, last.revision if last else 0, last.image if last else "",
                              last.exit_code if last else None, last.at if last else None,
                              last.duration if last else None, job.action is ServiceAction.UNCHANGED, job.action,
                              job.reason if job.action is not ServiceAction.UNCHANGED else ""))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class ReplicaRow:
    """`ps`: one container of the project, as `docker compose ps` shows one."""

    name: str
    service: str          # the service's (or job's) name
    kind: str             # "replica" or "job" (a job's kept run)
    revision: int         # 0: unknown
    state: str            # the engine's word: running, exited...
    status: str           # the engine's text: "Up 3 minutes (healthy)", "Exited (0) 2 hours ago"
    image: str
    ports: tuple[str, ...]


def replica_rows(observed: ObservedState, history: History, name: str | None = None) -> tuple[ReplicaRow, ...]:
    """Every replica, then every kept job run (of `name` only, if given), by name."""
    rows = []
    for kind, containers in (("replica", observed.replicas), ("job", observed.runs)):
        for c in sorted(containers, key=lambda c: (c.service, c.slot, c.name)):
            if name is None or c.service == name:
                known = c.recognised and any(e.template_hash == c.template_hash for e in history.of(c.service))
                rows.append(ReplicaRow(c.name, c.service, kind,
                                       history.revision_of(c.service, c.template_hash) if known else 0,
                                       c.state, c.status, c.image, c.ports))
    return tuple(rows)


class VolumeState(str, Enum):
    IN_USE = "in use"
    KEPT = "kept"            # nothing mounts it; only `sync --prune-volumes` removes it
    EXTERNAL = "external"    # not ours: never created or removed


@dataclass(frozen=True, slots=True)
class VolumeStatus:
    name: str                # the Volume's name, or SERVICE-SLOT:PATH for one kept for an image's VOLUME path
    engine_name: str
    mounted_by: tuple[str, ...]   # services
    state: VolumeState


def volume_statuses(desired: DesiredState, volumes: tuple[ObservedVolume, ...],
                    observed: ObservedState) -> tuple[VolumeStatus, ...]:
    """Every volume of the project, declared or left over, and who mounts it.

    A volume is in use while a declared service or job mounts it or a replica
    (or a job's kept run) has it mounted; otherwise it is kept.
    """
    users: dict[str, set[str]] = {}
    for spec in desired.runnable():
        for mount in spec.mounts:
            if mount.kind is MountKind.VOLUME:
                users.setdefault(mount.source, set()).add(spec.name)
    for replica in observed.replicas + observed.runs:
        for name in replica.volumes:
            users.setdefault(name, set()).add(replica.service)
    rows = [VolumeStatus(v.name, v.engine_name, tuple(sorted(users.get(v.engine_name, ()))),
                         VolumeState.EXTERNAL if v.external else
                         VolumeState.IN_USE if users.get(v.engine_name) else VolumeState.KEPT)
            for v in desired.volumes]
    declared = {v.engine_name for v in desired.volumes}
    for volume in volumes:
        if volume.engine_name in declared:
            continue
        name = volume.volume or f"{volume.service}:{volume.implicit_path}"
        mounted = tuple(sorted(users.get(volume.engine_name, ())))
        rows.append(VolumeStatus(name, volume.engine_name, mounted, VolumeState.IN_USE if mounted else VolumeState.KEPT))
    return tuple(sorted(rows, key=lambda r: r.engine_name))
