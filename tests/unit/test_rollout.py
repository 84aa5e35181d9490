"""Whole rollouts against the fake engine, in fake time: each case is one story of a service update.

The same stories run on the real engine in tests/integration/test_rollout.py;
here they run in milliseconds, so every branch of the rollout gets a case.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from gitdeploy.core.model import DesiredState, FailureAction, HealthCheck, ServiceSpec, UpdateOrder, UpdatePolicy
from gitdeploy.core.plan import ServiceAction, plan
from gitdeploy.core.results import Outcome
from gitdeploy.rollout import Rollout
from gitdeploy.core.readiness import PASSED, ProbeOutcome, ReplicaProbe
from tests.fake_engine import CRASHES, DIES_IN_MONITOR, GOOD, NEVER_READY, RUNS, UNHEALTHY, FakeEngine, Killed

CHECK = HealthCheck(exec=("true",), interval=1.0, timeout=1.0, retries=2)
POLICY = UpdatePolicy(monitor=2.0, progress_deadline=30.0)


def web(image: str, replicas: int = 2, **policy) -> ServiceSpec:
    return ServiceSpec("web", image, replicas=replicas, health=CHECK, update=replace(POLICY, **policy))


def deployed(engine: FakeEngine, spec: ServiceSpec, commit: str = "c1") -> None:
    """`spec` runs, started long ago, as a finished sync would leave it."""
    for slot in range(1, spec.replicas + 1):
        engine.confirm_replica(engine.start_replica("shop", commit, spec, slot))
    engine.clock.sleep(60)
    engine.log.clear()
    engine.starts = 0


def roll_out(engine: FakeEngine, spec: ServiceSpec, commit: str = "c2", probe=lambda check, address: PASSED,
             **hooks):
    service = plan(DesiredState("shop", commit, (spec,)), engine.observe("shop")).services[0]
    lines: list[str] = []
    report = Rollout("shop", service, engine, lines.append, engine.clock.runtime(probe), **hooks).run()
    return service, report, lines


# (id, behaviour of v2, policy, outcome, message contains, images after)
CASES = [
    ("good update", GOOD, {}, Outcome.APPLIED, "2 started, 2 removed; 2 ready", ["v2", "v2"]),
    ("failing health check", UNHEALTHY, {}, Outcome.ROLLED_BACK,
     "health check reported unhealthy; rolled back to the previous revision", ["v1", "v1"]),
    ("exit during monitor", DIES_IN_MONITOR, {}, Outcome.ROLLED_BACK, "exited with code 137; rolled back", ["v1", "v1"]),
    ("deadline", NEVER_READY, {"progress_deadline": 10.0}, Outcome.ROLLED_BACK,
     "was not ready within the progress deadline (10s): waiting for a passing health check", ["v1", "v1"]),
    ("stop-first good", GOOD, {"order": UpdateOrder.STOP_FIRST}, Outcome.APPLIED, "2 ready", ["v2", "v2"]),
    ("stop-first crash", CRASHES, {"order": UpdateOrder.STOP_FIRST}, Outcome.ROLLED_BACK,
     "exited with code 1; rolled back to the previous revision", ["v1", "v1"]),
    ("start-first in batches of two", GOOD, {"parallelism": 2}, Outcome.APPLIED, "2 ready", ["v2", "v2"]),
    ("pause leaves it for inspection", UNHEALTHY, {"failure_action": FailureAction.PAUSE}, Outcome.FAILED,
     "rollout paused (failureAction: pause), nothing rolled back", ["v1", "v2", "v1"]),
]


@pytest.mark.parametrize("behaviour, policy, outcome, message, after", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_update_of_two_replicas(behaviour, policy, outcome, message, after):
    engine = FakeEngine(behaviours={"v2": behaviour})
    deployed(engine, web("v1", **policy))
    service, report, lines = roll_out(engine, web("v2", **policy))
    assert service.action is ServiceAction.UPDATE
    assert report.outcome is outcome, lines
    assert message in report.message
    assert engine.images("web") == after
    assert engine.clock.now - 1060 < 60, "fake time only: a rollout that waits for real would hang here"


def test_start_first_never_drops_below_the_replica_count():
    engine = FakeEngine()
    deployed(engine, web("v1", replicas=3))
    _, report, _ = roll_out(engine, web("v2", replicas=3))
    assert report.outcome is Outcome.APPLIED
    assert engine.lowest_running["web"] >= 3
    # Each old replica goes only after its successor started.
    starts = [line for line in engine.log if line.startswith("start")]
    assert engine.log.index(starts[0]) < engine.log.index("remove shop_web-1-" + web("v1").template_hash()[:7])


def test_a_failed_start_first_update_keeps_the_old_replicas_themselves():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    deployed(engine, web("v1"))
    before = engine.names("web")
    roll_out(engine, web("v2"))
    assert engine.names("web") == before


def test_stop_first_keeps_replicas_minus_parallelism_and_restores_the_stopped_slot():
    engine = FakeEngine(behaviours={"v2": CRASHES})
    deployed(engine, web("v1", replicas=3, order=UpdateOrder.STOP_FIRST))
    _, report, lines = roll_out(engine, web("v2", replicas=3, order=UpdateOrder.STOP_FIRST))
    assert report.outcome is Outcome.ROLLED_BACK
    assert engine.lowest_running["web"] >= 2
    assert "rolling back 1 replica(s) to the previous revision" in lines
    assert report.failure.detail == "the container exited with code 1\nlast log lines:\nlog of shop_web-1-" + \
        web("v2").template_hash()[:7] + "-pending"


def test_a_later_batch_failing_puts_the_earlier_batches_back_too():
    engine = FakeEngine()
    deployed(engine, web("v1", replicas=3))
    engine.on_start = lambda name: engine.replica_behaviours.update({name: UNHEALTHY}) if "-3-" in name else None
    _, report, lines = roll_out(engine, web("v2", replicas=3))
    assert report.outcome is Outcome.ROLLED_BACK, lines
    assert engine.images("web") == ["v1", "v1", "v1"]
    assert "rolling back 2 replica(s) to the previous revision" in lines


def test_a_new_service_that_never_gets_ready_is_removed_again():
    engine = FakeEngine(behaviours={"v4": CRASHES})
    service, report, _ = roll_out(engine, web("v4"))
    assert service.action is ServiceAction.CREATE
    assert (report.outcome, engine.images("web")) == (Outcome.ROLLED_BACK, [])
    assert report.message.endswith("the new service was removed again")


def test_when_the_previous_revision_fails_too_the_rollout_failed():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})
    deployed(engine, web("v1"))
    engine.behaviours["v1"] = CRASHES   # e.g. a dependency of v1 went away meanwhile
    _, report, _ = roll_out(engine, web("v2"))
    assert report.outcome is Outcome.FAILED
    assert "rollback failed too: replica shop_web-1-" in report.message


def test_gitdeploys_own_http_probe_gates_the_rollout():
    engine = FakeEngine(behaviours={"v2": RUNS, "v1": RUNS})
    http = replace(CHECK, exec=None, http_port=80, retries=3)
    deployed(engine, replace(web("v1"), health=http))
    answer = ProbeOutcome(False, "GET http://{address}:80/ answered HTTP 503, not 200")
    _, report, _ = roll_out(engine, replace(web("v2"), health=http), probe=lambda check, address: answer)
    assert report.outcome is Outcome.ROLLED_BACK
    assert "3 http health checks failed in a row: the last: GET http://{address}:80/ answered HTTP 503" in report.message
    # Said again in the detail, with the replica's last log lines.
    assert report.failure.detail.splitlines()[:2] == [f"last health check: {answer.why}", "last log lines:"]


def test_a_newer_commit_abandons_a_rollout_stuck_on_health():
    engine = FakeEngine(behaviours={"v2": NEVER_READY})
    deployed(engine, web("v1"))
    _, report, _ = roll_out(engine, web("v2"), should_abort=lambda: "commit abc landed")
    assert report.outcome is Outcome.ROLLED_BACK and report.failure.abandoned
    assert "was abandoned: commit abc landed" in report.message
    assert engine.images("web") == ["v1", "v1"]


def test_interrupted_then_resumed_checks_every_replica_it_did_not_see_pass():
    engine = FakeEngine()
    deployed(engine, web("v1"))
    engine.kill_at_start = 2   # gitdeploy is killed while starting slot 2, slot 1's new replica still monitored
    with pytest.raises(Killed):
        roll_out(engine, web("v2"))
    engine.clock.sleep(60)
    assert sorted(engine.images("web")) == ["v1", "v1", "v2"]   # slot 1 surged, nothing removed yet
    service, report, _ = roll_out(engine, web("v2"))
    assert [s.reason for s in service.steps if hasattr(s, "slot")] == \
        ["replaces an unconfirmed replica", "replaces outdated"]
    assert report.outcome is Outcome.APPLIED
    assert engine.images("web") == ["v2", "v2"]
    assert not any(name.endswith("-pending") for name in engine.names("web"))


def test_a_replica_confirmed_before_the_kill_is_kept():
    engine = FakeEngine()
    stop_first = {"order": UpdateOrder.STOP_FIRST}
    deployed(engine, web("v1", **stop_first))
    engine.kill_at_start = 2   # stop-first: slot 1 was confirmed, slot 2's old replica stopped, then the kill
    with pytest.raises(Killed):
        roll_out(engine, web("v2", **stop_first))
    assert engine.images("web") == ["v2"]
    service, report, _ = roll_out(engine, web("v2", **stop_first))
    assert [s.reason for s in service.steps] == ["missing"]
    assert report.outcome is Outcome.APPLIED and engine.images("web") == ["v2", "v2"]


def test_a_pruned_service_is_removed_without_gating():
    engine = FakeEngine()
    deployed(engine, web("v1"))
    service = plan(DesiredState("shop", "c2", ()), engine.observe("shop")).services[0]
    report = Rollout("shop", service, engine, lambda m: None, engine.clock.runtime()).run()
    assert (report.outcome, report.message, engine.images("web")) == (Outcome.APPLIED, "2 removed", [])


def test_a_stop_request_finishes_the_batch_in_flight_and_starts_no_other():
    engine = FakeEngine()
    deployed(engine, web("v1", replicas=3))
    asked = []
    engine.on_start = lambda name: asked.append(name)
    _, report, _ = roll_out(engine, web("v2", replicas=3), stop_requested=lambda: "stopped" if asked else None)
    assert report.outcome is Outcome.FAILED and report.failure.abandoned
    assert report.message == "stopped after 1 of 3 batches; the other slots still run the previous revision"
    assert engine.images("web") == ["v2", "v1", "v1"]
    assert not any(name.endswith("-pending") for name in engine.names("web"))


def test_start_first_surges_at_most_two_batches():
    engine = FakeEngine()
    deployed(engine, web("v1", replicas=4, monitor=10.0))
    _, report, _ = roll_out(engine, web("v2", replicas=4, monitor=10.0))
    assert report.outcome is Outcome.APPLIED
    assert engine.most_replicas["web"] <= 4 + 2, "more than two batches of one replica surged at once"


def test_an_early_exec_check_makes_a_replica_ready_before_the_engines_first_check():
    engine = FakeEngine(early_check_passes={"v2": 0.25})   # the engine's own check passes only at 1 s (GOOD)
    deployed(engine, web("v1"))
    start = engine.clock.now
    _, report, _ = roll_out(engine, web("v2", parallelism=2))
    assert report.outcome is Outcome.APPLIED
    assert engine.clock.now - start < 1.0 + POLICY.monitor, "ready on the early pass plus the monitor period"
    ages = [age for _, age in engine.early_checks]
    assert ages and min(ages) < 0.2 and all(age < 1.0 for age in ages)


def test_an_early_pass_alone_never_makes_a_replica_ready():
    # The engine's first check (at its 30 s interval) fails for good; our early check passed at once.
    slow = replace(CHECK, interval=30.0, timeout=2.0)
    fails_late = [(0.0, ReplicaProbe("running", health="starting")),
                  (60.0, ReplicaProbe("running", health="unhealthy", health_exit_code=1))]
    engine = FakeEngine(behaviours={"v2": fails_late}, early_check_passes={"v2": 0.0})
    deployed(engine, web("v1"))
    spec = replace(web("v2", monitor=5.0, progress_deadline=120.0), health=slow)
    _, report, _ = roll_out(engine, spec)
    assert report.outcome is Outcome.ROLLED_BACK
    assert engine.images("web") == ["v1", "v1"]


def test_early_checks_that_fail_do_not_fail_a_replica_sooner():
    engine = FakeEngine(behaviours={"v2": UNHEALTHY})   # early checks fail; the engine says unhealthy at 3 s
    deployed(engine, web("v1"))
    start = engine.clock.now
    _, report, _ = roll_out(engine, web("v2"))
    assert report.outcome is Outcome.ROLLED_BACK
    assert engine.clock.now - start >= 3.0
    gaps = [b - a for (_, a), (_, b) in zip(engine.early_checks, engine.early_checks[1:]) if b > a]
    assert len(engine.early_checks) <= 2 * 4, "a few per replica, gaps doubling up to the interval"
    assert max(gaps, default=0) <= CHECK.interval + 0.1
