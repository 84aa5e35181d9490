"""The planner: desired × observed → an ordered plan of actions. A pure function.

Per service, replicas are numbered slots 1..replicas. A slot is satisfied by a
running replica whose template hash matches the desired one; every other slot
gets a new replica (after removing whatever stale replica holds it), and
replicas in slots above the count, duplicates, and replicas of services no
longer declared are removed. A service with nothing to do is left untouched,
so a second sync right after the first plans nothing.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from gitdeploy.core.actions import ServiceAction
from gitdeploy.core.changes import FieldChange, template_changes
from gitdeploy.core.history import History, RevisionEvent
from gitdeploy.core.jobs import JobPlan, plan_job, plan_undeclared_job
from gitdeploy.core.labels import network_name
from gitdeploy.core.model import DesiredState, FailureAction, MountKind, ServiceSpec, VolumeSpec, spec_from_template
from gitdeploy.core.observed import ObservedReplica, ObservedState


UNRECOGNISED = "unrecognised: its template label is damaged"
UNCONFIRMED = "never passed its checks (a run was interrupted)"


@dataclass(frozen=True, slots=True)
class StartReplica:
    service: str
    slot: int
    spec: ServiceSpec
    reason: str              # why this replica is started, for progress lines


@dataclass(frozen=True, slots=True)
class RemoveReplica:
    replica: ObservedReplica
    reason: str


Step = StartReplica | RemoveReplica


@dataclass(frozen=True, slots=True)
class SlotWork:
    """Steps for one slot, in order; different slots are independent."""

    slot: int
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ServicePlan:
    name: str
    action: ServiceAction
    desired_replicas: int
    current_replicas: int
    changes: tuple[FieldChange, ...]
    work: tuple[SlotWork, ...]
    spec: ServiceSpec | None          # what replicas will run; None for services no longer declared
    commit: str = ""                  # the commit new replicas are labelled with
    revision: int = 0                 # revision number of spec's template (0: history not read)
    pinned: RevisionEvent | None = None   # `gitdeploy rollback` pinned the service to this revision
    held: RevisionEvent | None = None     # HELD: the earlier failure of this revision
    image_volumes: tuple[str, ...] = ()   # paths the image declares VOLUME, no mount covers: kept per slot
    depends_on: tuple[str, ...] = ()      # as declared; of a service no longer declared, as its replicas' label says
    declared: ServiceSpec | None = None   # what Git declares (spec may differ: pinned, or held on what ran)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for w in self.work for step in w.steps)


Unit = ServicePlan | JobPlan


@dataclass(frozen=True, slots=True)
class Plan:
    project: str
    commit: str
    services: tuple[ServicePlan, ...]   # sorted by name
    volumes: tuple[VolumeSpec, ...] = ()   # the project's declared volumes, made before a replica mounts one
    jobs: tuple[JobPlan, ...] = ()         # sorted by name
    missing_images: tuple[str, ...] = ()   # images the plan starts that the engine does not have (diff says so)
    ingress: str = ""                       # what is wrong with the engine's ingress ("": nothing; sync repairs it)
    routes: tuple = ()                      # core/ingress.ShownRoute: the project's routes through the ingress

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"image {image} is not on the engine: sync pulls it (it fails with --pull never)"
                     for image in self.missing_images)

    @property
    def units(self) -> tuple[Unit, ...]:
        """Every service and job, each by a name no other shares."""
        return self.services + self.jobs

    def starting(self) -> tuple[ServiceSpec, ...]:
        """The specs this plan starts containers of: services' new replicas, and jobs' runs."""
        return tuple(s.spec for s in self.services if s.spec is not None
                     and any(isinstance(step, StartReplica) for step in s.steps)) + \
            tuple(j.spec.run for j in self.jobs if j.action is ServiceAction.RUN)

    def volumes_needed(self) -> tuple[VolumeSpec, ...]:
        """The declared volumes that replicas (and job runs) this plan starts will mount."""
        mounted = {m.source for spec in self.starting() for m in spec.mounts if m.kind is MountKind.VOLUME}
        return tuple(v for v in self.volumes if v.engine_name in mounted)

    @property
    def in_sync(self) -> bool:
        """Nothing to do, nothing held back, nothing pinned away from what Git declares."""
        return all(not s.work and s.action is not ServiceAction.HELD and s.pinned is None for s in self.services) \
            and all(not j.work and j.action is not ServiceAction.HELD for j in self.jobs) and not self.ingress

    @property
    def needs_network(self) -> bool:
        return bool(self.starting())


def plan(desired: DesiredState, observed: ObservedState, *, prune: bool = True,
         history: History | None = None, retry_failed: bool = False) -> Plan:
    """The plan. Without `history` (not read yet) pins, failed revisions and
    revision numbers are unknown; callers read it whenever there is work."""
    network = network_name(desired.project)
    services = [replace(_with_history(spec, observed.of_service(spec.name), desired.commit, history, retry_failed,
                                      network), depends_on=spec.depends_on, declared=spec)
                for spec in desired.services]
    # A name that changed kind (a service that became a job, or back) is one unit, of its new kind, that
    # first removes (a job: before its run) or last removes (a service: after its rollout) the old kind's.
    declared = {s.name for s in desired.services}
    for name in observed.service_names():
        if name not in declared and desired.job(name) is None:
            services.append(_plan_undeclared(name, observed.of_service(name), prune))
    services = [_removing_runs(s, observed.of_job(s.name)) if desired.job(s.name) is None else s
                for s in services]
    jobs = [replace(plan_job(job, observed.of_job(job.name), desired.commit, history, retry_failed),
                    replaces=observed.of_service(job.name)) for job in desired.jobs]
    jobs += [plan_undeclared_job(name, observed.of_job(name), prune) for name in observed.job_names()
             if desired.job(name) is None and desired.service(name) is None]
    return Plan(desired.project, desired.commit, tuple(sorted(services, key=lambda s: s.name)), desired.volumes,
                tuple(sorted(jobs, key=lambda j: j.name)))


def _with_history(spec: ServiceSpec, replicas: tuple[ObservedReplica, ...], commit: str,
                  history: History | None, retry_failed: bool, network: str) -> ServicePlan:
    if history is None:
        return _plan_service(spec, replicas, commit, network)
    pin = history.pin(spec.name, spec.template_hash())
    pinned_spec = _spec_of(pin, spec) if pin is not None else None
    if pinned_spec is None:
        pin = None      # a pin whose template this version cannot read is no pin
    else:
        spec, commit = pinned_spec, pin.commit
    planned = replace(_plan_service(spec, replicas, commit, network), pinned=pin,
                      revision=history.revision_of(spec.name, spec.template_hash()))
    failed = history.failed(spec.name, spec.template_hash())
    rolls_out = any(isinstance(step, StartReplica) for step in planned.steps)
    if failed is not None and rolls_out and not retry_failed:
        return _held(spec, replicas, failed, network)
    return planned


def _removing_runs(service: ServicePlan, runs: tuple[ObservedReplica, ...]) -> ServicePlan:
    """A declared service whose name a job had: the job's kept runs go once the service is ready."""
    if not runs or service.spec is None:
        return service
    gone = SlotWork(0, tuple(RemoveReplica(run, "a job of this name is no longer declared") for run in runs))
    action = service.action if service.action is not ServiceAction.UNCHANGED else ServiceAction.REPAIR
    return replace(service, action=action, work=service.work + (gone,))


def _held(spec: ServiceSpec, replicas: tuple[ObservedReplica, ...], failed: RevisionEvent,
          network: str) -> ServicePlan:
    """A service whose declared revision failed before: the failed revision is not started again.

    What runs is kept converged on the revision that ran before it (the most
    common confirmed one), so a replica of the failed revision left behind by an
    interrupted run is removed and an emptied slot refilled. With `failureAction:
    pause` everything is left as it is, for inspection.
    """
    held = ServicePlan(spec.name, ServiceAction.HELD, spec.replicas, len({r.slot for r in replicas if r.slot > 0}),
                       (), (), spec, held=failed)
    ran = [r for r in replicas if r.recognised and r.confirmed and r.template_hash != failed.template_hash]
    if spec.update.failure_action is FailureAction.PAUSE or not ran:
        return held
    template = Counter(r.template_json for r in ran).most_common(1)[0][0]
    ran_slots = len({r.slot for r in ran if r.slot > 0})   # the count that ran, not the failed commit's
    before = _spec_of(replace(failed, template_json=template), replace(spec, replicas=ran_slots))
    if before is None:
        return held
    commit = Counter(r.commit for r in ran if r.template_json == template).most_common(1)[0][0]
    return replace(held, work=_plan_service(before, replicas, commit, network).work, spec=before, commit=commit)


def _spec_of(event: RevisionEvent, declared: ServiceSpec) -> ServiceSpec | None:
    try:
        return spec_from_template(declared.name, declared.replicas, json.loads(event.template_json), declared.update)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def _plan_undeclared(name: str, replicas: tuple[ObservedReplica, ...], prune: bool) -> ServicePlan:
    current = len({r.slot for r in replicas})
    depends_on = tuple(sorted({d for r in replicas for d in r.depends_on}))
    if not prune:
        return ServicePlan(name, ServiceAction.ORPHANED, 0, current, (), (), None, depends_on=depends_on)
    work = tuple(
        SlotWork(r.slot, (RemoveReplica(r, "service no longer declared"),)) for r in _ordered(replicas)
    )
    return ServicePlan(name, ServiceAction.REMOVE, 0, current, (), work, None, depends_on=depends_on)


def _plan_service(spec: ServiceSpec, replicas: tuple[ObservedReplica, ...], commit: str,
                  network: str = "") -> ServicePlan:
    want = spec.template_hash()
    by_slot: dict[int, list[ObservedReplica]] = defaultdict(list)
    for replica in _ordered(replicas):
        by_slot[replica.slot].append(replica)

    work: list[SlotWork] = []
    for slot in range(1, spec.replicas + 1):
        holders = by_slot.pop(slot, [])
        keep = next((r for r in holders if _serves(r, spec, want, network)), None)
        steps: list[Step] = [
            RemoveReplica(r, _why_stale(r, spec, want, network)) for r in holders if r is not keep
        ]
        if keep is None:
            steps.append(StartReplica(spec.name, slot, spec, _why_start(holders, spec, want, network)))
        if steps:
            work.append(SlotWork(slot, tuple(steps)))
    # Whatever is left sits above the count (or has no valid slot): scale down,
    # highest slot first.
    for slot in sorted(by_slot, reverse=True):
        reason = "scaled down" if slot > spec.replicas else "not a valid replica slot"
        work.append(SlotWork(slot, tuple(RemoveReplica(r, reason if r.recognised else UNRECOGNISED)
                                         for r in by_slot[slot])))

    # An unrecognised replica (damaged labels) is drift to repair, not a change of the manifest.
    outdated = [r for r in replicas if r.template_hash != want and r.recognised]
    # Count occupied slots, not containers: a duplicate or a stray replica is
    # drift to repair, not a different replica count.
    current = len({r.slot for r in replicas if r.slot > 0})
    changes: list[FieldChange] = []
    # Field changes come from a replica whose labels we can trust; a damaged label's content is never shown.
    if outdated:
        changes.extend(template_changes(_template_of(outdated[0]), spec.template()))
    if current != spec.replicas:
        changes.insert(0, FieldChange("replicas", current, spec.replicas))

    # Replicas all made from this very commit: the manifest cannot have changed
    # their count, so a different count is drift (removed or added by hand).
    same_commit = all(r.commit == commit for r in replicas)
    if not replicas:
        action = ServiceAction.CREATE if spec.replicas else ServiceAction.UNCHANGED
    elif outdated:
        action = ServiceAction.UPDATE
    elif current != spec.replicas and not same_commit:
        action = ServiceAction.SCALE
    elif work:
        action = ServiceAction.REPAIR
    else:
        action = ServiceAction.UNCHANGED
    return ServicePlan(spec.name, action, spec.replicas, current, tuple(changes), tuple(work), spec, commit)


def _ordered(replicas: tuple[ObservedReplica, ...]) -> list[ObservedReplica]:
    # Running replicas first so that, of two in one slot, the running one is kept.
    return sorted(replicas, key=lambda r: (r.slot, not r.running, r.name))


def _serves(replica: ObservedReplica, spec: ServiceSpec, want: str, network: str) -> bool:
    """Running, not unhealthy, of the desired template, on the declared image and the project network."""
    return (replica.running and not replica.unhealthy and replica.template_hash == want and replica.recognised
            and replica.confirmed and not _image_drifted(replica, spec) and not _off_network(replica, network)
            and not replica.drift and not replica.draining)


def _off_network(replica: ObservedReplica, network: str) -> bool:
    # A replica cut off the project network (disconnected, or the network removed by hand)
    # cannot be reached by its service name: it serves nothing.
    return bool(network) and replica.networks is not None and network not in replica.networks


def _image_drifted(replica: ObservedReplica, spec: ServiceSpec) -> bool:
    # The listing names the image a container runs by the reference it was
    # created with only while that reference still points at it: a tag moved
    # by a rebuild, or a container replaced by hand, shows something else.
    return bool(replica.image) and replica.image != spec.image


def _why_stale(replica: ObservedReplica, spec: ServiceSpec, want: str, network: str) -> str:
    if not replica.recognised:
        return UNRECOGNISED
    if replica.template_hash != want:
        return "outdated"
    if not replica.confirmed:
        return UNCONFIRMED
    if not replica.running:
        return f"not running ({replica.state})"
    if replica.unhealthy:
        return "unhealthy"
    if _image_drifted(replica, spec):
        return f"runs {replica.image}, not the image {spec.image} names now"
    if _off_network(replica, network):
        return f"not on the project network {network}"
    if replica.drift:
        return f"its service was changed by hand ({replica.drift})"
    if replica.draining:
        return "taken out of the ingress by an interrupted run"
    return "duplicate of its slot"


def _why_start(holders: list[ObservedReplica], spec: ServiceSpec, want: str, network: str) -> str:
    if not holders:
        return "missing"
    if any(not r.recognised for r in holders):
        return "replaces an unrecognised replica"
    if any(r.template_hash == want and not r.confirmed for r in holders):
        return "replaces an unconfirmed replica"
    if any(r.template_hash != want for r in holders):
        return "replaces outdated"
    if any(r.running and r.unhealthy for r in holders):
        return "replaces unhealthy"
    if any(r.running and _image_drifted(r, spec) for r in holders):
        return "replaces a changed image"
    if any(r.running and _off_network(r, network) for r in holders):
        return "replaces one off the project network"
    if any(r.draining for r in holders):
        return "replaces one taken out of the ingress"
    if any(r.drift for r in holders):
        return f"its service was changed by hand ({holders[0].drift})"
    return "replaces stopped"


def _template_of(replica: ObservedReplica) -> dict:
    try:
        template = json.loads(replica.template_json) if replica.template_json else {}
    except json.JSONDecodeError:
        template = {}
    return template if isinstance(template, dict) else {}
