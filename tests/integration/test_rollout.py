"""Health-gated rolling updates and automatic rollback, on a real engine.

Images: v1 and v2 are good, v3 fails its health check (no /healthz), v4 exits
at once; v2-hc and v3-hc are v2 and v3 with an image HEALTHCHECK. Every
manifest uses 1 s health intervals and a 1 s monitor.
"""
from __future__ import annotations

import json

from tests.integration.conftest import containers, gitdeploy, ids
from tests.sampling import HealthSampler

EXEC_CHECK = {"exec": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"], "interval": "1s", "timeout": "1s",
              "retries": 2}


def images(api, project, service):
    return sorted(c["Image"] for c in containers(api, project, service))


def deploy(repo, image, **spec):
    repo.service("web", image=image, **spec)
    repo.commit(f"web {image}")
    return gitdeploy("sync", "--repo", str(repo.root))


def test_start_first_rolling_update_never_drops_below_the_replica_count(api, project, repo):
    spec = dict(replicas=4, healthCheck=EXEC_CHECK, update={"parallelism": 2, "monitor": "1s"})
    assert deploy(repo, "gitdeploy-test/app:v1", **spec).returncode == 0
    assert images(api, project, "web") == ["gitdeploy-test/app:v1"] * 4

    with HealthSampler.of_service(project, "web") as sampler:
        result = deploy(repo, "gitdeploy-test/app:v2", **spec)
    assert result.returncode == 0, result.stderr
    assert images(api, project, "web") == ["gitdeploy-test/app:v2"] * 4
    assert "batch 2/2" in result.stderr
    assert len(sampler.samples) > 5 and min(sampler.samples) >= 4, sampler.samples


def test_a_failing_health_check_is_rolled_back_without_losing_capacity(api, project, repo):
    spec = dict(replicas=2, healthCheck=EXEC_CHECK)
    assert deploy(repo, "gitdeploy-test/app:v1", **spec).returncode == 0
    before = ids(api, project, "web")

    with HealthSampler.of_service(project, "web") as sampler:
        result = deploy(repo, "gitdeploy-test/app:v3", **spec)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"✗ web update rolled back: revision 2: replica {project}_web-1-" in result.stdout
    assert "health check reported unhealthy (exit code 1); rolled back to the previous revision" in result.stdout
    # The next unattended sync holds it, and says so truthfully (neither "In sync" nor "Sync failed").
    held = gitdeploy("sync", "--repo", str(repo.root))
    assert held.returncode == 3 and "Not synced: web held back after an earlier failure" in held.stdout
    assert "Sync failed" not in held.stdout and "In sync" not in held.stdout
    # Why, in JSON too: the check's output and exit code, and the replica's last log lines (issue 13).
    (web,) = json.loads(gitdeploy("sync", "--repo", str(repo.root), "--retry-failed", "-o", "json").stdout)["services"]
    assert web["outcome"] == "rolled_back" and "last health check output (exit code 1):" in web["detail"]
    assert ids(api, project, "web") == before          # start-first: the old replicas never left
    assert images(api, project, "web") == ["gitdeploy-test/app:v1"] * 2
    assert min(sampler.samples) >= 2, sampler.samples


def test_stop_first_rollback_of_a_crashing_version_keeps_the_floor(api, project, repo):
    spec = dict(replicas=3, healthCheck=EXEC_CHECK, update={"order": "stop-first", "monitor": "1s"})
    assert deploy(repo, "gitdeploy-test/app:v1", **spec).returncode == 0

    with HealthSampler.of_service(project, "web") as sampler:
        result = deploy(repo, "gitdeploy-test/app:v4", **spec)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "exited with code 1" in result.stdout or "crashed and was restarted" in result.stdout
    assert "v4 cannot start: missing config" in result.stdout   # the log tail is in the report
    assert images(api, project, "web") == ["gitdeploy-test/app:v1"] * 3
    assert all(c["State"] == "running" for c in containers(api, project, "web"))
    assert min(sampler.samples[3:]) >= 2, sampler.samples     # replicas - parallelism


def test_http_and_tcp_checks_are_probed_by_gitdeploy(api, project, repo):
    http = {"http": {"port": 80, "path": "/healthz"}, "interval": "1s", "timeout": "1s"}
    assert deploy(repo, "gitdeploy-test/app:v1", healthCheck=http).returncode == 0
    result = deploy(repo, "gitdeploy-test/app:v2", healthCheck=http)
    assert result.returncode == 0 and images(api, project, "web") == ["gitdeploy-test/app:v2"]

    failing = deploy(repo, "gitdeploy-test/app:v3", healthCheck=http)
    assert failing.returncode == 3 and "3 http health checks failed in a row: the last: GET http://" in failing.stdout
    assert "/healthz answered HTTP 404, not 200" in failing.stdout
    assert images(api, project, "web") == ["gitdeploy-test/app:v2"]

    tcp_wrong_port = {"tcp": {"port": 81}, "interval": "1s", "timeout": "1s", "retries": 2}
    result = deploy(repo, "gitdeploy-test/app:v1", healthCheck=tcp_wrong_port)
    assert result.returncode == 3 and "2 tcp health checks failed in a row" in result.stdout
    assert ":81: connection refused (nothing listens on that port)" in result.stdout
    assert deploy(repo, "gitdeploy-test/app:v1", healthCheck={"tcp": {"port": 80}, "interval": "1s"}).returncode == 0


def test_a_new_service_that_never_gets_healthy_is_removed_again(api, project, repo):
    repo.service("api")
    repo.service("web", image="gitdeploy-test/app:v4", replicas=2)
    repo.commit()
    result = gitdeploy("sync", "--repo", str(repo.root), "--output", "json")
    assert result.returncode == 3
    document = json.loads(result.stdout)
    assert document["result"] == "rolled_back"
    outcome = {s["name"]: s["outcome"] for s in document["services"]}
    assert outcome == {"api": "applied", "web": "rolled_back"}
    assert ids(api, project, "web") == [] and len(ids(api, project, "api")) == 1


def test_failure_action_pause_leaves_everything_for_inspection(api, project, repo):
    spec = dict(replicas=2, healthCheck=EXEC_CHECK, update={"failureAction": "pause", "monitor": "1s"})
    assert deploy(repo, "gitdeploy-test/app:v1", **spec).returncode == 0
    result = deploy(repo, "gitdeploy-test/app:v3", **spec)
    assert result.returncode == 1
    assert "rollout paused (failureAction: pause), nothing rolled back" in result.stdout
    assert images(api, project, "web") == ["gitdeploy-test/app:v1"] * 2 + ["gitdeploy-test/app:v3"]


def test_without_a_health_check_the_images_own_healthcheck_gates_the_rollout(api, project, repo):
    assert deploy(repo, "gitdeploy-test/app:v1", replicas=2).returncode == 0
    good = deploy(repo, "gitdeploy-test/app:v2-hc", replicas=2)
    assert good.returncode == 0 and "healthy, monitored for 1s" in good.stderr
    bad = deploy(repo, "gitdeploy-test/app:v3-hc", replicas=2)
    assert bad.returncode == 3 and "health check reported unhealthy" in bad.stdout
    assert images(api, project, "web") == ["gitdeploy-test/app:v2-hc"] * 2


def test_atomic_sync_puts_every_changed_service_back(api, project, repo):
    for name in ("web", "api", "worker"):
        repo.service(name, image="gitdeploy-test/app:v1", healthCheck=EXEC_CHECK)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    worker = ids(api, project, "worker")

    repo.service("web", image="gitdeploy-test/app:v2", healthCheck=EXEC_CHECK)   # good
    repo.service("api", image="gitdeploy-test/app:v3", healthCheck=EXEC_CHECK)   # fails its check
    repo.commit("web v2, api v3")
    result = gitdeploy("sync", "--repo", str(repo.root), "--atomic", "--output", "json")
    assert result.returncode == 3, result.stdout + result.stderr
    outcome = {s["name"]: (s["outcome"], s["message"]) for s in json.loads(result.stdout)["services"]}
    assert outcome["api"][0] == "rolled_back"
    # web either finished before api failed (then it is put back) or was still
    # rolling out (then it is cancelled): which one depends on timing; both end here.
    assert outcome["web"][0] == "rolled_back" and "api failed" in outcome["web"][1]
    assert "(--atomic)" in outcome["web"][1]
    assert outcome["worker"][0] == "unchanged"
    for name in ("web", "api", "worker"):
        assert images(api, project, name) == ["gitdeploy-test/app:v1"], name
    assert ids(api, project, "worker") == worker

    # The next unattended sync holds the whole commit rather than applying half of it.
    again = gitdeploy("sync", "--repo", str(repo.root))
    assert again.returncode == 3 and "started" not in again.stderr
    assert images(api, project, "web") == ["gitdeploy-test/app:v1"]


def test_a_host_port_taken_by_another_process_does_not_hold_the_revision(api, project, repo):
    """The environment failed, not the revision: the rollout is rolled back and the sync exits 1, and once
    the port is free again the next (unattended) sync rolls the same revision out."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    repo.service("web")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    repo.service("web", ports=[{"containerPort": 80, "hostPort": port, "hostIP": "127.0.0.1"}])
    repo.commit()
    try:
        failed = gitdeploy("sync", "--repo", str(repo.root))
    finally:
        taken.close()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "could not be started" in failed.stdout and "not held: the next sync tries again" in failed.stdout
    (web,) = containers(api, project, "web")
    assert not web["Ports"]                                   # the previous revision runs again
    history = gitdeploy("history", "web", "--repo", str(repo.root), "-o", "json")
    assert "rolled-back" not in {e["event"] for e in json.loads(history.stdout)["events"]}
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    (web,) = containers(api, project, "web")
    assert [p["PublicPort"] for p in web["Ports"]] == [port]


def test_status_shows_what_runs_after_a_rollback_and_check_fails_until_synced(api, project, repo):
    assert deploy(repo, "gitdeploy-test/app:v1", healthCheck=EXEC_CHECK).returncode == 0
    probe = gitdeploy("status", "--check", "--repo", str(repo.root))
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert deploy(repo, "gitdeploy-test/app:v3", healthCheck=EXEC_CHECK).returncode == 3
    (web,) = json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)["services"]
    assert (web["image"], web["revision"], web["declaredImage"], web["declaredRevision"]) == (
        "gitdeploy-test/app:v1", 1, "gitdeploy-test/app:v3", 2)
    assert web["sync"] == "OutOfSync" and web["note"].startswith("Git declares revision 2 (gitdeploy-test/app:v3)")
    shown = gitdeploy("status", "--check", "--repo", str(repo.root))
    assert shown.returncode == 2 and "gitdeploy-test/app:v1" in shown.stdout
