"""Failed-revision memory, history, manual rollback and crash safety, on a real engine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.integration.conftest import containers, gitdeploy, ids

CHECK = {"exec": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"], "interval": "1s", "retries": 2}


def images(api, project, service="web"):
    return sorted(c["Image"] for c in containers(api, project, service))


def deploy(repo, image, replicas=2, **spec):
    repo.service("web", image=image, replicas=replicas, healthCheck=CHECK, **spec)
    repo.commit(f"web {image}")
    return gitdeploy("sync", "--repo", str(repo.root))


def history(repo):
    result = gitdeploy("history", "web", "--repo", str(repo.root), "--output", "json")
    assert result.returncode == 0, result.stderr
    return [(e["revision"], e["event"], e["image"]) for e in json.loads(result.stdout)["events"]]


def test_a_failed_revision_is_not_rolled_out_again_until_the_manifest_changes(api, project, repo):
    assert deploy(repo, "gitdeploy-test/app:v1").returncode == 0
    assert deploy(repo, "gitdeploy-test/app:v3").returncode == 3
    before = ids(api, project)

    again = gitdeploy("sync", "--repo", str(repo.root))
    assert again.returncode == 3
    assert "revision 2 (commit" in again.stdout and "not retried until the manifest changes" in again.stdout
    assert "started" not in again.stderr and ids(api, project) == before   # created nothing

    retried = gitdeploy("sync", "--repo", str(repo.root), "--retry-failed")
    assert retried.returncode == 3 and "started" in retried.stderr
    assert images(api, project) == ["gitdeploy-test/app:v1"] * 2

    assert deploy(repo, "gitdeploy-test/app:v2").returncode == 0
    assert history(repo) == [
        (1, "deployed", "gitdeploy-test/app:v1"),
        (2, "rolled-back", "gitdeploy-test/app:v3"),
        (2, "rolled-back", "gitdeploy-test/app:v3"),
        (3, "deployed", "gitdeploy-test/app:v2"),
    ]


def test_manual_rollback_stays_until_git_changes_or_it_is_cleared(api, project, repo):
    assert deploy(repo, "gitdeploy-test/app:v1").returncode == 0
    assert deploy(repo, "gitdeploy-test/app:v2").returncode == 0

    rolled = gitdeploy("rollback", "web", "--repo", str(repo.root))
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert images(api, project) == ["gitdeploy-test/app:v1"] * 2
    # It says from what to what, and not that it synced the commit it did not deploy.
    assert "Rolled web back to revision 1 (gitdeploy-test/app:v1, commit " in rolled.stdout
    assert "Synced" not in rolled.stdout

    # The next unattended sync does not undo it, and status and diff say so.
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert images(api, project) == ["gitdeploy-test/app:v1"] * 2
    (web,) = json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)["services"]
    assert web["sync"] == "OutOfSync" and web["note"].startswith("rolled back to revision 1")
    diff = gitdeploy("diff", "--repo", str(repo.root))
    assert diff.returncode == 2 and "pinned to revision 1" in diff.stdout

    assert gitdeploy("rollback", "web", "--clear", "--repo", str(repo.root)).returncode == 0
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert images(api, project) == ["gitdeploy-test/app:v2"] * 2

    # Pinned again, then Git changes the service: Git wins.
    assert gitdeploy("rollback", "web", "--to", "1", "--repo", str(repo.root)).returncode == 0
    assert deploy(repo, "gitdeploy-test/app:v2", env={"RELEASE": "2b"}).returncode == 0
    assert images(api, project) == ["gitdeploy-test/app:v2"] * 2
    assert [event for _, event, _ in history(repo)] == [
        "deployed", "deployed", "pinned", "deployed", "unpinned", "deployed", "pinned", "deployed", "deployed"]


def test_rollback_to_an_unknown_revision_is_one_clear_line(repo):
    assert deploy(repo, "gitdeploy-test/app:v1").returncode == 0
    result = gitdeploy("rollback", "web", "--to", "7", "--repo", str(repo.root))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "gitdeploy: error: service 'web' has no revision 7"


def test_a_rollout_killed_half_way_is_finished_by_the_next_sync(api, project, repo):
    spec = dict(replicas=3, update={"monitor": "2s"})
    assert deploy(repo, "gitdeploy-test/app:v1", **spec).returncode == 0
    repo.service("web", image="gitdeploy-test/app:v2", replicas=3, healthCheck=CHECK, update={"monitor": "2s"})
    repo.commit("web v2")

    # A short lease, so the lock the killed run leaves behind expires quickly.
    run = subprocess.Popen([sys.executable, "-m", "gitdeploy", "sync", "--repo", str(repo.root)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "GITDEPLOY_LOCK_LEASE": "2"})
    deadline = time.monotonic() + 60
    while "gitdeploy-test/app:v2" not in images(api, project) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    half_way = images(api, project)
    assert "gitdeploy-test/app:v2" in half_way and "gitdeploy-test/app:v1" in half_way, half_way

    result = gitdeploy("sync", "--repo", str(repo.root), "--lock-timeout", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    web = containers(api, project, "web")
    assert sorted(c["Image"] for c in web) == ["gitdeploy-test/app:v2"] * 3
    assert sorted(c["Labels"]["io.gitdeploy.slot"] for c in web) == ["1", "2", "3"]
    assert all(c["State"] == "running" for c in web)


def test_history_survives_the_prunes_cron_runs(api, project, repo):
    """`docker volume prune -f` and `docker system prune -f`, as many hosts run them from cron (here limited
    by label to this test's project, so nothing else on the engine is touched): history, pins and the memory
    of a failed revision survive, and rollback to the previous revision still works."""
    import subprocess

    assert deploy(repo, "gitdeploy-test/app:v1").returncode == 0
    assert deploy(repo, "gitdeploy-test/app:v2").returncode == 0
    before = json.loads(gitdeploy("history", "--repo", str(repo.root), "-o", "json").stdout)["events"]
    only_ours = ["--filter", f"label=io.gitdeploy.project={project}"]
    for prune in (["volume", "prune", "-f"], ["system", "prune", "-f"], ["volume", "prune", "-f"]):
        subprocess.run(["docker", *prune, *only_ours], check=True, capture_output=True)
    after = json.loads(gitdeploy("history", "--repo", str(repo.root), "-o", "json").stdout)["events"]
    assert [(e["revision"], e["event"]) for e in after] == [(e["revision"], e["event"]) for e in before]
    rolled = gitdeploy("rollback", "web", "--repo", str(repo.root))
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert images(api, project) == ["gitdeploy-test/app:v1"] * 2
