"""One run at a time per project and engine: the lock on the engine, on a real engine."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.integration.conftest import gitdeploy, ids

SLOW = {"update": {"monitor": "3s"}}   # a rollout that takes a few seconds


def start_sync(repo, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "gitdeploy", "sync", "--repo", str(repo.root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def wait_for_lock(api, project, timeout=30):
    deadline = time.monotonic() + timeout
    while not api.containers(all=True, filters={"label": f"io.gitdeploy.lock={project}"}):
        assert time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)


def test_two_syncs_at_once_never_both_apply(api, project, repo):
    repo.service("web", replicas=2, **SLOW)
    repo.commit()
    first = start_sync(repo)
    wait_for_lock(api, project)
    second = gitdeploy("sync", "--repo", str(repo.root))
    out, err = first.communicate(timeout=120)

    assert first.returncode == 0, out + err
    assert second.returncode == 4
    assert second.stderr.splitlines()[0].startswith(f"gitdeploy: error: project {project} is locked by ")
    assert "(gitdeploy sync) since " in second.stderr
    assert len(ids(api, project, "web")) == 2


def test_a_waiting_sync_finds_the_work_done(api, project, repo):
    repo.service("web", replicas=2, **SLOW)
    repo.commit()
    first = start_sync(repo)
    wait_for_lock(api, project)
    second = gitdeploy("sync", "--repo", str(repo.root), "--lock-timeout", "60")
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 0 and "Nothing to do" in second.stdout   # it re-read the engine under the lock
    assert len(ids(api, project, "web")) == 2


def test_the_lock_of_a_killed_run_on_this_machine_is_taken_over_at_once(api, project, repo):
    repo.service("web", **SLOW)
    repo.commit()
    killed = start_sync(repo)    # a 30 s lease: without the takeover the next run would wait it out
    wait_for_lock(api, project)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    started = time.monotonic()
    taken_over = gitdeploy("sync", "--repo", str(repo.root))
    assert taken_over.returncode == 0, taken_over.stdout + taken_over.stderr
    assert time.monotonic() - started < 25
    assert f"taking over the lock of project {project} held by" in taken_over.stderr
    assert f"pid {killed.pid} (gitdeploy sync)" in taken_over.stderr and "that process is gone" in taken_over.stderr
    # The killed run's half-checked replica was not adopted: the one running now passed its checks.
    names = [c["Names"][0] for c in api.containers(all=True, filters={"label": f"io.gitdeploy.project={project}"})]
    assert len(names) == 1 and not names[0].endswith("-pending")


def hand_made_lock(api, project, labels):
    api.create_container("gitdeploy/lock:1", command=["lock"], name=f"gitdeploy-lock-{project}", labels=labels)


def test_a_lock_held_elsewhere_waits_for_its_lease_or_unlock(api, project, repo):
    repo.service("web", **SLOW)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0   # the lock image exists from here on
    repo.service("web", replicas=2, **SLOW)
    repo.commit("scale")
    hand_made_lock(api, project, {"io.gitdeploy.lock": project, "io.gitdeploy.lock-id": "x",
                                  "io.gitdeploy.holder-host": "another-machine", "io.gitdeploy.holder-pid": "4242",
                                  "io.gitdeploy.holder-command": "gitdeploy sync", "io.gitdeploy.at": f"{time.time()}"})
    held = gitdeploy("sync", "--repo", str(repo.root))
    assert held.returncode == 4 and "another-machine pid 4242 (gitdeploy sync)" in held.stderr
    refused = gitdeploy("unlock", "--repo", str(repo.root))
    assert refused.returncode == 1 and "refusing to unlock without confirmation" in refused.stderr
    unlocked = gitdeploy("unlock", "--repo", str(repo.root), "--yes")
    assert unlocked.returncode == 0 and "held by another-machine" in unlocked.stdout
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert len(ids(api, project, "web")) == 2


def test_a_container_by_the_locks_name_that_is_not_our_lock_is_never_removed(api, project, repo):
    repo.service("web")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    repo.service("web", replicas=2)
    repo.commit("scale")
    hand_made_lock(api, project, {"owner": "someone else"})
    try:
        for command in (["sync"], ["unlock", "--yes"]):
            result = gitdeploy(*command, "--repo", str(repo.root))
            assert result.returncode == 1, result.stderr
            assert f"a container named gitdeploy-lock-{project} exists but is not gitdeploy's lock" in result.stderr
            assert api.containers(all=True, filters={"name": f"gitdeploy-lock-{project}"})
    finally:
        api.remove_container(f"gitdeploy-lock-{project}", force=True)
