"""gitdeploy on a real three-node Swarm: the user's story, from `sync` to a node lost.

Each test has its own project (`swarm_project`), removed from the lab afterwards.
This lab has no IPVS: ports are published `mode: host` and names resolve with
`dnsrr` (the routing mesh and VIPs are checked on the definitions, in
tests/unit/test_swarm_spec.py). Health checks use busybox `nc` (no `-z` there).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import docker
import pytest

from tests.integration.conftest import ROOT, gitdeploy
from tests.manifest_repo import ManifestRepo, git

UP = ["sh", "-c", "nc -w1 127.0.0.1 80 </dev/null"]
HEALTHZ = ["sh", "-c", "printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w1 127.0.0.1 80 | grep -q 200"]   # v3 has none
QUICK = {"monitor": "1s", "parallelism": 2}


@pytest.fixture
def swarm_repo(tmp_path, swarm_project, lab, monkeypatch) -> ManifestRepo:
    monkeypatch.setenv("DOCKER_HOST", lab.docker_host)
    monkeypatch.setenv("GITDEPLOY_ENGINE", "swarm")
    return ManifestRepo(tmp_path / "deploy", swarm_project)


def web(repo: ManifestRepo, image: str = "gitdeploy-test/app:v1", replicas: int = 3, port: int = 8080, **spec):
    ports = [{"containerPort": 80, "hostPort": port, "mode": "host"}] if port else []
    repo.service("web", image, replicas, endpointMode="dnsrr", ports=ports,
                 healthCheck={"exec": HEALTHZ, "interval": "1s", "retries": 2}, update=QUICK, **spec)


def sync(repo: ManifestRepo, *args: str):
    return gitdeploy("sync", "--repo", str(repo.root), "-o", "json", *args)


def served(lab, port: int = 8080) -> dict[str, str]:
    """What each node answers on its host port: node -> body (or None)."""
    return {name: (lab.http_get(int(name.removeprefix("node")), port) or "").strip() or None
            for name in lab.node_names()}


def tasks(lab, project: str, service: str = "web") -> list[dict]:
    client = docker.APIClient(base_url=lab.docker_host, timeout=30)
    nodes = {n["ID"]: n["Description"]["Hostname"] for n in client.nodes()}
    found = client.tasks(filters={"service": f"{project}_{service}", "desired-state": "running"})
    return [{"node": nodes.get(t.get("NodeID")), "state": t["Status"]["State"],
             "image": t["Spec"]["ContainerSpec"]["Image"]} for t in found]


def wait_for(what: str, probe, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        assert time.monotonic() < deadline, f"no {what} after {seconds:.0f} s"
        time.sleep(0.3)
    return found


def test_the_sample_app_runs_across_three_nodes_and_answers_on_each(lab, swarm_project, tmp_path, monkeypatch):
    # The sample repository as committed, its `swarm` environment made this test's project.
    repo = tmp_path / "sample"
    shutil.copytree(ROOT / "sample-repo", repo)
    text = (repo / "gitdeploy.yaml").read_text()
    (repo / "gitdeploy.yaml").write_text(text.replace("swarm: {engine: swarm}",
                                                      f"swarm: {{engine: swarm, project: {swarm_project}}}"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=t@t.invalid", "-c", "user.name=t", "add", "-A")
    git(repo, "-c", "user.email=t@t.invalid", "-c", "user.name=t", "commit", "-qm", "sample")
    monkeypatch.setenv("DOCKER_HOST", lab.docker_host)
    monkeypatch.setenv("GITDEPLOY_AGE_KEY_FILE", str(ROOT / "sample-repo" / "keys" / "DEMO-ONLY-age-key.txt"))

    run = gitdeploy("sync", "--repo", str(repo), "--env", "swarm", "-o", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(run.stdout)
    outcomes = {s["name"]: s["outcome"] for s in document["services"] + document["jobs"]}
    assert outcomes == {"api": "applied", "migrate": "applied", "web": "applied", "worker": "applied"}

    # One web replica per node (maxReplicasPerNode: 1), each on its node's port 8080.
    assert sorted(t["node"] for t in tasks(lab, swarm_project)) == lab.node_names()
    # Across nodes by name over the overlay network: web asks api (dnsrr) from each node.
    for k in (1, 2, 3):
        answer = wait_for(f"web -> api on node{k}", lambda: lab.http_get(k, 8080, "/cgi-bin/api"), seconds=20)
        assert "asked api: hello from" in answer

    # The worker got its config file (a Swarm config) and its secret (a Swarm secret), never printed.
    logs = gitdeploy("logs", "worker", "--repo", str(repo), "--env", "swarm", "--tail", "20")
    assert "config: " in logs.stdout and re.search(r"api token: \d+ bytes", logs.stdout), logs.stdout + logs.stderr
    client = docker.APIClient(base_url=lab.docker_host)
    secrets = client.secrets(filters={"label": f"io.gitdeploy.project={swarm_project}"})
    assert [s["Spec"]["Labels"]["io.gitdeploy.service"] for s in secrets] == ["worker"]

    again = gitdeploy("sync", "--repo", str(repo), "--env", "swarm")
    assert again.returncode == 0 and "nothing to do" in again.stdout.lower(), again.stdout + again.stderr
    status = json.loads(gitdeploy("status", "--repo", str(repo), "--env", "swarm", "-o", "json").stdout)
    web_row = next(s for s in status["services"] if s["name"] == "web")
    assert web_row["nodes"] == {"node1": 1, "node2": 1, "node3": 1} and web_row["sync"] == "Synced"

    down = gitdeploy("down", "--repo", str(repo), "--env", "swarm", "--yes", "--volumes", "--history")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not client.services(filters={"label": f"io.gitdeploy.project={swarm_project}"})
    assert not client.secrets(filters={"label": f"io.gitdeploy.project={swarm_project}"})


def test_a_rolling_update_then_a_failed_one_rolled_back_by_swarm_exits_3_and_is_not_retried(lab, swarm_repo):
    web(swarm_repo)
    swarm_repo.commit("v1")
    assert sync(swarm_repo).returncode == 0
    assert set(served(lab).values()) == {"v1"}

    web(swarm_repo, "gitdeploy-test/app:v2")
    swarm_repo.commit("v2")
    run = sync(swarm_repo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(served(lab).values()) == {"v2"}

    web(swarm_repo, "gitdeploy-test/app:v3")      # serves, but has no /healthz
    swarm_repo.commit("v3")
    run = sync(swarm_repo)
    assert run.returncode == 3, run.stdout + run.stderr          # where `docker stack deploy` says 0
    (result,) = json.loads(run.stdout)["services"]
    assert result["outcome"] == "rolled_back" and "Swarm rolled the update back" in result["message"]
    assert "unhealthy" in result["detail"] or "non-zero exit" in result["detail"], result
    wait_for("v2 on every node", lambda: set(served(lab).values()) == {"v2"}, seconds=30)

    # Remembered: the next (unattended) sync does not roll v3 forward again.
    version = docker.APIClient(base_url=lab.docker_host).inspect_service(f"{swarm_repo.project}_web")["Version"]
    run = sync(swarm_repo)
    assert run.returncode == 3 and json.loads(run.stdout)["services"][0]["action"] == "held"
    assert docker.APIClient(base_url=lab.docker_host).inspect_service(
        f"{swarm_repo.project}_web")["Version"] == version
    assert {t["image"] for t in tasks(lab, swarm_repo.project)} == {"gitdeploy-test/app:v2"}


def test_a_service_changed_by_hand_is_drift_that_sync_puts_back(lab, swarm_repo):
    web(swarm_repo, replicas=2, port=0)
    swarm_repo.commit()
    assert sync(swarm_repo).returncode == 0
    client = docker.DockerClient(base_url=lab.docker_host)
    client.services.get(f"{swarm_repo.project}_web").update(env=["DEBUG=1"])
    diff = gitdeploy("diff", "--repo", str(swarm_repo.root))
    assert diff.returncode == 2 and "changed by hand (TaskTemplate.ContainerSpec.Env)" in diff.stdout, diff.stdout
    assert "DEBUG" not in diff.stdout   # the path, never a value
    assert sync(swarm_repo).returncode == 0
    spec = client.api.inspect_service(f"{swarm_repo.project}_web")["Spec"]
    assert not spec["TaskTemplate"]["ContainerSpec"].get("Env")
    assert gitdeploy("diff", "--repo", str(swarm_repo.root)).returncode == 0


def test_placement_constraints_are_honoured(lab, swarm_repo):
    client = docker.DockerClient(base_url=lab.docker_host)
    node2 = next(n for n in client.nodes.list() if n.attrs["Description"]["Hostname"] == "node2")
    spec = node2.attrs["Spec"]
    node2.update(dict(spec, Labels={**spec.get("Labels", {}), "zone": "a"}))
    try:
        web(swarm_repo, replicas=2, port=0, placement={"constraints": ["node.labels.zone==a"]})
        swarm_repo.commit()
        run = sync(swarm_repo)
        assert run.returncode == 0, run.stdout + run.stderr
        assert [t["node"] for t in tasks(lab, swarm_repo.project)] == ["node2", "node2"]
    finally:
        node2.reload()
        spec = node2.attrs["Spec"]
        node2.update(dict(spec, Labels={k: v for k, v in spec.get("Labels", {}).items() if k != "zone"}))


def test_drain_waits_until_the_replicas_run_elsewhere_and_names_what_cannot_move(lab, swarm_repo):
    web(swarm_repo, replicas=3, port=0)
    swarm_repo.commit()
    assert sync(swarm_repo).returncode == 0
    try:
        drain = gitdeploy("drain", "node3", "--repo", str(swarm_repo.root), "-o", "json", "--timeout", "60")
        assert drain.returncode == 0, drain.stdout + drain.stderr
        document = json.loads(drain.stdout)
        assert document["drained"] == {**document["drained"], "node": "node3", "moved": True}
        running = tasks(lab, swarm_repo.project)
        assert "node3" not in {t["node"] for t in running} and len(running) == 3

        # A service only node2 may run cannot leave node2: drain says so after its timeout.
        assert gitdeploy("activate", "node3", "--repo", str(swarm_repo.root)).returncode == 0
        swarm_repo.service("pinned", "gitdeploy-test/app:v1", 1, endpointMode="dnsrr",
                           placement={"constraints": ["node.hostname==node2"]})
        swarm_repo.commit()
        assert sync(swarm_repo).returncode == 0
        stuck = gitdeploy("drain", "node2", "--repo", str(swarm_repo.root), "--timeout", "3", "-o", "json")
        assert stuck.returncode == 1 and "pinned" in json.loads(stuck.stdout)["drained"]["notMoved"], stuck.stdout
    finally:
        for node in ("node2", "node3"):
            gitdeploy("activate", node, "--repo", str(swarm_repo.root))
    nodes = json.loads(gitdeploy("nodes", "--repo", str(swarm_repo.root), "-o", "json").stdout)["nodes"]
    assert {n["name"]: n["availability"] for n in nodes} == {"node1": "active", "node2": "active", "node3": "active"}


def test_a_node_lost_is_reported_and_the_next_sync_converges_once_swarm_rescheduled(lab, swarm_repo):
    web(swarm_repo, replicas=3, port=0)
    swarm_repo.commit()
    assert sync(swarm_repo).returncode == 0
    lab.kill(3)
    try:
        # Swarm marks node3 down after 10-15 s: its replica is reported lost, then started elsewhere.
        def node3_down():
            nodes = json.loads(gitdeploy("nodes", "--repo", str(swarm_repo.root), "-o", "json").stdout)["nodes"]
            return next(n for n in nodes if n["name"] == "node3")["status"] == "down"
        wait_for("node3 marked down", node3_down, seconds=60)
        # Lost, or already replaced: either way not counted on node3 any more.
        (row,) = json.loads(gitdeploy("status", "--repo", str(swarm_repo.root), "-o", "json").stdout)["services"]
        assert "node3" not in row.get("nodes", {}), row
        run = sync(swarm_repo)    # converges once Swarm has rescheduled
        assert run.returncode == 0, run.stdout + run.stderr
        (row,) = json.loads(gitdeploy("status", "--repo", str(swarm_repo.root), "-o", "json").stdout)["services"]
        assert row["runningReplicas"] == 3 and "node3" not in row["nodes"] and row["sync"] == "Synced", row
    finally:
        lab.revive(3)


def test_config_files_and_secrets_change_by_new_versions_and_old_ones_go(lab, swarm_repo, tmp_path):
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()

    def version(n: int) -> None:
        (swarm_repo.dir / "app.conf").write_text(f"setting={n}\n")
        subprocess.run(["age", "-r", recipient, "-o", str(swarm_repo.dir / "token.age")],
                       input=f"token-{n}".encode(), check=True)
        swarm_repo.service("app", "gitdeploy-test/app:v1", 1, endpointMode="dnsrr",
                           files=[{"path": "/etc/app.conf", "source": "app.conf"}],
                           secrets=[{"name": "token", "source": "token.age"}])
        swarm_repo.commit(f"v{n}")

    env = {"GITDEPLOY_AGE_KEY_FILE": str(key)}
    client = docker.APIClient(base_url=lab.docker_host)
    label = {"label": f"io.gitdeploy.project={swarm_repo.project}"}
    for n in (1, 2):
        version(n)
        run = gitdeploy("sync", "--repo", str(swarm_repo.root), env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"token-{n}" not in run.stdout + run.stderr
        # Nor in the service's definition or labels: only the Swarm's secret store holds it.
        assert f"token-{n}" not in json.dumps(client.inspect_service(f"{swarm_repo.project}_app"))
        (task,) = [t for t in client.tasks(filters={"service": f"{swarm_repo.project}_app",
                                                     "desired-state": "running"})]
        node = client.inspect_node(task["NodeID"])["Description"]["Hostname"]
        on_node = lab.api(int(node.removeprefix("node")))
        container = task["Status"]["ContainerStatus"]["ContainerID"]

        def read(path: str) -> str:
            exec_id = on_node.exec_create(container, ["cat", path])
            return on_node.exec_start(exec_id).decode()

        assert read("/etc/app.conf") == f"setting={n}\n" and read("/run/secrets/token") == f"token-{n}"
        # One version of each is left: the update removed the old config and secret.
        assert len(client.configs(filters=label)) == 1 and len(client.secrets(filters=label)) == 1


def test_a_job_runs_once_as_a_swarm_job_and_a_failed_run_holds_what_depends_on_it(lab, swarm_repo):
    swarm_repo.job("migrate", "gitdeploy-test/app:v1", command=["sh", "-c", "echo migrated"], timeout="30s")
    web(swarm_repo, replicas=1, port=0, dependsOn=["migrate"])
    swarm_repo.commit()
    run = sync(swarm_repo)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["jobs"][0]["outcome"] == "applied"
    assert "migrated" in gitdeploy("logs", "migrate", "--repo", str(swarm_repo.root)).stdout

    for image, why in (("gitdeploy-test/app:v4", "exited with code 1"), ("gitdeploy-test/none:1", "No such image")):
        swarm_repo.job("migrate", image, timeout="30s")
        web(swarm_repo, "gitdeploy-test/app:v2", replicas=1, port=0, dependsOn=["migrate"])
        swarm_repo.commit(image)
        run = sync(swarm_repo)
        document = json.loads(run.stdout)
        assert run.returncode == 1 and document["jobs"][0]["outcome"] == "failed", run.stdout + run.stderr
        assert why in document["jobs"][0]["message"] + document["jobs"][0]["detail"], document["jobs"][0]
        assert document["services"][0]["outcome"] == "blocked"


def test_rollback_pins_the_previous_revision_and_atomic_reverts_what_this_sync_changed(lab, swarm_repo):
    web(swarm_repo, replicas=2, port=0)
    swarm_repo.commit("v1")
    assert sync(swarm_repo).returncode == 0
    web(swarm_repo, "gitdeploy-test/app:v2", replicas=2, port=0)
    swarm_repo.commit("v2")
    assert sync(swarm_repo).returncode == 0

    back = gitdeploy("rollback", "web", "--repo", str(swarm_repo.root))
    assert back.returncode == 0, back.stdout + back.stderr
    assert {t["image"] for t in tasks(lab, swarm_repo.project)} == {"gitdeploy-test/app:v1"}
    assert sync(swarm_repo).returncode == 0      # pinned: the next sync leaves it on v1
    assert {t["image"] for t in tasks(lab, swarm_repo.project)} == {"gitdeploy-test/app:v1"}
    assert gitdeploy("rollback", "web", "--clear", "--repo", str(swarm_repo.root)).returncode == 0
    assert sync(swarm_repo).returncode == 0
    assert {t["image"] for t in tasks(lab, swarm_repo.project)} == {"gitdeploy-test/app:v2"}

    # --atomic: api fails (v3), so web, updated in the same sync, goes back to v2 too.
    web(swarm_repo, "gitdeploy-test/app:v1", replicas=2, port=0)
    swarm_repo.service("api", "gitdeploy-test/app:v2", 1, endpointMode="dnsrr",
                       healthCheck={"exec": HEALTHZ, "interval": "1s", "retries": 2}, update=QUICK)
    swarm_repo.commit("api")
    assert sync(swarm_repo).returncode == 0
    web(swarm_repo, "gitdeploy-test/app:v2", replicas=2, port=0)
    swarm_repo.service("api", "gitdeploy-test/app:v3", 1, endpointMode="dnsrr",
                       healthCheck={"exec": HEALTHZ, "interval": "1s", "retries": 2}, update=QUICK)
    swarm_repo.commit("both")
    run = sync(swarm_repo, "--atomic")
    assert run.returncode == 3, run.stdout + run.stderr
    assert {t["image"] for t in tasks(lab, swarm_repo.project)} == {"gitdeploy-test/app:v1"}
    assert {t["image"] for t in tasks(lab, swarm_repo.project, "api")} == {"gitdeploy-test/app:v2"}
