"""The health-gated rollout of one service's planned work, with automatic rollback.

The planner says *what* changes per slot; this module decides *when*, so that
the service never drops below its availability floor:

- fresh slots (nothing to replace: a new service, a scale-up) start together
  and are gated together;
- replacements go in batches of `update.parallelism`. start-first: the new
  replica starts beside the old one, which is removed once the new one is
  ready (floor: `replicas` ready). stop-first: the old one goes first (floor:
  `replicas - parallelism`);
- removals that replace nothing (scale-down, strays) come last.

A new replica fails when the readiness rules (core/readiness.py) say so, or
when the service's `progressDeadline` passes. Then, with `failureAction:
rollback`, the unready new replicas are removed and every slot that already
lost its old replica gets the previous revision back, with the same gating,
start-first, before the new replica in it is removed. The previous revision is
rebuilt from the template label of the replicas being replaced: the engine, not
a local file, remembers it.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from gitdeploy import probes
from gitdeploy.core.model import ServiceSpec, UpdatePolicy, spec_from_template
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.plan import RemoveReplica, ServiceAction, ServicePlan, SlotWork, StartReplica
from gitdeploy.core.readiness import ReplicaWatch, Verdict
from gitdeploy.core.units import format_duration
from gitdeploy.engine.base import Engine
from gitdeploy.errors import GitDeployError

TICK = 0.1  # seconds between looks at replicas being watched (one inspect each, a few ms)


@dataclass(frozen=True, slots=True)
class Failure:
    replica: str
    reason: str
    detail: str = ""     # health-check output and log tail of the failed replica
    abandoned: bool = False  # given up (a newer commit), not proven bad: not remembered as failed


@dataclass(frozen=True, slots=True)
class RolloutReport:
    outcome: str         # applied | rolled_back | paused | failed
    message: str
    failure: Failure | None = None


Report = Callable[[str], None]


class Rollout:
    def __init__(self, project: str, service: ServicePlan, engine: Engine, report: Report,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 should_abort: Callable[[], str | None] = lambda: None,
                 cancelled: Callable[[], str | None] = lambda: None) -> None:
        assert service.spec is not None
        self.project, self.commit, self.service, self.engine = project, service.commit, service, engine
        self.spec: ServiceSpec = service.spec
        self.policy: UpdatePolicy = service.spec.update
        self.report, self.clock, self.sleep = report, clock, sleep
        # Asked while waiting for new replicas: a reason (e.g. a newer commit
        # landed) makes the rollout give up and roll back, as a failure would.
        self.should_abort = should_abort
        # Asked at every tick: a reason (another service failed under --atomic)
        # gives the rollout up whatever state its replicas are in.
        self.cancelled = cancelled

    # -- the rollout ------------------------------------------------------

    def run(self) -> RolloutReport:
        # Starts within a batch, and removals of replaced replicas, run on a small
        # pool: a replaced replica blocks nothing, so the next batch need not wait
        # for it to stop. Every removal is joined before the rollout reports.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"rollout-{self.spec.name}") as pool:
            self._pool = pool
            self._removals: list[Future] = []
            report = self._run()
            self._join_removals()
            return report

    def _run(self) -> RolloutReport:
        deadline = self.clock() + self.policy.progress_deadline
        starting = [w for w in self.service.work if any(isinstance(s, StartReplica) for s in w.steps)]
        fresh = [w for w in starting if not _olds(w)]
        replacing = [w for w in starting if _olds(w)]
        removals = [w for w in self.service.work if w not in starting]
        batches = ([fresh] if fresh else []) + _chunks(replacing, self.policy.parallelism)
        stop_first = self.policy.order == "stop-first"
        want = self.spec.template_hash()
        watcher = Watcher(self, self.spec)

        done: list[tuple[int, str]] = []          # (slot, new replica) whose old replica is gone
        in_flight: list[tuple[list[SlotWork], list[tuple[int, str]]]] = []

        def retire_ready() -> None:
            # A batch whose replicas are all ready releases its old replicas.
            for batch, started in list(in_flight):
                if all(watcher.ready(name) for _, name in started):
                    if not stop_first:
                        self._remove_later([r for w in batch for r in _olds(w) if r.template_hash != want])
                    done.extend(started)
                    in_flight.remove((batch, started))

        for number, batch in enumerate(batches, 1):
            if len(batches) > 1:
                self.report(f"batch {number}/{len(batches)}: slots {', '.join(str(w.slot) for w in batch)}")
            # A stale replica of the *same* revision (stopped, unhealthy) serves
            # nothing and holds the new one's name: it always goes first.
            self._remove([r for w in batch for r in _olds(w) if stop_first or r.template_hash == want])
            started, failure = self._start_all(self.spec, [(w.slot, _reason(w)) for w in batch], self.commit)
            in_flight.append((batch, started))
            watcher.add([name for _, name in started])
            last = number == len(batches)
            if not failure:
                # start-first: the next batch may start once this one is healthy
                # (its old replicas stay until it is ready, so the floor holds; at
                # most two batches are surging). stop-first: wait until ready.
                newest = [name for _, name in started]
                until = (lambda: not in_flight) if (stop_first or last) else (
                    lambda: all(watcher.healthy(n) for n in newest))
                failure = watcher.wait(until, deadline, retire_ready)
            if failure:
                # Unready replicas are removed; slots that lost their old replica (retired
                # batches, and with stop-first the failing batch) get the previous revision.
                unready = [s for _, started_ in in_flight for s in started_]
                return self._fail(failure, unready, done, batch if stop_first else [])
            if not last and self.policy.delay:
                self.sleep(self.policy.delay)
        self._remove_later([step.replica for w in removals for step in w.steps if isinstance(step, RemoveReplica)])
        return RolloutReport("applied", _summary(self.service))

    # -- failure and rollback ---------------------------------------------

    def _fail(self, failure: Failure, unready: list[tuple[int, str]], lost: list[tuple[int, str]],
              stopped_batch: list[SlotWork]) -> RolloutReport:
        what = f"replica {failure.replica} {failure.reason}"
        self.report(f"failed: {what}")
        if self.policy.failure_action == "pause":
            return RolloutReport("paused", f"{what}; rollout paused (failureAction: pause), nothing rolled back", failure)

        self._join_removals()
        self._remove_named([name for _, name in unready])
        previous = self._previous_spec()
        if previous is None:
            if self.service.action is ServiceAction.CREATE:
                self._remove_named([name for _, name in lost])
                return RolloutReport("rolled_back", f"{what}; the new service was removed again", failure)
            return RolloutReport("failed", f"{what}; the other replicas were left as they were", failure)

        if lost or stopped_batch:
            self.report(f"rolling back {len(set(dict(lost)) | {w.slot for w in stopped_batch})} replica(s) "
                        "to the previous revision")
        deadline = self.clock() + self.policy.progress_deadline
        commit = self._previous_commit()
        new_in_slot = dict(lost)
        # Slots whose old replica was stopped by stop-first but whose new one never became ready.
        restore_slots = sorted(set(new_in_slot) | {w.slot for w in stopped_batch})
        for batch in _chunks(restore_slots, self.policy.parallelism):
            started, again = self._start_all(previous, [(slot, "rollback") for slot in batch], commit)
            if not again:
                watcher = Watcher(self, previous)
                watcher.add([name for _, name in started])
                again = watcher.wait(lambda: all(watcher.ready(n) for _, n in started), deadline)
            if again:
                return RolloutReport("failed", f"{what}; rollback failed too: replica {again.replica} {again.reason}",
                                     failure)
            self._remove_named([new_in_slot[slot] for slot in batch if slot in new_in_slot])
        return RolloutReport("rolled_back", f"{what}; rolled back to the previous revision", failure)

    def _previous_spec(self) -> ServiceSpec | None:
        want = self.spec.template_hash()
        olds = [r for w in self.service.work for r in _olds(w) if r.template_json and r.template_hash != want]
        if not olds:
            return None
        template_json = Counter(r.template_json for r in olds).most_common(1)[0][0]
        try:
            return spec_from_template(self.spec.name, self.spec.replicas, json.loads(template_json), self.policy)
        except (KeyError, ValueError, TypeError):
            return None

    def _previous_commit(self) -> str:
        commits = [r.commit for w in self.service.work for r in _olds(w) if r.commit]
        return Counter(commits).most_common(1)[0][0] if commits else self.commit

    def _detail(self, name: str, health_output: str) -> str:
        parts = []
        if health_output:
            parts.append(f"last health check output:\n{health_output[-500:]}")
        logs = self.engine.replica_logs(name, lines=10)
        if logs:
            parts.append(f"last log lines:\n{logs}")
        return "\n".join(parts)

    # -- engine steps -----------------------------------------------------

    def _start_all(self, spec: ServiceSpec, slots: list[tuple[int, str]], commit: str
                   ) -> tuple[list[tuple[int, str]], Failure | None]:
        """Starts one replica per (slot, why) in parallel: what started, and the first failure."""
        def start(slot: int, why: str) -> str:
            name = self.engine.start_replica(self.project, commit, spec, slot)
            self.report(f"started {name} ({why})")
            return name

        futures = [(slot, self._pool.submit(start, slot, why)) for slot, why in slots]
        started, failure = [], None
        for slot, future in futures:
            try:
                started.append((slot, future.result()))
            except GitDeployError as exc:
                failure = failure or Failure(f"slot {slot}", exc.message)
        return started, failure

    def _remove_later(self, replicas: list[ObservedReplica]) -> None:
        def remove(replica: ObservedReplica) -> None:
            self.engine.remove_replica(replica)
            self.report(f"removed {replica.name}")

        self._removals += [self._pool.submit(remove, r) for r in replicas]

    def _join_removals(self) -> None:
        """Waits for background removals; the first error among them is raised (the service failed)."""
        pending, self._removals = self._removals, []
        errors = [f.exception() for f in pending if f.exception() is not None]
        if errors:
            raise errors[0]

    def _remove(self, replicas: list[ObservedReplica]) -> None:
        for replica in replicas:
            self.engine.remove_replica(replica)
            self.report(f"removed {replica.name}")

    def _remove_named(self, names: list[str]) -> None:
        for name in names:
            self.engine.remove_replica(_named(name))
            self.report(f"removed {name}")


class Watcher:
    """Watches new replicas of one spec until a condition holds: one inspect per replica per tick.

    Watches persist across batches, so a replica's monitor clock keeps running
    while the next batch starts.
    """

    def __init__(self, rollout: Rollout, spec: ServiceSpec) -> None:
        self.rollout, self.spec = rollout, spec
        self.watches: dict[str, ReplicaWatch] = {}
        self.probe_due: dict[str, float] = {}
        self.said: dict[str, str] = {}

    def add(self, names: list[str]) -> None:
        now = self.rollout.clock()
        for name in names:
            self.watches[name] = ReplicaWatch(self.spec.health, self.rollout.policy.monitor, now)
            self.probe_due[name] = now

    def ready(self, name: str) -> bool:
        return self.watches[name].last.verdict is Verdict.READY

    def healthy(self, name: str) -> bool:
        return self.ready(name) or self.watches[name].healthy

    def wait(self, until: Callable[[], bool], deadline: float,
             after_tick: Callable[[], None] = lambda: None) -> Failure | None:
        rollout = self.rollout
        while True:
            failure = self._tick()
            if failure:
                return failure
            after_tick()
            if until():
                return None
            cancelled = rollout.cancelled()
            if cancelled:
                waiting = next((n for n, w in self.watches.items() if w.last.verdict is not Verdict.READY), "")
                return Failure(waiting or "(none)", f"was cancelled: {cancelled}", abandoned=True)
            # Only a rollout stuck on health is given up for a newer commit; one
            # whose replicas pass their checks and are only being monitored goes on.
            stuck = next((n for n in self.watches if not self.healthy(n)), None)
            if stuck is not None:
                abort = rollout.should_abort()
                if abort:
                    return Failure(stuck, f"was abandoned: {abort}", abandoned=True)
            if rollout.clock() >= deadline:
                waiting = next(n for n, w in self.watches.items() if w.last.verdict is not Verdict.READY)
                return Failure(waiting, f"was not ready within the progress deadline "
                                        f"({format_duration(rollout.policy.progress_deadline)}): "
                                        f"{self.watches[waiting].last.reason}", rollout._detail(waiting, ""))
            rollout.sleep(TICK)

    def _tick(self) -> Failure | None:
        rollout, check = self.rollout, self.spec.health
        now = rollout.clock()
        changed = []
        for name, watch in self.watches.items():
            if watch.last.verdict is Verdict.READY:
                continue
            seen = rollout.engine.inspect_replica(name)
            passed = None
            if watch.probed_by_gitdeploy and now >= self.probe_due[name]:
                passed = probes.probe(check, seen.address)
                self.probe_due[name] = now + check.interval
            verdict = watch.observe(seen, now, passed)
            if verdict.verdict is Verdict.FAILED:
                return Failure(name, verdict.reason, rollout._detail(name, seen.health_output))
            if self.said.get(name) != verdict.reason:
                self.said[name] = verdict.reason
                changed.append(name)
        ready = sum(w.last.verdict is Verdict.READY for w in self.watches.values())
        for name in changed:
            rollout.report(f"ready {ready}/{len(self.watches)}: {name} {self.said[name]}")
        return None


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
