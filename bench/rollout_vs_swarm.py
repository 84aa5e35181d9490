"""gitdeploy's health-gated rollout vs Docker Swarm's `docker service update`, same workload, one run.

One service, 6 replicas, exec health check every 1 s, batches of 2, start-first,
1 s monitor, rollback on failure:
  good:   v1 -> v2 (both tools finish the update)
  failed: v2 -> v3 (v3 fails its health check; both tools roll back to v2)
Prints seconds, ratios, the fewest healthy replicas seen during each step
(sampled every 0.2 s) and each tool's exit code. Asserts nothing.

Swarm runs as a single-node swarm on 127.0.0.1 (initialised here if needed,
and left again afterwards); `--no-resolve-image` keeps it off any registry.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from rows import Row, record  # noqa: E402
from tests.manifest_repo import ManifestRepo  # noqa: E402
from tests.sampling import HealthSampler  # noqa: E402

GITDEPLOY = str(ROOT / ".venv" / "bin" / "gitdeploy")
CHECK = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"]
REPLICAS, PARALLELISM = 6, 2


def run(command: list[str], labels: list[str]) -> tuple[float, int, int]:
    """(seconds, exit code, fewest healthy replicas seen) for one command."""
    with HealthSampler(labels) as sampler:
        start = time.perf_counter()
        code = subprocess.run(command, capture_output=True).returncode
        seconds = time.perf_counter() - start
    return seconds, code, min(sampler.samples)


def bench_gitdeploy(work: Path) -> dict[str, tuple[float, int, int]]:
    project = f"bench{uuid.uuid4().hex[:6]}"
    repo = ManifestRepo(work / "gitdeploy", project)
    labels = [f"io.gitdeploy.project={project}", "io.gitdeploy.service=web"]
    command = [GITDEPLOY, "sync", "--repo", str(repo.root), "--pull", "never"]

    def deploy(tag: str) -> tuple[float, int, int]:
        repo.service("web", image=f"gitdeploy-test/app:{tag}", replicas=REPLICAS,
                     healthCheck={"exec": CHECK, "interval": "1s", "timeout": "1s", "retries": 2},
                     update={"parallelism": PARALLELISM, "order": "start-first", "monitor": "1s"})
        repo.commit(tag)
        return run(command, labels)

    try:
        deploy("v1")
        return {"good": deploy("v2"), "failed": deploy("v3")}
    finally:
        for kind in ("ps -aq", "volume ls -q", "network ls -q", "images -q"):   # images: the history
            found = subprocess.run(["docker", *kind.split(), "--filter", f"label=io.gitdeploy.project={project}"],
                                   capture_output=True, text=True).stdout.split()
            if found:
                remove = {"ps -aq": ["rm", "-f"], "volume ls -q": ["volume", "rm"], "network ls -q": ["network", "rm"],
                          "images -q": ["rmi", "-f"]}
                subprocess.run(["docker", *remove[kind], *found], capture_output=True)


def bench_swarm() -> dict[str, tuple[float, int, int]]:
    name = f"bench{uuid.uuid4().hex[:6]}"
    labels = [f"com.docker.swarm.service.name={name}"]
    subprocess.run([
        "docker", "service", "create", "--quiet", "--no-resolve-image", "--name", name, "--replicas", str(REPLICAS),
        "--health-cmd", " ".join(CHECK), "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "2",
        "--update-parallelism", str(PARALLELISM), "--update-order", "start-first", "--update-monitor", "1s",
        "--update-failure-action", "rollback", "--rollback-parallelism", str(PARALLELISM),
        "--rollback-order", "start-first", "--rollback-monitor", "1s", "--stop-grace-period", "1s", "--init",
        "gitdeploy-test/app:v1"], check=True, capture_output=True)
    try:
        update = ["docker", "service", "update", "--quiet", "--no-resolve-image", "--image"]
        return {"good": run(update + ["gitdeploy-test/app:v2", name], labels),
                "failed": run(update + ["gitdeploy-test/app:v3", name], labels)}
    finally:
        subprocess.run(["docker", "service", "rm", name], capture_output=True)


def main() -> None:
    state = subprocess.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
                           capture_output=True, text=True).stdout.strip()
    joined_here = state != "active"
    if joined_here:
        subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True, capture_output=True)
    try:
        with tempfile.TemporaryDirectory(prefix="gitdeploy-bench-") as tmp:
            ours = bench_gitdeploy(Path(tmp))
        theirs = bench_swarm()
    finally:
        if joined_here:
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
    print(f"{REPLICAS} replicas, batches of {PARALLELISM}, start-first, exec check every 1s, monitor 1s")
    print(f"{'step':<8} {'gitdeploy':>10} {'swarm':>8} {'gitdeploy/swarm':>16} {'min healthy (gd/swarm)':>23} {'exit (gd/swarm)':>16}")
    for step in ("good", "failed"):
        (gs, gc, gm), (ss, sc, sm) = ours[step], theirs[step]
        print(f"{step:<8} {gs:>9.2f}s {ss:>7.2f}s {gs / ss:>15.2f}x {f'{gm}/{sm}':>23} {f'{gc}/{sc}':>16}")
    (gs, gc, gm), (ss, sc, sm) = ours["good"], theirs["good"]
    record(Row(f"rolling update, {REPLICAS} replicas in batches of {PARALLELISM} (fewest healthy: {gm} vs {sm})",
               gs, "s", "Swarm", ss, "<= 0.8x", 0.8))
    (gs, gc, gm), (ss, sc, sm) = ours["failed"], theirs["failed"]
    record(Row(f"failed update and rollback (exit code: {gc} vs {sc}; fewest healthy: {gm} vs {sm})",
               gs, "s", "Swarm", ss, "<= 0.6x", 0.6))
    print("goals (issue 14): rolling update <= 0.8x, failed update <= 0.6x, no availability dip "
          f"(the fewest healthy stays at {REPLICAS})")


if __name__ == "__main__":
    main()
