"""Drift of each kind is seen by diff (exit 2, 'repair') and repaired by sync, touching only what drifted."""
from __future__ import annotations

import urllib.request

from tests.integration.conftest import containers, gitdeploy, ids


def diff_says_repair(repo, reason: str) -> None:
    result = gitdeploy("diff", "--repo", str(repo.root))
    assert result.returncode == 2, result.stdout
    assert "repair" in result.stdout and reason in result.stdout, result.stdout


def sync_ok(repo) -> None:
    result = gitdeploy("sync", "--repo", str(repo.root))
    assert result.returncode == 0, result.stdout + result.stderr


def copy_of(api, replica: dict, image: str, slot: str, name: str) -> str:
    """A container made by hand that carries our labels, as a person might start one."""
    labels = dict(replica["Labels"], **{"io.gitdeploy.slot": slot})
    created = api.create_container(image, name=name, labels=labels)
    api.start(created["Id"])
    return created["Id"]


def serves(api, container_id: str) -> str:
    ports = api.inspect_container(container_id)["NetworkSettings"]["Ports"]["80/tcp"]
    host_port = next(p["HostPort"] for p in ports if p["HostIp"] == "0.0.0.0")
    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=5) as response:
        return response.read().decode().strip()


def test_removed_extra_and_hand_replaced_replicas_are_repaired(api, project, repo):
    repo.service("web", replicas=2)
    repo.commit()
    sync_ok(repo)
    keep, victim = ids(api, project, "web")

    api.remove_container(victim, force=True)
    diff_says_repair(repo, "missing")
    sync_ok(repo)
    assert len(ids(api, project, "web")) == 2 and keep in ids(api, project, "web")

    first = containers(api, project, "web")[0]
    extra = copy_of(api, first, "gitdeploy-test/app:v1", "3", f"{project}-web-extra")
    diff_says_repair(repo, "scaled down")
    sync_ok(repo)
    assert extra not in ids(api, project, "web") and len(ids(api, project, "web")) == 2

    second = containers(api, project, "web")[1]
    api.remove_container(second["Id"], force=True)
    by_hand = copy_of(api, second, "gitdeploy-test/app:v2", "2", f"{project}-web-by-hand")
    diff_says_repair(repo, "runs gitdeploy-test/app:v2, not the image gitdeploy-test/app:v1 names now")
    sync_ok(repo)
    assert by_hand not in ids(api, project, "web")
    assert sorted(c["Image"] for c in containers(api, project, "web")) == ["gitdeploy-test/app:v1"] * 2
    assert keep in ids(api, project, "web")


def test_a_rebuilt_image_tag_replaces_the_replicas_running_the_old_image(api, project, repo):
    tag = f"gitdeploy-test/app:drift-{project}"
    api.tag("gitdeploy-test/app:v1", "gitdeploy-test/app", f"drift-{project}")
    try:
        repo.service("web", image=tag, ports=[{"containerPort": 80}])
        repo.commit()
        sync_ok(repo)
        (old,) = ids(api, project, "web")
        assert serves(api, old) == "v1"

        api.tag("gitdeploy-test/app:v2", "gitdeploy-test/app", f"drift-{project}")   # "rebuilt"
        diff_says_repair(repo, "not the image gitdeploy-test/app:drift-")
        sync_ok(repo)
        (new,) = ids(api, project, "web")
        assert new != old and serves(api, new) == "v2"
    finally:
        api.remove_image(tag)
