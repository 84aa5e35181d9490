"""The health-gated rollout of one service's planned work, with automatic rollback.

The planner says *what* changes per slot; this module decides *when*, so that
the service never drops below its availability floor:

- fresh slots (nothing to replace: a new service, a scale-up) start together
  and are gated together;
- replacements go in batches of `update.parallelism`. start-first: the new
  replica starts beside the old one, which is removed once the new one is
  ready (floor: `replicas` ready). stop-first: the old one goes first (floor:
  `replicas - parallelism`);
- removals that replace nothing (scale-down, strays, a pruned service) come last.

A new replica starts unconfirmed (its name ends in `-pending`) and is renamed
once it is ready, so a replica a killed run left half-checked never counts as
serving in the next run (core/plan.py replaces it). A new replica fails when
the readiness rules (core/readiness.py) say so, or when the service's
`progressDeadline` passes. Then, with `failureAction:
rollback`, the unready new replicas are removed and the previous revision is
put back by a second rollout of a revert plan (core/revert.py), made from what
runs at that moment: the same executor, gating and update order as any
rollout, and one that is never itself rolled back.

Everything outside the rollout comes in through its constructor: the engine,
and a `Runtime` (clock, sleep, gitdeploy's own http/tcp probe), so a whole
rollout runs as a unit test against a fake engine in milliseconds
(tests/unit/test_rollout.py).
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from gitdeploy.core.labels import is_pending
from gitdeploy.core.model import FailureAction, HealthCheck, ServiceSpec, UpdateOrder, UpdatePolicy
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.plan import RemoveReplica, ServicePlan, SlotWork, StartReplica
from gitdeploy.core.readiness import PASSED, ProbeOutcome, ReplicaProbe, ReplicaWatch, Verdict
from gitdeploy.core.results import Outcome
from gitdeploy.core.revert import previous_revision, revert_plan
from gitdeploy.core.units import format_duration
from gitdeploy.engine.base import Engine
from gitdeploy.errors import EngineError, EngineUnreachable, GitDeployError

TICK = 0.1  # seconds between looks at replicas being watched (one inspect each, a few ms)
# gitdeploy's own exec checks before the engine's first (core/readiness.py): the first as soon as the
# replica runs, then at gaps doubling from this one up to the check's interval (each costs ~75 ms of CPU)
EARLY_CHECK_GAP = 0.25

Report = Callable[[str], None]
Interrupt = Callable[[], "str | None"]   # a reason to give up now, or None


# A service's rollout spends most of its time waiting (health checks, its monitor period), so every
# service of a project rolls out at once: the engine bounds the work, not this pool. Measured (bench/):
# 20 services with the default 5 s monitor took 18.5 s in three waves of 8, and one wave with 32.
SERVICES_AT_ONCE = 32
STEPS_AT_ONCE = 4     # starts within a batch, and removals of replaced replicas, of one service


@dataclass(frozen=True, slots=True)
class Runtime:
    """Time, gitdeploy's own probes and concurrency, as a rollout sees them.

    Tests pass a fake clock and one thread each (FakeClock.runtime), so that a
    run in fake time is a deterministic sequence.
    """

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    probe: Callable[[HealthCheck, str], ProbeOutcome] = lambda check, address: _probe(check, address)
    services_at_once: int = SERVICES_AT_ONCE
    steps_at_once: int = STEPS_AT_ONCE


@dataclass(frozen=True, slots=True)
class Failure:
    replica: str
    reason: str
    detail: str = ""     # health-check output and log tail of the failed replica
    abandoned: bool = False  # given up (a newer commit, --atomic), not proven bad: not remembered as failed
    # The engine would not start a replica for a reason of its own (a host port taken, a full disk, the
    # engine restarting: a 5xx, or no answer): the environment failed, not the revision. Rolled back like
    # any failure, but not remembered as failed: the next sync tries again. A 4xx refusal (a command that
    # does not exist) is the revision's own, and holds it like a replica that failed its checks.
    environment: bool = False

    def describe(self) -> str:
        return f"replica {self.replica} {self.reason}"


@dataclass(frozen=True, slots=True)
class RolloutReport:
    outcome: Outcome     # APPLIED, ROLLED_BACK or FAILED
    message: str
    failure: Failure | None = None
    paused: bool = False  # FAILED and left as it was (failureAction: pause)


class Rollout:
    def __init__(self, project: str, service: ServicePlan, engine: Engine, report: Report,
                 runtime: Runtime = Runtime(), should_abort: Interrupt = lambda: None,
                 cancelled: Interrupt = lambda: None, may_revert: bool = True,
                 stop_requested: Interrupt = lambda: None) -> None:
        self.project, self.service, self.engine, self.report, self.runtime = \
            project, service, engine, report, runtime
        # Asked while new replicas are not healthy yet: a reason (e.g. a newer commit
        # landed) makes the rollout give up and roll back, as a failure would.
        self.should_abort = should_abort
        # Asked at every tick: a reason (another service failed under --atomic)
        # gives the rollout up whatever state its replicas are in.
        self.cancelled = cancelled
        # False for a revert: if putting the previous revision back fails, there is nothing further back.
        self.may_revert = may_revert
        # Asked before each batch after the first: a reason (the user pressed Ctrl-C) starts no
        # new batch; the rollout ends where it is, every slot running either revision.
        self.stop_requested = stop_requested

    def run(self) -> RolloutReport:
        # Starts within a batch, and removals of replaced replicas, run on a small
        # pool: a replaced replica blocks nothing, so the next batch need not wait
        # for it to stop. Every removal is joined before the rollout reports.
        with ThreadPoolExecutor(max_workers=self.runtime.steps_at_once,
                                thread_name_prefix=f"rollout-{self.service.name}") as pool:
            self._pool = pool
            self._removals: list[Future] = []
            if self.service.spec is None:   # not declared any more: prune, nothing to gate
                self._remove([step.replica for step in self.service.steps if isinstance(step, RemoveReplica)])
                return RolloutReport(Outcome.APPLIED, f"{len(self.service.steps)} removed")
            report = self._run(self.service.spec)
            self._join_removals()
            return report

    def _run(self, spec: ServiceSpec) -> RolloutReport:
        policy = spec.update
        deadline = self.runtime.clock() + policy.progress_deadline
        starting = [w for w in self.service.work if any(isinstance(s, StartReplica) for s in w.steps)]
        fresh = [w for w in starting if not _olds(w)]
        replacing = [w for w in starting if _olds(w)]
        removals = [w for w in self.service.work if w not in starting]
        batches = ([fresh] if fresh else []) + _chunks(replacing, policy.parallelism)
        stop_first = policy.order is UpdateOrder.STOP_FIRST
        want = spec.template_hash()
        watcher = Watcher(self.engine, self.runtime, self.report, spec, self.cancelled, self.should_abort)
        in_flight: list[tuple[list[SlotWork], list[str]]] = []   # batches started, not all ready yet

        def retire_ready() -> None:
            # A batch whose replicas are all ready releases its old replicas.
            for batch, started in list(in_flight):
                if all(watcher.ready(name) for name in started):
                    if not stop_first:
                        self._remove_later([r for w in batch for r in _olds(w) if r.template_hash != want])
                    in_flight.remove((batch, started))

        for number, batch in enumerate(batches, 1):
            stop = self.stop_requested() if number > 1 else None
            if stop:
                # Finish the batches in flight (or roll them back), then end here.
                failure = watcher.wait(lambda: not in_flight, deadline, retire_ready)
                if failure:
                    return self._fail(failure, [watcher.current_name(n) for _, names in in_flight for n in names])
                return RolloutReport(Outcome.FAILED, f"{stop} after {number - 1} of {len(batches)} batches; the other "
                                                     "slots still run the previous revision",
                                     Failure("(none)", stop, abandoned=True))
            if len(batches) > 1:
                self.report(f"batch {number}/{len(batches)}: slots {', '.join(str(w.slot) for w in batch)}")
            # A stale replica of the *same* revision (stopped, unhealthy) serves
            # nothing and holds the new one's name: it always goes first.
            self._remove([r for w in batch for r in _olds(w) if stop_first or r.template_hash == want])
            started, failure = self._start_all(spec, [(w.slot, _reason(w)) for w in batch])
            in_flight.append((batch, started))
            watcher.add(started)
            last = number == len(batches)
            if not failure:
                # start-first: the next batch may start once this one is healthy
                # (its old replicas stay until it is ready, so the floor holds; at
                # most two batches are surging). stop-first: wait until ready.
                # At most two batches surge: the next one starts once this one is healthy
                # and every earlier one is ready (and has released its old replicas).
                until = (lambda: not in_flight) if (stop_first or last) else (
                    lambda: all(watcher.healthy(n) for n in started) and len(in_flight) <= 1)
                failure = watcher.wait(until, deadline, retire_ready)
            if failure:
                return self._fail(failure, [watcher.current_name(name) for _, names in in_flight for name in names])
            if not last and policy.delay:
                self.runtime.sleep(policy.delay)
        self._remove_later([step.replica for w in removals for step in w.steps if isinstance(step, RemoveReplica)])
        return RolloutReport(Outcome.APPLIED, _summary(self.service))

    # -- failure and rollback ---------------------------------------------

    def _fail(self, failure: Failure, unready: list[str]) -> RolloutReport:
        what = failure.describe()
        # Progress says which replica; why, once, in the summary (and JSON detail) that follows.
        self.report(f"replica {failure.replica} failed" + ("; rolling back" if self.may_revert and
                                                          self.service.spec.update.failure_action is
                                                          FailureAction.ROLLBACK else ""))
        if not self.may_revert:
            return RolloutReport(Outcome.FAILED, what, failure)
        if self.service.spec.update.failure_action is FailureAction.PAUSE:
            return RolloutReport(Outcome.FAILED, f"{what}; rollout paused (failureAction: pause), nothing rolled back",
                                 failure, paused=True)
        self._join_removals()
        self._remove([_named(name) for name in unready])
        if self.service.spec.ingress:   # one of them may have been confirmed, so in the ingress: not any more
            self.engine.converge_ingress()
        previous = previous_revision(self.service)
        if previous is None:
            return RolloutReport(Outcome.FAILED, f"{what}; the other replicas were left as they were", failure)
        back = revert_plan(self.project, self.service.commit, [previous], self.engine.observe(self.project))
        for service in back.services:
            restoring = sum(isinstance(step, StartReplica) for step in service.steps)
            if restoring:
                self.report(f"rolling back {restoring} replica(s) to the previous revision")
            undone = Rollout(self.project, service, self.engine, self.report, self.runtime, may_revert=False).run()
            if undone.outcome is not Outcome.APPLIED:
                return RolloutReport(Outcome.FAILED, f"{what}; rollback failed too: {undone.message}", failure)
        undone = "the new service was removed again" if previous.spec is None else \
            "rolled back to the previous revision"
        if failure.environment:   # not the revision's fault: an error (exit 1), tried again next time
            return RolloutReport(Outcome.FAILED, f"{what}; {undone}; not held: the next sync tries again", failure)
        return RolloutReport(Outcome.ROLLED_BACK, f"{what}; {undone}", failure)

    # -- engine steps -----------------------------------------------------

    def _start_all(self, spec: ServiceSpec, slots: list[tuple[int, str]]) -> tuple[list[str], Failure | None]:
        """Starts one replica per (slot, why) in parallel: the names started, and the first failure."""
        def start(slot: int, why: str) -> str:
            name = self.engine.start_replica(self.project, self.service.commit, spec, slot)
            self.report(f"started {name} ({why})")
            return name

        futures = [(slot, self._pool.submit(start, slot, why)) for slot, why in slots]
        started, failure = [], None
        for slot, future in futures:
            try:
                started.append(future.result())
            except GitDeployError as exc:
                failure = failure or Failure(f"slot {slot}", f"could not be started: {exc.message}", exc.message,
                                             environment=_environmental(exc))
        return started, failure

    def _remove_later(self, replicas: list[ObservedReplica]) -> None:
        self._removals += [self._pool.submit(self._remove_one, r) for r in replicas]

    def _join_removals(self) -> None:
        """Waits for background removals; the first error among them is raised (the service failed)."""
        pending, self._removals = self._removals, []
        errors = [f.exception() for f in pending if f.exception() is not None]
        if errors:
            raise errors[0]

    def _remove(self, replicas: list[ObservedReplica]) -> None:
        """Removes these replicas now, at once (each stop waits out its grace period on its own)."""
        for future in [self._pool.submit(self._remove_one, replica) for replica in replicas]:
            future.result()

    def _remove_one(self, replica: ObservedReplica) -> None:
        if replica.routed and replica.running and replica.confirmed:
            # Out of the ingress first; it finishes the requests it has, then stops (docs/ingress.md).
            self.engine.take_out(replica)
            drain = self.service.spec.update.drain if self.service.spec else UpdatePolicy().drain
            self.report(f"took {replica.name} out of the ingress; stopping it in {format_duration(drain)}")
            self.runtime.sleep(drain)
        self.engine.remove_replica(replica)
        self.report(f"removed {replica.name}")


class Watcher:
    """Watches new replicas of one spec until a condition holds: one inspect per replica per tick.

    Watches persist across batches, so a replica's monitor clock keeps running
    while the next batch starts.
    """

    def __init__(self, engine: Engine, runtime: Runtime, report: Report, spec: ServiceSpec,
                 cancelled: Interrupt, should_abort: Interrupt) -> None:
        self.engine, self.runtime, self.report, self.spec = engine, runtime, report, spec
        self.cancelled, self.should_abort = cancelled, should_abort
        self.watches: dict[str, ReplicaWatch] = {}
        self.probe_due: dict[str, float] = {}
        self.said: dict[str, str] = {}
        self.confirmed: dict[str, str] = {}   # name it started with -> its name once confirmed
        self.early_running: dict[str, tuple[str, float]] = {}   # replica -> (its early check's id, since)
        self.early_next: dict[str, tuple[float, float]] = {}    # replica -> (next early check due, gap after it)

    def current_name(self, name: str) -> str:
        return self.confirmed.get(name, name)

    def add(self, names: list[str]) -> None:
        now = self.runtime.clock()
        for name in names:
            self.watches[name] = ReplicaWatch(self.spec.health, self.spec.update.monitor, now)
            self.probe_due[name] = now

    def ready(self, name: str) -> bool:
        return self.watches[name].last.verdict is Verdict.READY

    def healthy(self, name: str) -> bool:
        return self.ready(name) or self.watches[name].healthy

    def wait(self, until: Callable[[], bool], deadline: float,
             after_tick: Callable[[], None] = lambda: None) -> Failure | None:
        while True:
            failure = self._tick()
            if failure:
                return failure
            after_tick()
            if until():
                return None
            failure = self._interrupted(deadline)
            if failure:
                return failure
            self.runtime.sleep(TICK)

    def _interrupted(self, deadline: float) -> Failure | None:
        waiting = next((n for n, w in self.watches.items() if w.last.verdict is not Verdict.READY), "(none)")
        cancelled = self.cancelled()
        if cancelled:
            return Failure(waiting, f"was cancelled: {cancelled}", abandoned=True)
        # Only a rollout stuck on health is given up for a newer commit; one
        # whose replicas pass their checks and are only being monitored goes on.
        stuck = next((n for n in self.watches if not self.healthy(n)), None)
        if stuck is not None:
            abort = self.should_abort()
            if abort:
                return Failure(stuck, f"was abandoned: {abort}", abandoned=True)
        if self.runtime.clock() >= deadline:
            return Failure(waiting, f"was not ready within the progress deadline "
                                    f"({format_duration(self.spec.update.progress_deadline)}): "
                                    f"{self.watches[waiting].last.reason}", self._detail(waiting, None))
        return None

    def _tick(self) -> Failure | None:
        check = self.spec.health
        now = self.runtime.clock()
        changed = []
        for name, watch in self.watches.items():
            if watch.last.verdict is Verdict.READY:
                continue
            seen = self.engine.inspect_replica(name)
            passed = None
            if watch.probed_by_gitdeploy and now >= self.probe_due[name]:
                passed = self.runtime.probe(check, seen.address)
                self.probe_due[name] = now + check.interval
            elif watch.checks_early(seen):
                passed = self._early_check(name, now)
            verdict = watch.observe(seen, now, passed)
            if verdict.verdict is Verdict.FAILED:
                return Failure(name, verdict.reason, self._detail(name, seen))
            if verdict.verdict is Verdict.READY:
                # Passed: from now on the replica serves, in this run's eyes and the next one's.
                self.confirmed[name] = self.engine.confirm_replica(name) if is_pending(name) else name
            if self.said.get(name) != verdict.reason:
                self.said[name] = verdict.reason
                changed.append(name)
        ready = sum(w.last.verdict is Verdict.READY for w in self.watches.values())
        for name in changed:
            self.report(f"ready {ready}/{len(self.watches)}: {name} {self.said[name]}")
        return None

    def _early_check(self, name: str, now: float) -> ProbeOutcome | None:
        """Runs the exec check in the replica before the engine's first (core/readiness.py): its outcome
        once it has ended, None while none has. One at a time per replica, never waited for."""
        check = self.spec.health
        running = self.early_running.get(name)
        if running is not None:
            check_id, since = running
            try:
                code = self.engine.exec_check_result(check_id)
            except EngineError:   # only a head start: an answer we cannot read counts for nothing
                code = None
            if code is None and now - since < check.timeout:
                return None
            del self.early_running[name]
            # Past its timeout it failed, as the engine would count it, even if it ended since.
            return PASSED if code == 0 and now - since <= check.timeout else ProbeOutcome(False, "no pass")
        due, gap = self.early_next.get(name, (now, EARLY_CHECK_GAP))
        if now >= due:
            self.early_next[name] = (now + gap, min(gap * 2, check.interval))
            try:
                self.early_running[name] = (self.engine.begin_exec_check(name, check.exec), now)
            except EngineError:
                # Only a head start: a replica that cannot run the command (it just exited, the executable
                # is missing) is judged by the engine, as without early checks; tried again after the gap.
                return None
        return None

    def _detail(self, name: str, seen: ReplicaProbe | None) -> str:
        """What a failure report shows of a replica: why its last check failed (gitdeploy's probe: the HTTP
        status or connection error; the engine's: the output and exit code), how it exited, its last log lines."""
        parts = []
        watch = self.watches.get(name)
        if watch is not None and watch.last_probe_failure:
            parts.append(f"last health check: {watch.last_probe_failure}")
        if seen is not None and seen.health_output:
            code = f" (exit code {seen.health_exit_code})" if seen.health_exit_code is not None else ""
            parts.append(f"last health check output{code}:\n{seen.health_output[-500:]}")
        if seen is not None and seen.state in ("exited", "dead"):
            parts.append(f"the container exited with code {seen.exit_code}")
        logs = self.engine.replica_logs(name, lines=10)
        parts.append(f"last log lines:\n{logs}" if logs else "no log lines")
        return "\n".join(parts)


def _probe(check: HealthCheck, address: str) -> ProbeOutcome:
    from gitdeploy import probes   # http.client and ssl: 12 ms a pass that probes nothing need not pay

    return probes.probe(check, address)


def _environmental(exc: GitDeployError) -> bool:
    """Whether a replica that would not start says nothing about its revision (see Failure.environment)."""
    return isinstance(exc, EngineUnreachable) or (isinstance(exc, EngineError) and exc.environmental)


def _olds(work: SlotWork) -> list[ObservedReplica]:
    return [step.replica for step in work.steps if isinstance(step, RemoveReplica)]


def _reason(work: SlotWork) -> str:
    return next(step.reason for step in work.steps if isinstance(step, StartReplica))


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _named(name: str) -> ObservedReplica:
    # A replica we started during this rollout: running, known by name only.
    return ObservedReplica(id=name, name=name, service="", slot=0, template_hash="", template_json="",
                           commit="", image="", state="running")


def _summary(service: ServicePlan) -> str:
    started = sum(isinstance(s, StartReplica) for s in service.steps)
    removed = sum(isinstance(s, RemoveReplica) for s in service.steps)
    parts = [f"{n} {word}" for n, word in ((started, "started"), (removed, "removed")) if n]
    return ", ".join(parts) + f"; {service.desired_replicas} ready"
