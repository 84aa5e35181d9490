"""One run of a Job: up to 1 + `retries` attempts, each a new container killed past `timeout`.

The previous run's kept container goes first (one kept container per job); the
last attempt's container is kept, stopped and labelled, for `gitdeploy logs`
until the next run. A run that has started is waited for even when the user
presses Ctrl-C: a migration cut off half-way is worse than a late exit; only
its further attempts are not started.

Like a rollout, it takes its clock and sleep from a `Runtime`, so a whole run
is a unit test against a fake engine (tests/unit/test_job_run.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.core.jobs import JobPlan
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.results import Outcome
from gitdeploy.core.units import format_duration
from gitdeploy.engine.base import Engine
from gitdeploy.rollout import Interrupt, Report, Runtime

TICK = 0.25      # seconds between looks at a running job (one inspect each)
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
        for old in self.job.kept:
            self.engine.remove_replica(old)
            self.report(f"removed {old.name} (its previous run)")
        if self.job.spec is None:   # no longer declared: pruned
            return JobReport(Outcome.APPLIED, f"{len(self.job.kept)} removed")
        spec, began = self.job.spec, self.runtime.clock()
        attempts = spec.retries + 1
        for attempt in range(1, attempts + 1):
            stop = self.stop_requested()
            if stop:
                return JobReport(Outcome.FAILED, f"not started: {stop}", abandoned=True)
            name = self.engine.run_job(self.project, self.job.commit, spec.run)
            counted = f", attempt {attempt}/{attempts}" if attempts > 1 else ""
            self.report(f"started {name} ({self.job.reason}{counted})")
            code, timed_out = self._wait(name, self.runtime.clock() + spec.timeout)
            took = self.runtime.clock() - began
            if code == 0:
                return JobReport(Outcome.APPLIED, f"succeeded in {format_duration(round(took, 1))}", "", 0, took)
            why = (f"ran past its timeout ({format_duration(spec.timeout)}) and was killed" if timed_out
                   else f"exited with code {code}")
            if attempt < attempts:
                self.report(f"attempt {attempt}/{attempts} {why}; trying again")
                self.engine.remove_replica(_exited(name))
                continue
            tries = f" (after {attempts} attempts)" if attempts > 1 else ""
            return JobReport(Outcome.FAILED, f"{why}{tries}", self._detail(name, code), code, took)
        raise AssertionError("unreachable: the last attempt returns")

    def _wait(self, name: str, deadline: float) -> tuple[int | None, bool]:
        """(exit code, killed for its timeout) once the run's container has stopped."""
        timed_out = False
        while True:
            seen = self.engine.inspect_replica(name)
            if seen.state in ("exited", "dead"):
                return seen.exit_code, timed_out
            if not timed_out and self.runtime.clock() >= deadline:
                self.engine.kill_job(name)
                timed_out = True
            self.runtime.sleep(TICK)

    def _detail(self, name: str, code: int | None) -> str:
        lines = self.engine.replica_logs(name, lines=LOG_LINES)
        return f"exit code {code}" + (f"\nlast log lines:\n{lines}" if lines else "\n(no output)")


def _exited(name: str) -> ObservedReplica:
    # A run this JobRun started and saw exit: known by name only.
    return ObservedReplica(id=name, name=name, service="", slot=0, template_hash="", template_json="", commit="",
                           image="", state="exited")
