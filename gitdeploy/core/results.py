"""What a run did: one outcome per service, one for the whole run. Pure values.

The executor (apply.py) produces them; operations, the CLI, the JSON and text
renderers, watch and webhooks only read them. The run's outcome is derived
from its services' outcomes here, and its exit code from that in one table
(errors.ExitCode.of).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gitdeploy.core.plan import ServiceAction


class Outcome(str, Enum):
    """What happened to one service."""

    UNCHANGED = "unchanged"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"   # the new revision failed; the previous one runs again
    FAILED = "failed"             # includes a paused rollout
    KEPT = "kept"                 # orphaned and not pruned
    BLOCKED = "blocked"           # not touched: something it depends on failed (the run's outcome is that one's)

    @property
    def went_wrong(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ROLLED_BACK)


class RunOutcome(str, Enum):
    """What happened to the whole run: the worst of its services' outcomes."""

    NOOP = "noop"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


# Worst first: a run is FAILED if any service failed, else ROLLED_BACK if any was rolled back, ...
_RUN_OUTCOME_OF = ((Outcome.FAILED, RunOutcome.FAILED), (Outcome.ROLLED_BACK, RunOutcome.ROLLED_BACK),
                   (Outcome.APPLIED, RunOutcome.APPLIED))


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """What happened to one service, or one job (action RUN, or a job's HELD, REMOVE...)."""

    name: str
    action: ServiceAction
    outcome: Outcome
    message: str = ""
    detail: str = ""              # health-check output and log tail of a failed replica; a job's exit code and output
    abandoned: bool = False       # given up for another reason (newer commit, --atomic), not proven bad
    blocked_by: str = ""          # BLOCKED: the dependency that failed


@dataclass(frozen=True, slots=True)
class SyncResult:
    project: str
    commit: str
    services: tuple[ServiceResult, ...]   # the plan's services, then its jobs (Plan.units)

    @property
    def result(self) -> RunOutcome:
        outcomes = {s.outcome for s in self.services}
        return next((run for service, run in _RUN_OUTCOME_OF if service in outcomes), RunOutcome.NOOP)

    @property
    def changed_nothing(self) -> bool:
        return all(s.outcome is Outcome.UNCHANGED for s in self.services)

    def went_wrong(self) -> tuple[ServiceResult, ...]:
        return tuple(s for s in self.services if s.outcome.went_wrong)
