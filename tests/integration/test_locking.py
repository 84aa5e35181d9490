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


def test_a_stale_lock_is_taken_over_after_its_lease_and_unlock_breaks_one(api, project, repo):
    repo.service("web", **SLOW)
    repo.commit()
    killed = start_sync(repo, env={"GITDEPLOY_LOCK_LEASE": "3"})
    wait_for_lock(api, project)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()

    held = gitdeploy("sync", "--repo", str(repo.root))
    assert held.returncode == 4 and f"pid {killed.pid} (gitdeploy sync)" in held.stderr
    taken_over = gitdeploy("sync", "--repo", str(repo.root), "--lock-timeout", "30")
    assert taken_over.returncode == 0, taken_over.stdout + taken_over.stderr

    # A lock whose holder is gone but whose lease is long: unlock, with confirmation.
    repo.service("web", replicas=2, **SLOW)
    repo.commit("scale")
    killed = start_sync(repo)   # default 30 s lease
    wait_for_lock(api, project)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    refused = gitdeploy("unlock", "--repo", str(repo.root))
    assert refused.returncode == 1 and "refusing to unlock without confirmation" in refused.stderr
    unlocked = gitdeploy("unlock", "--repo", str(repo.root), "--yes")
    assert unlocked.returncode == 0 and f"held by " in unlocked.stdout
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert len(ids(api, project, "web")) == 2
