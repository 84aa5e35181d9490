"""The executor over several services, against the fake engine: results, history, --atomic cancelling."""
from __future__ import annotations

import pytest

from gitdeploy.apply import apply_plan
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import DesiredState, HealthCheck, ServiceSpec, UpdatePolicy
from gitdeploy.core.plan import ServiceAction, plan
from gitdeploy.core.results import Outcome, RunOutcome
from tests.fake_engine import NEVER_READY, UNHEALTHY, FakeEngine

CHECK = HealthCheck(exec=("true",), interval=1.0, timeout=1.0)
POLICY = UpdatePolicy(monitor=2.0, progress_deadline=30.0)


def svc(name: str, image: str = "v1", replicas: int = 1) -> ServiceSpec:
    return ServiceSpec(name, image, replicas=replicas, health=CHECK, update=POLICY)


def run(engine: FakeEngine, *specs: ServiceSpec, prune: bool = True, atomic: bool = False, retry_failed=False):
    desired = DesiredState("shop", "c" * 40, tuple(sorted(specs, key=lambda s: s.name)))
    the_plan = plan(desired, engine.observe("shop"), prune=prune, history=History(tuple(engine.events)),
                    retry_failed=retry_failed)
    lines: list[tuple[str, str]] = []
    result = apply_plan(the_plan, engine, progress=lambda s, m: lines.append((s, m)), atomic=atomic,
                        runtime=engine.clock.runtime())
    return result, lines


def outcomes(result) -> dict[str, str]:
    return {s.name: s.outcome.value for s in result.services}


# (id, what runs before, what is declared, images the engine lacks, behaviours, expected outcomes, run outcome)
CASES = [
    ("nothing to do", [svc("web")], [svc("web")], set(), {}, {"web": "unchanged"}, RunOutcome.NOOP),
    ("create two services", [], [svc("web"), svc("api")], set(), {}, {"api": "applied", "web": "applied"},
     RunOutcome.APPLIED),
    ("a missing image fails its service only, before touching it", [svc("web")], [svc("web", "v9"), svc("api")],
     {"v9"}, {}, {"api": "applied", "web": "failed"}, RunOutcome.FAILED),
    ("an unhealthy update is rolled back, the others converge", [svc("web"), svc("api")],
     [svc("web", "v2"), svc("api", "v2")], set(), {"v2": UNHEALTHY}, {"api": "rolled_back", "web": "rolled_back"},
     RunOutcome.ROLLED_BACK),
    ("a pruned service is removed", [svc("web"), svc("old")], [svc("web")], set(), {},
     {"old": "applied", "web": "unchanged"}, RunOutcome.APPLIED),
]


@pytest.mark.parametrize("before, declared, missing, behaviours, expected, run_outcome", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_outcomes(before, declared, missing, behaviours, expected, run_outcome):
    engine = FakeEngine(missing_images=missing, behaviours=behaviours)
    if before:
        run(engine, *before)
    engine.log.clear()
    result, _ = run(engine, *declared)
    assert outcomes(result) == expected
    assert result.result is run_outcome
    if missing:
        assert not any(line.startswith("remove") for line in engine.log)


def test_history_remembers_deployed_and_rolled_back_revisions():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    run(engine, svc("web"))
    result, _ = run(engine, svc("web", "v2"))
    assert [(e.revision, e.event) for e in engine.events] == [(1, Event.DEPLOYED), (2, Event.ROLLED_BACK)]
    assert result.services[0].message.startswith("revision 2: replica shop-web-1-")
    assert "wget: 404 Not Found" in result.services[0].detail


def test_a_revision_that_failed_is_held_until_retried():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    run(engine, svc("web"))
    run(engine, svc("web", "v2"))
    engine.log.clear()
    held, _ = run(engine, svc("web", "v2"))
    assert (held.services[0].action, held.services[0].outcome) == (ServiceAction.HELD, Outcome.ROLLED_BACK)
    assert "not retried until the manifest changes" in held.services[0].message
    assert engine.log == []   # nothing touched
    del engine.behaviours["v2"]   # fixed outside (say, a dependency came back)
    retried, _ = run(engine, svc("web", "v2"), retry_failed=True)
    assert retried.services[0].outcome is Outcome.APPLIED


def test_atomic_cancels_the_rollouts_still_waiting_when_one_fails():
    engine = FakeEngine(missing_images={"v9"}, behaviours={"v2": NEVER_READY})
    run(engine, svc("web"), svc("api"))
    result, lines = run(engine, svc("web", "v9"), svc("api", "v2"), atomic=True)
    api = {s.name: s for s in result.services}["api"]
    assert api.abandoned and "was cancelled: web failed (--atomic)" in api.message
    assert not [e for e in engine.events if e.service == "api" and e.event is Event.ROLLED_BACK], \
        "a cancelled rollout was not proven bad: nothing to remember"


def test_kept_orphans_are_reported_not_touched():
    engine = FakeEngine()
    run(engine, svc("web"), svc("old"))
    result, _ = run(engine, svc("web"), prune=False)
    assert outcomes(result) == {"old": "kept", "web": "unchanged"}
    assert engine.images("old") == ["v1"]


def test_every_event_is_made_the_same_way():
    spec = svc("web")
    event = RevisionEvent.of_rollout(spec, 3, Event.DEPLOYED, "c1", 10.0, "ok")
    pin = event.pinned("githash", 11.0, "gitdeploy rollback web --to 3")
    unpin = pin.unpinned("githash", 12.0, "cleared")
    assert (event.template_hash, event.template_json, event.image) == (spec.template_hash(), spec.template_json(), "v1")
    assert (pin.event, pin.revision, pin.template_json, pin.git_hash) == (Event.PINNED, 3, spec.template_json(), "githash")
    assert (unpin.event, unpin.template_json, unpin.message) == (Event.UNPINNED, "", "cleared")
