"""Prints the one table of a `bench/run.sh` run (the lines bench/rows.py collected), as Markdown.

Usage: python bench/table.py ROWS_FILE
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import Row, read  # noqa: E402


def figure(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit in ("requests", "req/s"):   # counts
        return f"{value:.0f} {unit}"
    return f"{value:.3f} {unit}" if unit == "s" and value < 1 else f"{value:.2f} {unit}" if unit == "s" \
        else f"{value:.0f} {unit}" if unit in ("MB", "ms") and value >= 10 else f"{value:.1f} {unit}"


def line(row: Row) -> str:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
    verdict = {True: "met", False: "missed", None: ""}[row.met]
    theirs = f"{row.peer} {figure(row.theirs, row.unit)}".strip() if row.peer else ""
    return f"| {row.workload} | {figure(row.ours, row.unit)} | {theirs} | {ratio} | {row.goal} | {verdict} |"


def main() -> None:
    rows = read(sys.argv[1])
    print("| workload | gitdeploy | peer | ratio | goal | |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(line(row))


if __name__ == "__main__":
    main()
