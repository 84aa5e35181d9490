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

import time
from collections import Counter
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

TICK = 0.25  # seconds between looks at replicas being watched


@dataclass(frozen=True, slots=True)
class Failure:
    replica: str
    reason: str
    detail: str = ""     # health-check output and log tail of the failed replica


@dataclass(frozen=True, slots=True)
class RolloutReport:
    outcome: str         # applied | rolled_back | paused | failed
    message: str
    failure: Failure | None = None


Report = Callable[[str], None]


class Rollout:
    def __init__(self, project: str, service: ServicePlan, engine: Engine, report: Report,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        assert service.spec is not None
        self.project, self.commit, self.service, self.engine = project, service.commit, service, engine
        self.spec: ServiceSpec = service.spec
        self.policy: UpdatePolicy = service.spec.update
        self.report, self.clock, self.sleep = report, clock, sleep

    # -- the rollout ------------------------------------------------------

    def run(self) -> RolloutReport:
        deadline = self.clock() + self.policy.progress_deadline
        starting = [w for w in self.service.work if any(isinstance(s, StartReplica) for s in w.steps)]
        fresh = [w for w in starting if not _olds(w)]
        replacing = [w for w in starting if _olds(w)]
        removals = [w for w in self.service.work if w not in starting]
        batches = ([fresh] if fresh else []) + _chunks(replacing, self.policy.parallelism)

        done: list[tuple[int, str]] = []   # (slot, new replica) whose old replica is gone
        for number, batch in enumerate(batches, 1):
            if len(batches) > 1:
                self.report(f"batch {number}/{len(batches)}: slots {', '.join(str(w.slot) for w in batch)}")
            stop_first = self.policy.order == "stop-first"
            # A stale replica of the *same* revision (stopped, unhealthy) serves
            # nothing and holds the new one's name: it always goes first.
            want = self.spec.template_hash()
            self._remove([r for w in batch for r in _olds(w) if stop_first or r.template_hash == want])
            started: list[tuple[int, str]] = []
            failure = None
            for work in batch:
                try:
                    started.append((work.slot, self._start(self.spec, work.slot, self.commit, _reason(work))))
                except GitDeployError as exc:
                    failure = Failure(f"slot {work.slot}", exc.message)
                    break
            failure = failure or self._wait_ready([name for _, name in started], self.spec, deadline)
            if failure:
                lost = done + (started if stop_first else [])
                return self._fail(failure, started, lost, batch if stop_first else [])
            if not stop_first:
                self._remove([r for w in batch for r in _olds(w) if r.template_hash != want])
            done += started
            if number < len(batches) and self.policy.delay:
                self.sleep(self.policy.delay)
        self._remove([step.replica for w in removals for step in w.steps if isinstance(step, RemoveReplica)])
        return RolloutReport("applied", _summary(self.service))

    # -- failure and rollback ---------------------------------------------

    def _fail(self, failure: Failure, unready: list[tuple[int, str]], lost: list[tuple[int, str]],
              stopped_batch: list[SlotWork]) -> RolloutReport:
        what = f"replica {failure.replica} {failure.reason}"
        self.report(f"failed: {what}")
        if self.policy.failure_action == "pause":
            return RolloutReport("paused", f"{what}; rollout paused (failureAction: pause), nothing rolled back", failure)

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
            restored = [self._start(previous, slot, commit, "rollback") for slot in batch]
            again = self._wait_ready(restored, previous, deadline)
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
            import json

            return spec_from_template(self.spec.name, self.spec.replicas, json.loads(template_json), self.policy)
        except (KeyError, ValueError, TypeError):
            return None

    def _previous_commit(self) -> str:
        commits = [r.commit for w in self.service.work for r in _olds(w) if r.commit]
        return Counter(commits).most_common(1)[0][0] if commits else self.commit

    # -- waiting ----------------------------------------------------------

    def _wait_ready(self, names: list[str], spec: ServiceSpec, deadline: float) -> Failure | None:
        if not names:
            return None
        now = self.clock()
        watches = {name: ReplicaWatch(spec.health, self.policy.monitor, now) for name in names}
        probe_due = {name: now for name in names}
        said: dict[str, str] = {}
        while True:
            now = self.clock()
            changed = []
            for name, watch in watches.items():
                if watch.last.verdict is Verdict.READY:
                    continue
                seen = self.engine.inspect_replica(name)
                passed = None
                if watch.probed_by_gitdeploy and now >= probe_due[name]:
                    passed = probes.probe(spec.health, seen.address)
                    probe_due[name] = now + spec.health.interval
                verdict = watch.observe(seen, now, passed)
                if verdict.verdict is Verdict.FAILED:
                    return Failure(name, verdict.reason, self._detail(name, seen.health_output))
                if said.get(name) != verdict.reason:
                    said[name] = verdict.reason
                    changed.append(name)
            ready = sum(w.last.verdict is Verdict.READY for w in watches.values())
            for name in changed:
                self.report(f"ready {ready}/{len(watches)}: {name} {said[name]}")
            if ready == len(watches):
                return None
            if now >= deadline:
                waiting = next(n for n, w in watches.items() if w.last.verdict is not Verdict.READY)
                return Failure(waiting, f"was not ready within the progress deadline "
                                        f"({format_duration(self.policy.progress_deadline)}): {watches[waiting].last.reason}",
                               self._detail(waiting, ""))
            self.sleep(TICK)

    def _detail(self, name: str, health_output: str) -> str:
        parts = []
        if health_output:
            parts.append(f"last health check output:\n{health_output[-500:]}")
        logs = self.engine.replica_logs(name, lines=10)
        if logs:
            parts.append(f"last log lines:\n{logs}")
        return "\n".join(parts)

    # -- engine steps -----------------------------------------------------

    def _start(self, spec: ServiceSpec, slot: int, commit: str, why: str) -> str:
        name = self.engine.start_replica(self.project, commit, spec, slot)
        self.report(f"started {name} ({why})")
        return name

    def _remove(self, replicas: list[ObservedReplica]) -> None:
        for replica in replicas:
            self.engine.remove_replica(replica)
            self.report(f"removed {replica.name}")

    def _remove_named(self, names: list[str]) -> None:
        for name in names:
            self.engine.remove_replica(_named(name))
            self.report(f"removed {name}")


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
