"""The executor over several services, against the fake engine: results, history, --atomic cancelling."""
from __future__ import annotations

import re

import pytest

from gitdeploy.apply import apply_plan
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import DesiredState, FailureAction, HealthCheck, ServiceSpec, UpdatePolicy
from gitdeploy.core.plan import ServiceAction, plan
from gitdeploy.core.results import Outcome, RunOutcome
from gitdeploy.errors import Unsatisfiable
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


@pytest.mark.parametrize("declared, message", [
    ([svc("web", "v9"), svc("api", "v2")], "image v9 is not on the engine"),
    ([svc("web", "v9"), svc("api", "v8")], "image v8 is not on the engine and --pull never forbids pulling it "
                                           "(service api); image v9"),
    ([ServiceSpec("web", "v2", cpus=4.0), svc("api", "v2")], "service web is limited to 4 CPUs but the engine has 2"),
])
def test_what_the_engine_cannot_do_stops_the_run_before_its_first_change(declared, message):
    engine = FakeEngine(missing_images={"v8", "v9"})
    run(engine, svc("web"), svc("api"))
    engine.log.clear()
    with pytest.raises(Unsatisfiable, match=re.escape(message)) as caught:
        run(engine, *declared)
    assert caught.value.message.endswith("nothing was changed")
    assert engine.log == [] and engine.images("web") == ["v1"] and engine.images("api") == ["v1"]


def test_history_remembers_deployed_and_rolled_back_revisions():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    run(engine, svc("web"))
    result, _ = run(engine, svc("web", "v2"))
    assert [(e.revision, e.event) for e in engine.events] == [(1, Event.DEPLOYED), (2, Event.ROLLED_BACK)]
    assert result.services[0].message.startswith("revision 2: replica shop_web-1-")
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
    engine = FakeEngine(behaviours={"v2": UNHEALTHY, "v3": NEVER_READY})
    run(engine, svc("web"), svc("api"))
    result, lines = run(engine, svc("web", "v3"), svc("api", "v2"), atomic=True)   # api goes first, and fails
    web = {s.name: s for s in result.services}["web"]
    assert web.abandoned and "was cancelled: api failed (--atomic)" in web.message
    assert not [e for e in engine.events if e.service == "web" and e.event is Event.ROLLED_BACK], \
        "a cancelled rollout was not proven bad: nothing to remember"
    assert engine.images("web") == ["v1"] and engine.images("api") == ["v1"]


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


def test_a_held_service_is_kept_on_the_revision_that_ran_before():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    run(engine, svc("web", replicas=2))
    run(engine, svc("web", "v2", replicas=2))                            # failed, rolled back, remembered
    engine.start_replica("shop", "c" * 40, svc("web", "v2", replicas=2), 1)   # left by a run killed later
    assert len(engine.images("web")) == 3
    result, _ = run(engine, svc("web", "v2", replicas=2))
    (web,) = result.services
    assert (web.action, web.outcome) == (ServiceAction.HELD, Outcome.ROLLED_BACK)
    assert "not retried until the manifest changes" in web.message and "repaired" in web.message
    assert engine.images("web") == ["v1", "v1"]


def test_a_paused_service_is_left_for_inspection():
    paused = UpdatePolicy(monitor=2.0, progress_deadline=30.0, failure_action=FailureAction.PAUSE)
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    run(engine, ServiceSpec("web", "v1", replicas=2, health=CHECK, update=paused))
    first, _ = run(engine, ServiceSpec("web", "v2", replicas=2, health=CHECK, update=paused))
    assert first.services[0].outcome is Outcome.FAILED
    left = sorted(engine.images("web"))
    second, _ = run(engine, ServiceSpec("web", "v2", replicas=2, health=CHECK, update=paused))
    assert second.services[0].action is ServiceAction.HELD and sorted(engine.images("web")) == left == ["v1", "v1", "v2"]


def test_http_checks_against_a_remote_engine_are_refused_before_any_change():
    engine = FakeEngine(reachable=False)
    http = HealthCheck(http_port=80, interval=1.0, timeout=1.0)
    with pytest.raises(Unsatisfiable, match="has an http/tcp health check, which gitdeploy runs from this machine"):
        run(engine, ServiceSpec("web", "v1", health=http, update=POLICY))
    assert engine.log == []
    run(engine, svc("web"))   # an exec check runs on the engine: fine
    assert engine.images("web") == ["v1"]


def test_a_stop_request_starts_no_new_service():
    engine = FakeEngine()
    desired = DesiredState("shop", "c" * 40, (svc("api"), svc("web")))
    asked = []
    the_plan = plan(desired, engine.observe("shop"))
    engine.on_start = lambda name: asked.append("stop")   # Ctrl-C while the first service starts
    result = apply_plan(the_plan, engine, runtime=engine.clock.runtime(),
                        stop_requested=lambda: "stopped by the user (Ctrl-C)" if asked else None)
    assert outcomes(result) == {"api": "applied", "web": "failed"}
    web = {s.name: s for s in result.services}["web"]
    assert web.abandoned and web.message == "not started: stopped by the user (Ctrl-C)"
    assert engine.images("web") == [] and engine.images("api") == ["v1"]


def test_history_keeps_a_bounded_number_of_revisions():
    from gitdeploy.core.history import KEPT_REVISIONS

    engine = FakeEngine()
    for number in range(KEPT_REVISIONS + 3):
        run(engine, svc("web", f"v{number}"))
    revisions = sorted({e.revision for e in engine.events})
    assert len(revisions) == KEPT_REVISIONS and revisions[0] == 4


def test_a_replica_the_engine_will_not_start_is_an_error_not_a_failed_revision():
    """A host port taken by another process is the environment's failure: the update is rolled back and
    the run fails (exit 1), but the revision is not held; once the port is free the next sync rolls it out."""
    engine = FakeEngine(refuse_start={"v2": "Bind for 127.0.0.1:8080 failed: port is already allocated"})
    run(engine, svc("web"))
    result, _ = run(engine, svc("web", "v2"))
    (web,) = result.services
    assert (web.outcome, result.result) == (Outcome.FAILED, RunOutcome.FAILED)
    assert web.message == ("replica slot 1 could not be started: starting replica of web: Bind for 127.0.0.1:8080 "
                           "failed: port is already allocated; rolled back to the previous revision; not held: the "
                           "next sync tries again")
    assert engine.images("web") == ["v1"] and not [e for e in engine.events if e.event is Event.ROLLED_BACK]
    engine.refuse_start.clear()
    again, _ = run(engine, svc("web", "v2"))
    assert outcomes(again) == {"web": "applied"} and engine.images("web") == ["v2"]


def test_a_start_the_engine_refuses_for_the_revisions_own_fault_holds_it():
    """A 4xx (the command does not exist in the image) is the revision's failure: rolled back and held (exit 3)."""
    engine = FakeEngine(refuse_start={"v2": 'exec: "/app": executable file not found in $PATH'})
    run(engine, svc("web"))
    result, _ = run(engine, svc("web", "v2"))
    assert result.result is RunOutcome.ROLLED_BACK and engine.images("web") == ["v1"]
    again, _ = run(engine, svc("web", "v2"))
    assert outcomes(again) == {"web": "rolled_back"} and again.services[0].action is ServiceAction.HELD
