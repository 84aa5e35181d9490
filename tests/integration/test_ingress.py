"""The ingress on a real engine: a public web service updated with zero failed requests, routed by host name.

The ingress image is built locally from Debian's caddy (scripts/build-images.sh) and chosen
with GITDEPLOY_INGRESS_IMAGE; it publishes on free high ports, never 80/443. A client sends
requests all through each rollout and counts every failure.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import uuid

import pytest

from tests.integration.conftest import gitdeploy, remove_project
from tests.manifest_repo import ManifestRepo

CHECK = {"exec": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"], "interval": "1s", "timeout": "1s",
         "retries": 2}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def ingress(api, monkeypatch):
    """Ports for this test's ingress; the ingress container, its network and its volume (a test's) are removed
    afterwards."""
    subprocess_env = {"GITDEPLOY_INGRESS_IMAGE": "gitdeploy-test/caddy:2"}
    for key, value in subprocess_env.items():
        monkeypatch.setenv(key, value)
    ports = (free_port(), free_port())
    yield ports
    for container in api.containers(all=True, filters={"name": "gitdeploy-ingress"}):
        api.remove_container(container["Id"], force=True)
    for volume in api.volumes(filters={"name": "gitdeploy-ingress-data"}).get("Volumes") or []:
        api.remove_volume(volume["Name"])
    for network in api.networks(names=["gitdeploy-ingress"]):
        api.remove_network(network["Id"])


def with_ingress(repo: ManifestRepo, ports: tuple[int, int]) -> None:
    (repo.dir / "gitdeploy.yaml").write_text(
        f"project: {repo.project}\ningress: {{http: {ports[0]}, https: {ports[1]}, hostIP: 127.0.0.1}}\n")


def get(port: int, host: str, path: str = "/", timeout: float = 2.0) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace").strip()
    finally:
        connection.close()


class Client:
    """A steady stream of requests (about 40 a second), from another thread; every answer that is not 200 is
    a failure. (Caddy 2.6 resets a connection now and then while it reloads its configuration under heavy
    load: docs/ingress.md, Limits; the bench measures that at 100 requests a second.)"""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.bodies: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = get(self.port, self.host)
                (self.bodies if status == 200 else self.failures).append(body if status == 200 else f"{status} {body}")
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.025)

    def __enter__(self) -> "Client":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_a_single_replica_is_updated_and_rolled_back_behind_the_ingress_without_a_failed_request(api, repo, ingress):
    with_ingress(repo, ingress)
    web = dict(ports=[{"containerPort": 80}], healthCheck=CHECK,
               ingress={"hosts": ["app.test"], "tls": "none"}, update={"monitor": "1s", "drain": "1s"})
    repo.service("web", "gitdeploy-test/app:v1", 1, **web)
    repo.commit("v1")
    run = gitdeploy("sync", "--repo", str(repo.root))
    assert run.returncode == 0, run.stdout + run.stderr
    assert get(ingress[0], "app.test") == (200, "v1")
    assert get(ingress[0], "unknown.test")[0] == 404
    assert not api.port(next(c["Id"] for c in api.containers(filters={"label": f"io.gitdeploy.project={repo.project}"})), 80)

    with Client(ingress[0], "app.test") as client:
        repo.service("web", "gitdeploy-test/app:v2", 1, **web)
        repo.commit("v2")
        run = gitdeploy("sync", "--repo", str(repo.root))
        time.sleep(0.5)
    assert run.returncode == 0, run.stdout + run.stderr
    assert client.failures == [] and client.bodies, client.failures[:5]
    # v1 until v2 is ready, both while the old replica is taken out, then v2 only.
    assert client.bodies[0] == "v1" and client.bodies[-1] == "v2" and set(client.bodies) == {"v1", "v2"}
    assert {get(ingress[0], "app.test")[1] for _ in range(10)} == {"v2"}

    with Client(ingress[0], "app.test") as client:
        repo.service("web", "gitdeploy-test/app:v3", 1, **web)   # no /healthz: never ready
        repo.commit("v3")
        run = gitdeploy("sync", "--repo", str(repo.root))
        time.sleep(0.5)
    assert run.returncode == 3, run.stdout + run.stderr
    assert client.failures == [] and set(client.bodies) == {"v2"}, (client.failures[:5], set(client.bodies))


def test_two_projects_share_the_ingress_and_each_sync_keeps_the_others_routes(api, tmp_path, ingress):
    first, second = (ManifestRepo(tmp_path / name, f"{name}{uuid.uuid4().hex[:8]}") for name in ("ia", "ib"))
    try:
        for repo, hosts, image in ((first, ["a.test", "www.a.test"], "v1"), (second, ["b.test"], "v2")):
            with_ingress(repo, ingress)
            repo.service("web", f"gitdeploy-test/app:{image}", 1, ports=[{"containerPort": 80}],
                         ingress={"hosts": hosts, "tls": "none"}, update={"monitor": "1s", "drain": "0s"})
            repo.commit()
            run = gitdeploy("sync", "--repo", str(repo.root))
            assert run.returncode == 0, run.stdout + run.stderr
        assert [get(ingress[0], host)[1] for host in ("a.test", "www.a.test", "b.test")] == ["v1", "v1", "v2"]
        status = json.loads(gitdeploy("status", "--repo", str(first.root), "-o", "json").stdout)
        assert {"url": "http://a.test/", "service": "web", "ready": 1} in status["routes"]
        assert status["ingress"]["running"] and status["ingress"]["image"] == "gitdeploy-test/caddy:2"
        assert "http://www.a.test/ -> web (1 ready)" in gitdeploy("diff", "--repo", str(first.root)).stdout
        access = gitdeploy("ingress", "logs", "--tail", "20")
        assert access.returncode == 0 and '"host":"b.test"' in access.stdout.replace(" ", ""), access.stdout[-500:]

        # A host another project holds: refused before anything changes, naming the other.
        second.service("web", "gitdeploy-test/app:v2", 1, ports=[{"containerPort": 80}],
                       ingress={"hosts": ["b.test", "a.test"], "tls": "none"})
        second.commit()
        clash = gitdeploy("sync", "--repo", str(second.root))
        assert clash.returncode == 1 and f"service web of project {first.project}" in clash.stderr, clash.stderr

        # The ingress removed by hand is drift: diff says so (exit 2), sync puts it back with every route.
        second.service("web", "gitdeploy-test/app:v2", 1, ports=[{"containerPort": 80}],
                       ingress={"hosts": ["b.test"], "tls": "none"}, update={"monitor": "1s", "drain": "0s"})
        second.commit()
        api.remove_container("gitdeploy-ingress", force=True)
        diff = gitdeploy("diff", "--repo", str(first.root))
        assert diff.returncode == 2 and "ingress" in diff.stdout, diff.stdout + diff.stderr
        assert gitdeploy("sync", "--repo", str(first.root)).returncode == 0
        assert [get(ingress[0], host)[1] for host in ("a.test", "b.test")] == ["v1", "v2"]

        # A service removed takes its routes with it; the other project's stay.
        first.remove("web")
        first.service("other", "gitdeploy-test/app:v1", 1)
        first.commit()
        assert gitdeploy("sync", "--repo", str(first.root)).returncode == 0
        assert get(ingress[0], "a.test")[0] == 404 and get(ingress[0], "b.test") == (200, "v2")
    finally:
        for container in api.containers(all=True, filters={"name": "gitdeploy-ingress"}):
            api.remove_container(container["Id"], force=True)   # it holds an endpoint on both networks
        remove_project(api, first.project)
        remove_project(api, second.project)


def test_tls_internal_serves_https_with_a_certificate_for_the_host_name(api, repo, ingress):
    with_ingress(repo, ingress)
    repo.service("web", "gitdeploy-test/app:v1", 1, ports=[{"containerPort": 80}],
                 ingress={"hosts": ["secure.test"], "tls": "internal"})
    repo.commit()
    run = gitdeploy("sync", "--repo", str(repo.root))
    assert run.returncode == 0, run.stdout + run.stderr
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # Caddy's own CA: not in our trust store
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", ingress[1]), timeout=3) as raw, \
                    context.wrap_socket(raw, server_hostname="secure.test") as tls:
                der = tls.getpeercert(binary_form=True)
                tls.sendall(b"GET / HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := tls.recv(4096):
                    answer += chunk
            break
        except (OSError, ssl.SSLError):
            assert time.monotonic() < deadline, "no HTTPS answer in 20 s"
            time.sleep(0.5)
    assert b"secure.test" in der and answer.startswith(b"HTTP/1.1 200") and answer.rstrip().endswith(b"v1")
    status, _ = get(ingress[0], "secure.test")
    assert status == 308   # plain HTTP redirects to HTTPS
    shown = json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)["ingress"]
    assert [c["host"] for c in shown["certificates"]] == ["secure.test"] and shown["certificates"][0]["notAfter"] > "2026"
