"""The one executor: carries out a plan through an engine.

Every plan runs here: a forward sync, a manual rollback's pinned plan, and the
revert of `sync --atomic`; a rollout's own automatic rollback runs a revert
plan through the same `Rollout` (rollout.py). Each service with work is one
health-gated rollout; services are rolled independently, in parallel on a small
thread pool (threads only wait on the engine's API). One that fails (a missing
image, a replica that never gets healthy) is reported and the others still
converge. Its own failure leaves no debris: an image problem is found before
any of its replicas is touched, and a failed rollout is rolled back by the
rollout itself.

What the history remembers of each rollout is recorded here, in one place.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.core.plan import Plan, ServiceAction, ServicePlan, StartReplica
from gitdeploy.core.results import Outcome, ServiceResult, SyncResult
from gitdeploy.engine.base import Engine
from gitdeploy.errors import GitDeployError
from gitdeploy.rollout import Interrupt, Rollout, RolloutReport, Runtime

# Measured (bench/): 4, 8 and 16 workers deploy 20 services equally fast on 2
# cores; the engine is the bottleneck, so a few threads suffice.
DEFAULT_WORKERS = 8

Progress = Callable[[str, str], None]   # (service, message)


def apply_plan(plan: Plan, engine: Engine, *, progress: Progress = lambda s, m: None,
               workers: int = DEFAULT_WORKERS, should_abort: Interrupt = lambda: None,
               atomic: bool = False, runtime: Runtime = Runtime()) -> SyncResult:
    """Rolls out every service with work. With `atomic`, the first service that
    fails cancels the rollouts still running (operations.sync then reverts the
    ones already done)."""
    return _Execution(plan, engine, progress, should_abort, atomic, runtime).run(workers)


class _Execution:
    """One run of a plan: its services' rollouts and what they share (progress, the first failure)."""

    def __init__(self, plan: Plan, engine: Engine, progress: Progress, should_abort: Interrupt, atomic: bool,
                 runtime: Runtime) -> None:
        self.plan, self.engine, self.progress, self.should_abort, self.atomic, self.runtime = \
            plan, engine, progress, should_abort, atomic, runtime
        self.lock = threading.Lock()
        self.first_failure: str | None = None   # --atomic: the service whose failure cancels the others

    def run(self, workers: int) -> SyncResult:
        plan = self.plan
        if plan.in_sync:
            return SyncResult(plan.project, plan.commit, tuple(_untouched(s) for s in plan.services))
        # (HELD services have no work: they surface through _untouched as rolled back.)
        if plan.needs_network:
            self.engine.ensure_network(plan.project)
        results: dict[str, ServiceResult] = {}
        checked: dict[str, str | None] = {}   # image -> problem; services often share an image
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gitdeploy-apply") as pool:
            futures = {}
            for service in plan.services:
                if not service.work:
                    continue
                problem = _preflight(service, self.engine, checked)
                if problem:
                    self.report(service.name, f"failed: {problem}")
                    results[service.name] = self.result(service, RolloutReport(Outcome.FAILED, problem))
                else:
                    futures[service.name] = pool.submit(self.roll_out, service)
            for name, future in futures.items():
                results[name] = future.result()
        return SyncResult(plan.project, plan.commit,
                          tuple(results.get(s.name) or _untouched(s) for s in plan.services))

    def cancelled(self) -> str | None:
        return f"{self.first_failure} failed (--atomic)" if self.atomic and self.first_failure else None

    def report(self, service: str, message: str) -> None:
        with self.lock:
            self.progress(service, message)

    def roll_out(self, service: ServicePlan) -> ServiceResult:
        try:
            report = Rollout(self.plan.project, service, self.engine, lambda m: self.report(service.name, m),
                             self.runtime, should_abort=self.should_abort, cancelled=self.cancelled).run()
        except GitDeployError as exc:   # the engine refused something mid-way
            self.report(service.name, f"failed: {exc.message}")
            report = RolloutReport(Outcome.FAILED, exc.message)
        return self.result(service, report)

    def result(self, service: ServicePlan, report: RolloutReport) -> ServiceResult:
        """The service's result; every rollout ends here, so its history and --atomic see every failure."""
        failure = report.failure
        abandoned = bool(failure and failure.abandoned)
        message = report.message
        if not abandoned:   # an abandoned rollout was not proven bad: no history, no --atomic trigger
            event = _event_of(service, report)
            if event is not None:
                self.engine.append_history(self.plan.project, event)
            if report.outcome is not Outcome.APPLIED:
                with self.lock:
                    self.first_failure = self.first_failure or service.name
                if service.revision and event is not None:   # remembered as failed: say which revision
                    message = f"revision {service.revision}: {message}"
        return ServiceResult(service.name, service.action, report.outcome, message,
                             failure.detail if failure else "", abandoned=abandoned)


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


def _event_of(service: ServicePlan, report: RolloutReport) -> RevisionEvent | None:
    """What the history remembers of a rollout: a new revision deployed, or one that failed.

    A revision is remembered as failed when it was rolled back or paused, so
    unattended runs do not try it again; one whose rollback failed too is not
    (the next run tries to converge again).
    """
    if service.spec is None or not service.revision:
        return None
    if report.outcome is Outcome.APPLIED and service.action in (ServiceAction.CREATE, ServiceAction.UPDATE):
        event = Event.DEPLOYED
    elif report.outcome is Outcome.ROLLED_BACK or report.paused:
        event = Event.ROLLED_BACK
    else:
        return None
    return RevisionEvent.of_rollout(service.spec, service.revision, event, service.commit, time.time(), report.message)


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
