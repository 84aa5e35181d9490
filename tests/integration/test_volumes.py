"""Stateful services on a real engine: data in volumes survives updates, rollbacks and removals."""
from __future__ import annotations

import json

import pytest

from tests.integration.conftest import containers, gitdeploy

VOLUME = "apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: %s}\n"
STOP_FIRST = {"update": {"order": "stop-first", "monitor": "1s"}}


def volume(repo, name: str, spec: str = "") -> None:
    (repo.dir / f"volume-{name}.yaml").write_text(VOLUME % name + spec)


def run_in(api, container_id: str, *command: str) -> str:
    execution = api.exec_create(container_id, list(command))
    return api.exec_start(execution).decode().strip()


def the_replica(api, project, service="web") -> dict:
    (replica,) = containers(api, project, service)
    return replica


def volumes_of(api, project) -> list[str]:
    found = api.volumes(filters={"label": f"io.gitdeploy.project={project}"}).get("Volumes") or []
    return sorted(v["Name"] for v in found if v["Labels"].get("io.gitdeploy.kind") != "history")


def test_data_in_a_volume_survives_an_update_and_a_rollback(api, project, repo):
    volume(repo, "data")
    repo.service("web", volumes=[{"volume": "data", "path": "/data"}], **STOP_FIRST)
    repo.commit("v1 with a volume")
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    run_in(api, the_replica(api, project)["Id"], "sh", "-c", "echo written-by-v1 > /data/f")

    repo.service("web", image="gitdeploy-test/app:v2", volumes=[{"volume": "data", "path": "/data"}], **STOP_FIRST)
    repo.commit("v2")
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    replica = the_replica(api, project)
    assert replica["Image"] == "gitdeploy-test/app:v2"
    assert run_in(api, replica["Id"], "cat", "/data/f") == "written-by-v1"

    assert gitdeploy("rollback", "web", "--repo", str(repo.root)).returncode == 0
    replica = the_replica(api, project)
    assert replica["Image"] == "gitdeploy-test/app:v1"
    assert run_in(api, replica["Id"], "cat", "/data/f") == "written-by-v1"


def test_a_volume_is_never_deleted_unless_asked_and_then_named_first(api, project, repo):
    volume(repo, "data")
    repo.service("web", volumes=[{"volume": "data", "path": "/data"}], **STOP_FIRST)
    repo.service("api")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert volumes_of(api, project) == [f"{project}_data"]

    repo.remove("web")
    (repo.dir / "volume-data.yaml").unlink()
    repo.commit("web and its volume removed")
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert volumes_of(api, project) == [f"{project}_data"]          # pruning services keeps their data
    status = json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)
    assert status["volumes"] == [{"name": "data", "engineName": f"{project}_data", "mountedBy": [], "state": "kept"}]

    pruned = gitdeploy("sync", "--repo", str(repo.root), "--prune-volumes")
    assert pruned.returncode == 0
    assert f"removing volume {project}_data (data): nothing mounts it" in pruned.stderr
    assert volumes_of(api, project) == []


def test_a_path_the_image_declares_as_volume_keeps_its_data_across_an_update(api, project, repo):
    base = api.create_container("gitdeploy-test/app:v1")
    image = f"gitdeploy-test/stateful:{project}"
    api.commit(base["Id"], repository="gitdeploy-test/stateful", tag=project, changes=["VOLUME /state"])
    api.remove_container(base["Id"])
    try:
        repo.service("web", image=image, **STOP_FIRST)
        repo.commit()
        assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
        run_in(api, the_replica(api, project)["Id"], "sh", "-c", "echo kept > /state/f")
        repo.service("web", image=image, env={"CHANGED": "1"}, **STOP_FIRST)
        repo.commit("a change that replaces the replica")
        diff = gitdeploy("diff", "--repo", str(repo.root))
        assert "/state: the image's VOLUME, no mount: each slot keeps its own volume there" in diff.stdout
        assert json.loads(gitdeploy("diff", "--repo", str(repo.root), "-o", "json").stdout)["services"][0][
            "imageVolumes"] == ["/state"]
        assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
        assert run_in(api, the_replica(api, project)["Id"], "cat", "/state/f") == "kept"
        assert len(volumes_of(api, project)) == 1
    finally:
        for container in containers(api, project):
            api.remove_container(container["Id"], force=True)
        api.remove_image(image, force=True)


def test_host_folders_tmpfs_and_external_volumes(api, project, repo, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "hello").write_text("from the host\n")
    external = api.create_volume(f"{project}-made-by-hand")["Name"]
    try:
        volume(repo, "shared", f"spec: {{external: true, name: {external}}}\n")
        repo.service("web", volumes=[{"hostPath": str(host), "path": "/host", "readOnly": True},
                                     {"tmpfs": {"size": "8Mi"}, "path": "/scratch"},
                                     {"volume": "shared", "path": "/shared"}], **STOP_FIRST)
        repo.commit()
        result = gitdeploy("sync", "--repo", str(repo.root))
        assert result.returncode == 0, result.stderr
        replica = the_replica(api, project)["Id"]
        assert run_in(api, replica, "cat", "/host/hello") == "from the host"
        assert "Read-only" in run_in(api, replica, "sh", "-c", "touch /host/x 2>&1 || true")
        assert "tmpfs" in run_in(api, replica, "sh", "-c", "grep ' /scratch ' /proc/mounts")
        repo.remove("web")
        repo.commit("web removed")
        assert gitdeploy("sync", "--repo", str(repo.root), "--prune-volumes", "--allow-empty").returncode == 0
        assert api.inspect_volume(external)["Name"] == external       # external: never removed
    finally:
        for container in containers(api, project):
            api.remove_container(container["Id"], force=True)
        api.remove_volume(external)


@pytest.mark.parametrize("spec, message", [
    ("spec: {external: true, name: no-such-volume-anywhere}\n",
     "external volume no-such-volume-anywhere (volume data) does not exist on the engine"),
])
def test_a_missing_external_volume_stops_the_sync_before_its_first_change(api, project, repo, spec, message):
    volume(repo, "data", spec)
    repo.service("web", volumes=[{"volume": "data", "path": "/data"}], **STOP_FIRST)
    repo.commit()
    result = gitdeploy("sync", "--repo", str(repo.root))
    assert result.returncode == 1 and message in result.stderr
    assert containers(api, project) == []


def test_config_files_come_from_the_commit_roll_out_when_changed_and_come_back_on_rollback(api, project, repo):
    (repo.dir / "config").mkdir()
    (repo.dir / "config" / "app.yaml").write_text("level: info\n")   # YAML, but data: never read as a manifest
    files = [{"path": "/etc/app/config.yaml", "source": "config/app.yaml", "mode": "0440"}]
    repo.service("web", files=files)
    repo.commit("config v1")
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    replica = the_replica(api, project)["Id"]
    assert run_in(api, replica, "cat", "/etc/app/config.yaml") == "level: info"
    listing = run_in(api, replica, "ls", "-ln", "/etc/app/config.yaml").split()
    assert (listing[0], listing[2]) == ("-r--r-----", "0")   # mode 0440, owned by root

    (repo.dir / "config" / "app.yaml").write_text("level: debug\n")
    repo.commit("config v2")
    diff = gitdeploy("diff", "--repo", str(repo.root))
    assert diff.returncode == 2
    assert "files./etc/app/config.yaml changed:" in diff.stdout
    assert "-level: info" in diff.stdout and "+level: debug" in diff.stdout
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    assert run_in(api, the_replica(api, project)["Id"], "cat", "/etc/app/config.yaml") == "level: debug"

    assert gitdeploy("rollback", "web", "--repo", str(repo.root)).returncode == 0
    assert run_in(api, the_replica(api, project)["Id"], "cat", "/etc/app/config.yaml") == "level: info"
