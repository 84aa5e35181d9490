"""Issue 10 on a real engine: damaged labels, hand-made drift, colliding names, Ctrl-C, credentials."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.integration.conftest import containers, gitdeploy, ids, remove_project
from tests.manifest_repo import ManifestRepo

SECRET = "s3cr3t-db-passw0rd"


def test_a_replica_with_a_damaged_template_label_is_named_and_replaced_never_shown(api, project, repo):
    repo.service("web", env={"DB_PASSWORD": SECRET})
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    (mine,) = containers(api, project, "web")
    labels = dict(mine["Labels"]) | {"io.gitdeploy.template": '{"env": {"DB_PASSWORD": "%s"' % SECRET,
                                     "io.gitdeploy.slot": "1"}
    forged = api.create_container("gitdeploy-test/app:v1", name=f"{project}-forged", labels=labels)
    api.start(forged["Id"])
    outputs = [gitdeploy("diff", "--repo", str(repo.root)), gitdeploy("diff", "--repo", str(repo.root), "-o", "json"),
               gitdeploy("sync", "--repo", str(repo.root), "-o", "json")]
    for result in outputs:
        assert SECRET not in result.stdout + result.stderr
    assert f"{project}-forged: unrecognised: its template label is damaged" in outputs[0].stdout
    assert outputs[2].returncode == 0
    assert [c["Id"] for c in containers(api, project, "web")] == [mine["Id"]]


def test_a_network_removed_by_hand_is_drift_and_repaired(api, project, repo):
    repo.service("web")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    network = f"gitdeploy_{project}"
    (replica,) = containers(api, project, "web")
    api.disconnect_container_from_network(replica["Id"], network, force=True)
    api.remove_network(network)
    status = gitdeploy("status", "--repo", str(repo.root), "-o", "json")
    assert json.loads(status.stdout)["services"][0]["sync"] == "OutOfSync"
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    (replica,) = containers(api, project, "web")
    assert network in replica["NetworkSettings"]["Networks"]
    assert json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)["services"][0]["sync"] == \
        "Synced"


def test_two_projects_whose_names_join_alike_do_not_collide(api, project, repo, tmp_path):
    other = ManifestRepo(tmp_path / "other", f"{project}-x")
    try:
        repo.service("x-web")
        repo.commit()
        other.service("web")
        other.commit()
        assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
        result = gitdeploy("sync", "--repo", str(other.root))
        assert result.returncode == 0, result.stderr
        assert len(ids(api, project, "x-web")) == 1 and len(ids(api, f"{project}-x", "web")) == 1
    finally:
        remove_project(api, f"{project}-x")


def test_one_ctrl_c_finishes_the_batch_in_flight_prints_the_summary_and_exits_130(api, project, repo):
    spec = dict(replicas=3, update={"monitor": "2s"})
    repo.service("web", **spec)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    repo.service("web", image="gitdeploy-test/app:v2", **spec)
    repo.commit("v2")
    run = subprocess.Popen([sys.executable, "-m", "gitdeploy", "sync", "--repo", str(repo.root)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any(c["Image"].endswith(":v2") for c in containers(api, project, "web")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "stopping after the batch in flight" in err
    assert "stopped by the user (Ctrl-C) after 1 of 3 batches" in out
    images = sorted(c["Image"] for c in containers(api, project, "web"))
    assert images == ["gitdeploy-test/app:v1"] * 2 + ["gitdeploy-test/app:v2"]
    assert not any(c["Names"][0].endswith("-pending") for c in containers(api, project, "web"))
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0   # the next run finishes it
    assert sorted(c["Image"] for c in containers(api, project, "web")) == ["gitdeploy-test/app:v2"] * 3


def test_a_url_with_credentials_is_never_printed():
    url = "https://deploy:ghp_t0ken@127.0.0.1:9/shop.git?access_token=ghp_t0ken"
    for args in (["validate", "--repo", url], ["validate", "--repo", url, "-o", "json", "-v"]):
        result = gitdeploy(*args)
        assert result.returncode == 1
        assert "ghp_t0ken" not in result.stdout + result.stderr
        assert "https://***@127.0.0.1:9/shop.git" in result.stdout + result.stderr


def test_json_is_printed_on_a_usage_error_too():
    result = gitdeploy("sync", "--no-such-option", "-o", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["message"].startswith("usage: ")
    result = gitdeploy("watch", "--interval", "0s", "--repo", "/nonexistent", env={"GITDEPLOY_OUTPUT": "json"})
    assert result.returncode == 1 and "the shortest is 1s" in json.loads(result.stdout)["error"]["message"]
