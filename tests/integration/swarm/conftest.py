"""Fixtures for tests against a real 3-node Docker Swarm on this machine.

`lab` starts scripts/swarmlab.sh (docs/swarm-lab.md): three extra dockerd,
each in its own network namespace, joined in a swarm whose manager is node1,
with the test images (scripts/build-images.sh test) loaded into every node. The
default engine and the root namespace's iptables are left alone. It is started
once per session and always taken down afterwards: by the fixture's teardown,
on SIGTERM, and at interpreter exit; a lab left over by a crashed run is taken
down before `up`. A file lock (/run/swarmlab.lock) keeps two test sessions
from sharing (or taking down) one lab.

Where the lab cannot start (not root, no nsenter or dockerd, ...) every test
here is skipped with the reason (one line at the end of the run), except with
CI=true: CI must run these tests, so there it is a failure.

This host's kernel has no IPVS: publish ports with mode=host and use dnsrr,
never the routing mesh or VIPs. Leave image resolution off (the SDK does: it
never asks a registry). busybox wget in the test images segfaults when given -T
(on any engine); docs/swarm-lab.md says to use `nc` in lab containers' health
checks. Names outside the lab do not resolve in it (no DNS, no route out).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import docker
import pytest

from tests.integration.conftest import PROJECT_LABEL, ROOT
from tests.swarmlab import LOCK, RUN, LabBusy, leftovers, take_lock, why

SCRIPT = ROOT / "scripts" / "swarmlab.sh"
LAB_NET = "10.213.47"                  # node K is LAB_NET.(10+K)
NODES = 3
IMAGES = tuple(f"gitdeploy-test/app:{tag}" for tag in ("v1", "v2", "v3", "v4", "v2-hc", "v3-hc")) + \
    ("gitdeploy-sample/web:1.0", "gitdeploy-sample/api:1.0", "gitdeploy-sample/worker:1.1")   # the sample app
LOCK_WAIT = float(os.environ.get("SWARMLAB_LOCK_WAIT", "900"))   # another session's lab: wait this long

_unavailable: list[str] = []           # why the lab did not start (for the summary line)


def _swarmlab(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _cannot(reason: str):
    """No lab: skip the swarm tests, or fail them under CI=true."""
    _unavailable.append(reason)
    if os.environ.get("CI") == "true":
        pytest.fail(f"swarm lab: {reason} (CI=true: the swarm tests must run)", pytrace=False)
    pytest.skip(f"swarm lab not available: {reason}")


def pytest_terminal_summary(terminalreporter):
    if _unavailable:
        if os.environ.get("CI") == "true":
            terminalreporter.write_line(f"swarm lab did not start, swarm tests failed: {_unavailable[0]}", red=True)
        else:
            terminalreporter.write_line(f"swarm lab not available, swarm tests skipped: {_unavailable[0]}",
                                        yellow=True)


@dataclass
class Lab:
    """The running lab. Node K (1..n) is hostname nodeK at LAB_NET.(10+K); node1 is the manager."""

    n: int = NODES

    @property
    def docker_host(self) -> str:
        return self.node_host(1)

    def node_host(self, k: int) -> str:
        return f"unix://{RUN}/node{k}.sock"

    def address(self, k: int) -> str:
        return f"{LAB_NET}.{10 + k}"

    def node_names(self) -> list[str]:
        return [f"node{k}" for k in range(1, self.n + 1)]

    def api(self, k: int = 1, timeout: int = 30):
        """A low-level docker APIClient on node K (default: the manager)."""
        return docker.APIClient(base_url=self.node_host(k), timeout=timeout)

    def exec(self, k: int, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Runs CMD in node K's network namespace (the lab subnet only; no DNS, no way out)."""
        return _swarmlab("exec", str(k), *cmd, timeout=timeout)

    def http_get(self, k: int, port: int, path: str = "/", *, via: int | None = None,
                 timeout: float = 5) -> str | None:
        """GET http://<node K's lab address>:PORT/PATH from inside node VIA's namespace
        (default: node K's own); the body, or None when nothing (good) answers."""
        url = f"http://{self.address(k)}:{port}{path}"
        try:
            run = self.exec(via or k, *_fetcher(url, timeout), timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            return None
        return run.stdout if run.returncode == 0 else None

    def kill(self, k: int, link: bool = False) -> None:
        """Node loss: SIGKILL node K's dockerd, containerd, shims and containers (or, link=True,
        only take its link down: a partition)."""
        run = _swarmlab("kill", str(k), *(["--link"] if link else []), timeout=60)
        assert run.returncode == 0, run.stderr

    def revive(self, k: int, timeout: float = 60) -> None:
        """Undoes kill(K) and waits until the node has rejoined: its own swarm state is active and
        the manager lists it Ready."""
        run = _swarmlab("revive", str(k), timeout=timeout + 60)
        assert run.returncode == 0, run.stderr
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            try:
                with self.api(k, timeout=5) as node_api, self.api(1, timeout=5) as manager:
                    local = node_api.info()["Swarm"]["LocalNodeState"]
                    (node,) = manager.nodes(filters={"name": f"node{k}"})
                state = f"local {local}, manager says {node['Status']['State']}"
                if local == "active" and node["Status"]["State"] == "ready":
                    return
            except Exception as exc:  # noqa: BLE001 - not back yet, whatever the symptom
                state = repr(exc)
            time.sleep(0.2)
        raise AssertionError(f"node{k} not Ready {timeout:.0f} s after revive ({state})")


def _fetcher(url: str, timeout: float) -> list[str]:
    """A command printing URL's body, failing on no answer or an HTTP error: the host's curl,
    else GNU wget, else this Python (busybox wget is no good: it segfaults with -T)."""
    t = str(max(1, int(timeout)))
    if _which("curl"):
        return ["curl", "-fsS", "--max-time", t, url]
    if _which("wget") and "GNU Wget" in subprocess.run(["wget", "--version"], capture_output=True,
                                                         text=True).stdout:
        return ["wget", "-qO-", "-T", t, "-t", "1", url]
    return [sys.executable, "-c", "import sys, urllib.request as u; "
            "sys.stdout.write(u.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode())", url, t]


def _which(name: str) -> bool:
    return shutil.which(name) is not None


class _Guard:
    """Takes the lab down exactly once: fixture teardown, SIGTERM or interpreter exit."""

    def __init__(self, lock_fd: int):
        self.lock_fd = lock_fd
        self.done = False
        self.previous_sigterm = signal.getsignal(signal.SIGTERM)
        atexit.register(self.down)
        if self.previous_sigterm in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        self.down()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def down(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            run = _swarmlab("down", timeout=120)
            if run.returncode != 0:
                print(f"swarmlab down failed: {why(run)}", file=sys.stderr)
        finally:
            os.close(self.lock_fd)      # releases the flock
            atexit.unregister(self.down)
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self.previous_sigterm or signal.SIG_DFL)


def _lock() -> int:
    """Holds LOCK for this session, waiting up to LOCK_WAIT s for another session's lab."""
    try:
        return take_lock(LOCK_WAIT)
    except LabBusy as busy:
        _cannot(f"another test session has held {LOCK} for over {LOCK_WAIT:.0f} s (last taken by {busy.holder})")


@pytest.fixture(scope="session")
def lab(request):
    if sys.platform != "linux" or os.geteuid() != 0:
        _cannot("needs root on Linux (network namespaces, one dockerd per node)")
    source = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if RUN in source:
        _cannot(f"DOCKER_HOST={source} points at a lab node; unset it (the images come from that engine)")
    problem = None
    try:
        request.getfixturevalue("api")          # the default engine, with the test images built
    except (pytest.fail.Exception, Exception) as exc:  # noqa: BLE001 - Failed is no Exception
        problem = f"no engine to take the test images from ({getattr(exc, 'msg', None) or exc})"
    if problem:
        _cannot(problem)

    # The sample app's images (scripts/build-images.sh builds them once; a no-op when present).
    built = subprocess.run([str(ROOT / "scripts" / "build-images.sh"), "sample"], capture_output=True, text=True)
    if built.returncode != 0:
        _cannot(f"could not build the sample images: {built.stderr.strip()[-200:]}")
    fd = _lock()
    guard = _Guard(fd)
    try:
        if leftovers():                        # a crashed run's lab: we hold the lock, so no one uses it
            _swarmlab("down", timeout=120)
        up = _swarmlab("up", str(NODES), "--images", " ".join(IMAGES), env={"SWARMLAB_SOURCE_HOST": source})
        if up.returncode != 0:
            raise RuntimeError(why(up))
        the_lab = Lab()
        for k in range(1, NODES + 1):
            have = {tag for image in the_lab.api(k).images() for tag in image.get("RepoTags") or ()}
            if missing := sorted(set(IMAGES) - have):
                raise RuntimeError(f"node{k} lacks images {', '.join(missing)}")
    except subprocess.TimeoutExpired as exc:
        problem = f"`swarmlab.sh {exc.cmd[1]}` timed out after {exc.timeout:.0f} s"
    except Exception as exc:  # noqa: BLE001 - any failure to start means no lab
        problem = str(exc) or repr(exc)
    if problem:
        guard.down()
        _cannot(problem)
    try:
        yield the_lab
    finally:
        guard.down()


def _remove_swarm_project(lab: Lab, name: str) -> None:
    """Everything labelled with project NAME, on the lab: services, secrets and configs on the
    manager; swarm networks once their tasks are gone; then, on every node that answers, what
    tests/integration/conftest.py's remove_project removes on the default engine: containers,
    local networks, volumes, history images and the lock container (io.gitdeploy.lock=NAME)."""
    label = {"label": f"{PROJECT_LABEL}={name}"}
    manager = _answering(lab, 1)
    if manager is not None:                       # a killed manager: `down` removes it all
        with manager:
            for service in manager.services(filters=label):
                _retry(lambda: manager.remove_service(service["ID"]))
            for secret in manager.secrets(filters=label):
                _retry(lambda: manager.remove_secret(secret["ID"]))    # in use until the tasks are gone
            for config in manager.configs(filters=label):
                _retry(lambda: manager.remove_config(config["ID"]))
            for network in manager.networks(filters={**label, "scope": "swarm"}):
                _retry(lambda: manager.remove_network(network["Id"]))
    for k in range(1, lab.n + 1):
        if (node := _answering(lab, k)) is None:
            continue                              # a killed node: `down` removes what it had
        with node:
            for container in node.containers(all=True, filters=label):
                _retry(lambda: node.remove_container(container["Id"], force=True))
            for network in node.networks(filters={**label, "scope": "local"}):
                _retry(lambda: node.remove_network(network["Id"]))
            for volume in node.volumes(filters=label).get("Volumes") or []:
                _retry(lambda: node.remove_volume(volume["Name"]))
            for image in node.images(filters=label):                   # the history
                _retry(lambda: node.remove_image(image["Id"], force=True))
            for lock in node.containers(all=True, filters={"label": f"io.gitdeploy.lock={name}"}):
                _retry(lambda: node.remove_container(lock["Id"], force=True))
    # Swarm removes asynchronously: a removed network stays listed until its tasks have left.
    deadline = time.monotonic() + 30
    while left := _left_on_lab(lab, label):
        if time.monotonic() > deadline:
            raise AssertionError(f"project {name} still on the lab 30 s after its removal: {left}")
        time.sleep(0.2)


def _left_on_lab(lab: Lab, label: dict) -> list[str]:
    left = []
    for k in range(1, lab.n + 1):
        if (node := _answering(lab, k)) is not None:
            with node:
                left += [f"node{k} network {n['Name']}" for n in node.networks(filters=label)]
                left += [f"node{k} container {c['Names'][0]}" for c in node.containers(all=True, filters=label)]
    return left


def _answering(lab: Lab, k: int):
    """An APIClient on node K, or None when its daemon does not answer (killed)."""
    try:
        return lab.api(k, timeout=10)   # asks the daemon its API version: fails fast when it is down
    except docker.errors.DockerException:
        return None


def _retry(action, seconds: float = 30):
    """ACTION, again while the engine says no (a task still uses it), for up to SECONDS;
    gone already is done."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def swarm_project(lab):
    """A unique project name; afterwards everything labelled with it is removed from the lab."""
    name = f"s{uuid.uuid4().hex[:8]}"
    yield name
    _remove_swarm_project(lab, name)

