"""Readiness of a new replica from a sequence of observations (pure, time passed in)."""
from gitdeploy.core.model import HealthCheck
from gitdeploy.core.readiness import ProbeOutcome, ReplicaProbe, ReplicaWatch, Verdict

RUNNING = ReplicaProbe("running")
REFUSED = "GET http://10.0.0.2:80/: connection refused (nothing listens on that port)"


def verdicts(watch, observations):
    """(now, what the engine says, gitdeploy's probe: True, False (refused), or None (none due))."""
    return [watch.observe(probe, now, None if ok is None else ProbeOutcome(ok, "" if ok else REFUSED)).verdict.value
            for now, probe, ok in observations]


def test_without_any_check_ready_after_running_for_monitor():
    watch = ReplicaWatch(None, monitor=2.0, started_at=0.0)
    assert verdicts(watch, [(0.0, RUNNING, None), (1.0, RUNNING, None), (2.0, RUNNING, None)]) == \
        ["waiting", "waiting", "ready"]


def test_engine_health_must_hold_for_monitor():
    watch = ReplicaWatch(HealthCheck(exec=("true",), interval=1.0), monitor=2.0, started_at=0.0)
    healthy, starting = ReplicaProbe("running", health="healthy"), ReplicaProbe("running", health="starting")
    assert verdicts(watch, [(0, starting, None), (1, healthy, None), (2, starting, None), (3, healthy, None),
                            (5, healthy, None)]) == ["waiting", "waiting", "waiting", "waiting", "ready"]


def test_unhealthy_exited_and_restarted_fail_at_once():
    check = HealthCheck(exec=("true",))
    unhealthy = ReplicaWatch(check, 1, 0).observe(ReplicaProbe("running", health="unhealthy", health_exit_code=1), 0)
    assert (unhealthy.verdict, unhealthy.reason) == (Verdict.FAILED, "health check reported unhealthy (exit code 1)")
    exited = ReplicaWatch(None, 1, 0).observe(ReplicaProbe("exited", exit_code=3), 0)
    assert (exited.verdict, exited.reason) == (Verdict.FAILED, "exited with code 3")
    watch = ReplicaWatch(None, 5, 0)
    watch.observe(ReplicaProbe("running", restart_count=0), 0)
    assert watch.observe(ReplicaProbe("running", restart_count=1, exit_code=1), 1).verdict is Verdict.FAILED


def test_http_probe_retries_and_start_period():
    check = HealthCheck(http_port=80, interval=1.0, retries=2, start_period=3.0)
    watch = ReplicaWatch(check, monitor=1.0, started_at=0.0)
    # failures inside the start period do not fail the replica; a pass resets the count
    assert verdicts(watch, [(1, RUNNING, False), (2, RUNNING, False), (3, RUNNING, True), (4, RUNNING, None),
                            (4.5, RUNNING, False), (5, RUNNING, True), (6, RUNNING, True)]) == \
        ["waiting", "waiting", "waiting", "ready", "waiting", "waiting", "ready"]
    failing = ReplicaWatch(check, monitor=1.0, started_at=0.0)
    assert verdicts(failing, [(3, RUNNING, False), (4, RUNNING, False)]) == ["waiting", "failed"]
    assert failing.last.reason == f"2 http health checks failed in a row: the last: {REFUSED}"


def test_an_early_exec_check_that_passes_counts_until_the_engine_has_checked():
    watch = ReplicaWatch(HealthCheck(exec=("true",), interval=5.0), monitor=1.0, started_at=0.0)
    starting = ReplicaProbe("running", health="starting")
    assert watch.checks_early(starting)
    assert verdicts(watch, [(0.1, starting, False), (0.4, starting, True)]) == ["waiting", "waiting"]
    assert not watch.checks_early(starting), "one pass is enough: no more early checks"
    assert watch.healthy, "healthy at once: the monitor clock runs, the next batch may start"
    healthy = ReplicaProbe("running", health="healthy", health_exit_code=0)
    assert verdicts(watch, [(1.0, starting, None), (1.5, starting, None), (5.0, healthy, None)]) == \
        ["waiting", "waiting", "ready"], "ready only once the engine itself has said healthy"


def test_an_early_check_never_fails_a_replica_and_the_engine_has_the_last_word():
    check = HealthCheck(exec=("true",), interval=1.0, retries=2)
    watch = ReplicaWatch(check, monitor=1.0, started_at=0.0)
    starting = ReplicaProbe("running", health="starting")
    assert verdicts(watch, [(0.1, starting, False), (0.3, starting, False), (0.7, starting, False)]) == \
        ["waiting"] * 3, "failures while starting up count for nothing"
    # The engine's first check failed (still "starting", short of `retries`): an earlier pass of ours is void.
    passed = ReplicaWatch(check, monitor=1.0, started_at=0.0)
    verdicts(passed, [(0.1, starting, True)])
    failed_once = ReplicaProbe("running", health="starting", health_exit_code=1)
    assert not passed.checks_early(failed_once)
    assert verdicts(passed, [(1.0, failed_once, None), (2.0, failed_once, None)]) == ["waiting", "waiting"]
    assert not ReplicaWatch(HealthCheck(http_port=80), 1.0, 0.0).checks_early(starting), "http: probed anyway"
    assert not ReplicaWatch(None, 1.0, 0.0).checks_early(starting), "the image's HEALTHCHECK: not ours to run"
