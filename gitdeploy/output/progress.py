"""Rollout progress on stderr: a live panel on a terminal, one plain line per event otherwise.

A plain line is what a log file wants: `2026-12-05T21:50:01 shop web: started ...`
(a timestamp, the project, the service or job, the event).
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator


from gitdeploy.output import console
from gitdeploy.output.safe import shown


@contextmanager
def progress(project: str = "") -> Iterator[Callable[[str, str], None]]:
    if not sys.stderr.isatty():
        yield of_project(project)
        return
    from rich.live import Live
    from rich.table import Table

    latest: dict[str, str] = {}
    lock = threading.Lock()
    live: list[Live] = []   # started at the first event, after the plan is on the screen

    def render() -> Table:
        table = Table.grid(padding=(0, 2))
        for service, message in sorted(latest.items()):
            table.add_row(f"[bold]{shown(service)}[/]", shown(message))
        return table

    def update(service: str, message: str) -> None:
        with lock:
            latest[service] = message
            if not live:
                live.append(Live(render(), console=console.stderr(), refresh_per_second=8,
                                 redirect_stdout=False, redirect_stderr=False))
                live[0].start()
            live[0].update(render())

    try:
        yield update
    finally:
        if live:
            live[0].stop()


def of_project(project: str) -> Callable[[str, str], None]:
    """Plain lines naming the project."""
    return lambda service, message: plain(f"{project} {service}" if project else service, message)


def plain(service: str, message: str) -> None:
    console.stderr().print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {shown(service)}: {shown(message)}")
