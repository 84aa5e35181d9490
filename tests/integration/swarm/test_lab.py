"""The lab itself: a replicated service spreads over the three nodes and answers on each."""
from __future__ import annotations

import time

import docker
from docker.types import EndpointSpec

from tests.integration.conftest import PROJECT_LABEL

PORT = 8080


def wait_for(what: str, probe, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"no {what} after {seconds:.0f} s"
        time.sleep(0.2)
    return found


def test_a_replicated_service_runs_on_every_node_and_serves_on_its_host_port(lab, swarm_project):
    client = docker.DockerClient(base_url=lab.docker_host, timeout=30)
    assert sorted(n.attrs["Description"]["Hostname"] for n in client.nodes.list()) == lab.node_names()

    # The image's CMD serves /www on port 80 (busybox httpd); v1's index is "v1". No routing mesh
    # here (no IPVS): the port is published on each node's own address (mode host, dnsrr).
    service = client.services.create(
        "gitdeploy-test/app:v1", name=f"{swarm_project}_web", mode={"Replicated": {"Replicas": 3}},
        endpoint_spec=EndpointSpec(mode="dnsrr", ports={PORT: (80, "tcp", "host")}),
        stop_grace_period=1_000_000_000,   # busybox httpd ignores SIGTERM: don't wait out 10 s
        labels={PROJECT_LABEL: swarm_project}, container_labels={PROJECT_LABEL: swarm_project})
    # Unlike `docker service create` (without --no-resolve-image), the SDK never asks a registry
    # to pin the tag to a digest, and the engine (API >= 1.30) does not either.
    assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "gitdeploy-test/app:v1"

    def three_running():
        tasks = service.tasks(filters={"desired-state": "running"})
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        return running if len(running) == 3 else None

    tasks = wait_for("3 running tasks", three_running)
    hostnames = {n.id: n.attrs["Description"]["Hostname"] for n in client.nodes.list()}
    on = sorted(hostnames[t["NodeID"]] for t in tasks)
    assert on == lab.node_names()                 # a host port per node: one task on each

    for name in on:
        k = int(name.removeprefix("node"))
        body = wait_for(f"answer on {name}:{PORT}", lambda: lab.http_get(k, PORT), seconds=10)
        assert body.strip() == "v1"
    assert lab.http_get(1, PORT, "/no-such-page") is None

    service.remove()

    def gone():
        left = [c for k in range(1, lab.n + 1)
                for c in lab.api(k).containers(all=True, filters={"label": f"{PROJECT_LABEL}={swarm_project}"})]
        return True if not left else None

    wait_for("task containers removed", gone, seconds=30)
    assert lab.http_get(2, PORT) is None
