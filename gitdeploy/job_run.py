"""One run of a Job: up to 1 + `retries` attempts, each a new container killed past `timeout`.

The previous run's kept container goes first (one kept container per job); the
last attempt's container is kept, stopped and labelled, for `gitdeploy logs`
until the next run. A run that has started is waited for even when the user
presses Ctrl-C: a migration cut off half-way is worse than a late exit; only
its further attempts are not started. For the same reason an earlier run found
still running (its gitdeploy was killed) is waited for, never stopped, and
counts as this run when it is of the same template.

Like a rollout, it takes its clock and sleep from a `Runtime`, so a whole run
is a unit test against a fake engine (tests/unit/test_jobs.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.core.actions import ServiceAction
from gitdeploy.core.jobs import JobPlan
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.results import Outcome
from gitdeploy.core.units import format_duration
from gitdeploy.engine.base import Engine
from gitdeploy.rollout import Interrupt, Report, Runtime

TICK = 0.25      # seconds between looks at a running job (one inspect each)
KILL_WAIT = 30.0  # seconds a killed run may take to stop (a paused container does not) before it is given up
LOG_LINES = 20   # of a failed run's output, in the report


@dataclass(frozen=True, slots=True)
class JobReport:
    outcome: Outcome                  # APPLIED (it succeeded) or FAILED
    message: str
    detail: str = ""                  # a failed run's exit code and the tail of its output
    exit_code: int | None = None
    duration: float = 0.0             # seconds, first start to end
    abandoned: bool = False           # not started (Ctrl-C): not remembered as failed


class JobRun:
    def __init__(self, project: str, job: JobPlan, engine: Engine, report: Report, runtime: Runtime = Runtime(),
                 stop_requested: Interrupt = lambda: None) -> None:
        self.project, self.job, self.engine, self.report, self.runtime = project, job, engine, report, runtime
        self.stop_requested = stop_requested

    def run(self) -> JobReport:
        for old in self.job.replaces:
            self.engine.remove_replica(old)
            self.report(f"removed {old.name} (a service of this name is no longer declared)")
        if self.job.action is not ServiceAction.RUN:   # no longer declared (pruned), or only replacing a service
            removing = self.job.kept if self.job.action is ServiceAction.REMOVE else ()
            for old in removing:
                self.engine.remove_replica(old)
                self.report(f"removed {old.name}")
            return JobReport(Outcome.APPLIED, f"{len(removing) + len(self.job.replaces)} removed")
        spec, began = self.job.spec, self.runtime.clock()
        for old in self.job.kept:
            if old.running:
                # An earlier run still going (its gitdeploy was killed, or lost the engine for a moment):
                # never cut a migration off; wait for it, and if it is of this template, it is the run.
                self.report(f"waiting for {old.name}, an earlier run still running")
                ending = self._wait(old.name, self.runtime.clock() + spec.timeout)
                if old.template_hash == spec.template_hash():
                    return self._report(old.name, ending, 1, 1, began)
            self.engine.remove_replica(old)
            self.report(f"removed {old.name} (its previous run)")
        attempts = spec.retries + 1
        for attempt in range(1, attempts + 1):
            stop = self.stop_requested() if attempt > 1 else None
            if stop:
                return JobReport(Outcome.FAILED, f"{stop} after {attempt - 1} of {attempts} attempts",
                                 abandoned=True)
            name = self.engine.run_job(self.project, self.job.commit, spec.run)
            counted = f", attempt {attempt}/{attempts}" if attempts > 1 else ""
            self.report(f"started {name} ({self.job.reason}{counted})")
            ending = self._wait(name, self.runtime.clock() + spec.timeout)
            if ending.failure and attempt < attempts:
                self.report(f"attempt {attempt}/{attempts} {ending.failure}; trying again")
                self.engine.remove_replica(_exited(name))
                continue
            return self._report(name, ending, attempt, attempts, began)
        raise AssertionError("unreachable: the last attempt returns")

    def _report(self, name: str, ending: "_Ending", attempt: int, attempts: int, began: float) -> JobReport:
        took = self.runtime.clock() - began
        if not ending.failure:
            return JobReport(Outcome.APPLIED, f"succeeded in {format_duration(round(took, 1))}", "", 0, took)
        tries = f" (after {attempt} attempts)" if attempt > 1 else ""
        return JobReport(Outcome.FAILED, f"{ending.failure}{tries}", self._detail(name, ending.exit_code),
                         ending.exit_code, took)

    def _wait(self, name: str, deadline: float) -> "_Ending":
        """How the run's container ended: waited for, killed past `deadline` (then waited for a little more)."""
        killed_at = None
        while True:
            seen = self.engine.inspect_replica(name)
            if seen.state in ("exited", "dead"):
                if killed_at is not None:
                    return _Ending(seen.exit_code, f"ran past its timeout ({format_duration(self.job.spec.timeout)})"
                                                   " and was killed")
                if seen.state == "dead" or seen.exit_code != 0:
                    return _Ending(seen.exit_code, f"exited with code {seen.exit_code}"
                                                   + (" (the engine marked it dead)" if seen.state == "dead" else ""))
                return _Ending(0, "")
            now = self.runtime.clock()
            if killed_at is None and now >= deadline:
                self.engine.kill_job(name)
                killed_at = now
            elif killed_at is not None and now >= killed_at + KILL_WAIT:
                return _Ending(None, f"ran past its timeout ({format_duration(self.job.spec.timeout)}) and did not "
                                     f"stop when killed (state {seen.state})")
            self.runtime.sleep(TICK)

    def _detail(self, name: str, code: int | None) -> str:
        lines = self.engine.replica_logs(name, lines=LOG_LINES)
        return f"exit code {code}" + (f"\nlast log lines:\n{lines}" if lines else "\n(no output)")


@dataclass(frozen=True, slots=True)
class _Ending:
    exit_code: int | None
    failure: str            # "" when the run succeeded


def _exited(name: str) -> ObservedReplica:
    # A run this JobRun started and saw exit: known by name only.
    return ObservedReplica(id=name, name=name, service="", slot=0, template_hash="", template_json="", commit="",
                           image="", state="exited")
