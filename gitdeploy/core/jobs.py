"""Whether each Job runs in this sync: its declared template against its last run. A pure function.

A job's last run is its kept container (one per job: the previous run's goes
before the next starts) or, when that is gone or older, the history's last run
record. The job runs when it never ran, when its template differs from the
last run's, or when the last run was cut short (no exit recorded). A last run
of the same template that succeeded means nothing to do; one that failed holds
the job (and what depends on it) until the template changes or --retry-failed.

Without the history (the first, cheap look of a pass) only the container
speaks: a job whose container says it succeeded at this template costs
nothing; anything else plans a run, and the caller reads the history and plans
again before acting.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from gitdeploy.core.changes import FieldChange, template_changes
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import JobSpec
from gitdeploy.core.observed import ObservedReplica
from gitdeploy.core.actions import ServiceAction


@dataclass(frozen=True, slots=True)
class LastRun:
    """What a job's last run did, whichever record told."""

    template_hash: str
    template_json: str
    outcome: Event | None        # SUCCEEDED or FAILED; None: it did not finish (interrupted, or running)
    exit_code: int | None
    at: float                    # when it was recorded (or its container created)
    revision: int = 0            # 0: known from its container only
    duration: float | None = None   # seconds; None: known from its container only

    @property
    def image(self) -> str:
        try:
            return str(json.loads(self.template_json).get("image", ""))
        except (ValueError, AttributeError):
            return ""


@dataclass(frozen=True, slots=True)
class JobPlan:
    name: str
    action: ServiceAction          # RUN, UNCHANGED, HELD, REMOVE or ORPHANED
    spec: JobSpec | None           # None for a job no longer declared
    reason: str = ""               # why it runs (or not), for diff and progress lines
    changes: tuple[FieldChange, ...] = ()   # against the last run's template
    kept: tuple[ObservedReplica, ...] = ()  # run containers kept now: removed before the run, or pruned
    commit: str = ""               # the commit the run is labelled with
    revision: int = 0              # revision number of the template (0: history not read)
    last: LastRun | None = None
    depends_on: tuple[str, ...] = ()   # as declared; of a job no longer declared, as its container's label says
    replaces: tuple[ObservedReplica, ...] = ()   # replicas of a service of this name, no longer declared

    @property
    def work(self) -> bool:
        return self.action in (ServiceAction.RUN, ServiceAction.REMOVE) or bool(self.replaces)


def plan_job(job: JobSpec, kept: tuple[ObservedReplica, ...], commit: str, history: History | None,
             retry_failed: bool) -> JobPlan:
    want = job.template_hash()
    last = last_run(kept, history, job.name)
    revision = history.revision_of(job.name, want) if history is not None else 0
    planned = JobPlan(job.name, ServiceAction.RUN, job, "", (), kept, commit, revision, last, job.depends_on)
    if last is None:
        return _with(planned, ServiceAction.RUN, "never ran")
    if last.template_hash != want:
        changes = _changes(last, job)
        return _with(planned, ServiceAction.RUN, _summary(changes), changes)
    if last.outcome is Event.SUCCEEDED:
        return _with(planned, ServiceAction.UNCHANGED, "succeeded")
    if last.outcome is None:
        running = any(r.running and r.template_hash == want for r in kept)
        return _with(planned, ServiceAction.RUN, "its last run is still running: waiting for it" if running
                     else "its last run did not finish")
    if retry_failed:
        return _with(planned, ServiceAction.RUN, "its last run failed; trying again (--retry-failed)")
    return _with(planned, ServiceAction.HELD, failed_message(last))


def plan_undeclared_job(name: str, kept: tuple[ObservedReplica, ...], prune: bool) -> JobPlan:
    depends_on = tuple(sorted({d for run in kept for d in run.depends_on}))
    if not prune:
        return JobPlan(name, ServiceAction.ORPHANED, None, "no longer declared; kept (pruning is off)", (), kept,
                       depends_on=depends_on)
    return JobPlan(name, ServiceAction.REMOVE, None, "no longer declared", (), kept, depends_on=depends_on)


def last_run(kept: tuple[ObservedReplica, ...], history: History | None, job: str) -> LastRun | None:
    """The newer of the kept container and the history's last record (a container newer than the record
    is a run whose end was never recorded)."""
    container = next((r for r in kept if r.recognised), None)   # newest first
    recorded = history.last_run(job) if history is not None else None
    if recorded is not None and (container is None or container.created <= recorded.at):
        return LastRun(recorded.template_hash, recorded.template_json, recorded.event, recorded.exit_code,
                       recorded.at, recorded.revision, recorded.duration)
    if container is None:
        return None
    code = container.exit_code
    outcome = None if code is None else Event.SUCCEEDED if code == 0 else Event.FAILED
    return LastRun(container.template_hash, container.template_json, outcome, code, container.created)


def failed_message(last: LastRun) -> str:
    revision = f"revision {last.revision} " if last.revision else ""
    code = f" (exit code {last.exit_code})" if last.exit_code is not None else ""
    return (f"its last run, {revision}of this template, failed{code}; not run again until the manifest changes "
            "(or run with --retry-failed)")


def _with(planned: JobPlan, action: ServiceAction, reason: str, changes: tuple[FieldChange, ...] = ()) -> JobPlan:
    from dataclasses import replace

    return replace(planned, action=action, reason=reason, changes=changes)


def _changes(last: LastRun, job: JobSpec) -> tuple[FieldChange, ...]:
    try:
        before = json.loads(last.template_json) if last.template_json else {}
    except json.JSONDecodeError:
        before = {}
    return template_changes(before, job.run.template()) if isinstance(before, dict) and before else ()


def _summary(changes: tuple[FieldChange, ...]) -> str:
    """`image changed`, `image, env changed`: the top-level fields, never their values."""
    fields = list(dict.fromkeys(c.path.split(".")[0] for c in changes))
    return f"{', '.join(fields)} changed" if fields else "template changed"
