"""Carrying out a plan through an engine.

Each service with work is one health-gated rollout (rollout.py); services are
rolled independently, in parallel on a small thread pool (threads only wait on
the engine's API). One that fails (a missing image, a replica that never gets
healthy) is reported and the others still converge. Its own failure leaves no
debris: an image problem is found before any of its replicas is touched, and a
failed rollout is rolled back by the rollout itself.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.core.plan import Plan, ServiceAction, ServicePlan, StartReplica
from gitdeploy.engine.base import Engine
from gitdeploy.errors import GitDeployError
from gitdeploy.rollout import Rollout

# Measured (bench/): 4, 8 and 16 workers deploy 20 services equally fast on 2
# cores; the engine is the bottleneck, so a few threads suffice.
DEFAULT_WORKERS = 8


class Outcome(str, Enum):
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"   # the new revision failed; the previous one runs again
    FAILED = "failed"             # includes a paused rollout
    KEPT = "kept"                 # orphaned and not pruned


@dataclass(frozen=True, slots=True)
class ServiceResult:
    name: str
    action: ServiceAction
    outcome: Outcome
    message: str = ""
    detail: str = ""              # health-check output and log tail of a failed replica
    abandoned: bool = False       # given up for another reason (newer commit, --atomic), not proven bad


@dataclass(frozen=True, slots=True)
class SyncResult:
    project: str
    commit: str
    services: tuple[ServiceResult, ...]

    @property
    def result(self) -> str:
        """noop | applied | rolled_back | failed, for people and for CI."""
        outcomes = {s.outcome for s in self.services}
        for outcome in (Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.APPLIED):
            if outcome in outcomes:
                return outcome.value
        return "noop"


Progress = Callable[[str, str], None]   # (service, message)

_OUTCOMES = {"applied": Outcome.APPLIED, "rolled_back": Outcome.ROLLED_BACK,
             "paused": Outcome.FAILED, "failed": Outcome.FAILED}


def apply_plan(plan: Plan, engine: Engine, *, progress: Progress = lambda s, m: None,
               workers: int = DEFAULT_WORKERS, should_abort: Callable[[], str | None] = lambda: None,
               atomic: bool = False) -> SyncResult:
    """Rolls out every service with work. With `atomic`, the first service that
    fails cancels the rollouts still running (operations.sync then reverts the
    ones already done)."""
    if plan.in_sync:
        return SyncResult(plan.project, plan.commit, tuple(_untouched(s) for s in plan.services))
    # (HELD services have no work: they surface through _untouched as rolled back.)
    if plan.needs_network:
        engine.ensure_network(plan.project)

    lock = threading.Lock()
    first_failure: list[str] = []   # --atomic: the service whose failure cancels the others

    def cancelled() -> str | None:
        return f"{first_failure[0]} failed (--atomic)" if atomic and first_failure else None

    def report(service: str, message: str) -> None:
        with lock:
            progress(service, message)

    def failed(service: ServicePlan, message: str, outcome: Outcome = Outcome.FAILED, detail: str = "") -> ServiceResult:
        # Every failure passes here, so --atomic cancels the others whatever failed.
        with lock:
            first_failure.append(service.name)
        return ServiceResult(service.name, service.action, outcome, message, detail)

    def roll_out(service: ServicePlan) -> ServiceResult:
        try:
            return _roll_out(service)
        except GitDeployError as exc:   # the engine refused something mid-way
            report(service.name, f"failed: {exc.message}")
            return failed(service, exc.message)

    def _roll_out(service: ServicePlan) -> ServiceResult:
        if service.spec is None:  # not declared any more: prune, nothing to gate
            for step in service.steps:
                engine.remove_replica(step.replica)
                report(service.name, f"removed {step.replica.name} ({step.reason})")
            return ServiceResult(service.name, service.action, Outcome.APPLIED,
                                 f"{len(service.steps)} removed")
        outcome = Rollout(plan.project, service, engine, lambda m: report(service.name, m),
                          should_abort=should_abort, cancelled=cancelled).run()
        failure = outcome.failure
        abandoned = bool(failure and failure.abandoned)
        if not abandoned:   # an abandoned rollout was not proven bad: no history, no --atomic trigger
            event = _event_of(service, outcome.outcome, outcome.message)
            if event is not None:
                engine.append_history(plan.project, event)
        message = outcome.message
        if service.revision and outcome.outcome in ("rolled_back", "paused"):
            message = f"revision {service.revision}: {message}"
        if outcome.outcome != "applied" and not abandoned:
            return failed(service, message, _OUTCOMES[outcome.outcome], failure.detail if failure else "")
        return ServiceResult(service.name, service.action, _OUTCOMES[outcome.outcome], message,
                             failure.detail if failure else "", abandoned=abandoned)

    results: dict[str, ServiceResult] = {}
    checked: dict[str, str | None] = {}   # image -> problem; services often share an image
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitdeploy-apply") as pool:
        futures = {}
        for service in plan.services:
            if not service.work:
                continue
            problem = _preflight(service, engine, checked)
            if problem:
                report(service.name, f"failed: {problem}")
                results[service.name] = failed(service, problem)
            else:
                futures[service.name] = pool.submit(roll_out, service)
        for name, future in futures.items():
            results[name] = future.result()

    return SyncResult(plan.project, plan.commit,
                      tuple(results.get(s.name) or _untouched(s) for s in plan.services))


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


def _event_of(service: ServicePlan, outcome: str, message: str) -> RevisionEvent | None:
    """What the history remembers of a rollout: a new revision deployed, or one that failed."""
    if service.spec is None or not service.revision:
        return None
    if outcome == "applied" and service.action in (ServiceAction.CREATE, ServiceAction.UPDATE):
        event = Event.DEPLOYED
    elif outcome in ("rolled_back", "paused"):
        event = Event.ROLLED_BACK
    else:
        return None
    return RevisionEvent(service.name, service.revision, event, service.spec.template_hash(),
                         service.spec.template_json(), service.commit, service.spec.image, time.time(), message)


def _untouched(service: ServicePlan) -> ServiceResult:
    if service.action is ServiceAction.HELD and service.held is not None:
        held = service.held
        return ServiceResult(service.name, service.action, Outcome.ROLLED_BACK,
                             f"revision {held.revision} (commit {held.commit[:12]}) failed and was rolled back at "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(held.at))}; not retried until the "
                             "manifest changes (or run with --retry-failed)", held.message)
    if service.action is ServiceAction.ORPHANED:
        return ServiceResult(service.name, service.action, Outcome.KEPT, "no longer declared; kept (pruning is off)")
    return ServiceResult(service.name, service.action, Outcome.UNCHANGED)
