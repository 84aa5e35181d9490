"""Ctrl-C during a run that changes the engine: the first one stops it cleanly, the second at once.

First SIGINT (or SIGTERM): no new batch and no new service is started; the
batch in flight is finished (or rolled back, if it fails), the summary is
printed, and the command exits 130. Second: the process ends at once, exit
130; what it leaves (unconfirmed replicas, the lock) the next run resumes.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

STOPPED_BY_USER = "stopped by the user (Ctrl-C)"


@contextmanager
def graceful_stop() -> Iterator[Callable[[], str | None]]:
    """Yields `requested()`: the reason to stop, once the user asked, else None."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    asked = threading.Event()

    def handle(signum, frame) -> None:
        if asked.is_set():
            print("gitdeploy: stopped at once; the next run resumes from what runs now", file=sys.stderr)
            os._exit(130)
        asked.set()
        print("gitdeploy: stopping after the batch in flight (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: STOPPED_BY_USER if asked.is_set() else None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
