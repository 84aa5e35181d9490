"""gitdeploy sync vs `docker-compose up -d` on the same N single-replica services, and start-up time.

For each N: a cold deploy (nothing running, images present) and a no-op re-run
(everything already running), each tool on its own project, cleaned up between.
A single `docker ps` is timed in the same run as the unit of "one listing".
Prints seconds and ratios; asserts nothing (benchmarks are not tests).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.manifest_repo import ManifestRepo  # noqa: E402

GITDEPLOY = [str(ROOT / ".venv" / "bin" / "gitdeploy")]
IMAGE = "gitdeploy-test/app:v1"


def timed(command: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def median_of(runs: int, command: list[str], cwd: Path | None = None) -> float:
    return statistics.median(timed(command, cwd) for _ in range(runs))


def remove_label(label: str) -> None:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], check=True, capture_output=True)
    vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label={label}"], capture_output=True, text=True).stdout.split()
    if vols:
        subprocess.run(["docker", "volume", "rm", *vols], check=True, capture_output=True)
    nets = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label={label}"], capture_output=True, text=True).stdout.split()
    if nets:
        subprocess.run(["docker", "network", "rm", *nets], check=True, capture_output=True)
    images = subprocess.run(["docker", "images", "-q", "--filter", f"label={label}"], capture_output=True, text=True).stdout.split()
    if images:   # gitdeploy's history
        subprocess.run(["docker", "rmi", "-f", *set(images)], check=True, capture_output=True)


MONITOR = 5.0   # seconds: the default `update.monitor`


def bench_gitdeploy(n: int, work: Path, runs: int, monitor: str = "0s") -> tuple[float, float]:
    """(cold, no-op median); with runs=0 the cold deploy only."""
    project = f"bench{uuid.uuid4().hex[:6]}"
    repo = ManifestRepo(work / f"gitdeploy-{n}-{monitor}", project)
    for i in range(n):
        # monitor 0s: ready once seen running. Compose waits for nothing; with the
        # default monitor gitdeploy also confirms every replica stays up 5 s.
        repo.service(f"svc{i:02d}", image=IMAGE, update={"monitor": monitor})
    repo.commit()
    command = GITDEPLOY + ["sync", "--repo", str(repo.root), "--pull", "never"]
    try:
        cold = timed(command)
        noop = median_of(runs, command) if runs else 0.0
    finally:
        remove_label(f"io.gitdeploy.project={project}")
    return cold, noop


def bench_compose(n: int, work: Path, runs: int) -> tuple[float, float]:
    project = f"bench{uuid.uuid4().hex[:6]}"
    folder = work / f"compose-{n}"
    folder.mkdir()
    services = {f"svc{i:02d}": {"image": IMAGE, "init": True, "stop_grace_period": "1s", "restart": "unless-stopped"}
                for i in range(n)}
    (folder / "docker-compose.yml").write_text(json.dumps({"version": "2.4", "services": services}, indent=2))
    command = ["docker-compose", "-p", project, "up", "-d"]
    try:
        cold = timed(command, folder)
        noop = median_of(runs, command, folder)
    finally:
        subprocess.run(["docker-compose", "-p", project, "down", "-t", "1"], cwd=folder, capture_output=True)
        remove_label(f"com.docker.compose.project={project}")
    return cold, noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--runs", type=int, default=3, help="no-op runs per tool (median)")
    args = parser.parse_args()
    if not shutil.which("docker-compose"):
        sys.exit("docker-compose not found: run bench/run.sh, which installs Debian's package")

    docker_ps = median_of(5, ["docker", "ps", "-q"])
    print(f"one `docker ps`: {docker_ps:.3f}s (median of 5)")
    print(f"{'services':>8} {'step':<6} {'gitdeploy':>10} {'compose':>10} {'gitdeploy/compose':>18} {'gitdeploy/docker-ps':>20}")
    with tempfile.TemporaryDirectory(prefix="gitdeploy-bench-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            gd_cold, gd_noop = bench_gitdeploy(n, work, args.runs)
            dc_cold, dc_noop = bench_compose(n, work, args.runs)
            for step, ours, theirs in (("cold", gd_cold, dc_cold), ("no-op", gd_noop, dc_noop)):
                print(f"{n:>8} {step:<6} {ours:>9.2f}s {theirs:>9.2f}s {ours / theirs:>17.2f}x {ours / docker_ps:>19.1f}x")
            if n == args.sizes[0]:   # the default monitor, against compose's time plus one monitor period
                monitored, _ = bench_gitdeploy(n, work, 0, monitor=f"{MONITOR:g}s")
                theirs = dc_cold + MONITOR
                print(f"{n:>8} {'cold, default monitor':<6} {monitored:>9.2f}s {theirs:>9.2f}s {monitored / theirs:>17.2f}x"
                      f"  (peer: compose + one {MONITOR:g}s monitor period; goal <= 1.0x, issue 14)")
    ours = median_of(5, GITDEPLOY + ["--version"])
    theirs = median_of(5, ["docker-compose", "version"])
    print(f"start-up: gitdeploy --version {ours:.3f}s, docker-compose version {theirs:.3f}s: "
          f"{theirs / ours:.1f}x faster (median of 5)")
    print("goals: no-op of 50 at least 8x faster than compose (ratio <= 0.125; issue 2) and under 5x one "
          "docker ps (issue 4); cold of 20 at most 0.8x compose; --version at least 10x faster than compose")


if __name__ == "__main__":
    main()
