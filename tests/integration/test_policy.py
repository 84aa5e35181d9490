"""The host's policy on a real engine: what reaches past the container is refused before anything changes,
and what a policy file allows reaches the engine as written (docs/policy.md)."""
from __future__ import annotations

import json

import pytest

from tests.integration.conftest import containers, gitdeploy


def policy_file(tmp_path, allow: dict) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps({"apiVersion": "gitdeploy/v1", "kind": "Policy", "allow": allow}))
    return str(path)


def test_the_built_in_policy_refuses_the_docker_socket_and_privileged_before_anything_changes(api, project, repo):
    repo.service("web")
    repo.service("agent", securityContext={"privileged": True},
                 volumes=[{"hostPath": "/srv/agent", "path": "/srv"},
                          {"hostPath": "/var/run/docker.sock", "path": "/var/run/docker.sock"}])
    (repo.root / "volumes.yaml").write_text("apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: etc}\n"
                                            "spec:\n  driverOpts: {type: none, o: bind, device: /etc}\n")
    repo.commit()
    for command in ("validate", "diff", "sync"):
        refused = gitdeploy(command, "--repo", str(repo.root))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        lines = refused.stderr.splitlines()
        assert any(line.startswith("services/agent.yaml:") and line.endswith(
            ": spec.securityContext.privileged: not allowed by policy (built-in default)") for line in lines), lines
        assert any(line.endswith(": spec.volumes[1].hostPath: not allowed by policy (built-in default)")
                   for line in lines), lines
        assert not any("volumes[0]" in line for line in lines), "an ordinary host folder is allowed"
        assert "volumes.yaml:5:45: spec.driverOpts.device: not allowed by policy (built-in default)" in lines, lines
    assert containers(api, project) == [], "not even the service that was fine: nothing changes"


def test_a_policy_file_allows_what_it_lists_and_the_engine_applies_it(api, project, repo, tmp_path):
    repo.service("web", securityContext={"capDrop": ["ALL"], "capAdd": ["NET_BIND_SERVICE", "NET_ADMIN"],
                                         "readOnlyRootFilesystem": True, "user": "0:0"},
                 devices=["/dev/zero:/dev/gd-zero:r"])
    repo.service("probe", command=["sleep", "3600"], hostNetwork=True)
    repo.commit()
    refused = gitdeploy("sync", "--repo", str(repo.root))
    assert refused.returncode == 1 and "(built-in default)" in refused.stderr
    policy = policy_file(tmp_path, {"capabilities": ["NET_BIND_SERVICE", "NET_ADMIN"], "devices": ["/dev/zero"],
                                    "hostNetwork": True})
    done = gitdeploy("sync", "--repo", str(repo.root), env={"GITDEPLOY_POLICY": policy})
    assert done.returncode == 0, done.stdout + done.stderr
    (web,) = [api.inspect_container(c["Id"]) for c in containers(api, project, "web")]
    host = web["HostConfig"]
    assert (host["CapDrop"], sorted(host["CapAdd"]), host["ReadonlyRootfs"], web["Config"]["User"]) == \
        (["ALL"], ["NET_ADMIN", "NET_BIND_SERVICE"], True, "0:0")
    assert [(d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"]) for d in host["Devices"]] == \
        [("/dev/zero", "/dev/gd-zero", "r")]
    assert web["State"]["Running"], "httpd binds port 80 with only NET_BIND_SERVICE"
    (probe,) = [api.inspect_container(c["Id"]) for c in containers(api, project, "probe")]
    assert probe["HostConfig"]["NetworkMode"] == "host"


def test_a_policy_restricts_images_and_host_paths_and_a_broken_policy_stops_everything(repo, tmp_path):
    repo.service("web", volumes=[{"hostPath": "/opt/web", "path": "/data"}])
    repo.commit()
    policy = policy_file(tmp_path, {"images": ["registry.example.com/shop/*"], "hostPaths": ["/srv/"]})
    refused = gitdeploy("diff", "--repo", str(repo.root), "--policy", policy)
    assert refused.returncode == 1
    assert f"spec.image: not allowed by policy {policy} (allow.images)" in refused.stderr
    assert f"spec.volumes[0].hostPath: not allowed by policy {policy} (allow.hostPaths)" in refused.stderr
    (tmp_path / "typo.yaml").write_text("apiVersion: gitdeploy/v1\nkind: Policy\nallow:\n  hostpaths: [/srv/]\n")
    broken = gitdeploy("sync", "--repo", str(repo.root), "--policy", str(tmp_path / "typo.yaml"))
    assert broken.returncode == 1
    assert f"{tmp_path / 'typo.yaml'}:4:3: allow.hostpaths: unknown key; did you mean 'hostPaths'?" in broken.stderr
    missing = gitdeploy("sync", "--repo", str(repo.root), "--policy", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "cannot read the policy file" in missing.stderr


# (what the manifest asks, the refusal's path) — each a built-in default refusal, found by validate
REFUSALS = [
    ({"hostNetwork": True, "command": ["sleep", "60"]}, "spec.hostNetwork"),
    ({"securityContext": {"capAdd": ["SYS_ADMIN"]}}, "spec.securityContext.capAdd[0]"),
    ({"devices": ["/dev/fuse"]}, "spec.devices[0]"),
    ({"volumes": [{"hostPath": "/", "path": "/host"}]}, "spec.volumes[0].hostPath"),
    ({"volumes": [{"hostPath": "/etc/ssl", "path": "/ssl", "readOnly": True}]}, "spec.volumes[0].hostPath"),
]


@pytest.mark.parametrize("spec, path", REFUSALS, ids=[r[1] for r in REFUSALS])
def test_each_built_in_refusal(repo, spec, path):
    repo.service("web", **spec)
    repo.commit()
    refused = gitdeploy("validate", "--repo", str(repo.root))
    assert refused.returncode == 1
    assert f": {path}: not allowed by policy (built-in default)" in refused.stderr, refused.stderr
