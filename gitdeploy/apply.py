"""Carrying out a plan through an engine.

Services are independent: one that fails (a missing image, a replica that will
not start) is reported as failed and the others still converge. Its own
failure leaves no debris: an image problem is found before any of its replicas
is touched, and a replica that fails to start is removed by the engine adapter.

Slots are independent too, so their steps run in parallel on a small thread
pool (the engine does the heavy lifting; threads only wait on its API). Within
one slot, steps run in plan order: the stale replica goes, then the new one
starts. The health-gated rolling update (issue 3) replaces this plain replace.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from gitdeploy.core.plan import Plan, RemoveReplica, ServiceAction, ServicePlan, SlotWork, StartReplica
from gitdeploy.engine.base import Engine
from gitdeploy.errors import GitDeployError

# Measured (bench/): 4, 8 and 16 workers deploy 20 services equally fast on 2
# cores; the engine is the bottleneck, so a few threads suffice.
DEFAULT_WORKERS = 8


class Outcome(str, Enum):
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    FAILED = "failed"
    KEPT = "kept"          # orphaned and not pruned


@dataclass(frozen=True, slots=True)
class ServiceResult:
    name: str
    action: ServiceAction
    outcome: Outcome
    message: str = ""


@dataclass(frozen=True, slots=True)
class SyncResult:
    project: str
    commit: str
    services: tuple[ServiceResult, ...]

    @property
    def result(self) -> str:
        """noop | applied | failed, for people and for CI."""
        if any(s.outcome is Outcome.FAILED for s in self.services):
            return "failed"
        if any(s.outcome is Outcome.APPLIED for s in self.services):
            return "applied"
        return "noop"


Progress = Callable[[str, str], None]   # (service, message)


def apply_plan(plan: Plan, engine: Engine, *, progress: Progress = lambda s, m: None,
               workers: int = DEFAULT_WORKERS) -> SyncResult:
    if plan.in_sync:
        return SyncResult(plan.project, plan.commit, tuple(_untouched(s) for s in plan.services))
    if plan.needs_network:
        engine.ensure_network(plan.project)

    lock = threading.Lock()

    def report(service: str, message: str) -> None:
        with lock:
            progress(service, message)

    failed: dict[str, list[str]] = {}
    runnable: list[ServicePlan] = []
    checked: dict[str, str | None] = {}   # image -> problem; services often share an image
    for service in plan.services:
        if not service.work:
            continue
        problem = _preflight(service, engine, checked)
        if problem:
            failed[service.name] = [problem]
            report(service.name, f"failed: {problem}")
        else:
            runnable.append(service)

    def run_slot(service: ServicePlan, work: SlotWork) -> None:
        for step in work.steps:
            if isinstance(step, RemoveReplica):
                engine.remove_replica(step.replica)
                report(service.name, f"removed {step.replica.name} ({step.reason})")
            elif isinstance(step, StartReplica):
                name = engine.start_replica(plan.project, plan.commit, step.spec, step.slot)
                report(service.name, f"started {name} ({step.reason})")

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitdeploy-apply") as pool:
        futures = [(s, pool.submit(run_slot, s, w)) for s in runnable for w in s.work]
        for service, future in futures:
            try:
                future.result()
            except GitDeployError as exc:
                failed.setdefault(service.name, []).append(exc.message)
                report(service.name, f"failed: {exc.message}")

    results = []
    for service in plan.services:
        if service.name in failed:
            errors = failed[service.name]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            results.append(ServiceResult(service.name, service.action, Outcome.FAILED, errors[0] + more))
        elif service.work:
            results.append(ServiceResult(service.name, service.action, Outcome.APPLIED, _summary(service)))
        else:
            results.append(_untouched(service))
    return SyncResult(plan.project, plan.commit, tuple(results))


def _preflight(service: ServicePlan, engine: Engine, checked: dict[str, str | None]) -> str | None:
    """Checks that would otherwise fail half-way through the service, before touching it."""
    if service.spec is None or not any(isinstance(s, StartReplica) for s in service.steps):
        return None
    image = service.spec.image
    if image not in checked:
        try:
            engine.ensure_image(image)
            checked[image] = None
        except GitDeployError as exc:
            checked[image] = exc.message
    return checked[image]


def _untouched(service: ServicePlan) -> ServiceResult:
    if service.action is ServiceAction.ORPHANED:
        return ServiceResult(service.name, service.action, Outcome.KEPT, "no longer declared; kept (pruning is off)")
    return ServiceResult(service.name, service.action, Outcome.UNCHANGED)


def _summary(service: ServicePlan) -> str:
    started = sum(isinstance(s, StartReplica) for s in service.steps)
    removed = sum(isinstance(s, RemoveReplica) for s in service.steps)
    parts = [f"{n} {word}" for n, word in ((started, "started"), (removed, "removed")) if n]
    return ", ".join(parts) + f"; {service.desired_replicas} desired"
