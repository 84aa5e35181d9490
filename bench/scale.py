"""`validate` + `diff` of 100, 300 and 1,000 services against an engine running 200 of them (issue 14, goal 4).

200 single-replica services are deployed first (gitdeploy sync, `monitor: 0s`);
then for each size a commit declares that many (the 200 among them), and a
fresh `gitdeploy validate` and a fresh `gitdeploy diff` are timed, as a CI step
would run them: a new commit each, so the manifests are parsed, not cached.
Prints seconds per size and how they grow; adds the 1,000 line to the run's table.
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
from sync_vs_compose import GITDEPLOY, IMAGE, remove_label  # noqa: E402
from tests.manifest_repo import ManifestRepo  # noqa: E402

RUNNING, SIZES = 200, (100, 300, 1000)


def declare(repo: ManifestRepo, n: int) -> None:
    for old in repo.root.glob("svc*.yaml"):
        old.unlink()
    for i in range(n):
        repo.service(f"svc{i:04d}", image=IMAGE, update={"monitor": "0s"})
    repo.commit(f"{n} services")


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 2):   # diff: 2 when there are changes
        sys.exit(f"{' '.join(command[1:2])} failed: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def main() -> None:
    project = f"bench{uuid.uuid4().hex[:6]}"
    times: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="gitdeploy-scale-") as tmp:
        repo = ManifestRepo(Path(tmp) / "deploy", project)
        where = ["--repo", str(repo.root)]
        try:
            declare(repo, RUNNING)
            print(f"deploying {RUNNING} services ...", flush=True)
            subprocess.run(GITDEPLOY + ["sync", *where, "--pull", "never"], check=True, capture_output=True)
            for n in SIZES:
                declare(repo, n)
                times[n] = seconds(GITDEPLOY + ["validate", *where]) + seconds(GITDEPLOY + ["diff", *where])
        finally:
            remove_label(f"io.gitdeploy.project={project}")
    print(f"validate + diff against {RUNNING} running services:")
    for n in SIZES:
        print(f"  {n:>5} services: {times[n]:.2f}s ({times[n] / n * 1000:.2f} ms per service)")
    print(f"  1,000 / 100: {times[1000] / times[100]:.1f}x the time for 10x the services")
    record(Row(f"validate + diff, 1,000 services vs {RUNNING} running (100: {times[100]:.2f} s, 300: "
               f"{times[300]:.2f} s)", times[1000], "s", goal="<= 2 s", limit=2.0))


if __name__ == "__main__":
    main()
