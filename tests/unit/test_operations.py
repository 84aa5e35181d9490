"""The use cases against the fake engine: sync (plain, dry run, --atomic, locked), rollback, status, history."""
from __future__ import annotations

import pytest

from gitdeploy import operations
from gitdeploy.core.history import Event
from gitdeploy.core.model import DesiredState, HealthCheck, ServiceSpec, UpdatePolicy
from gitdeploy.core.plan import ServiceAction
from gitdeploy.core.results import Outcome, RunOutcome
from gitdeploy.errors import ExitCode, LockHeld, NotFound
from tests.fake_engine import NEVER_READY, UNHEALTHY, FakeEngine

CHECK = HealthCheck(exec=("true",), interval=1.0, timeout=1.0)
POLICY = UpdatePolicy(monitor=2.0, progress_deadline=30.0)


def desired(*services: tuple[str, str], replicas: int = 1, commit: str = "c1") -> DesiredState:
    specs = tuple(ServiceSpec(name, image, replicas=replicas, health=CHECK, update=POLICY)
                  for name, image in sorted(services))
    return DesiredState("shop", commit * 20, specs)


def sync(engine: FakeEngine, state: DesiredState, **options):
    return operations.sync(state, engine, runtime=engine.clock.runtime(), **options)


def outcomes(result) -> dict[str, Outcome]:
    return {s.name: s.outcome for s in result.services}


def test_a_second_sync_changes_nothing_and_takes_no_lock():
    engine = FakeEngine()
    state = desired(("web", "v1"), ("api", "v1"))
    _, first = sync(engine, state)
    assert first.result is RunOutcome.APPLIED and engine.log.count("lock") == 1
    engine.log.clear()
    the_plan, second = sync(engine, state)
    assert the_plan.in_sync and second.result is RunOutcome.NOOP
    assert engine.log == []


def test_dry_run_plans_and_touches_nothing():
    engine = FakeEngine()
    seen = []
    the_plan, result = sync(engine, desired(("web", "v1")), dry_run=True, on_plan=seen.append)
    assert result is None and seen == [the_plan] and engine.images("web") == []
    assert ExitCode.of(None) is ExitCode.OK


def test_another_run_holding_the_lock_stops_a_sync_that_has_work():
    engine = FakeEngine(held_by="ci on host-2")
    with pytest.raises(LockHeld):
        sync(engine, desired(("web", "v1")))


def test_atomic_puts_back_every_service_this_sync_changed():
    engine = FakeEngine(behaviours={"v2-bad": UNHEALTHY})
    sync(engine, desired(("web", "v1"), ("api", "v1"), ("worker", "v1")))
    _, result = sync(engine, desired(("web", "v2"), ("api", "v2-bad"), ("worker", "v1"), ("new", "v1"), commit="c2"),
                     atomic=True)
    assert outcomes(result) == {"api": Outcome.ROLLED_BACK, "new": Outcome.ROLLED_BACK, "web": Outcome.ROLLED_BACK,
                                "worker": Outcome.UNCHANGED}
    assert {s: engine.images(s) for s in ("web", "api", "worker", "new")} == \
        {"web": ["v1"], "api": ["v1"], "worker": ["v1"], "new": []}
    web = {s.name: s for s in result.services}["web"]
    # Either web finished first and the revert put it back, or it was cancelled while monitored and
    # rolled itself back: the threads decide which; both end with v1 running.
    assert "api failed" in web.message and "--atomic" in web.message
    rolled_back = sorted(e.service for e in engine.events if e.event is Event.ROLLED_BACK)
    assert rolled_back == ["api", "new", "web"]   # the next unattended sync holds the whole commit
    assert ExitCode.of(result.result) is ExitCode.ROLLED_BACK


def test_atomic_with_nothing_failing_is_a_plain_sync():
    engine = FakeEngine()
    _, result = sync(engine, desired(("web", "v1"), ("api", "v1")), atomic=True)
    assert result.result is RunOutcome.APPLIED


def test_rollback_pins_the_previous_revision_until_git_moves_on():
    engine = FakeEngine()
    sync(engine, desired(("web", "v1")))
    v2 = desired(("web", "v2"), commit="c2")
    sync(engine, v2)
    the_plan, result = operations.rollback(v2, engine, "web", runtime=engine.clock.runtime())
    assert result.result is RunOutcome.APPLIED and engine.images("web") == ["v1"]
    assert [e.event for e in engine.events][-2:] == [Event.PINNED, Event.DEPLOYED]
    again, _ = sync(engine, v2)
    assert again.services[0].pinned is not None and engine.images("web") == ["v1"]   # held by the pin
    assert operations.status(v2, engine)[0].note.startswith("rolled back to revision 1")
    assert operations.clear_pin(v2, engine, "web") == operations.PinCleared(True, 0)
    sync(engine, v2)
    assert engine.images("web") == ["v2"]


def test_rollback_to_a_revision_that_fails_again_drops_the_pin():
    engine = FakeEngine()
    sync(engine, desired(("web", "v1")))
    v2 = desired(("web", "v2"), commit="c2")
    sync(engine, v2)
    engine.behaviours["v1"] = NEVER_READY
    _, result = operations.rollback(v2, engine, "web", to=1, runtime=engine.clock.runtime())
    assert result.result is RunOutcome.ROLLED_BACK and engine.images("web") == ["v2"]
    assert [e.event for e in engine.events][-3:] == [Event.PINNED, Event.ROLLED_BACK, Event.UNPINNED]


@pytest.mark.parametrize("service, to, message", [
    ("web", None, "service 'web' has no earlier deployed revision to roll back to"),
    ("web", 7, "service 'web' has no revision 7"),
    ("nope", None, "no service 'nope' in project shop"),
])
def test_rollback_refuses_what_does_not_exist(service, to, message):
    engine = FakeEngine()
    state = desired(("web", "v1"))
    sync(engine, state)
    with pytest.raises(NotFound, match=message):
        operations.rollback(state, engine, service, to=to, runtime=engine.clock.runtime())


def test_status_and_history_read_the_engine():
    engine = FakeEngine()
    state = desired(("web", "v1"), replicas=2)
    sync(engine, state)
    row = operations.status(state, engine)[0]
    assert (row.name, row.running, row.desired, row.synced) == ("web", 2, 2, True)
    engine.replicas.pop(engine.names("web")[0])
    row = operations.status(state, engine)[0]
    assert (row.running, row.synced, row.pending) == (1, False, ServiceAction.REPAIR)
    assert [(e.service, e.revision) for e in operations.history(state, engine, "web")] == [("web", 1)]
    assert operations.history(state, engine, "other") == ()


def test_a_held_service_whose_repair_fails_is_not_rolled_forward_to_the_failed_revision():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    sync(engine, desired(("web", "v1"), replicas=2))
    v2 = desired(("web", "v2"), replicas=2, commit="c2")
    sync(engine, v2)                                         # fails, rolled back, remembered
    v2_spec = v2.services[0]
    engine.confirm_replica(engine.start_replica("shop", "c2" * 20, v2_spec, 1))   # a confirmed leftover...
    engine.behaviours["v1"] = UNHEALTHY                      # ...and v1 cannot come back in its slot now
    _, result = sync(engine, v2)
    assert result.services[0].outcome is Outcome.FAILED
    assert sorted(engine.images("web")) != ["v2", "v2"]


def test_a_held_service_keeps_the_count_that_ran():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    sync(engine, desired(("web", "v1"), replicas=2))
    scaled = desired(("web", "v2"), replicas=4, commit="c2")
    sync(engine, scaled)
    assert engine.images("web") == ["v1", "v1"]
    the_plan, _ = sync(engine, scaled)
    assert the_plan.services[0].action is ServiceAction.HELD and engine.images("web") == ["v1", "v1"]


def test_atomic_stopped_by_the_user_reverts_nothing_and_remembers_no_failure():
    engine = FakeEngine()
    sync(engine, desired(("web", "v1"), ("api", "v1"), replicas=2))
    asked = []
    engine.on_start = lambda name: asked.append(name)
    _, result = sync(engine, desired(("web", "v2"), ("api", "v2"), replicas=2, commit="c2"), atomic=True,
                     stop_requested=lambda: "stopped by the user (Ctrl-C)" if asked else None)
    assert all(s.abandoned for s in result.services if s.outcome is not Outcome.APPLIED)
    assert not [e for e in engine.events if e.event is Event.ROLLED_BACK]


def test_status_says_what_runs_and_apart_what_git_declares():
    """v2 runs, v3 failed and was rolled back: status shows v2 (revision 2) running, and that Git declares v3
    (revision 3), held; after a drift repair every replica runs one template, so the commit is not 'mixed'."""
    engine = FakeEngine(behaviours={"v3": UNHEALTHY})
    for image, commit in (("v1", "c1"), ("v2", "c2"), ("v3", "c3")):
        sync(engine, desired(("web", image), replicas=2, commit=commit))
    seen = operations.overview(desired(("web", "v3"), replicas=2, commit="c3"), engine)
    (web,) = seen.services
    assert (web.image, web.revision, web.commit) == ("v2", 2, "c2" * 20)
    assert (web.declared_image, web.declared_revision, web.synced, web.pending) == ("v3", 3, False, ServiceAction.HELD)
    assert web.note.startswith("Git declares revision 3 (v3), which failed and was rolled back")
    assert not seen.healthy
    engine.replicas.pop(engine.names("web")[0])                # drift: a replica removed by hand
    sync(engine, desired(("web", "v2"), replicas=2, commit="c4"))   # repaired from a later commit
    (web,) = operations.overview(desired(("web", "v2"), replicas=2, commit="c4"), engine).services
    assert (web.image, web.revision, web.commit, web.synced) == ("v2", 2, "c2" * 20, True)


def test_clearing_a_pin_says_when_git_declares_a_revision_that_failed():
    """rollback --clear must not promise a rollout the next sync will hold."""
    engine = FakeEngine(behaviours={"v3": UNHEALTHY})
    sync(engine, desired(("web", "v1")))
    sync(engine, desired(("web", "v2"), commit="c2"))
    v3 = desired(("web", "v3"), commit="c3")
    sync(engine, v3)                                              # fails: revision 3 is held
    operations.rollback(v3, engine, "web", to=1, runtime=engine.clock.runtime())
    assert operations.clear_pin(v3, engine, "web") == operations.PinCleared(True, 3)


def test_restart_is_rolling_and_health_gated():
    """Three replicas, parallelism 1: each comes back healthy before the next restarts; one that does not
    come back ends the restart, and the replicas after it are left running."""
    engine = FakeEngine()
    state = desired(("web", "v1"), replicas=3)
    sync(engine, state)
    engine.log.clear()
    result = operations.restart(state, engine, "web", runtime=engine.clock.runtime())
    assert (result.outcome, result.message) == (Outcome.APPLIED, "3 replicas restarted, 1 at a time; all ready")
    assert [line.split()[0] for line in engine.log if line.split()[0] in ("restart", "confirm")] == ["restart"] * 3
    assert engine.names("web") == sorted(engine.names("web"))   # the same containers
    second = engine.names("web")[1]
    engine.replica_behaviours[second] = UNHEALTHY
    failed = operations.restart(state, engine, "web", runtime=engine.clock.runtime())
    assert failed.outcome is Outcome.FAILED
    assert failed.message.startswith(f"replica {second} health check reported unhealthy after its restart; 1 "
                                     "restarted before it are ready, 1 not restarted")
    with pytest.raises(NotFound, match="no running replica"):
        operations.restart(desired(("web", "v1"), replicas=0), FakeEngine(), "web", runtime=engine.clock.runtime())


def test_restart_never_stops_every_replica_at_once():
    """parallelism 5 with 2 replicas: still one at a time (a restart stops replicas in place)."""
    engine = FakeEngine()
    state = DesiredState("shop", "c1" * 20, (ServiceSpec("web", "v1", replicas=2, health=CHECK,
                                                         update=UpdatePolicy(parallelism=5, monitor=2.0)),))
    sync(engine, state)
    result = operations.restart(state, engine, "web", runtime=engine.clock.runtime())
    assert result.message == "2 replicas restarted, 1 at a time; all ready"
