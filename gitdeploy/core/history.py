"""Revision history of each service, as a pure view over events kept on the engine.

Events are append-only (an engine adapter stores each as one labelled object),
so a run killed half-way never leaves a record half-written. What the rest of
gitdeploy asks of them:

- which revision number a template has (or the next free one);
- whether a template failed and was rolled back, so that cron, CI and watch do
  not roll the same failed spec out again until the manifest changes or
  --retry-failed is given;
- whether the user pinned a service to an earlier revision with
  `gitdeploy rollback`, valid while Git still declares what it declared then.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from gitdeploy.core.model import ServiceSpec
from gitdeploy.core.redact import redact


class Event(str, Enum):
    DEPLOYED = "deployed"         # a rollout of this revision succeeded
    ROLLED_BACK = "rolled-back"   # this revision failed its rollout and was rolled back (or paused)
    PINNED = "pinned"             # `gitdeploy rollback` pinned the service to this revision
    UNPINNED = "unpinned"         # the pin was cleared (by the user, or because Git moved on)
    SUCCEEDED = "succeeded"       # a job's run exited 0
    FAILED = "failed"             # a job's run failed (every attempt): not run again until its template changes

    @property
    def is_outcome(self) -> bool:
        """What a rollout or a job's run ended in (not a pin)."""
        return self in _OUTCOMES

    @property
    def is_failure(self) -> bool:
        return self in (Event.ROLLED_BACK, Event.FAILED)


_OUTCOMES = frozenset({Event.DEPLOYED, Event.ROLLED_BACK, Event.SUCCEEDED, Event.FAILED})


@dataclass(frozen=True, slots=True)
class RevisionEvent:
    service: str
    revision: int
    event: Event
    template_hash: str
    template_json: str
    commit: str
    image: str
    at: float                   # seconds since the epoch
    message: str = ""
    git_hash: str = ""          # PINNED: the template hash Git declared when the pin was made
    exit_code: int | None = None   # a job's run: how its (last) container exited; None if it never did
    duration: float | None = None  # a job's run: seconds from its first start to its end

    # Every event is made by one of these three, so its fields are filled the same way everywhere.

    @classmethod
    def of_rollout(cls, spec: ServiceSpec, revision: int, event: Event, commit: str, at: float,
                   message: str, exit_code: int | None = None, duration: float | None = None) -> "RevisionEvent":
        """A rollout of `spec` (revision `revision`) was deployed or rolled back; or a job's run, whose
        `spec` is the job's run template, succeeded or failed."""
        return cls(spec.name, revision, event, spec.template_hash(), spec.template_json(), commit, spec.image, at,
                   redact(message), exit_code=exit_code, duration=duration)

    def pinned(self, git_hash: str, at: float, message: str) -> "RevisionEvent":
        """This revision, pinned by `gitdeploy rollback` while Git declares the template `git_hash`."""
        return replace(self, event=Event.PINNED, at=at, message=message, git_hash=git_hash)

    def unpinned(self, git_hash: str, at: float, message: str) -> "RevisionEvent":
        """The end of this pin."""
        return replace(self, event=Event.UNPINNED, template_json="", at=at, message=message, git_hash=git_hash)


KEPT_REVISIONS = 20   # per service; older revisions' records are removed (docs/security.md)


class History:
    def __init__(self, events: tuple[RevisionEvent, ...] = ()) -> None:
        self.events = tuple(sorted(events, key=lambda e: (e.at, e.revision)))

    def of(self, service: str) -> tuple[RevisionEvent, ...]:
        return tuple(e for e in self.events if e.service == service)

    def revision_of(self, service: str, template_hash: str) -> int:
        """The revision number of a template: its earlier number, or the next free one."""
        known = [e.revision for e in self.of(service) if e.template_hash == template_hash and e.event.is_outcome]
        if known:
            return known[-1]
        return max((e.revision for e in self.of(service)), default=0) + 1

    def failed(self, service: str, template_hash: str) -> RevisionEvent | None:
        """The rolled-back (or, of a job, failed) event of this template, unless it succeeded since."""
        outcomes = [e for e in self.of(service) if e.template_hash == template_hash and e.event.is_outcome]
        return outcomes[-1] if outcomes and outcomes[-1].event.is_failure else None

    def deployed_by(self, service: str, template_hash: str) -> str:
        """The commit that last rolled this template out ("" if none is recorded)."""
        return next((e.commit for e in reversed(self.of(service))
                     if e.template_hash == template_hash and e.event is Event.DEPLOYED), "")

    def last_run(self, job: str) -> RevisionEvent | None:
        """A job's latest run (succeeded or failed), whatever its template."""
        return next((e for e in reversed(self.of(job)) if e.event in (Event.SUCCEEDED, Event.FAILED)), None)

    def pin(self, service: str, git_hash: str) -> RevisionEvent | None:
        """The service's pin, if one is in force and Git still declares what it declared when pinned."""
        pins = [e for e in self.of(service) if e.event in (Event.PINNED, Event.UNPINNED)]
        if pins and pins[-1].event is Event.PINNED and pins[-1].git_hash == git_hash:
            return pins[-1]
        return None

    def previous_deployed(self, service: str, running_hash: str) -> RevisionEvent | None:
        """The latest revision deployed successfully that is not the one running: `rollback`'s default target."""
        return next((e for e in reversed(self.of(service))
                     if e.event is Event.DEPLOYED and e.template_hash != running_hash and e.template_json), None)

    def expired(self, keep: int = KEPT_REVISIONS) -> tuple[RevisionEvent, ...]:
        """Events of revisions older than each service's (or job's) newest `keep`; a pinned revision is kept.
        A revision's age is its latest event's: a template deployed again (a revert to an old number) is new."""
        gone = []
        for service in sorted({e.service for e in self.events}):
            events = self.of(service)
            latest: dict[int, float] = {}   # of a rollout's or run's outcome; a pin is kept apart, below
            for e in events:
                at = e.at if e.event.is_outcome else float("-inf")
                latest[e.revision] = max(latest.get(e.revision, at), at)
            kept = set(sorted(latest, key=lambda number: (latest[number], number), reverse=True)[:keep])
            pins = [e for e in events if e.event in (Event.PINNED, Event.UNPINNED)]
            if pins and pins[-1].event is Event.PINNED:
                kept.add(pins[-1].revision)
            gone += [e for e in events if e.revision not in kept]
        return tuple(gone)

    def revision(self, service: str, number: int) -> RevisionEvent | None:
        """The latest event that carries revision `number` of the service's template."""
        found = [e for e in self.of(service) if e.revision == number and e.template_json]
        return found[-1] if found else None
