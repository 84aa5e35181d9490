"""Per-service status: desired against running, and whether it is in sync. Pure."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from gitdeploy.core.observed import ObservedState
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
