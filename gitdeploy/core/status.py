"""Per-service status: desired against running, and whether it is in sync. Pure."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from gitdeploy.core.model import DesiredState, MountKind
from gitdeploy.core.observed import ObservedState, ObservedVolume
from gitdeploy.core.plan import Plan, ServiceAction


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    desired: int
    running: int
    image: str           # the declared image (or the running one, for undeclared services)
    commit: str          # commit the replicas were created from; "mixed" or "" if none
    synced: bool
    pending: ServiceAction   # what `sync` would do
    note: str = ""           # pinned by a manual rollback, or held after a failed rollout

    @property
    def sync_word(self) -> str:
        return "Synced" if self.synced else "OutOfSync"


def service_statuses(plan: Plan, observed: ObservedState) -> tuple[ServiceStatus, ...]:
    rows = []
    for service in plan.services:
        replicas = observed.of_service(service.name)
        commits = Counter(r.commit for r in replicas if r.commit)
        commit = next(iter(commits)) if len(commits) == 1 else ("mixed" if commits else "")
        image = service.spec.image if service.spec else (replicas[0].image if replicas else "")
        rows.append(ServiceStatus(
            name=service.name,
            desired=service.desired_replicas,
            running=sum(r.running for r in replicas),
            image=image,
            commit=commit,
            synced=not service.work and service.action not in (ServiceAction.ORPHANED, ServiceAction.HELD)
            and service.pinned is None,
            pending=service.action,
            note=_note(service),
        ))
    return tuple(rows)


def _note(service) -> str:
    if service.pinned is not None:
        return f"rolled back to revision {service.pinned.revision} (gitdeploy rollback {service.name} --clear to follow Git again)"
    if service.held is not None:
        return f"revision {service.held.revision} failed and was rolled back; not retried until the manifest changes"
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
