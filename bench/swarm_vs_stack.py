"""gitdeploy on a real 3-node Docker Swarm vs `docker stack deploy`, same workloads, same lab, one run.

The lab is scripts/swarmlab.sh (docs/swarm-lab.md): three dockerd in their own network
namespaces, node1 the manager. It is started once for the whole script and always taken
down at the end, holding /run/swarmlab.lock (the swarm tests' lock) all the while. Where
it cannot start, one line says why and the script adds no lines (exit 0).

  cold:    the sample app (sample-repo/, environment `swarm`: the migrate job, api x3 and
           web x3 with exec health checks, web on host port 8080 in `mode: host`, worker
           with a volume, a tmpfs, a config file and a secret), from nothing, vs a compose
           file written here to say the same (the migrate job is a `replicated-job`
           service in both: what gitdeploy makes of a Job). Median of --runs, the order of
           the two tools alternating.
  update:  6 replicas of gitdeploy-test/app v1 -> v2, batches of 2, start-first, monitor 1s.
  failed:  v2 -> v3 (no /healthz: its health check fails), failure action rollback.

gitdeploy is timed until `sync` returns (it waits for Swarm's verdict). `docker stack
deploy` returns at once, so it is timed until the Swarm has converged, polled every 0.1 s:
every task running (healthy, where there is a check) and the job complete; for an
update, UpdateStatus completed (or rollback_completed) with 6 tasks of the expected image
running and no other. The same poller runs during gitdeploy's sync, to show when the
Swarm had converged under it. No port goes through the routing mesh and every service
resolves by dnsrr: the lab's kernel has no IPVS. Nothing is pulled (`--pull never`,
`--resolve-image never`). Prints seconds and ratios, adds its lines to the run's table
(bench/rows.py); asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from rows import Row, record  # noqa: E402
from tests.manifest_repo import ManifestRepo, git  # noqa: E402
from tests.swarmlab import LOCK, LabBusy, leftovers, why  # noqa: E402
from tests.swarmlab import take_lock as take_lab_lock  # noqa: E402

GITDEPLOY = str(ROOT / ".venv" / "bin" / "gitdeploy")
SWARMLAB = str(ROOT / "scripts" / "swarmlab.sh")
AGE_KEY = ROOT / "sample-repo" / "keys" / "DEMO-ONLY-age-key.txt"
LOCK_WAIT = 15 * 60                    # seconds to wait for another holder of the lab
NODES = 3
MANAGER = "unix:///run/swarmlab/node1.sock"
TEST_IMAGES = tuple(f"gitdeploy-test/app:{tag}" for tag in ("v1", "v2", "v3"))
SAMPLE_IMAGES = ("gitdeploy-sample/api:1.0", "gitdeploy-sample/web:1.0", "gitdeploy-sample/worker:1.1")
REPLICAS, PARALLELISM = 6, 2
# v3 serves but has no /healthz: busybox nc fetches it (busybox wget segfaults with -T, and nc has no -z).
HEALTHZ = "printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w1 127.0.0.1 80 | grep -q 200"
POLL = 0.1                             # seconds between looks at the Swarm
SAMPLE_WANT = {"migrate": 0, "api": 3, "web": 3, "worker": 1}   # running replicas; 0: a job, run to completion


class LabUnavailable(Exception):
    """The lab cannot start here: one line says why, and these lines are skipped."""


# -- the lab ------------------------------------------------------------------------------

def swarmlab(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([SWARMLAB, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def take_lock() -> int:
    """Holds LOCK (flock) until its descriptor is closed, waiting up to LOCK_WAIT for another holder."""
    try:
        return take_lab_lock(LOCK_WAIT, "bench/swarm_vs_stack.py")
    except LabBusy as busy:
        raise LabUnavailable(f"{LOCK} held for over {LOCK_WAIT // 60} min (by {busy.holder})") from None


def images_source() -> str:
    """The engine the images are built on and saved from (never a lab node)."""
    source = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if "/run/swarmlab/" in source:
        raise LabUnavailable(f"DOCKER_HOST={source} points at a lab node; unset it (the images come from that engine)")
    env = {**os.environ, "DOCKER_HOST": source}
    if subprocess.run(["docker", "info"], capture_output=True, env=env).returncode != 0:
        raise LabUnavailable(f"no Docker engine answers at {source} to take the images from "
                             "(scripts/ensure-engine.sh starts one)")
    for what, images in (("test", TEST_IMAGES), ("sample", SAMPLE_IMAGES)):
        if any(subprocess.run(["docker", "image", "inspect", i], capture_output=True, env=env).returncode
               for i in images):
            built = subprocess.run([str(ROOT / "scripts" / "build-images.sh"), what], capture_output=True,
                                   text=True, env=env)
            if built.returncode != 0:
                raise LabUnavailable(f"scripts/build-images.sh {what} failed: {why(built)}")
    return source


def start_lab() -> None:
    """Brings the lab up (the caller holds the lock and takes it down); LabUnavailable when it cannot."""
    if sys.platform != "linux" or os.geteuid() != 0:
        raise LabUnavailable("needs root on Linux (network namespaces, one dockerd per node)")
    source = images_source()
    if leftovers():            # a crashed run's lab: we hold the lock, so no one uses it
        swarmlab("down", timeout=120)
    try:
        up = swarmlab("up", str(NODES), "--images", " ".join(TEST_IMAGES + SAMPLE_IMAGES), timeout=300,
                      env={"SWARMLAB_SOURCE_HOST": source})
    except subprocess.TimeoutExpired:
        raise LabUnavailable("`swarmlab.sh up` timed out after 300 s") from None
    if up.returncode != 0:
        raise LabUnavailable(f"swarmlab.sh up: {why(up)}")
    import docker

    for k in range(1, NODES + 1):
        with docker.APIClient(base_url=f"unix:///run/swarmlab/node{k}.sock", timeout=30) as node:
            have = {tag for image in node.images() for tag in image.get("RepoTags") or ()}
        if missing := sorted(set(TEST_IMAGES + SAMPLE_IMAGES) - have):
            raise LabUnavailable(f"node{k} lacks images {', '.join(missing)}")


# -- commands on the lab --------------------------------------------------------------------

LAB_ENV = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")} \
    | {"DOCKER_HOST": MANAGER, "GITDEPLOY_AGE_KEY_FILE": str(AGE_KEY)}


def lab_run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, env=LAB_ENV, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise RuntimeError(f"`{' '.join(command)}` did not return within {timeout:.0f} s (a hang)\n{out}{err}") from None


def manager():
    import docker

    return docker.APIClient(base_url=MANAGER, timeout=30)


def looks(api, prefix: str) -> dict[str, dict]:
    """The Swarm services named PREFIX..., by their short name (a gitdeploy job's run `migrate-run-HASH`
    as `migrate`): the image their definition asks for, Swarm's update state, and their tasks: running
    of that image, running of another, complete."""
    services = [s for s in api.services() if s["Spec"]["Name"].startswith(prefix)]
    tasks = api.tasks(filters={"service": [s["ID"] for s in services]}) if services else []
    found = {}
    for service in services:
        image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
        own = [t for t in tasks if t.get("ServiceID") == service["ID"]]
        running = [t for t in own if t.get("DesiredState") == "running" and t["Status"]["State"] == "running"]
        of_image = sum(t["Spec"]["ContainerSpec"]["Image"].split("@")[0] == image for t in running)
        others = sum(t["Spec"]["ContainerSpec"]["Image"].split("@")[0] != image for t in own
                     if t.get("DesiredState") == "running")
        found[service["Spec"]["Name"][len(prefix):].split("-run-")[0]] = {
            "image": image, "update": (service.get("UpdateStatus") or {}).get("State", ""),
            "running": of_image, "others": others,
            "complete": sum(t["Status"]["State"] == "complete" for t in own)}
    return found


def deployed(prefix: str, want: dict[str, int]) -> Callable[[object], bool]:
    """All of WANT there: each service's replicas running (healthy: Swarm starts a task with a check only
    once healthy), each job (0) complete."""
    def check(api) -> bool:
        seen = looks(api, prefix)
        return all(name in seen and (seen[name]["complete"] >= 1 if n == 0 else
                                     seen[name]["running"] >= n and not seen[name]["others"])
                   for name, n in want.items())
    return check


def updated(name: str, image: str, state: str) -> Callable[[object], bool]:
    """Swarm's update of service NAME ended in STATE, with REPLICAS tasks of IMAGE running and no other."""
    def check(api) -> bool:
        seen = looks(api, name).get("")
        return bool(seen) and seen["image"] == image and seen["update"] == state \
            and seen["running"] >= REPLICAS and not seen["others"]
    return check


class Until:
    """Polls `done(api)` on a thread from `start()` on; `.at`: seconds until it first held (None: not yet)."""

    def __init__(self, done: Callable[[object], bool]) -> None:
        self.done, self.at = done, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Until":
        self.began = time.perf_counter()
        self._thread.start()
        return self

    def _run(self) -> None:
        with manager() as api:   # its own client: this is another thread
            while not self._stop.is_set():
                try:
                    if self.done(api):
                        self.at = time.perf_counter() - self.began
                        return
                except Exception:  # noqa: BLE001 - a look that failed (a service going away): look again
                    pass
                self._stop.wait(POLL)

    def wait(self, timeout: float) -> float:
        self._thread.join(timeout)
        self._stop.set()
        if self.at is None:
            raise RuntimeError(f"the Swarm did not converge within {timeout:.0f} s")
        return self.at

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def timed_gitdeploy(command: list[str], done: Callable[[object], bool]) -> tuple[float, int, float | None, str]:
    """(seconds until `gitdeploy ...` returned, its exit code, seconds until the Swarm had converged, output)."""
    until = Until(done).start()
    start = time.perf_counter()
    run = lab_run(command)
    seconds = time.perf_counter() - start
    time.sleep(2 * POLL)
    until.stop()
    return seconds, run.returncode, until.at, run.stdout + run.stderr


def timed_stack(compose: Path, stack: str, done: Callable[[object], bool]) -> tuple[float, int, str]:
    """(seconds from `docker stack deploy` until the Swarm has converged, its exit code, output)."""
    until = Until(done).start()
    run = lab_run(["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(compose), stack])
    seconds = until.wait(300)
    return seconds, run.returncode, run.stdout + run.stderr


def clear_lab(timeout: float = 30) -> None:
    """Waits until the lab runs nothing (no service, no container on any node, no network but ingress), then
    removes what the tools leave on the nodes (stopped job containers, the per-node volumes): the next step
    starts empty. What is still there after TIMEOUT is noted and removed here."""
    import docker

    nodes = [docker.APIClient(base_url=f"unix:///run/swarmlab/node{k}.sock", timeout=30) for k in range(1, NODES + 1)]
    try:
        with manager() as api:
            def left() -> list[str]:
                return [s["Spec"]["Name"] for s in api.services()] \
                    + [c["Names"][0] for node in nodes for c in node.containers()] \
                    + [n["Name"] for n in api.networks(filters={"scope": "swarm"}) if n["Name"] != "ingress"]

            deadline = time.monotonic() + timeout
            while (found := left()) and time.monotonic() < deadline:
                time.sleep(0.2)
            if found:
                NOTES.append(f"still on the lab {timeout:.0f} s after its removal: {', '.join(found)} (removed here)")
                for service in api.services():
                    api.remove_service(service["ID"])
                deadline = time.monotonic() + 60
                while (found := left()) and time.monotonic() < deadline:
                    for network in api.networks(filters={"scope": "swarm"}):
                        if network["Name"] != "ingress" and not api.tasks(filters={"desired-state": "running"}):
                            try:
                                api.remove_network(network["Id"])
                            except docker.errors.APIError:
                                pass
                    time.sleep(0.5)
                if found:
                    raise RuntimeError(f"the lab could not be cleared: {', '.join(found)}")
        for node in nodes:
            for container in node.containers(all=True):
                node.remove_container(container["Id"], force=True)
            for volume in node.volumes().get("Volumes") or []:
                node.remove_volume(volume["Name"], force=True)
    finally:
        for node in nodes:
            node.close()


# -- the workloads ----------------------------------------------------------------------------

def sample_repo(work: Path, project: str, ordered: bool = True) -> Path:
    """A copy of sample-repo/ in its own Git repository, its `swarm` environment deployed as PROJECT;
    `ordered=False`: without its `dependsOn` (api after migrate, web after api)."""
    from ruamel.yaml import YAML

    repo = work / f"gitdeploy-{project}"
    shutil.copytree(ROOT / "sample-repo", repo)
    yaml = YAML()
    settings = yaml.load(repo / "gitdeploy.yaml")
    settings["environments"]["swarm"]["project"] = project
    yaml.dump(settings, repo / "gitdeploy.yaml")
    for manifest in ([] if ordered else [repo / "api.yaml", repo / "web.yaml"]):
        document = yaml.load(manifest)
        del document["spec"]["dependsOn"]
        yaml.dump(document, manifest)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@gitdeploy.invalid")
    git(repo, "config", "user.name", "gitdeploy bench")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sample")
    return repo


def nc_check(port: int) -> dict:
    return {"test": ["CMD", "sh", "-c", f"nc -w1 127.0.0.1 {port} </dev/null"], "interval": "1s", "timeout": "1s",
            "retries": 3, "start_period": "0s"}


def sample_compose(work: Path) -> Path:
    """The sample's `swarm` environment (gitdeploy render --env swarm) as a compose file for
    `docker stack deploy`: same images, replicas, health checks, limits, grace periods, mounts, config and
    secret (32 random bytes), update order; ports in host mode; dnsrr."""
    folder = work / "stack-sample"
    folder.mkdir()
    shutil.copy(ROOT / "sample-repo" / "config" / "worker.conf", folder / "worker.conf")
    (folder / "api-token").write_bytes(os.urandom(32))

    def deploy(replicas: int, cpus: str, memory: str, order: str = "start-first", **more) -> dict:
        pace = {"parallelism": 1, "delay": "0s", "monitor": "5s", "max_failure_ratio": 0, "order": order}
        return {"replicas": replicas, "endpoint_mode": "dnsrr",
                "resources": {"limits": {"cpus": cpus, "memory": memory}},
                "restart_policy": {"condition": "any", "delay": "1s"},
                "update_config": pace | {"failure_action": "rollback"},
                "rollback_config": pace | {"failure_action": "pause"}} | more

    services = {
        "migrate": {"image": "gitdeploy-sample/api:1.0", "init": True,
                    "command": ["/bin/sh", "-c", "echo migrating the schema for api 1.0; sleep 1; echo migrated"],
                    "deploy": {"mode": "replicated-job", "restart_policy": {"condition": "none"}}},
        "api": {"image": "gitdeploy-sample/api:1.0", "init": True, "environment": {"GREETING": "hello"},
                "stop_grace_period": "1s", "healthcheck": nc_check(8080),
                "deploy": deploy(3, "0.25", "32M", labels={"tier": "back"})},
        "web": {"image": "gitdeploy-sample/web:1.0", "init": True, "stop_grace_period": "1s",
                "healthcheck": nc_check(80),
                "ports": [{"target": 80, "published": 8080, "protocol": "tcp", "mode": "host"}],
                "deploy": deploy(3, "0.5", "64M", "stop-first", labels={"tier": "front"},
                                 placement={"max_replicas_per_node": 1})},
        "worker": {"image": "gitdeploy-sample/worker:1.1", "init": True, "environment": {"EVERY": "5"},
                   "stop_grace_period": "2s",
                   "volumes": [{"type": "volume", "source": "worker-state", "target": "/var/lib/worker"},
                               {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 8 * 1024 * 1024}}],
                   "configs": [{"source": "worker-conf", "target": "/etc/worker/worker.conf", "mode": 0o444}],
                   "secrets": [{"source": "api-token", "target": "api-token", "uid": "0", "gid": "0",
                                "mode": 0o400}],
                   "deploy": deploy(1, "0.1", "16M", "stop-first", labels={"tier": "back"})},
    }
    compose = {"version": "3.9", "services": services, "volumes": {"worker-state": {}},
               "configs": {"worker-conf": {"file": "./worker.conf"}},
               "secrets": {"api-token": {"file": "./api-token"}}}
    path = folder / "docker-compose.yml"
    path.write_text(json.dumps(compose, indent=2) + "\n")   # JSON is YAML
    return path


NOTES: list[str] = []   # what went wrong on the way (a failed sync or down), printed at the end


def gitdeploy_down(where: list[str]) -> None:
    down = lab_run([GITDEPLOY, "down", *where, "--yes"], timeout=120)
    if down.returncode != 0:
        NOTES.append(f"`gitdeploy down {' '.join(where)} --yes` exited {down.returncode}:\n{down.stdout}{down.stderr}")


def cold_gitdeploy(work: Path, ordered: bool = True) -> tuple[float, int, float | None, str]:
    """(seconds, exit code, seconds until the Swarm had converged, output) of a sync of the sample."""
    project = f"bench{uuid.uuid4().hex[:6]}"
    repo = sample_repo(work, project, ordered)
    where = ["--repo", str(repo), "--env", "swarm"]
    try:
        return timed_gitdeploy([GITDEPLOY, "sync", *where, "--pull", "never"], deployed(f"{project}_", SAMPLE_WANT))
    finally:
        gitdeploy_down(where)
        clear_lab()


def cold_stack(compose: Path) -> float:
    stack = f"stack{uuid.uuid4().hex[:6]}"
    try:
        seconds, code, out = timed_stack(compose, stack, deployed(f"{stack}_", SAMPLE_WANT))
        if code != 0:
            raise RuntimeError(f"docker stack deploy exited {code}:\n{out}")
        return seconds
    finally:
        lab_run(["docker", "stack", "rm", stack], timeout=120)
        clear_lab()


def rollout_gitdeploy(work: Path) -> dict[str, tuple]:
    """good and failed: (seconds, exit code, seconds until Swarm converged, image running after)."""
    project = f"bench{uuid.uuid4().hex[:6]}"
    repo = ManifestRepo(work / f"gitdeploy-{project}", project)
    with open(repo.dir / "gitdeploy.yaml", "a", encoding="utf-8") as settings:
        settings.write("engine: swarm\n")
    command = [GITDEPLOY, "sync", "--repo", str(repo.root), "--pull", "never"]
    name = f"{project}_web"

    def deploy(tag: str) -> tuple[float, int, float | None, str]:
        repo.service("web", image=f"gitdeploy-test/app:{tag}", replicas=REPLICAS, endpointMode="dnsrr",
                     healthCheck={"exec": ["sh", "-c", HEALTHZ], "interval": "1s", "timeout": "1s", "retries": 2},
                     update={"parallelism": PARALLELISM, "order": "start-first", "monitor": "1s",
                             "failureAction": "rollback"})
        repo.commit(tag)
        done = updated(name, "gitdeploy-test/app:v2", "rollback_completed" if tag == "v3" else "completed")
        return timed_gitdeploy(command, done)

    try:
        seconds, code, _, out = deploy("v1")
        if code != 0:
            raise RuntimeError(f"gitdeploy sync of v1 exited {code}:\n{out}")
        found = {}
        for step, tag in (("good", "v2"), ("failed", "v3")):
            seconds, code, converged, out = deploy(tag)
            with manager() as api:
                after = looks(api, name).get("", {}).get("image", "(none)")
            found[step] = (seconds, code, converged, after, out)
        return found
    finally:
        gitdeploy_down(["--repo", str(repo.root)])
        clear_lab()


def rollout_stack(work: Path) -> dict[str, tuple]:
    """good and failed: (seconds, exit code of `docker stack deploy`, image running after)."""
    stack = f"stack{uuid.uuid4().hex[:6]}"
    folder = work / f"stack-{stack}"
    folder.mkdir()
    pace = {"parallelism": PARALLELISM, "delay": "0s", "monitor": "1s", "max_failure_ratio": 0, "order": "start-first"}

    def compose(tag: str) -> Path:
        service = {"image": f"gitdeploy-test/app:{tag}", "init": True, "stop_grace_period": "1s",
                   "healthcheck": {"test": ["CMD", "sh", "-c", HEALTHZ], "interval": "1s", "timeout": "1s",
                                   "retries": 2, "start_period": "0s"},
                   "deploy": {"replicas": REPLICAS, "endpoint_mode": "dnsrr",
                              "restart_policy": {"condition": "any", "delay": "1s"},
                              "update_config": pace | {"failure_action": "rollback"},
                              "rollback_config": pace | {"failure_action": "pause"}}}
        path = folder / f"{tag}.yml"
        path.write_text(json.dumps({"version": "3.9", "services": {"web": service}}, indent=2) + "\n")
        return path

    name = f"{stack}_web"
    try:
        timed_stack(compose("v1"), stack, deployed(f"{stack}_", {"web": REPLICAS}))
        found = {}
        for step, tag in (("good", "v2"), ("failed", "v3")):
            done = updated(name, "gitdeploy-test/app:v2", "rollback_completed" if tag == "v3" else "completed")
            seconds, code, out = timed_stack(compose(tag), stack, done)
            with manager() as api:
                after = looks(api, name).get("", {}).get("image", "(none)")
            found[step] = (seconds, code, after, out)
        return found
    finally:
        lab_run(["docker", "stack", "rm", stack], timeout=120)
        clear_lab()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="cold deploys per tool (median)")
    args = parser.parse_args()
    # SIGTERM (a stopped bench) unwinds like an error: the lab still goes down and the lock is released.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.perf_counter()
    try:
        fd = take_lock()
    except LabUnavailable as exc:
        print(f"swarm vs stack: skipped, the swarm lab is not available: {exc}")
        return
    try:
        try:
            start_lab()
        except LabUnavailable as exc:
            print(f"swarm vs stack: skipped, the swarm lab is not available: {exc}")
            return
        with tempfile.TemporaryDirectory(prefix="gitdeploy-bench-") as tmp:
            work = Path(tmp)
            compose = sample_compose(work)
            ours, converged, theirs, failed = [], [], [], []
            run = 0
            while len(ours) < args.runs or len(theirs) < args.runs:
                for tool in (("gitdeploy", "stack") if run % 2 == 0 else ("stack", "gitdeploy")):  # alternating
                    if tool == "stack" and len(theirs) < args.runs:
                        theirs.append(cold_stack(compose))
                    elif tool == "gitdeploy" and len(ours) < args.runs:
                        seconds, code, swarm_done, out = cold_gitdeploy(work)
                        if code == 0:
                            ours.append(seconds)
                            converged.append(swarm_done)
                            continue
                        # Not counted, said below, and another run instead (at most 2 more).
                        failed.append(code)
                        NOTES.append(f"cold deploy: `gitdeploy sync --env swarm` exited {code} "
                                     f"(not counted):\n{out}")
                        if len(failed) > 2:
                            raise RuntimeError("gitdeploy sync of the sample failed 3 times:\n" + "\n".join(NOTES))
                run += 1
            unordered, code, _, out = cold_gitdeploy(work, ordered=False)   # for reference: what the order costs
            if code != 0:
                unordered = None
                NOTES.append(f"cold deploy without dependsOn: `gitdeploy sync` exited {code}:\n{out}")
            gd_roll = rollout_gitdeploy(work)
            stack_roll = rollout_stack(work)
    except BaseException:
        for note in NOTES:     # what went wrong before the error
            print("note: " + note.rstrip().replace("\n", "\n    "), file=sys.stderr)
        raise
    finally:
        down = swarmlab("down", timeout=120)
        os.close(fd)      # releases the flock
        if down.returncode != 0:
            print(f"swarmlab down failed: {why(down)}", file=sys.stderr)

    print(f"3-node Swarm lab (scripts/swarmlab.sh), manager node1; `docker stack deploy --resolve-image never` "
          f"timed until the Swarm converged (polled every {POLL:g} s)")
    print("cold deploy of the sample app (env swarm: migrate job, api x3, web x3 on host port 8080, worker with "
          "volume, config and secret; the job a replicated-job service in both)")
    fmt = lambda values: " ".join(f"{v:.2f}" if v is not None else "-" for v in values)  # noqa: E731
    print(f"  gitdeploy sync  {fmt(ours)} s   (Swarm converged under it at {fmt(converged)} s)")
    print(f"  stack deploy    {fmt(theirs)} s")
    cold_ours, cold_theirs = statistics.median(ours), statistics.median(theirs)
    print(f"  median          {cold_ours:.2f} s vs {cold_theirs:.2f} s = {cold_ours / cold_theirs:.2f}x (goal <= 1.1x)")
    if failed:
        print(f"  gitdeploy sync failed {len(failed)} time(s) (exit {', '.join(map(str, failed))}): not counted, "
              "see below")
    print("  gitdeploy sync without the sample's dependsOn (migrate -> api -> web; stack deploy starts all at once): "
          + (f"{unordered:.2f} s = {unordered / cold_theirs:.2f}x" if unordered else "failed, see below")
          + " (one run, for reference)")
    print(f"{REPLICAS} replicas of gitdeploy-test/app, batches of {PARALLELISM}, start-first, /healthz check every 1s, "
          "monitor 1s, failure action rollback")
    print(f"{'step':<8} {'gitdeploy':>10} {'(Swarm done)':>13} {'stack':>8} {'ratio':>7} {'exit (gd/stack)':>16} "
          f"{'runs after (gd/stack)':>24}")
    for step in ("good", "failed"):
        (gs, gc, gconv, gimage, _), (ss, sc, simage, _) = gd_roll[step], stack_roll[step]
        conv = f"{gconv:.2f}s" if gconv is not None else "-"
        print(f"{step:<8} {gs:>9.2f}s {conv:>13} {ss:>7.2f}s {gs / ss:>6.2f}x {f'{gc}/{sc}':>16} "
              f"{gimage.split(':')[-1] + '/' + simage.split(':')[-1]:>24}")
    for step, expected in (("good", 0), ("failed", 3)):
        if gd_roll[step][1] != expected:
            print(f"gitdeploy sync ({step} step) exited {gd_roll[step][1]}, not {expected}; its output:\n"
                  f"{gd_roll[step][4]}")

    failures = f"; {len(failed)} of {len(failed) + len(ours)} syncs failed" if failed else ""
    record(Row(f"Swarm, 3 nodes: cold deploy of the sample app (job + 3 services in dependsOn order, "
               f"7 replicas{failures})", cold_ours, "s",
               "`docker stack deploy`", cold_theirs, "<= 1.1x", 1.1))
    gs, gc, _, _, _ = gd_roll["good"]
    ss, sc, _, _ = stack_roll["good"]
    record(Row(f"Swarm, 3 nodes: rolling update, {REPLICAS} replicas in batches of {PARALLELISM}", gs, "s",
               "`docker stack deploy`", ss))
    gs, gc, _, gimage, _ = gd_roll["failed"]
    ss, sc, _, _ = stack_roll["failed"]
    record(Row(f"Swarm, 3 nodes: failed update and rollback (exit code: {gc} vs {sc})", gs, "s",
               "`docker stack deploy`", ss, "outcome reported correctly",
               outcome=gc == 3 and gimage == "gitdeploy-test/app:v2"))
    for note in NOTES:
        print("note: " + note.rstrip().replace("\n", "\n    "))
    print(f"({time.perf_counter() - began:.0f} s in all, the lab's start and removal included)")


if __name__ == "__main__":
    main()
