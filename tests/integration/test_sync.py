"""The user's story on a real engine: a git repo of manifests, `gitdeploy sync`, then the engine."""
from __future__ import annotations

import json
import urllib.request

import pytest

from tests.integration.conftest import containers, gitdeploy, ids
from tests.manifest_repo import git


def serve(api, container_id: str) -> str:
    """What a replica answers on its published port 80, over loopback."""
    ports = api.inspect_container(container_id)["NetworkSettings"]["Ports"]["80/tcp"]
    host_port = next(p["HostPort"] for p in ports if p["HostIp"] in ("0.0.0.0", "127.0.0.1"))
    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=5) as response:
        return response.read().decode().strip()


def exec_in(api, container_id: str, *command: str) -> str:
    run = api.exec_create(container_id, list(command))
    return api.exec_start(run["Id"]).decode().strip()


def test_first_sync_creates_everything_and_a_second_changes_nothing(api, project, repo):
    repo.service("web", replicas=2, env={"GREETING": "hello"}, ports=[{"containerPort": 80}],
                 resources={"cpus": 0.5, "memory": "64Mi"}, restart="on-failure")
    repo.service("api")
    commit = repo.commit()

    first = gitdeploy("sync", "--repo", str(repo.root))
    assert first.returncode == 0, first.stderr
    assert commit[:12] in first.stdout and "Synced" in first.stdout

    web = containers(api, project, "web")
    assert [c["Names"][0] for c in web] == [f"/{project}_web-1-{web[0]['Labels']['io.gitdeploy.template-hash'][:7]}",
                                            f"/{project}_web-2-{web[1]['Labels']['io.gitdeploy.template-hash'][:7]}"]
    assert all(c["State"] == "running" and c["Labels"]["io.gitdeploy.commit"] == commit for c in web)
    config = api.inspect_container(web[0]["Id"])
    host = config["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["Init"], host["RestartPolicy"]["Name"]) == \
        (64 * 2**20, 500_000_000, True, "on-failure")
    assert "GREETING=hello" in config["Config"]["Env"]
    assert serve(api, web[0]["Id"]) == "v1"
    # Service discovery: another service reaches every web replica by name.
    (api_replica,) = ids(api, project, "api")
    assert exec_in(api, api_replica, "wget", "-qO-", "http://web/") == "v1"
    assert exec_in(api, api_replica, "wget", "-qO-", "http://web-2/") == "v1"

    before = ids(api, project)
    second = gitdeploy("sync", "--repo", str(repo.root))
    assert second.returncode == 0, second.stderr
    assert f"Nothing to do: {project} already matches {commit[:12]}." in second.stdout
    assert ids(api, project) == before
    assert gitdeploy("diff", "--repo", str(repo.root)).returncode == 0


def test_scale_up_and_down_keeps_existing_replicas(api, project, repo):
    repo.service("web")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    (first,) = ids(api, project, "web")

    repo.service("web", replicas=3)
    repo.commit("scale up")
    pending = gitdeploy("diff", "--repo", str(repo.root))
    assert pending.returncode == 2 and "replicas 1 → 3" in pending.stdout
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert len(ids(api, project, "web")) == 3 and first in ids(api, project, "web")

    repo.service("web", replicas=1)
    repo.commit("scale down")
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert ids(api, project, "web") == [first]


def test_changing_one_service_replaces_only_that_service(api, project, repo):
    repo.service("web", replicas=2, ports=[{"containerPort": 80}], env={"GREETING": "hello"})
    repo.service("api")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    web_before, api_before = ids(api, project, "web"), ids(api, project, "api")

    repo.service("web", image="gitdeploy-test/app:v2", replicas=2, ports=[{"containerPort": 80}], env={"GREETING": "hi"})
    repo.commit("web v2")
    diff = gitdeploy("diff", "--repo", str(repo.root))
    assert diff.returncode == 2
    assert "image gitdeploy-test/app:v1 → gitdeploy-test/app:v2" in diff.stdout
    assert "env.GREETING changed" in diff.stdout and "hello" not in diff.stdout

    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    web_after = ids(api, project, "web")
    assert len(web_after) == 2 and not set(web_after) & set(web_before)
    assert ids(api, project, "api") == api_before
    assert [serve(api, c) for c in web_after] == ["v2", "v2"]


def test_services_removed_from_git_are_pruned_unless_no_prune(api, project, repo):
    repo.service("web")
    repo.service("api")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    repo.remove("api")
    repo.commit("drop api")

    kept = gitdeploy("sync", "--repo", str(repo.root), "--no-prune")
    assert kept.returncode == 0 and len(ids(api, project, "api")) == 1
    status = json.loads(gitdeploy("status", "--repo", str(repo.root), "--output", "json").stdout)
    assert {s["name"]: s["sync"] for s in status["services"]} == {"api": "OutOfSync", "web": "Synced"}

    pruned = gitdeploy("sync", "--repo", str(repo.root))
    assert pruned.returncode == 0 and ids(api, project, "api") == []
    assert len(ids(api, project, "web")) == 1


def test_a_pinned_older_ref_is_deployed(api, project, repo):
    repo.service("web", ports=[{"containerPort": 80}])
    old = repo.commit("v1")
    git(repo.root, "tag", "release-1")
    repo.service("web", image="gitdeploy-test/app:v2", ports=[{"containerPort": 80}])
    repo.commit("v2")

    result = gitdeploy("sync", "--repo", str(repo.root), "--ref", "release-1")
    assert result.returncode == 0 and old[:12] in result.stdout
    (web,) = containers(api, project, "web")
    assert web["Labels"]["io.gitdeploy.commit"] == old and serve(api, web["Id"]) == "v1"


def test_containers_without_our_label_are_never_touched(api, project, repo):
    stranger = api.create_container("gitdeploy-test/app:v1", name=f"{project}-web-1-handmade")
    neighbour = api.create_container("gitdeploy-test/app:v1", name=f"{project}-neighbour",
                                     labels={"io.gitdeploy.project": f"{project}x", "io.gitdeploy.service": "web"})
    try:
        repo.service("web")
        repo.commit()
        assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
        repo.service("web", replicas=0)
        repo.commit("stop web")
        assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
        assert ids(api, project, "web") == []
        assert api.inspect_container(stranger["Id"])["Id"] == stranger["Id"]
        assert api.inspect_container(neighbour["Id"])["Id"] == neighbour["Id"]
    finally:
        api.remove_container(stranger["Id"], force=True)
        api.remove_container(neighbour["Id"], force=True)


def test_a_missing_image_stops_the_sync_before_its_first_change(api, project, repo):
    repo.service("api")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    before = ids(api, project, "api")
    repo.service("web", image="gitdeploy-test/app:does-not-exist")
    repo.service("api", image="gitdeploy-test/app:v2")
    repo.commit()
    result = gitdeploy("sync", "--repo", str(repo.root), "--output", "json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["message"] == ("image gitdeploy-test/app:does-not-exist is not on the engine (pull policy: never) "
                                "(service web); nothing was changed")
    assert ids(api, project, "web") == [] and ids(api, project, "api") == before   # api was not updated either
    assert "Traceback" not in result.stderr


def test_an_unreachable_engine_is_one_clear_line(repo):
    repo.service("web")
    repo.commit()
    result = gitdeploy("sync", "--repo", str(repo.root), env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gitdeploy: error: cannot connect to the Docker engine at unix:///nonexistent/docker.sock",
        "  hint: is Docker running (`systemctl start docker`, or `dockerd`), and may this user use it (the `docker` group)? Set DOCKER_HOST to use another engine",
    ]


def test_dry_run_and_bad_manifests_change_nothing(api, project, repo):
    repo.service("web")
    repo.commit()
    dry = gitdeploy("sync", "--repo", str(repo.root), "--dry-run")
    assert dry.returncode == 0 and "+ web" in dry.stdout and ids(api, project) == []
    assert dry.stdout.splitlines()[-1] == "Dry run: nothing was changed."

    repo.service("web", replicass=2)
    repo.commit("typo")
    bad = gitdeploy("sync", "--repo", str(repo.root))
    assert bad.returncode == 1
    assert "services/web.yaml:14:5: spec.replicass: unknown key; did you mean 'replicas'?" in bad.stderr
    assert ids(api, project) == []


def test_a_bad_ref_is_one_clear_line(repo):
    repo.service("web")
    repo.commit()
    result = gitdeploy("diff", "--repo", str(repo.root), "--ref", "no-such-branch")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"gitdeploy: error: ref 'no-such-branch' not found in {repo.root}"


def test_a_stopped_replica_is_drift_and_sync_repairs_it(api, project, repo):
    repo.service("web", replicas=2)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    first, second = ids(api, project, "web")
    api.stop(second, timeout=1)

    diff = gitdeploy("diff", "--repo", str(repo.root))
    assert diff.returncode == 2 and "repair" in diff.stdout and "not running (exited)" in diff.stdout
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    after = ids(api, project, "web")
    assert first in after and second not in after
    assert all(c["State"] == "running" for c in containers(api, project, "web"))
