"""The use cases behind the commands: read the source, observe, plan, apply.

Each function here is what one CLI command does, minus parsing and rendering.
The engine is passed in, so tests and a future Swarm backend plug in here.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable

from gitdeploy.apply import Outcome, Progress, SyncResult, apply_plan
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import DesiredState, ServiceSpec, UpdatePolicy, spec_from_template
from gitdeploy.core.plan import Plan, RemoveReplica, ServiceAction, plan as make_plan
from gitdeploy.core.status import ServiceStatus, service_statuses
from gitdeploy.engine.base import Engine
from gitdeploy.errors import NotFound
from gitdeploy.source.tree import Revision


@dataclass(frozen=True, slots=True)
class Source:
    repo: str = "."
    ref: str | None = None
    path: str | None = None


def read_desired(source: Source) -> tuple[Revision, DesiredState]:
    """The validated desired state at the source's commit; parsed only on a cache miss."""
    from gitdeploy.manifests import cache
    from gitdeploy.source.git import resolve

    revision = resolve(source.repo, source.ref, source.path)
    key = cache.cache_key(revision.commit, revision.root)
    desired = cache.load(key)
    if desired is None:
        from gitdeploy.manifests import load_desired
        from gitdeploy.source.git import read_files
        from gitdeploy.source.tree import SourceTree

        desired = load_desired(SourceTree(revision, read_files(revision)))
        cache.store(key, desired)
    return revision, desired


def diff(desired: DesiredState, engine: Engine, *, prune: bool = True, retry_failed: bool = False) -> Plan:
    observed = engine.observe(desired.project)
    the_plan = make_plan(desired, observed, prune=prune)
    if the_plan.in_sync:
        return the_plan  # the common, unattended case: one listing, no history needed
    history = History(engine.read_history(desired.project))
    return make_plan(desired, observed, prune=prune, history=history, retry_failed=retry_failed)


def sync(desired: DesiredState, engine: Engine, *, prune: bool = True, dry_run: bool = False,
         retry_failed: bool = False, lock_timeout: float = 0.0, atomic: bool = False,
         progress: Progress = lambda s, m: None,
         on_plan: Callable[[Plan], None] = lambda p: None,
         should_abort: Callable[[], str | None] = lambda: None) -> tuple[Plan, SyncResult | None]:
    """Plan and apply. Changes happen under the project's engine lock; a pass
    with nothing to change takes no lock (it changes nothing), so the
    unattended no-op stays one container listing."""
    the_plan = diff(desired, engine, prune=prune, retry_failed=retry_failed)
    if dry_run or the_plan.in_sync:
        on_plan(the_plan)
        return the_plan, None if dry_run else apply_plan(the_plan, engine, progress=progress)
    with engine.lock(desired.project, lock_timeout):
        # Read again under the lock: another run may have converged meanwhile.
        the_plan = diff(desired, engine, prune=prune, retry_failed=retry_failed)
        on_plan(the_plan)
        result = apply_plan(the_plan, engine, progress=progress, should_abort=should_abort, atomic=atomic)
        if atomic and result.result in ("failed", "rolled_back"):
            result = _revert(desired, the_plan, result, engine, progress)
        return the_plan, result


def _revert(desired: DesiredState, the_plan: Plan, result: SyncResult, engine: Engine,
            progress: Progress) -> SyncResult:
    """--atomic: put back what ran before in every service this sync changed.

    Each changed service goes back to its previous template (from the replaced
    replicas' template label) and count; a created one is removed, a pruned one
    restored. Through the same planner and health-gated rollouts. The reverted
    revisions are recorded as rolled back, so the next unattended sync holds the
    whole commit instead of applying half of it.
    """
    failed = [s.name for s in result.services
              if s.outcome in (Outcome.FAILED, Outcome.ROLLED_BACK) and not s.abandoned]
    changed = {s.name for s in result.services if s.outcome is Outcome.APPLIED}
    cancelled = {s.name for s in result.services if s.abandoned}
    if changed:
        progress("(atomic)", f"{', '.join(failed)} failed: rolling back {', '.join(sorted(changed))}")
    reverted = _put_back(desired, the_plan, changed, engine, progress)

    now = time.time()
    for service in the_plan.services:
        if service.name in changed | cancelled and service.spec is not None and service.revision \
                and service.action in (ServiceAction.CREATE, ServiceAction.UPDATE):
            spec = service.spec
            engine.append_history(desired.project, RevisionEvent(
                service.name, service.revision, Event.ROLLED_BACK, spec.template_hash(), spec.template_json(),
                service.commit, spec.image, now, f"rolled back with the project (--atomic): {', '.join(failed)} failed"))
    outcomes = []
    for s in result.services:
        if s.name in changed:
            undone = reverted.get(s.name)
            ok = undone is None or undone.outcome in (Outcome.APPLIED, Outcome.UNCHANGED)
            outcomes.append(replace(
                s, outcome=Outcome.ROLLED_BACK if ok else Outcome.FAILED,
                message=f"rolled back with the project (--atomic): {', '.join(failed)} failed"
                        + ("" if ok else f"; putting it back failed too: {undone.message}")))
        else:
            outcomes.append(s)
    return replace(result, services=tuple(outcomes))


def _put_back(desired: DesiredState, the_plan: Plan, changed: set[str], engine: Engine, progress: Progress) -> dict:
    """Rolls the `changed` services back to what ran before this sync; their results by name."""
    if not changed:
        return {}
    before: list[ServiceSpec] = []
    commits: dict[str, str] = {}
    for service in the_plan.services:
        if service.name not in changed or service.action is ServiceAction.CREATE:
            continue   # a service this sync created is left out, so the plan below removes it
        replaced = [step.replica for step in service.steps if isinstance(step, RemoveReplica)]
        update = service.spec.update if service.spec else UpdatePolicy()
        if service.spec is not None and not any(r.template_hash != service.spec.template_hash() for r in replaced):
            before.append(replace(service.spec, replicas=service.current_replicas))
        elif replaced and replaced[0].template_json:
            template = Counter(r.template_json for r in replaced).most_common(1)[0][0]
            before.append(spec_from_template(service.name, service.current_replicas, json.loads(template), update))
        commits[service.name] = Counter(r.commit for r in replaced).most_common(1)[0][0] if replaced else desired.commit
    back = make_plan(DesiredState(desired.project, desired.commit, tuple(before)), engine.observe(desired.project))
    back = Plan(back.project, back.commit, tuple(
        replace(s, commit=commits.get(s.name, s.commit)) for s in back.services if s.name in changed))
    return {s.name: s for s in apply_plan(back, engine, progress=progress).services}


def status(desired: DesiredState, engine: Engine) -> tuple[ServiceStatus, ...]:
    observed = engine.observe(desired.project)
    history = History(engine.read_history(desired.project))
    return service_statuses(make_plan(desired, observed, prune=True, history=history), observed)


def history(desired: DesiredState, engine: Engine, service: str | None = None) -> tuple[RevisionEvent, ...]:
    events = History(engine.read_history(desired.project)).events
    return tuple(e for e in events if service is None or e.service == service)


def rollback(desired: DesiredState, engine: Engine, service: str, to: int | None = None,
             lock_timeout: float = 0.0, progress: Progress = lambda s, m: None) -> tuple[Plan, SyncResult]:
    with engine.lock(desired.project, lock_timeout):
        return _rollback(desired, engine, service, to, progress)


def _rollback(desired: DesiredState, engine: Engine, service: str, to: int | None,
              progress: Progress) -> tuple[Plan, SyncResult]:
    """Pin `service` to an earlier revision and roll it out, health-gated like any rollout.

    The pin lives on the engine, so the next sync (cron, CI, watch) leaves the
    service alone until Git declares something else for it or the pin is cleared.
    """
    spec = _declared(desired, service)
    observed = engine.observe(desired.project)
    past = History(engine.read_history(desired.project))
    running = Counter(r.template_hash for r in observed.of_service(service) if r.running)
    current = running.most_common(1)[0][0] if running else ""
    if to is None:
        earlier = [e for e in reversed(past.of(service)) if e.event is Event.DEPLOYED and e.template_hash != current]
        if not earlier:
            raise NotFound(f"service '{service}' has no earlier deployed revision to roll back to",
                           hint=f"see `gitdeploy history {service}`")
        target = earlier[0]
    else:
        target = past.revision(service, to)
        if target is None:
            raise NotFound(f"service '{service}' has no revision {to}", hint=f"see `gitdeploy history {service}`")
    pin = RevisionEvent(service, target.revision, Event.PINNED, target.template_hash, target.template_json,
                        target.commit, target.image, time.time(), f"gitdeploy rollback {service} --to {target.revision}",
                        git_hash=spec.template_hash())
    engine.append_history(desired.project, pin)
    pinned = History(past.events + (pin,))
    full = make_plan(desired, observed, history=pinned)
    one = Plan(full.project, full.commit, tuple(s for s in full.services if s.name == service))
    result = apply_plan(one, engine, progress=progress)
    if result.result != "applied" and not one.in_sync:
        # The earlier revision did not come up; it was rolled back to what ran. Drop the pin.
        engine.append_history(desired.project, _unpin(pin, spec, "rollback failed"))
    return one, result


def clear_pin(desired: DesiredState, engine: Engine, service: str) -> bool:
    """Let `service` follow Git again. True if a pin was in force."""
    spec = _declared(desired, service)
    pin = History(engine.read_history(desired.project)).pin(service, spec.template_hash())
    if pin is not None:
        engine.append_history(desired.project, _unpin(pin, spec, "cleared by gitdeploy rollback --clear"))
    return pin is not None


def _unpin(pin: RevisionEvent, spec, why: str) -> RevisionEvent:
    return RevisionEvent(pin.service, pin.revision, Event.UNPINNED, pin.template_hash, "", pin.commit, pin.image,
                         time.time(), why, git_hash=spec.template_hash())


def _declared(desired: DesiredState, service: str):
    spec = desired.service(service)
    if spec is None:
        raise NotFound(f"no service '{service}' in project {desired.project} at commit {desired.commit[:12]}",
                       hint="give the name of a declared service (gitdeploy status lists them)")
    return spec


def unlock(desired: DesiredState, engine: Engine):
    """Breaks the project's lock (for a holder that is gone); returns who held it."""
    return engine.unlock(desired.project)


def lock_holder(desired: DesiredState, engine: Engine):
    return engine.lock_holder(desired.project)
