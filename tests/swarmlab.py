"""What the swarm tests (tests/integration/swarm/) and bench/swarm_vs_stack.py share about the lab of
scripts/swarmlab.sh: its lock, its reasons for failing, and whether one is left over."""
from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

RUN = "/run/swarmlab"                  # the script's state directory (sockets)
LOCK = "/run/swarmlab.lock"            # outside RUN: `down` removes RUN


class LabBusy(Exception):
    """Another holder kept the lab's lock past the wait: `holder` is what it wrote there."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def take_lock(wait: float, who: str = "") -> int:
    """Holds LOCK (flock) until the returned descriptor is closed, waiting up to `wait` s for another
    holder; raises LabBusy after that. Writes `pid N (who)` into it for the next one to name."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                os.close(fd)
                raise LabBusy(holder or "unknown") from None
            time.sleep(1)
    os.ftruncate(fd, 0)
    os.pwrite(fd, (f"pid {os.getpid()}" + (f" ({who})" if who else "")).encode(), 0)
    return fd


def why(run: subprocess.CompletedProcess) -> str:
    """The script's own reason: its last ERROR line, else the last line it printed."""
    lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
    errors = [line.split("ERROR: ", 1)[1] for line in lines if "ERROR: " in line]
    return errors[-1] if errors else (lines[-1] if lines else f"exit status {run.returncode}")


def leftovers() -> bool:
    """Anything of a lab: its state, its data roots, its namespaces."""
    netns = Path("/run/netns")
    return (Path(RUN).exists() or Path("/var/lib/swarmlab").exists()
            or (netns.is_dir() and any(p.name.startswith("swarmlab-") for p in netns.iterdir())))
