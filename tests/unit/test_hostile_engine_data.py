"""Engine-side findings of issue 10 that need no engine: names, grace periods, remote engines, held diffs."""
from __future__ import annotations

import itertools

import pytest

from gitdeploy.core import labels as L
from gitdeploy.core.history import Event, History, RevisionEvent
from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.observed import ObservedState
from gitdeploy.core.plan import plan
from gitdeploy.core.revision import Revision
from gitdeploy.engine.docker import DockerEngine, _grace_period
from gitdeploy.output import console, text
from tests.unit.test_plan import running

NAMES = ["a", "b", "a-b", "b-a", "a-1", "1", "a-b-1", "x-web", "web", "advp", "advp-x"]


def test_no_two_replicas_of_different_projects_or_services_share_a_container_name():
    seen: dict[str, tuple] = {}
    for project, service, slot in itertools.product(NAMES, NAMES, range(1, 13)):
        for template_hash in ("0123456789ab", "fedcba987654"):
            name = L.replica_name(project, service, slot, template_hash)
            assert seen.setdefault(name, (project, service, slot, template_hash)) == \
                (project, service, slot, template_hash), name


@pytest.mark.parametrize("grace, seconds", [("10s", 10), ("90s", 90), ("1h", 3600), ("500ms", 1)])
def test_a_replica_is_stopped_with_its_own_grace_period(grace, seconds):
    spec = ServiceSpec("web", "v1", stop_grace_period={"10s": 10.0, "90s": 90.0, "1h": 3600.0, "500ms": 0.5}[grace])
    assert _grace_period(running(spec, 1)) == seconds


@pytest.mark.parametrize("address, reachable", [
    (None, True), ("unix:///var/run/docker.sock", True), ("tcp://127.0.0.1:2375", True), ("tcp://localhost:2375", True),
    ("tcp://10.0.0.5:2376", False), ("ssh://deploy@host", False),
])
def test_replicas_are_reachable_only_from_the_engines_own_machine(address, reachable, monkeypatch):
    if address is None:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    else:
        monkeypatch.setenv("DOCKER_HOST", address)
    assert DockerEngine().replicas_reachable() is reachable


def test_diff_of_a_held_service_says_not_in_sync(capsys):
    v1, v2 = ServiceSpec("web", "v1"), ServiceSpec("web", "v2")
    failed = RevisionEvent.of_rollout(v2, 2, Event.ROLLED_BACK, "c2", 1.0, "unhealthy")
    the_plan = plan(DesiredState("shop", "c2", (v2,)), ObservedState("shop", (running(v1, 1),)),
                    history=History((failed,)))
    assert not the_plan.in_sync and not the_plan.services[0].work
    console.stdout.cache_clear()
    text.plan(Revision("ab" * 20, "main", "", "."), the_plan)
    console.stdout.cache_clear()
    out = capsys.readouterr().out
    assert "In sync" not in out and "Not in sync: web held back" in out


def _lock(**overrides):
    import os
    import socket

    from gitdeploy.engine.docker_lock import LockInfo, _boot_id, _pid_namespace, _process_start

    fields = dict(project="shop", host=socket.gethostname(), pid=os.getpid(), command="gitdeploy sync", since=0.0,
                  expires=0.0, container_id="x", boot_id=_boot_id(), pid_namespace=_pid_namespace(),
                  started=_process_start(os.getpid()))
    return LockInfo(**(fields | overrides))


def _dead_pid() -> int:
    import subprocess

    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.mark.parametrize("overrides, gone", [
    ({}, False),                                          # this very process: alive
    ({"pid": "dead"}, True),                              # no such process
    ({"started": "1"}, True),                             # the pid was reused by another process
    ({"boot_id": "another-boot"}, True),                  # the machine rebooted since
    ({"host": "another-machine"}, False),                 # not ours to judge
    ({"pid_namespace": "pid:[1]", "pid": "dead"}, False),  # another pid namespace: its pids are not ours
    ({"pid_namespace": "", "pid": "dead"}, False),        # a lock from before pid namespaces were recorded
    ({"boot_id": "", "pid": "dead"}, False),
])
def test_a_lock_holder_counts_as_gone_only_when_provably_gone(overrides, gone):
    if overrides.get("pid") == "dead":
        overrides = overrides | {"pid": _dead_pid()}
    assert _lock(**overrides).holder_is_gone() is gone
