"""Planning a revert: what ran before a plan changed a service, and the plan that puts it back. Pure.

Every way back goes through here and then through the one executor (apply.py,
rollout.py), health-gated like any rollout:

- a rollout whose new replicas fail puts the previous revision back
  (`previous_revision`, then `revert_plan` over what runs at that moment);
- `sync --atomic` puts back every service the sync changed (`what_ran_before`);
- `gitdeploy rollback` pins an earlier revision from the history
  (history.History.previous_deployed) and plans it like any sync.

The previous revision is read from the template label of the replicas the plan
replaces: the engine, not a local file, remembers it.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace

from gitdeploy.core.model import DesiredState, ServiceSpec, UpdatePolicy, spec_from_template
from gitdeploy.core.observed import ObservedReplica, ObservedState
from gitdeploy.core.plan import (Plan, RemoveReplica, ServiceAction, ServicePlan, SlotWork, StartReplica,
                                 plan as make_plan)

REVERT_REASON = "rollback"   # why a replica of the previous revision is started, in progress lines


@dataclass(frozen=True, slots=True)
class Before:
    """What one service ran before a plan changed it."""

    name: str
    spec: ServiceSpec | None   # None: the service did not exist (the plan created it)
    commit: str                # the commit its replicas were labelled with


def replaced(service: ServicePlan) -> list[ObservedReplica]:
    """The replicas the service's plan removes."""
    return [step.replica for step in service.steps if isinstance(step, RemoveReplica)]


def previous_revision(service: ServicePlan) -> Before | None:
    """A different template the plan replaces, at the count that ran; None if there is none to go back to.

    A created service goes back to not existing. Of replicas of several old
    templates (an interrupted update), the most common one wins.
    """
    if service.action is ServiceAction.CREATE:
        return Before(service.name, None, service.commit)
    want = service.spec.template_hash() if service.spec is not None else ""
    failed = service.held.template_hash if service.held is not None else ""
    # Only a revision that passed its checks is worth going back to (not one a killed run left pending,
    # not one remembered as failed).
    olds = [r for r in replaced(service)
            if r.recognised and r.confirmed and r.template_hash not in (want, failed)]
    if not olds:
        return None
    template = _most_common(r.template_json for r in olds)
    update = service.spec.update if service.spec is not None else UpdatePolicy()
    try:
        spec = spec_from_template(service.name, service.current_replicas, json.loads(template), update)
    except (KeyError, ValueError, TypeError):
        return None   # a template this version cannot read: nothing to go back to
    return Before(service.name, spec, _most_common(r.commit for r in replaced(service) if r.commit) or service.commit)


def what_ran_before(service: ServicePlan) -> Before | None:
    """For `--atomic`: the previous revision, or, when the template did not change (a scale, a
    repair), the same template at the count that ran. None: nothing known to go back to."""
    previous = previous_revision(service)
    if previous is None and service.spec is not None \
            and all(r.template_hash == service.spec.template_hash() for r in replaced(service)):
        return Before(service.name, replace(service.spec, replicas=service.current_replicas), service.commit)
    return previous


def revert_plan(project: str, commit: str, befores: list[Before], observed: ObservedState) -> Plan:
    """The plan that puts `befores` back, given what runs now; other services are not touched.

    New replicas are labelled with the commit they were first deployed from, and
    say `rollback` in progress lines.
    """
    names = {b.name for b in befores}
    desired = DesiredState(project, commit, tuple(sorted((b.spec for b in befores if b.spec is not None),
                                                         key=lambda s: s.name)))
    mine = ObservedState(project, tuple(r for r in observed.replicas if r.service in names))
    commits = {b.name: b.commit for b in befores}
    back = make_plan(desired, mine, prune=True)
    return Plan(project, commit, tuple(replace(s, commit=commits[s.name], work=_as_revert(s.work))
                                       for s in back.services if s.name in names))


def _as_revert(work: tuple[SlotWork, ...]) -> tuple[SlotWork, ...]:
    return tuple(SlotWork(w.slot, tuple(replace(step, reason=REVERT_REASON) if isinstance(step, StartReplica)
                                        else step for step in w.steps)) for w in work)


def _most_common(values) -> str:
    counted = Counter(values).most_common(1)
    return counted[0][0] if counted else ""
