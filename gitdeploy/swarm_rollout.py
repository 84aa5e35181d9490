"""One service's rollout on a Swarm: put its definition, then wait for Swarm's verdict.

Swarm replaces the tasks itself, batch by batch, as the definition's UpdateConfig
says (from the manifest's `update`), and rolls back by itself when a new task
fails (`failureAction: rollback`). What gitdeploy adds is what `docker stack
deploy` lacks: it waits for the end, says how it ended (a Swarm rollback is
Outcome.ROLLED_BACK, exit 3; the revision is remembered and not rolled forward
again), and gives up at the progress deadline, putting the previous definition
back, when the update makes no progress at all (no node can run the new tasks).
A service this run created that never gets ready is removed again.

"Done" is judged by the tasks themselves: a task counts only when its own spec is
the task template put, so tasks of a definition changed by hand, or not replaced
yet, are never taken for the new ones (engine/swarm.py: progress).
"""
from __future__ import annotations

from dataclasses import replace

from gitdeploy.core.actions import ServiceAction
from gitdeploy.core.plan import RemoveReplica, ServicePlan
from gitdeploy.core.results import Outcome
from gitdeploy.core.units import format_duration
from gitdeploy.engine.base import ServiceEngine, ServiceProgress
from gitdeploy.rollout import Failure, Interrupt, Report, RolloutReport, Runtime

TICK = 0.25  # seconds between looks at the service (three cheap API calls each, on the manager)
BUSY = ("updating", "rollback_started", "paused", "rollback_paused")   # Swarm is not done with the service


class SwarmRollout:
    def __init__(self, project: str, service: ServicePlan, engine: ServiceEngine, report: Report,
                 runtime: Runtime = Runtime(), stop_requested: Interrupt = lambda: None,
                 should_abort: Interrupt = lambda: None, cancelled: Interrupt = lambda: None,
                 may_revert: bool = True) -> None:
        self.project, self.service, self.engine, self.report, self.runtime = project, service, engine, report, runtime
        self.stop_requested, self.should_abort, self.cancelled = stop_requested, should_abort, cancelled
        self.may_revert = may_revert

    def run(self) -> RolloutReport:
        service, spec = self.service, self.service.spec
        self._remove_strays()
        if spec is None or spec.replicas == 0:
            gone = self.engine.remove_service(self.project, service.name)
            self.report("removed its Swarm service" if gone else "nothing to remove")
            return RolloutReport(Outcome.APPLIED, "removed" if spec is None else "scaled to 0 (its Swarm service removed)")
        before = self.engine.progress(self.project, service.name)
        if service.action is ServiceAction.HELD and before.exists:
            # Kept on the revision that ran before: at the count its Swarm service has, not the count of the
            # replicas that happened to run when the plan was made (a task Swarm is restarting).
            spec = replace(spec, replicas=max(spec.replicas, before.replicas))
        posted, template = self.engine.put_service(self.project, service.commit, spec)
        if posted:
            self.report(("created" if not before.exists else "updating") +
                        f" Swarm service ({spec.replicas} replicas, {spec.update.order.value})")
        # Only what this run changed is put back when it goes wrong: a new service, or a new template.
        created = not before.exists
        changed = posted and before.exists and before.template_hash != spec.template_hash()
        return self._wait(spec.template_hash(), template, spec.replicas, spec.update.progress_deadline,
                          created, changed)

    def _remove_strays(self) -> None:
        """What the plan removes that is no task of this service: a job's kept run, when the name was a job's."""
        own = f"{self.project}_{self.service.name}."
        for step in self.service.steps:
            if isinstance(step, RemoveReplica) and not step.replica.name.startswith(own):
                self.engine.remove_replica(step.replica)
                self.report(f"removed {step.replica.name} ({step.reason})")

    def _wait(self, want: str, template: dict, replicas: int, patience: float, created: bool,
              changed: bool) -> RolloutReport:
        clock, sleep = self.runtime.clock, self.runtime.sleep
        deadline, best, began = clock() + patience, -1, clock()
        why = ""   # Swarm's reason for a rollback, said while it rolls back
        while True:
            seen = self.engine.progress(self.project, self.service.name, template)
            if not seen.exists:
                return RolloutReport(Outcome.FAILED, "its Swarm service was removed during the rollout",
                                     Failure("(service)", "was removed by someone else", environment=True))
            if seen.update_state == "rollback_started":
                why = why or seen.update_message
            if changed and seen.template_hash != want and seen.update_state == "rollback_completed":
                self._settle(seen.template_hash, patience)
                return self._rolled_back(seen, why)
            if changed and seen.update_state in ("paused", "rollback_paused"):
                return RolloutReport(Outcome.FAILED, f"Swarm paused the update: {seen.update_message}",
                                     Failure("(update)", "paused", _detail(seen)), paused=True)
            if seen.template_hash == want and seen.update_state not in BUSY \
                    and seen.running >= replicas and not seen.others:
                where = ", ".join(sorted(set(seen.nodes)))
                return RolloutReport(Outcome.APPLIED, f"{seen.running}/{replicas} running on {where} "
                                                      f"in {format_duration(round(clock() - began, 1))}")
            if created and seen.failed:   # as on one engine: a new service's replica that fails fails the rollout
                return self._give_up(seen, "a new replica failed", created, changed, abandoned=False)
            if seen.running > best:   # progress: the deadline is for a replica, not the whole service
                best, deadline = seen.running, clock() + patience
            stop = self.stop_requested() or self.should_abort() or self.cancelled()
            if stop or clock() > deadline:
                why_not = stop or f"made no progress for {format_duration(patience)} (progressDeadline)"
                return self._give_up(seen, why_not, created, changed, abandoned=bool(stop))
            sleep(TICK)

    def _settle(self, template_hash: str, patience: float) -> None:
        """After Swarm's rollback: wait (bounded) until the previous revision runs at its count again, so that
        the next run does not see a task Swarm is still restarting as a replica missing."""
        until = self.runtime.clock() + patience
        while self.runtime.clock() < until:
            seen = self.engine.progress(self.project, self.service.name)
            if not seen.exists or (seen.template_hash == template_hash and seen.running >= seen.replicas
                                   and not seen.others):
                return
            self.runtime.sleep(TICK)

    def _rolled_back(self, seen: ServiceProgress, why: str) -> RolloutReport:
        failed = seen.errors[0] if seen.errors else why or "a new task failed"
        self.report(f"Swarm rolled the update back ({failed})")
        return RolloutReport(Outcome.ROLLED_BACK, f"Swarm rolled the update back ({failed}); the previous "
                                                  "revision runs", Failure("(update)", failed, _detail(seen)))

    def _give_up(self, seen: ServiceProgress, why: str, created: bool, changed: bool,
                 abandoned: bool) -> RolloutReport:
        failure = Failure("(update)", why, _detail(seen), abandoned=abandoned)
        if not self.may_revert or not (created or changed):
            # Nothing this run may or can put back (a revert, a repair, a held service): what runs stays.
            self.report(f"{why}; left as it is")
            return RolloutReport(Outcome.FAILED, f"{why}; left as it is", failure)
        if created:
            self.engine.remove_service(self.project, self.service.name)
            self.report(f"{why}; removed the new service")
            return RolloutReport(Outcome.ROLLED_BACK, f"{why}; removed (nothing ran before)", failure)
        self.report(f"{why}; asking Swarm to roll back")
        self.engine.roll_back(self.project, self.service.name)
        until = self.runtime.clock() + self.service.spec.update.progress_deadline
        while self.runtime.clock() < until:   # Swarm's own rollback, bounded by the same patience
            seen = self.engine.progress(self.project, self.service.name)
            if not seen.exists or seen.update_state in ("rollback_completed", "rollback_paused"):
                break
            self.runtime.sleep(TICK)
        return RolloutReport(Outcome.ROLLED_BACK, f"{why}; Swarm rolled it back", failure)


def _detail(seen: ServiceProgress) -> str:
    return "\n".join(seen.errors) if seen.errors else "(no task reported an error)"
