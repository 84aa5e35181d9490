"""gitdeploy sync vs `docker-compose up -d` on the same N single-replica services, and start-up time.

For each N: a cold deploy (nothing running, images present) and a no-op re-run
(everything already running), each tool on its own project, cleaned up between.
A single `docker ps -a` is timed in the same run as the unit of "one listing".
For the largest N also: no-op `diff` and `status`, the peak memory of a no-op
sync, and the CPU time of a `watch` pass that finds nothing to do.
Prints seconds and ratios, and adds its lines to the run's table (bench/rows.py);
asserts nothing (benchmarks are not tests).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
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
sys.path.insert(0, str(ROOT / "bench"))
from rows import Row, record  # noqa: E402
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
    for attempt in range(20 if nets else 0):   # the engine releases removed containers' endpoints a moment later
        if subprocess.run(["docker", "network", "rm", *nets], capture_output=True).returncode == 0:
            break
        time.sleep(0.5)
    else:
        if nets:
            subprocess.run(["docker", "network", "rm", *nets], check=True, capture_output=True)
    images = subprocess.run(["docker", "images", "-q", "--filter", f"label={label}"], capture_output=True, text=True).stdout.split()
    if images:   # gitdeploy's history
        subprocess.run(["docker", "rmi", "-f", *set(images)], check=True, capture_output=True)


MONITOR = 5.0   # seconds: the default `update.monitor`


def peak_rss_mb(command: list[str]) -> float:
    """The most memory `command` held at once (its peak resident set), in MB."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return usage.ru_maxrss / 1024   # Linux: kilobytes


def watch_cpu(repo: Path, seconds: float) -> tuple[float, int]:
    """(CPU seconds, passes) of `gitdeploy watch --interval 1s` run for `seconds` on a converged project,
    its git and every other child process included."""
    command = GITDEPLOY + ["watch", "--repo", f"file://{repo}", "--pull", "never", "--interval", "1s"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    child.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    # One line per pass: "TIME PROJECT@COMMIT RESULT in 0.0s".
    passes = sum(1 for line in child.stderr.read().splitlines() if "@" in (line.split() + ["", ""])[1])
    return usage.ru_utime + usage.ru_stime, passes


def bench_gitdeploy(n: int, work: Path, runs: int, monitor: str = "0s", more: bool = False) -> dict[str, float]:
    """cold, and with runs > 0 the no-op medians (sync; with `more` also diff, status, peak memory and a
    watch pass's CPU time)."""
    project = f"bench{uuid.uuid4().hex[:6]}"
    repo = ManifestRepo(work / f"gitdeploy-{n}-{monitor}", project)
    for i in range(n):
        # monitor 0s: ready once seen running. Compose waits for nothing; with the
        # default monitor gitdeploy also confirms every replica stays up 5 s.
        repo.service(f"svc{i:02d}", image=IMAGE, update={"monitor": monitor})
    repo.commit()
    where = ["--repo", str(repo.root)]
    command = GITDEPLOY + ["sync", *where, "--pull", "never"]
    found: dict[str, float] = {}
    try:
        found["cold"] = timed(command)
        if runs:
            found["sync"] = median_of(runs, command)
        if more:
            found["diff"] = median_of(runs, GITDEPLOY + ["diff", *where])
            found["status"] = median_of(runs, GITDEPLOY + ["status", *where])
            found["rss"] = max(peak_rss_mb(command) for _ in range(3))
            # Two runs of different lengths: their difference is passes only, without start-up.
            short, long_ = watch_cpu(repo.root, 3.5), watch_cpu(repo.root, 11.5)
            if long_[1] > short[1]:
                found["watch"] = (long_[0] - short[0]) / (long_[1] - short[1])
    finally:
        remove_label(f"io.gitdeploy.project={project}")
    return found


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

    docker_ps = median_of(5, ["docker", "ps", "-a"])
    print(f"one `docker ps -a`: {docker_ps:.3f}s (median of 5)")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gitdeploy-bench-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            largest = n == args.sizes[-1]
            ours = bench_gitdeploy(n, work, args.runs, more=largest)
            dc_cold, dc_noop = bench_compose(n, work, args.runs)
            first = n == args.sizes[0]
            rows.append(Row(f"cold deploy, {n} services (`monitor: 0s`)", ours["cold"], "s", "compose", dc_cold,
                            *(("<= 0.8x", 0.8) if first else ("", None))))
            if first:   # the default monitor, against compose's time plus one monitor period
                monitored = bench_gitdeploy(n, work, 0, monitor=f"{MONITOR:g}s")["cold"]
                rows.append(Row(f"cold deploy, {n} services (default {MONITOR:g} s monitor)", monitored, "s",
                                f"compose + {MONITOR:g} s", dc_cold + MONITOR, "<= 1.0x", 1.0))
            rows.append(Row(f"no-op sync, {n} services", ours["sync"], "s", "compose", dc_noop,
                            *(("<= 0.15x", 0.15) if largest else ("", None))))
            if largest:
                for step in ("sync", "diff", "status"):
                    rows.append(Row(f"no-op {step}, {n} services", ours[step], "s", "`docker ps -a`", docker_ps,
                                    "<= 4x", 4.0))
                for step in ("diff", "status"):
                    rows.append(Row(f"no-op {step}, {n} services", ours[step], "s", "compose `up -d`", dc_noop,
                                    "<= 0.15x", 0.15))
                rows.append(Row(f"peak memory, no-op sync of {n}", ours["rss"], "MB", goal="<= 60 MB", limit=60.0))
                if "watch" in ours:
                    rows.append(Row(f"`watch` pass with nothing to do, {n} services (CPU)", ours["watch"] * 1000,
                                    "ms", goal="<= 50 ms", limit=50.0))
    ours_version = median_of(5, GITDEPLOY + ["--version"])
    theirs_version = median_of(5, ["docker-compose", "version"])
    rows.append(Row("`--version`", ours_version, "s", "`docker-compose version`", theirs_version, "<= 0.1x", 0.1))
    for row in rows:
        record(row)
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        print(f"{row.workload:<52} {row.ours:>8.3f} {row.unit:<2} {row.peer:<24} "
              f"{'' if row.theirs is None else f'{row.theirs:.3f}':>7} {ratio:>7}  goal {row.goal}")


if __name__ == "__main__":
    main()
