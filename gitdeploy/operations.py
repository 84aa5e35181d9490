"""The use cases behind the commands: read the source, observe, plan, apply.

Each function here is what one CLI command does, minus parsing and rendering.
The engine is passed in, so tests and a future Swarm backend plug in here.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterator

from gitdeploy.apply import Progress, apply_plan, deliver_secrets
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import DesiredState, EngineKind, ServiceSpec, spec_from_template, uncovered_volume_paths
from gitdeploy.core.observed import ObservedState
from gitdeploy.core.plan import Plan, ServiceAction, StartReplica, plan as make_plan
from gitdeploy.core.results import Outcome, RunOutcome, ServiceResult, SyncResult
from gitdeploy.core.revert import revert_plan, what_ran_before
from gitdeploy.core.status import (JobStatus, ReplicaRow, ServiceStatus, VolumeState, VolumeStatus, job_statuses,
                                   replica_rows, service_statuses, volume_statuses)
from gitdeploy.engine.base import Engine, ReadSecrets
from gitdeploy.core.policy import BUILT_IN, Policy
from gitdeploy.errors import NotFound
from gitdeploy.manifests.policy_check import check_revision
from gitdeploy.rollout import Runtime
from gitdeploy.core.revision import Revision

if TYPE_CHECKING:
    from gitdeploy.secrets.keyring import Keyring


@dataclass(frozen=True, slots=True)
class Source:
    repo: str = "."
    ref: str | None = None
    path: str | None = None
    env: str | None = None    # --env: the environment, when gitdeploy.yaml declares them
    engine: str | None = None  # --engine: overrides gitdeploy.yaml's `engine`


def current_commit(source: Source) -> str:
    """The commit the source's ref points at now (for a URL, after a fetch)."""
    from gitdeploy.source.git import resolve

    return resolve(source.repo, source.ref, source.path).commit


def read_desired(source: Source, allow_empty: bool = False,
                 keyring: "Keyring | None" = None) -> tuple[Revision, DesiredState]:
    """The validated desired state at the source's commit; parsed only on a cache miss.

    A commit that declares no service at all (a wrong --path, a deleted folder)
    would prune the whole project: refused unless `allow_empty`. Secrets are
    decrypted with `keyring` (their digests decide "changed"); without one their
    digests stay empty, for commands that only show or check (validate, history).
    """
    from gitdeploy.manifests import cache
    from gitdeploy.source.git import resolve

    revision = resolve(source.repo, source.ref, source.path)
    key = cache.cache_key(revision.commit, revision.root, source.env or "", source.engine or "")
    keys = (lambda: keyring.fingerprint) if keyring is not None else (lambda: "")
    desired = cache.load(key, keys)
    if desired is None:
        from gitdeploy.manifests import load_desired
        from gitdeploy.source.git import read_files
        from gitdeploy.core.revision import SourceTree

        opener = (lambda name, where, data, k: keyring.open(name, where, data, k).digest) if keyring else None
        desired = load_desired(SourceTree(revision, read_files(revision)), allow_empty=True, open_secret=opener,
                               env=source.env, engine=EngineKind(source.engine) if source.engine else None)
        cache.store(key, desired, keys() if any(s.secrets for s in desired.runnable()) else "")
    if not desired.services and not desired.jobs and not allow_empty:
        from gitdeploy.manifests.loader import empty_project

        raise empty_project(revision.root, revision.short_commit)
    return revision, desired


def manifests(revision: Revision, env: str | None = None) -> list:
    """The manifest documents at the revision, the environment's overlay applied (for `render`)."""
    from gitdeploy.core.revision import SourceTree
    from gitdeploy.manifests.loader import manifest_documents
    from gitdeploy.source.git import read_files

    return manifest_documents(SourceTree(revision, read_files(revision)), env)


def verify_commit(revision: Revision, policy: Policy) -> str:
    """Raises SignatureRefused unless the commit is signed by a key the policy trusts; the signer."""
    from gitdeploy.source.signatures import verify

    return verify(revision.location, revision.commit, policy.signatures, policy.source).signer


def committed_secrets(revision: Revision, keyring: "Keyring") -> ReadSecrets:
    """What hands the engine a secret it lacks: read from Git at a commit, opened with the age key."""
    from gitdeploy.secrets.committed import CommittedSecrets

    return CommittedSecrets(revision, keyring)


def diff(desired: DesiredState, engine: Engine, *, prune: bool = True, retry_failed: bool = False) -> Plan:
    observed = engine.observe(desired.project)
    ingress, routes = _ingress(desired, engine, observed)
    the_plan = replace(make_plan(desired, observed, prune=prune), ingress=ingress, routes=routes)
    if the_plan.in_sync:
        return the_plan  # the common, unattended case: one listing, no history needed
    history = History(engine.read_history(desired.project))
    return replace(_with_missing_images(_with_image_volumes(
        make_plan(desired, observed, prune=prune, history=history, retry_failed=retry_failed), engine), engine),
        ingress=ingress, routes=routes)


def _ingress(desired: DesiredState, engine: Engine, observed: ObservedState, refuse: bool = True) -> tuple[str, tuple]:
    """(what is wrong with the engine's ingress, the project's routes), when the project routes through it.
    Raises RouteTaken, with `refuse`, when a declared host and path is another project's."""
    if not any(s.ingress for s in desired.services) and not any(r.routed for r in observed.replicas):
        return "", ()
    from gitdeploy.core.ingress import clashes, shown_routes
    from gitdeploy.errors import RouteTaken

    running = engine.ingress_routes()
    declared = [(s.name, s.ingress) for s in desired.services if s.ingress]
    taken = clashes([(desired.project, name, route) for name, route in declared], running)
    if taken and refuse:
        raise RouteTaken("; ".join(taken) + "; nothing was changed",
                         hint="two services cannot share a host name and path on one engine's ingress")
    return engine.ingress_drift(running), shown_routes(desired.project, declared, running)


def _with_missing_images(the_plan: Plan, engine: Engine) -> Plan:
    images = sorted({spec.image for spec in the_plan.starting()})
    return replace(the_plan, missing_images=engine.images_missing(tuple(images))) if images else the_plan


def _with_image_volumes(the_plan: Plan, engine: Engine) -> Plan:
    """Says, for each service that starts replicas, which paths its image declares VOLUME that no mount
    covers: each slot keeps its own volume there, handed to the replica that replaces it."""
    services = []
    for service in the_plan.services:
        if service.spec is not None and any(isinstance(step, StartReplica) for step in service.steps):
            paths = uncovered_volume_paths(engine.image_volume_paths(service.spec.image), service.spec)
            service = replace(service, image_volumes=paths)
        services.append(service)
    return replace(the_plan, services=tuple(services))


def sync(desired: DesiredState, engine: Engine, *, prune: bool = True, dry_run: bool = False,
         retry_failed: bool = False, lock_timeout: float = 0.0, atomic: bool = False,
         progress: Progress = lambda s, m: None,
         on_plan: Callable[[Plan], None] = lambda p: None,
         should_abort: Callable[[], str | None] = lambda: None,
         runtime: Runtime = Runtime(),
         stop_requested: Callable[[], str | None] = lambda: None,
         secrets: ReadSecrets | None = None, policy: Policy = BUILT_IN) -> tuple[Plan, SyncResult | None]:
    """Plan and apply. Changes happen under the project's engine lock; a pass
    with nothing to change takes no lock (it changes nothing), so the
    unattended no-op stays one container listing."""
    the_plan = diff(desired, engine, prune=prune, retry_failed=retry_failed)
    if dry_run or the_plan.in_sync:
        on_plan(the_plan)
        return the_plan, None if dry_run else apply_plan(the_plan, engine, progress=progress, secrets=secrets)
    with engine.lock(desired.project, lock_timeout):
        # Read again under the lock: another run may have converged meanwhile.
        the_plan = diff(desired, engine, prune=prune, retry_failed=retry_failed)
        # Git's manifests passed the policy before; a template from the history (a pin, a held service kept
        # on what ran) is checked here: no old revision is a way around a policy written since.
        for spec in the_plan.starting():
            check_revision(f"{spec.name} (a revision recorded on the engine)", spec, policy)
        on_plan(the_plan)
        result = apply_plan(the_plan, engine, progress=progress, should_abort=should_abort, atomic=atomic,
                            runtime=runtime, stop_requested=stop_requested, secrets=secrets)
        if atomic and _proven_failures(result):
            result = _revert(the_plan, result, engine, progress, runtime, secrets)
        return the_plan, result


def _revert(the_plan: Plan, result: SyncResult, engine: Engine, progress: Progress, runtime: Runtime,
            secrets: ReadSecrets | None) -> SyncResult:
    """--atomic: put back what ran before in every service this sync changed.

    Each changed service goes back to what ran before (core/revert.py): its
    previous template and count; a created one is removed, a pruned one
    restored; through the same executor and health-gated rollouts. The reverted
    revisions are recorded as rolled back, so the next unattended sync holds the
    whole commit instead of applying half of it.
    """
    failed = ", ".join(s.name for s in _proven_failures(result))
    why = f"rolled back with the project (--atomic): {failed} failed"
    # Services only: a job that ran cannot be unrun (a migration stays applied; see docs/jobs.md).
    services = {s.name for s in the_plan.services}
    changed = {s.name for s in result.services if s.outcome is Outcome.APPLIED and s.name in services}
    cancelled = {s.name for s in result.services if s.abandoned}
    reverted: dict[str, ServiceResult] = {}
    if changed:
        progress("(atomic)", f"{failed} failed: rolling back {', '.join(sorted(changed))}")
        befores = [b for b in (what_ran_before(s) for s in the_plan.services if s.name in changed) if b is not None]
        back = revert_plan(the_plan.project, the_plan.commit, befores, engine.observe(the_plan.project))
        reverted = {s.name: s for s in apply_plan(back, engine, progress=progress, runtime=runtime,
                                                  reverting=True, secrets=secrets).services}

    now = time.time()
    engine.append_history(the_plan.project, tuple(
        RevisionEvent.of_rollout(service.spec, service.revision, Event.ROLLED_BACK, service.commit, now, why)
        for service in the_plan.services
        if service.name in changed | cancelled and service.spec is not None and service.revision
        and service.action in (ServiceAction.CREATE, ServiceAction.UPDATE)))
    outcomes = []
    for s in result.services:
        undone = reverted.get(s.name)
        if s.name not in changed:
            outcomes.append(s)
        elif undone is None or not undone.outcome.went_wrong:
            outcomes.append(replace(s, outcome=Outcome.ROLLED_BACK, message=why))
        else:
            outcomes.append(replace(s, outcome=Outcome.FAILED,
                                    message=f"{why}; putting it back failed too: {undone.message}"))
    return replace(result, services=tuple(outcomes))


def volumes(desired: DesiredState, engine: Engine, observed: ObservedState | None = None) -> tuple[VolumeStatus, ...]:
    observed = observed or engine.observe(desired.project)
    return volume_statuses(desired, engine.observe_volumes(desired.project), observed)


def prune_volumes(desired: DesiredState, engine: Engine, *, lock_timeout: float = 0.0,
                  progress: Progress = lambda s, m: None) -> tuple[str, ...]:
    """`sync --prune-volumes`: removes the project's volumes that nothing mounts, naming each first.
    External volumes are never removed. Returns the engine names removed."""
    if not [v for v in volumes(desired, engine) if v.state is VolumeState.KEPT]:
        return ()
    removed = []
    with engine.lock(desired.project, lock_timeout):
        for volume in volumes(desired, engine):      # again, under the lock
            if volume.state is VolumeState.KEPT:
                progress("(volumes)", f"removing volume {volume.engine_name} ({volume.name}): nothing mounts it")
                engine.remove_volume(volume.engine_name)
                removed.append(volume.engine_name)
    return tuple(removed)


def _proven_failures(result: SyncResult) -> list[ServiceResult]:
    """Services this run tried and that failed: not one given up (Ctrl-C, a newer commit, --atomic
    cancelling it), nor one held back from an earlier run."""
    return [s for s in result.went_wrong() if not s.abandoned and s.action is not ServiceAction.HELD]


def status(desired: DesiredState, engine: Engine, observed: ObservedState | None = None) -> tuple[ServiceStatus, ...]:
    return overview(desired, engine, observed).services


@dataclass(frozen=True, slots=True)
class Overview:
    """`status`: services, jobs and volumes, from one look at the engine's containers; the project's routes
    and the engine's ingress, when it routes through it."""

    services: tuple[ServiceStatus, ...]
    jobs: tuple[JobStatus, ...]
    volumes: tuple[VolumeStatus, ...]
    routes: tuple = ()          # core/ingress.ShownRoute
    ingress: object = None      # core/ingress.IngressInfo, or None

    @property
    def healthy(self) -> bool:
        """`status --check`: every service Synced with all its replicas running, every job Synced."""
        return all(s.synced and s.running == s.desired for s in self.services) and all(j.synced for j in self.jobs)


def overview(desired: DesiredState, engine: Engine, observed: ObservedState | None = None) -> Overview:
    observed = observed or engine.observe(desired.project)
    history = History(engine.read_history(desired.project))
    the_plan = make_plan(desired, observed, prune=True, history=history)
    _, routes = _ingress(desired, engine, observed, refuse=False)
    return Overview(service_statuses(the_plan, observed, history), job_statuses(the_plan),
                    volumes(desired, engine, observed), routes, engine.ingress_info() if routes else None)


def history(desired: DesiredState, engine: Engine, service: str | None = None) -> tuple[RevisionEvent, ...]:
    events = History(engine.read_history(desired.project)).events
    return tuple(e for e in events if service is None or e.service == service)


def running_templates(desired: DesiredState, engine: Engine) -> frozenset[tuple[str, str]]:
    """(service, template hash) of every template that runs now (a replica running, or a job's kept run)."""
    observed = engine.observe(desired.project)
    return frozenset((r.service, r.template_hash) for r in observed.replicas if r.running) | \
        frozenset((job, runs[0].template_hash) for job in observed.job_names() for runs in [observed.of_job(job)])


def rollback(desired: DesiredState, engine: Engine, service: str, to: int | None = None,
             lock_timeout: float = 0.0, progress: Progress = lambda s, m: None,
             runtime: Runtime = Runtime(),
             stop_requested: Callable[[], str | None] = lambda: None,
             secrets: ReadSecrets | None = None, policy: Policy = BUILT_IN) -> tuple[Plan, SyncResult]:
    with engine.lock(desired.project, lock_timeout):
        return _rollback(desired, engine, service, to, progress, runtime, stop_requested, secrets, policy)


def _rollback(desired: DesiredState, engine: Engine, service: str, to: int | None,
              progress: Progress, runtime: Runtime, stop_requested, secrets: ReadSecrets | None,
              policy: Policy) -> tuple[Plan, SyncResult]:
    """Pin `service` to an earlier revision and roll it out, health-gated like any rollout.

    The pin lives on the engine, so the next sync (cron, CI, watch) leaves the
    service alone until Git declares something else for it or the pin is cleared.
    """
    spec = _declared(desired, service)
    observed = engine.observe(desired.project)
    past = History(engine.read_history(desired.project))
    if to is None:
        running = Counter(r.template_hash for r in observed.of_service(service) if r.running)
        target = past.previous_deployed(service, running.most_common(1)[0][0] if running else "")
        if target is None:
            raise NotFound(f"service '{service}' has no earlier deployed revision to roll back to",
                           hint=f"see `gitdeploy history {service}`")
    else:
        target = past.revision(service, to)
        if target is None:
            raise NotFound(f"service '{service}' has no revision {to}", hint=f"see `gitdeploy history {service}`")
    # An old revision is no way around a policy written since: it is checked as a manifest would be.
    restored = spec_from_template(service, spec.replicas, json.loads(target.template_json), spec.update)
    check_revision(f"revision {target.revision} of {service}", restored, policy)
    pin = target.pinned(spec.template_hash(), time.time(), f"gitdeploy rollback {service} --to {target.revision}")
    full = make_plan(desired, observed, history=History(past.events + (pin,)))
    one = Plan(full.project, full.commit, tuple(s for s in full.services if s.name == service))
    deliver_secrets(one, engine, secrets)   # before the pin: a secret that cannot be read changes nothing
    engine.append_history(desired.project, (pin,))
    result = apply_plan(one, engine, progress=progress, runtime=runtime, stop_requested=stop_requested,
                        secrets=secrets)
    if result.went_wrong():
        # The earlier revision did not come up; it was rolled back to what ran. Drop the pin.
        engine.append_history(desired.project, (pin.unpinned(spec.template_hash(), time.time(), "rollback failed"),))
    return one, result


@dataclass(frozen=True, slots=True)
class PinCleared:
    cleared: bool          # a pin was in force
    held_revision: int     # the revision Git declares, if it failed before (the next sync holds it); else 0


def clear_pin(desired: DesiredState, engine: Engine, service: str) -> PinCleared:
    """Let `service` follow Git again."""
    git_hash = _declared(desired, service).template_hash()
    past = History(engine.read_history(desired.project))
    pin = past.pin(service, git_hash)
    if pin is not None:
        engine.append_history(desired.project,
                              (pin.unpinned(git_hash, time.time(), "cleared by gitdeploy rollback --clear"),))
    failed = past.failed(service, git_hash)
    return PinCleared(pin is not None, failed.revision if failed is not None else 0)


def _declared(desired: DesiredState, service: str) -> ServiceSpec:
    spec = desired.service(service)
    if spec is None and desired.job(service) is not None:
        raise NotFound(f"'{service}' is a Job: a job's run is not rolled back (what it did stays done)",
                       hint="declare the job's earlier template in Git (a new template runs it), or try a failed "
                            "run again with sync --retry-failed")
    if spec is None:
        raise NotFound(f"no service '{service}' in project {desired.project} at commit {desired.commit[:12]}",
                       hint="give the name of a declared service (gitdeploy status lists them)")
    return spec


def restart(desired: DesiredState, engine: Engine, service: str, *, lock_timeout: float = 0.0,
            progress: Progress = lambda s, m: None, runtime: Runtime = Runtime(),
            stop_requested: Callable[[], str | None] = lambda: None) -> ServiceResult:
    """`restart`: a health-gated rolling restart of the service's running replicas (restart.py)."""
    from gitdeploy.restart import rolling_restart

    spec = _declared(desired, service)
    with engine.lock(desired.project, lock_timeout):
        running = sorted((r for r in engine.observe(desired.project).of_service(service) if r.running),
                         key=lambda r: (r.slot, r.name))
        if not running:
            raise NotFound(f"service '{service}' has no running replica to restart",
                           hint="gitdeploy sync starts it; gitdeploy ps shows what exists")
        return rolling_restart(desired.project, spec, running, engine, lambda m: progress(service, m), runtime,
                               stop_requested)


def replica_of(desired: DesiredState, engine: Engine, service: str, slot: int | None = None) -> str:
    """The name of a running replica of `service`: the one in `slot`, or the lowest running slot's."""
    observed = engine.observe(desired.project)
    _known(desired, observed, service)
    running = sorted((r for r in observed.of_service(service) if r.running), key=lambda r: (r.slot, r.name))
    chosen = [r for r in running if slot is None or r.slot == slot]
    if not chosen:
        slots = ", ".join(str(r.slot) for r in running) or "none"
        raise NotFound(f"service '{service}' has no running replica" + (f" in slot {slot}" if slot else ""),
                       hint=f"running slots: {slots} (gitdeploy ps shows them)")
    return chosen[0].name


def ps(desired: DesiredState, engine: Engine, name: str | None = None) -> tuple[ReplicaRow, ...]:
    """`ps`: every container of the project (of one service or job), with its revision, state and ports."""
    observed = engine.observe(desired.project)
    if name is not None:
        _known(desired, observed, name)
    return replica_rows(observed, History(engine.read_history(desired.project)), name)


def _known(desired: DesiredState, observed: ObservedState, name: str) -> None:
    """Raises NotFound unless `name` is a declared service or job, or one that still has containers."""
    if desired.service(name) or desired.job(name) or observed.of_service(name) or observed.of_job(name):
        return
    from gitdeploy.manifests.schema import did_you_mean

    known = [s.name for s in desired.services] + [j.name for j in desired.jobs]
    raise NotFound(f"no service or job '{name}' in project {desired.project}{did_you_mean(name, known)}",
                   hint="give the name of a service or job (gitdeploy status lists them)")


@dataclass(frozen=True, slots=True)
class Down:
    """What `down` removed."""

    containers: tuple[str, ...]
    network: bool
    volumes: tuple[str, ...]
    history_records: int


def down(desired: DesiredState, engine: Engine, *, volumes: bool = False, history: bool = False,
         lock_timeout: float = 0.0, progress: Progress = lambda s, m: None) -> Down:
    """Removes everything of the project: replicas and job runs (dependents first), the network and, when
    asked, its volumes and its history; under the project's lock, which goes with it. External volumes
    are never ours, so never removed."""
    from gitdeploy.core import order

    with engine.lock(desired.project, lock_timeout):
        observed = engine.observe(desired.project)
        gone = make_plan(DesiredState(desired.project, desired.commit, ()), observed, prune=True)
        removed = []
        for step in order.waves(gone.units):
            for name in step:
                for container in observed.of_service(name) + observed.of_job(name):
                    progress(name, f"removing {container.name}")
                    engine.remove_replica(container)
                    removed.append(container.name)
        engine.forget_secrets(desired.project)
        network = engine.remove_network(desired.project)
        dropped = []
        if volumes:
            for volume in engine.observe_volumes(desired.project):
                progress("(volumes)", f"removing volume {volume.engine_name}")
                engine.remove_volume(volume.engine_name)
                dropped.append(volume.engine_name)
        records = engine.remove_history(desired.project) if history else 0
    return Down(tuple(removed), network, tuple(dropped), records)


def logs(desired: DesiredState, engine: Engine, service: str, tail: int = 100,
         follow: bool = False) -> Iterator[tuple[str, str]]:
    """(replica, line) of the output of every replica of `service` (a declared one, or one still running
    though no longer declared), replicas by slot; the replica is shown as SERVICE-SLOT, as compose does.
    For a job: the output of its last run (its kept container)."""
    observed = engine.observe(desired.project)
    _known(desired, observed, service)
    replicas = sorted(observed.of_service(service), key=lambda r: (r.slot, r.name)) or list(observed.of_job(service)[:1])
    # A job's last run is shown by the job's name; a replica as SERVICE-SLOT.
    shown = {r.name: r.service if r in observed.runs else f"{r.service}-{r.slot}" if r.slot > 0 else r.name
             for r in replicas}
    for name, line in engine.logs(tuple(shown), tail, follow):
        yield shown[name], line


def unlock(desired: DesiredState, engine: Engine):
    """Breaks the project's lock (for a holder that is gone); returns who held it."""
    return engine.unlock(desired.project)


def lock_holder(desired: DesiredState, engine: Engine):
    return engine.lock_holder(desired.project)
