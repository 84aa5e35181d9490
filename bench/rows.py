"""The one table `bench/run.sh` ends with: each benchmark adds its lines here, `bench/table.py` prints them.

A line is one workload: our figure, the peer's on the same workload in the same
run, their ratio, and the goal it is held to (issue 14). Lines go to the file
named by BENCH_ROWS (JSON, one line each); without it they are only printed by
the script that measured them.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    workload: str
    ours: float
    unit: str                 # "s", "ms", "MB"
    peer: str = ""            # what we are compared with ("" for an absolute goal)
    theirs: float | None = None
    goal: str = ""            # e.g. "<= 0.8x", "<= 2 s"
    limit: float | None = None   # the goal as a number: the ratio (with a peer) or our figure must not exceed it
    outcome: bool | None = None  # a goal that is no number ("outcome reported correctly"): whether it was met

    @property
    def ratio(self) -> float | None:
        return self.ours / self.theirs if self.theirs else None

    @property
    def met(self) -> bool | None:
        if self.outcome is not None:
            return self.outcome
        if self.limit is None:
            return None
        measured = self.ratio if self.theirs is not None else self.ours
        return measured is not None and measured <= self.limit


def record(row: Row) -> None:
    target = os.environ.get("BENCH_ROWS")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(row)) + "\n")


def read(path: str) -> list[Row]:
    with open(path, encoding="utf-8") as rows:
        return [Row(**json.loads(line)) for line in rows if line.strip()]
