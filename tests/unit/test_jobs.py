"""Jobs and start order, against the fake engine: a migration runs once per template, in dependency
order; a failure holds what depends on it; removals go dependents first."""
from __future__ import annotations

from dataclasses import replace

import pytest

from gitdeploy.apply import apply_plan
from gitdeploy.core import order
from gitdeploy.core.actions import ServiceAction
from gitdeploy.core.history import Event, History
from gitdeploy.core.model import DesiredState, HealthCheck, JobSpec, ServiceSpec, UpdatePolicy
from gitdeploy.core.plan import plan
from gitdeploy.core.results import Outcome, RunOutcome
from tests.fake_engine import JOB_FAILS, JOB_SUCCEEDS, UNHEALTHY, FakeEngine

CHECK = HealthCheck(exec=("true",), interval=1.0, timeout=1.0)
POLICY = UpdatePolicy(monitor=2.0, progress_deadline=30.0)


def svc(name: str, image: str = "v1", depends_on: tuple[str, ...] = ()) -> ServiceSpec:
    return ServiceSpec(name, image, health=CHECK, update=POLICY, depends_on=depends_on)


def job(name: str, image: str = "m1", depends_on: tuple[str, ...] = (), retries: int = 0,
        timeout: float = 60.0) -> JobSpec:
    return JobSpec(ServiceSpec(name, image, restart="no", depends_on=depends_on), timeout, retries)


def three_tier(api: str = "v1", migrate: str = "m1") -> tuple:
    return svc("db"), job("migrate", migrate, ("db",)), svc("api", api, ("db", "migrate"))


def desired_of(*units) -> DesiredState:
    services = tuple(sorted((u for u in units if isinstance(u, ServiceSpec)), key=lambda s: s.name))
    jobs = tuple(sorted((u for u in units if isinstance(u, JobSpec)), key=lambda j: j.name))
    return DesiredState("shop", "c" * 40, services, jobs=jobs)


def run(engine: FakeEngine, *units, retry_failed: bool = False):
    the_plan = plan(desired_of(*units), engine.observe("shop"), history=History(tuple(engine.events)),
                    retry_failed=retry_failed)
    return the_plan, apply_plan(the_plan, engine, runtime=engine.clock.runtime())


def outcomes(result) -> dict[str, str]:
    return {s.name: s.outcome.value for s in result.services}


def started(engine: FakeEngine) -> list[str]:
    """Services and jobs in the order their first container started."""
    seen = []
    for line in engine.log:
        if line.startswith(("start ", "run ")):
            seen.append(line.split(" ", 1)[1].split("_", 1)[1].split("-")[0])   # shop_db-1-..., shop_migrate-run-...
    return list(dict.fromkeys(seen))


def test_first_sync_converges_in_dependency_order():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS})
    _, result = run(engine, *three_tier())
    assert outcomes(result) == {"api": "applied", "db": "applied", "migrate": "applied"}
    assert started(engine) == ["db", "migrate", "api"]
    assert [e.event for e in engine.events if e.service == "migrate"] == [Event.SUCCEEDED]
    assert [e.exit_code for e in engine.events if e.service == "migrate"] == [0]


def test_a_succeeded_job_is_not_run_again_and_an_api_change_does_not_run_it():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS})
    run(engine, *three_tier())
    engine.log.clear()
    the_plan, result = run(engine, *three_tier(api="v2"))
    assert {j.name: j.action for j in the_plan.jobs} == {"migrate": ServiceAction.UNCHANGED}
    assert outcomes(result) == {"api": "applied", "db": "unchanged", "migrate": "unchanged"}
    assert not any(line.startswith("run ") for line in engine.log)


def test_a_new_job_image_runs_it_before_the_api_update_and_replaces_its_kept_container():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS, "m2": JOB_SUCCEEDS})
    run(engine, *three_tier())
    engine.log.clear()
    the_plan, result = run(engine, *three_tier(api="v2", migrate="m2"))
    migrate = next(j for j in the_plan.jobs if j.name == "migrate")
    assert (migrate.action, migrate.reason) == (ServiceAction.RUN, "image changed")
    assert order.waves(the_plan.units) == (("migrate",), ("api",))
    assert started(engine) == ["migrate", "api"]
    assert engine.log.index(next(x for x in engine.log if x.startswith("remove shop_migrate-run"))) < \
        engine.log.index(next(x for x in engine.log if x.startswith("run shop_migrate-run")))
    assert len(engine.observe("shop").runs) == 1


def test_a_failing_job_holds_what_depends_on_it_and_is_not_rerun():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS, "m2": JOB_FAILS})
    run(engine, *three_tier())
    _, result = run(engine, *three_tier(api="v2", migrate="m2"))
    assert outcomes(result) == {"api": "blocked", "db": "unchanged", "migrate": "failed"}
    api = next(s for s in result.services if s.name == "api")
    assert (api.blocked_by, api.message) == ("migrate", "blocked by migrate: not changed in this run")
    assert "exit code 1" in next(s for s in result.services if s.name == "migrate").detail
    assert result.result is RunOutcome.FAILED
    assert engine.images("api") == ["v1"]
    engine.log.clear()
    the_plan, again = run(engine, *three_tier(api="v2", migrate="m2"))
    assert next(j for j in the_plan.jobs if j.name == "migrate").action is ServiceAction.HELD
    assert outcomes(again)["api"] == "blocked" and again.result is RunOutcome.FAILED
    assert not any(line.startswith(("run ", "start ")) for line in engine.log)
    _, retried = run(engine, *three_tier(api="v2", migrate="m2"), retry_failed=True)
    assert outcomes(retried)["migrate"] == "failed"


def test_a_rolled_back_dependency_blocks_its_dependents_and_the_run_exits_as_rolled_back():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS, "m2": JOB_SUCCEEDS, "bad": UNHEALTHY})
    run(engine, *three_tier())
    db, migrate, api = three_tier(api="v2", migrate="m2")
    _, result = run(engine, replace(db, image="bad"), migrate, api)
    assert outcomes(result) == {"api": "blocked", "db": "rolled_back", "migrate": "blocked"}
    assert {s.name: s.blocked_by for s in result.services if s.blocked_by} == {"api": "db", "migrate": "db"}
    assert result.result is RunOutcome.ROLLED_BACK


def test_a_wait_passes_through_a_dependency_with_nothing_to_do():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS, "bad": UNHEALTHY})
    run(engine, *three_tier())
    db, migrate, api = three_tier(api="v2")
    the_plan, result = run(engine, replace(db, image="bad"), migrate, api)
    assert order.waves(the_plan.units) == (("db",), ("api",))
    assert outcomes(result) == {"api": "blocked", "db": "rolled_back", "migrate": "unchanged"}


def test_retries_and_timeout():
    engine = FakeEngine(behaviours={"m1": JOB_FAILS, "slow": [(0.0, JOB_SUCCEEDS[0][1])]})
    _, result = run(engine, job("migrate", retries=2))
    migrate = result.services[0]
    assert (migrate.outcome, migrate.message) == (Outcome.FAILED, "revision 1: exited with code 1 (after 3 attempts)")
    assert sum(line.startswith("run ") for line in engine.log) == 3
    engine = FakeEngine(behaviours={"slow": [(0.0, JOB_SUCCEEDS[0][1])]})
    _, result = run(engine, job("migrate", "slow", timeout=5.0))
    assert result.services[0].message == "revision 1: ran past its timeout (5s) and was killed"
    assert any(line.startswith("kill ") for line in engine.log)
    assert engine.events[-1].exit_code == 137 and engine.events[-1].event is Event.FAILED


def test_prune_removes_dependents_before_their_dependencies():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS})
    run(engine, *three_tier(), svc("web"))
    engine.log.clear()
    the_plan, result = run(engine, svc("web"))
    assert {u.name: u.action for u in the_plan.units if u.work} == {
        "api": ServiceAction.REMOVE, "db": ServiceAction.REMOVE, "migrate": ServiceAction.REMOVE}
    assert order.waves(the_plan.units) == (("api",), ("migrate",), ("db",))
    removed = [line.split(" ", 1)[1].split("_", 1)[1].split("-")[0] for line in engine.log if line.startswith("remove")]
    assert removed == ["api", "migrate", "db"]
    assert not engine.observe("shop").runs


@pytest.mark.parametrize("kept, history, expected", [
    ("none", "none", (ServiceAction.RUN, "never ran")),
    # Both speak: the newer one is the last run (a container older than the record is that run's own).
    ("running since 1.0", "succeeded", (ServiceAction.UNCHANGED, "succeeded")),
    ("running since 9.0", "succeeded", (ServiceAction.RUN, "its last run is still running: waiting for it")),
    ("succeeded since 9.0", "failed", (ServiceAction.UNCHANGED, "succeeded")),
    ("succeeded", "none", (ServiceAction.UNCHANGED, "succeeded")),
    ("running", "none", (ServiceAction.RUN, "its last run is still running: waiting for it")),
    ("none", "succeeded", (ServiceAction.UNCHANGED, "succeeded")),
    ("none", "failed", (ServiceAction.HELD, "its last run, revision 1 of this template, failed (exit code 1); not "
                                             "run again until the manifest changes (or run with --retry-failed)")),
])
def test_whether_a_job_runs(kept, history, expected):
    """A table: the job's kept container and its history record -> what the plan does."""
    from gitdeploy.core.history import RevisionEvent
    from gitdeploy.core.observed import ObservedReplica

    spec = job("migrate")
    state, _, since = kept.partition(" since ")
    containers = () if kept == "none" else (ObservedReplica(
        "id", "shop_migrate-run-x", "migrate", 0, spec.template_hash(), spec.run.template_json(), "c" * 40, "m1",
        "exited" if state == "succeeded" else "running", "Exited (0) 1 minute ago" if state == "succeeded" else "Up",
        created=float(since or 0)),)
    events = () if history == "none" else (RevisionEvent.of_rollout(
        spec.run, 1, Event.SUCCEEDED if history == "succeeded" else Event.FAILED, "c" * 40, 5.0, "",
        0 if history == "succeeded" else 1),)
    from gitdeploy.core.jobs import plan_job

    planned = plan_job(spec, containers, "c" * 40, History(events), retry_failed=False)
    assert (planned.action, planned.reason) == expected


def test_a_volume_only_a_job_mounts_is_in_use_not_kept():
    """`sync --prune-volumes` removes kept volumes: one a declared job mounts must never be among them."""
    from gitdeploy.core.model import Mount, MountKind, VolumeSpec
    from gitdeploy.core.observed import ObservedState
    from gitdeploy.core.status import VolumeState, volume_statuses

    migrate = JobSpec(ServiceSpec("migrate", "m1", restart="no",
                                  mounts=(Mount(MountKind.VOLUME, "/data", "shop_data"),)))
    desired = replace(desired_of(svc("web"), migrate), volumes=(VolumeSpec("data", "shop_data"),))
    (row,) = volume_statuses(desired, (), ObservedState("shop", ()))
    assert (row.state, row.mounted_by) == (VolumeState.IN_USE, ("migrate",))


def test_a_service_that_becomes_a_job_and_back_is_one_thing_at_a_time():
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS})
    run(engine, svc("migrate"))
    the_plan, result = run(engine, job("migrate"))
    assert [u.name for u in the_plan.units] == ["migrate"]
    assert outcomes(result) == {"migrate": "applied"}
    assert not engine.observe("shop").replicas and len(engine.observe("shop").runs) == 1
    the_plan, result = run(engine, svc("migrate", "v2"))
    assert [(u.name, u.action) for u in the_plan.units] == [("migrate", ServiceAction.CREATE)]
    assert outcomes(result) == {"migrate": "applied"}
    assert len(engine.observe("shop").replicas) == 1 and not engine.observe("shop").runs


def test_waits_that_labels_tangled_into_a_cycle_do_not_hang_a_removal():
    engine = FakeEngine()
    run(engine, svc("a", depends_on=("b",)), svc("b", depends_on=("a",)), svc("c"))   # as two commits' labels could
    the_plan, result = run(engine, svc("c"))
    assert order.waits(the_plan.units) == {"a": (), "b": (), "c": ()}
    assert outcomes(result) == {"a": "applied", "b": "applied", "c": "unchanged"}
    assert [r.service for r in engine.observe("shop").replicas] == ["c"]


def test_an_earlier_run_still_running_is_waited_for_never_cut_off():
    """A killed gitdeploy left its migration running: the next sync waits for it and takes its outcome."""
    engine = FakeEngine(behaviours={"m1": JOB_SUCCEEDS})
    spec = job("migrate")
    engine.run_job("shop", "c" * 40, spec.run)           # started by the run that was killed
    the_plan, result = run(engine, spec)
    assert next(j for j in the_plan.jobs).reason == "its last run is still running: waiting for it"
    assert outcomes(result) == {"migrate": "applied"}
    assert sum(line.startswith("run ") for line in engine.log) == 1 and not any("remove" in x for x in engine.log)
    assert [e.event for e in engine.events] == [Event.SUCCEEDED]


def test_ctrl_c_gives_up_further_attempts_but_not_the_one_running():
    engine = FakeEngine(behaviours={"m1": JOB_FAILS})
    the_plan = plan(desired_of(job("migrate", retries=3)), engine.observe("shop"), history=History())
    asked = []

    def stop():
        asked.append(1)
        return "interrupted (Ctrl-C)" if len(asked) > 1 else None   # pressed during the first attempt

    result = apply_plan(the_plan, engine, runtime=engine.clock.runtime(), stop_requested=stop)
    (migrate,) = result.services
    assert (migrate.outcome, migrate.abandoned) == (Outcome.FAILED, True)
    assert migrate.message == "interrupted (Ctrl-C) after 1 of 4 attempts"
    assert sum(line.startswith("run ") for line in engine.log) == 1 and not engine.events   # not remembered


@pytest.mark.parametrize("declared, expected", [
    ("independent branches change at the same time",
     ((("db",), ("api", "worker")))),
])
def test_waves(declared, expected):
    engine = FakeEngine()
    units = (svc("db"), svc("api", depends_on=("db",)), svc("worker", depends_on=("db",)))
    assert order.waves(plan(desired_of(*units), engine.observe("shop")).units) == expected


def test_independent_branches_run_at_the_same_time():
    """With real threads: api and worker both wait for db, then start together: each one's start waits at a
    barrier for the other's, which only a concurrent start can pass."""
    import threading

    both = threading.Barrier(2, timeout=5)
    engine = FakeEngine(on_start=lambda name: both.wait() if not name.startswith("shop_db") else None)
    units = (svc("db"), svc("api", depends_on=("db",)), svc("worker", depends_on=("db",)))
    the_plan = plan(desired_of(*units), engine.observe("shop"), history=History())
    result = apply_plan(the_plan, engine, runtime=replace(engine.clock.runtime(), services_at_once=4))
    assert outcomes(result) == {"api": "applied", "db": "applied", "worker": "applied"}
    assert started(engine)[0] == "db" and not both.broken
