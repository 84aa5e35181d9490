"""Where a no-op pass spends its time, and how the planner scales (issue 14, goals 2 and 4).

A no-op `gitdeploy sync` of N services, taken apart: the interpreter, the
imports the command loads, the git calls that resolve the commit, the one
engine listing, the planner, and the whole command. Then the planner alone on
a synthetic snapshot of 100, 300 and 1,000 services (the engine running all of
them, nothing to do). Medians of several runs; prints seconds, asserts nothing.
"""
from __future__ import annotations

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

PYTHON = str(ROOT / ".venv" / "bin" / "python")
RUNS = 5


def median_seconds(command: list[str], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(code: str) -> float:
    """The median time of `code`'s last statement, measured inside one interpreter (after the imports)."""
    out = subprocess.run([PYTHON, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def noop_breakdown(n: int) -> None:
    project = f"bench{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="gitdeploy-breakdown-") as tmp:
        repo = ManifestRepo(Path(tmp) / "deploy", project)
        for i in range(n):
            repo.service(f"svc{i:02d}", image="gitdeploy-test/app:v1", update={"monitor": "0s"})
        repo.commit()
        sync = [PYTHON, "-m", "gitdeploy", "sync", "--repo", str(repo.root), "--pull", "never"]
        subprocess.run(sync, check=True, capture_output=True)
        try:
            interpreter = median_seconds([PYTHON, "-c", "pass"])
            imports = median_seconds([PYTHON, "-c", "import gitdeploy.cli.app, gitdeploy.cli.sync, gitdeploy.operations, "
                                                    "gitdeploy.engine.docker"])
            parts = {
                "interpreter start": interpreter,
                "imports (cli, operations)": max(0.0, imports - interpreter),
                "git (resolve the commit)": in_process(
                    "import time, statistics\nfrom gitdeploy.source.git import resolve\n"
                    f"t=[]\nfor _ in range({RUNS}):\n s=time.perf_counter(); resolve({str(repo.root)!r}, None, None); "
                    "t.append(time.perf_counter()-s)\nprint(statistics.median(t))"),
                "engine read (one listing)": in_process(
                    "import time, statistics\nfrom gitdeploy.engine.docker import DockerEngine\ne=DockerEngine()\n"
                    f"t=[]\nfor _ in range({RUNS}):\n s=time.perf_counter(); e.observe({project!r}); "
                    "t.append(time.perf_counter()-s)\nprint(statistics.median(t))"),
            }
            whole = median_seconds(sync)
        finally:
            for kind, remove in (("ps -aq", "rm -f"), ("network ls -q", "network rm"), ("images -q", "rmi -f"),
                                 ("volume ls -q", "volume rm")):
                found = subprocess.run(["docker", *kind.split(), "--filter", f"label=io.gitdeploy.project={project}"],
                                       capture_output=True, text=True).stdout.split()
                if found:
                    subprocess.run(["docker", *remove.split(), *set(found)], capture_output=True)
    print(f"no-op sync of {n} services: {whole:.3f}s in all (median of {RUNS}); of it:")
    for what, seconds in parts.items():
        print(f"  {what:<28} {seconds:.3f}s")
    # typer 0.29 builds a pydantic adapter per parameter when it parses: part of "the rest".
    print(f"  {'the rest (parsing, cache, plan, render)':<28} {max(0.0, whole - sum(parts.values())):.3f}s")


PLANNER = """
import time, statistics
from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.observed import ObservedReplica, ObservedState
from gitdeploy.core.plan import plan
n = {n}
specs = tuple(ServiceSpec(f"svc{{i:04d}}", "shop/app:1") for i in range(n))
replicas = tuple(ObservedReplica(f"id{{i}}", f"p_svc{{i:04d}}-1-{{s.template_hash()[:7]}}", s.name, 1, s.template_hash(),
                                 s.template_json(), "c" * 40, "shop/app:1", "running", "Up", networks=("gitdeploy_p",))
                 for i, s in enumerate(specs))
desired, observed = DesiredState("p", "c" * 40, specs), ObservedState("p", replicas)
t = []
for _ in range(5):
    s = time.perf_counter(); plan(desired, observed); t.append(time.perf_counter() - s)
print(statistics.median(t))
"""


def main() -> None:
    noop_breakdown(20)
    print("the planner alone, on a synthetic snapshot (everything running, nothing to do):")
    for n in (100, 300, 1000):
        ms = in_process(PLANNER.format(n=n)) * 1000
        print(f"  {n:>5} services: {ms:.1f} ms (goal for 1,000: <= 50 ms, issue 14)")
    record(Row(f"the planner alone, {n} services (synthetic snapshot)", ms, "ms", goal="<= 50 ms", limit=50.0))


if __name__ == "__main__":
    main()
