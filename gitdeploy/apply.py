"""The one executor: carries out a plan through an engine.

Every plan runs here: a forward sync, a manual rollback's pinned plan, and the
revert of `sync --atomic`; a rollout's own automatic rollback runs a revert
plan through the same `Rollout` (rollout.py). Each service with work is one
health-gated rollout, each job that runs one `JobRun` (job_run.py). They go in
dependency order (core/order.py), on a thread pool with room for every service
of a project (threads only wait on the engine's API): each starts once what it
depends on has converged, so independent branches proceed at the same time.
One that fails (a missing image, a replica that never gets healthy, a job that
exits non-zero) is reported, what depends on it is left untouched (`blocked
by` it), and the others still converge. A failure leaves no debris: what the engine cannot do
(an image it cannot get, more CPUs than it has) stops the run before its first
change, and a failed rollout is rolled back by the rollout itself.

What the history remembers of each rollout and job run is recorded here, in one place
(grouped into few engine writes by recorder.py).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable

from gitdeploy.core import order
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.jobs import JobPlan
from gitdeploy.core.plan import Plan, ServiceAction, ServicePlan, Unit
from gitdeploy.core.results import Outcome, ServiceResult, SyncResult
from gitdeploy.core.revert import previous_revision
from gitdeploy.engine.base import Engine, ReadSecrets
from gitdeploy.errors import GitDeployError, SecretError, Unsatisfiable
from gitdeploy.job_run import JobReport, JobRun
from gitdeploy.recorder import Recorder
from gitdeploy.rollout import Failure, Interrupt, Rollout, RolloutReport, Runtime

Progress = Callable[[str, str], None]   # (service, message)


def apply_plan(plan: Plan, engine: Engine, *, progress: Progress = lambda s, m: None,
               should_abort: Interrupt = lambda: None, atomic: bool = False, runtime: Runtime = Runtime(),
               stop_requested: Interrupt = lambda: None, reverting: bool = False,
               secrets: ReadSecrets | None = None) -> SyncResult:
    """Rolls out every service with work. With `atomic`, the first service that
    fails cancels the rollouts still running (operations.sync then reverts the
    ones already done). A plan that is itself a revert (`reverting`) is not
    rolled back when it fails: there is nothing further back. `secrets` reads
    the plaintext of a service's secrets at a commit, when the engine lacks it."""
    return _Execution(plan, engine, progress, should_abort, atomic, runtime, stop_requested, reverting,
                      secrets).run()


class _Execution:
    """One run of a plan: its services' rollouts and what they share (progress, the first failure)."""

    def __init__(self, plan: Plan, engine: Engine, progress: Progress, should_abort: Interrupt, atomic: bool,
                 runtime: Runtime, stop_requested: Interrupt, reverting: bool, secrets: ReadSecrets | None) -> None:
        self.plan, self.engine, self.progress, self.should_abort, self.atomic, self.runtime = \
            plan, engine, progress, should_abort, atomic, runtime
        self.stop_requested, self.reverting, self.secrets = stop_requested, reverting, secrets
        self.lock = threading.Lock()
        self.first_failure: str | None = None   # --atomic: the service whose failure cancels the others
        self.history = Recorder(engine, plan.project)   # each unit's event, written as it finishes

    def run(self) -> SyncResult:
        plan = self.plan
        if plan.in_sync:
            deliver_secrets(plan, self.engine, self.secrets)   # restores files a reboot took; reads nothing else
            return SyncResult(plan.project, plan.commit, tuple(_untouched(u) for u in plan.units))
        # A HELD service without work surfaces through _untouched as rolled back; with work (kept on the
        # revision that ran before) it is rolled out and still reported as held (see result()).
        _preflight(plan, self.engine)
        deliver_secrets(plan, self.engine, self.secrets)   # a missing or wrong age key stops the run here
        if plan.needs_network:
            self.engine.ensure_network(plan.project)
        self.engine.ensure_volumes(plan.project, plan.volumes_needed())
        results = self.in_order()
        if plan.ingress:   # missing, stopped or reconfigured by hand: drift, repaired like any other
            self.progress("(ingress)", f"repairing the ingress ({plan.ingress})")
            self.engine.converge_ingress()
        self.engine.forget_secrets(plan.project)
        if self.history.recorded:
            # History is bounded: what it holds (env values included) does not pile up forever.
            self.engine.forget_history(plan.project, History(self.engine.read_history(plan.project)).expired())
        return SyncResult(plan.project, plan.commit, tuple(results[u.name] for u in plan.units))

    def in_order(self) -> dict[str, ServiceResult]:
        """Every unit's result, each started once all it waits for has finished (core/order.py).

        A unit whose dependency failed is not touched: with work, it is reported
        blocked; without, it stays unchanged but passes the block on to its own
        dependents. A removal is never blocked, only ordered (dependents first).
        """
        units = {u.name: u for u in self.plan.units}
        waiting = order.waits(self.plan.units)
        results: dict[str, ServiceResult] = {}
        passed_on: dict[str, str] = {}   # unchanged, but a dependency of it failed: which one
        pending, running = set(units), {}

        def failed(name: str) -> str:
            """The failed unit that `name` stands for, if it did not converge; "" if it did (or has not ended)."""
            result = results.get(name)
            if result is None:
                return ""
            if result.outcome is Outcome.BLOCKED:
                return result.blocked_by
            return name if result.outcome.went_wrong else passed_on.get(name, "")

        with ThreadPoolExecutor(max_workers=self.runtime.services_at_once, thread_name_prefix="gitdeploy-apply") as pool:
            while pending or running:
                ready = sorted(n for n in pending if not any(d in pending or d in running.values()
                                                             for d in waiting[n]))
                if not ready and not running:   # cannot happen (order.waits breaks cycles); never hang on it
                    ready = sorted(pending)
                for name in ready:
                    pending.discard(name)
                    unit = units[name]
                    culprit = next((f for f in map(failed, waiting[name]) if f), "") \
                        if unit.action is not ServiceAction.REMOVE else ""
                    if not unit.work:
                        results[name] = _untouched(unit)
                        if culprit:
                            passed_on[name] = culprit
                    elif culprit:
                        self.report(name, f"not changed: blocked by {culprit}")
                        results[name] = ServiceResult(name, unit.action, Outcome.BLOCKED,
                                                      f"blocked by {culprit}: not changed in this run",
                                                      blocked_by=culprit)
                    else:
                        work = self.run_job if isinstance(unit, JobPlan) else self.roll_out
                        running[pool.submit(work, unit)] = name
                if ready:
                    continue   # what finished without work may free others at once
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    results[running.pop(future)] = future.result()
        return results

    def cancelled(self) -> str | None:
        return f"{self.first_failure} failed (--atomic)" if self.atomic and self.first_failure else None

    def report(self, service: str, message: str) -> None:
        with self.lock:
            self.progress(service, message)

    def roll_out(self, service: ServicePlan) -> ServiceResult:
        stop = self.stop_requested()
        if stop:   # not started at all: it runs what it ran
            return self.result(service, RolloutReport(Outcome.FAILED, f"not started: {stop}",
                                                      Failure("(none)", stop, abandoned=True)))
        try:
            # A held service's repair keeps the revision that ran; if that fails there is nothing to go back to.
            may_revert = not self.reverting and service.action is not ServiceAction.HELD
            if getattr(self.engine, "rolls_out_itself", False):   # a Swarm: it replaces the tasks itself
                from gitdeploy.swarm_rollout import SwarmRollout

                report = SwarmRollout(self.plan.project, service, self.engine, lambda m: self.report(service.name, m),
                                      self.runtime, stop_requested=self.stop_requested, should_abort=self.should_abort,
                                      cancelled=self.cancelled, may_revert=may_revert).run()
            else:
                report = Rollout(self.plan.project, service, self.engine, lambda m: self.report(service.name, m),
                                 self.runtime, should_abort=self.should_abort, cancelled=self.cancelled,
                                 stop_requested=self.stop_requested, may_revert=may_revert).run()
        except GitDeployError as exc:   # the engine refused something mid-way
            self.report(service.name, "failed (the engine refused; see below)")
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
                self.history.record(event)
            if report.outcome is not Outcome.APPLIED:
                with self.lock:
                    self.first_failure = self.first_failure or service.name
                if service.revision and event is not None:   # remembered as failed: say which revision
                    message = f"revision {service.revision}: {message}"
        if service.action is ServiceAction.HELD and report.outcome is Outcome.APPLIED:
            # Kept on the revision that ran before: still held back, and said so.
            return ServiceResult(service.name, service.action, Outcome.ROLLED_BACK,
                                 f"{_held_message(service)}; repaired: {message}", service.held.message)
        return ServiceResult(service.name, service.action, report.outcome, message,
                             failure.detail if failure else "", abandoned=abandoned)

    def run_job(self, job: JobPlan) -> ServiceResult:
        stop = self.stop_requested() or self.cancelled()
        if stop:
            return ServiceResult(job.name, job.action, Outcome.FAILED, f"not started: {stop}", abandoned=True)
        try:
            report = JobRun(self.plan.project, job, self.engine, lambda m: self.report(job.name, m), self.runtime,
                            stop_requested=self.stop_requested).run()
        except GitDeployError as exc:   # the engine refused something: not the job's own failure
            self.report(job.name, "failed (the engine refused; see below)")
            report = JobReport(Outcome.FAILED, exc.message, abandoned=True)
        message = report.message
        if not report.abandoned and job.spec is not None:
            event = Event.SUCCEEDED if report.outcome is Outcome.APPLIED else Event.FAILED
            self.history.record(RevisionEvent.of_rollout(
                job.spec.run, job.revision, event, job.commit, time.time(), message, report.exit_code,
                report.duration))
        if report.outcome is not Outcome.APPLIED and not report.abandoned:   # as a rollout: proven bad only
            with self.lock:
                self.first_failure = self.first_failure or job.name
            if job.revision:
                message = f"revision {job.revision}: {message}"
        return ServiceResult(job.name, job.action, report.outcome, message, report.detail, abandoned=report.abandoned)


def deliver_secrets(plan: Plan, engine: Engine, secrets: ReadSecrets | None) -> None:
    """Hands the engine the secrets of every service that runs (or is about to run) a template with
    secrets, read from Git at the commit of that template, only where the engine lacks them (a change,
    a reboot). Also, best effort, those of the revision that runs before an update: a rollout that
    fails goes back to it, and after a reboot its files are gone too. Raises SecretError."""
    for service in plan.services:
        spec = service.spec
        if spec is None or not spec.secrets or not spec.replicas or \
                (service.action is ServiceAction.HELD and not service.work):
            continue
        if secrets is None:
            raise SecretError(f"service {spec.name} has secrets, but this run cannot read them")
        engine.deliver_secrets(plan.project, spec, lambda commit=service.commit, spec=spec: secrets(commit, spec))
        before = previous_revision(service) if service.work else None
        if before is not None and before.spec is not None and before.spec.secrets:
            try:
                engine.deliver_secrets(plan.project, before.spec,
                                       lambda commit=before.commit, spec=before.spec: secrets(commit, spec))
            except GitDeployError:
                pass   # its replicas may still have theirs; if the rollout must go back and cannot, it says so
    for job in plan.jobs:
        if job.action is ServiceAction.RUN and job.spec.run.secrets:
            if secrets is None:
                raise SecretError(f"job {job.name} has secrets, but this run cannot read them")
            engine.deliver_secrets(plan.project, job.spec.run,
                                   lambda commit=job.commit, spec=job.spec.run: secrets(commit, spec))


def _preflight(plan: Plan, engine: Engine) -> None:
    """What would otherwise fail half-way, checked before the first change: nothing is removed or
    replaced unless every image the plan starts is on the engine (or pullable under --pull) and the
    engine has the CPUs a replica is limited to. Raises with every problem found."""
    starting = plan.starting()
    jobs = {j.name for j in plan.jobs}
    kind = {spec.name: "job" if spec.name in jobs else "service" for spec in starting}
    problems: list[str] = []
    for image in sorted({spec.image for spec in starting}):
        try:
            engine.ensure_image(image)
        except GitDeployError as exc:
            users = [spec.name for spec in starting if spec.image == image]
            problems.append(f"{exc.message} ({kind[users[0]]} {', '.join(users)})")
    greedy = [spec for spec in starting if spec.cpus is not None]
    if greedy:
        available = engine.cpu_count()
        problems += [f"{kind[spec.name]} {spec.name} is limited to {spec.cpus:g} CPUs but the engine has {available}"
                     for spec in greedy if spec.cpus > available]
    problems += engine.volume_problems(plan.project, plan.volumes_needed())
    if any(spec.ingress for spec in starting):
        try:
            engine.ensure_ingress_image()
        except GitDeployError as exc:
            problems.append(exc.message)
    probed = [spec.name for spec in starting if spec.health is not None and spec.health.kind.probed_by_gitdeploy]
    if probed and not engine.replicas_reachable():
        problems.append(f"service {', '.join(probed)} has an http/tcp health check, which gitdeploy runs from this "
                        "machine, but the engine is on another one whose replica addresses it cannot reach "
                        "(use an exec check, or run gitdeploy on the engine's machine)")
    if problems:
        raise Unsatisfiable("; ".join(problems) + "; nothing was changed",
                            hint="build or load the image (or allow pulling with --pull), or fix the manifest")


def _event_of(service: ServicePlan, report: RolloutReport) -> RevisionEvent | None:
    """What the history remembers of a rollout: a new revision deployed, or one that failed.

    A revision is remembered as failed when it was rolled back or paused, so
    unattended runs do not try it again; one whose rollback failed too is not
    (the next run tries to converge again), nor one the engine would not even
    start (the environment failed, not the revision).
    """
    if service.spec is None or not service.revision or (report.failure and report.failure.environment):
        return None
    if report.outcome is Outcome.APPLIED and service.action in (ServiceAction.CREATE, ServiceAction.UPDATE):
        event = Event.DEPLOYED
    elif report.outcome is Outcome.ROLLED_BACK or report.paused:
        event = Event.ROLLED_BACK
    else:
        return None
    return RevisionEvent.of_rollout(service.spec, service.revision, event, service.commit, time.time(), report.message)


def _held_message(service: ServicePlan) -> str:
    held = service.held
    return (f"revision {held.revision} (commit {held.commit[:12]}) failed and was rolled back at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(held.at))}; not retried until the "
            "manifest changes (or run with --retry-failed)")


def _untouched(service: Unit) -> ServiceResult:
    if isinstance(service, JobPlan):
        return _untouched_job(service)
    if service.action is ServiceAction.HELD and service.held is not None:
        return ServiceResult(service.name, service.action, Outcome.ROLLED_BACK, _held_message(service),
                             service.held.message)
    if service.action is ServiceAction.ORPHANED:
        return ServiceResult(service.name, service.action, Outcome.KEPT, "no longer declared; kept (pruning is off)")
    return ServiceResult(service.name, service.action, Outcome.UNCHANGED)


def _untouched_job(job: JobPlan) -> ServiceResult:
    if job.action is ServiceAction.HELD:   # its failed run stands: it (and what depends on it) did not converge
        return ServiceResult(job.name, job.action, Outcome.FAILED, job.reason)
    if job.action is ServiceAction.ORPHANED:
        return ServiceResult(job.name, job.action, Outcome.KEPT, job.reason)
    return ServiceResult(job.name, job.action, Outcome.UNCHANGED, job.reason)
