"""Records a run's history events as its units finish, several in one engine write.

Every rollout and job run of a sync ends with one history event, and the
engine writes a record in about 45 ms (an image on Docker). Twenty services
converging together would queue twenty writes behind each other and slow their
own starts. So the writes are grouped, as databases commit a group: the first
unit to finish writes its event at once; the events of units that finish while
that write is in flight wait for it and then go together in the next one.
Each caller returns only once its own event is on the engine (or raises the
write's error), as with one write each: a gitdeploy killed mid-run loses at
most the events waiting that moment, never one whose unit was reported done.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from gitdeploy.core.history import RevisionEvent
from gitdeploy.engine.base import Engine


@dataclass
class _Entry:
    event: RevisionEvent
    written: bool = False
    error: BaseException | None = None


class Recorder:
    def __init__(self, engine: Engine, project: str) -> None:
        self.engine, self.project = engine, project
        self._turn = threading.Condition()
        self._waiting: list[_Entry] = []
        self._writing = False
        self.recorded = False   # an event was written in this run

    def record(self, event: RevisionEvent) -> None:
        """Writes `event` (with whatever waits alongside it); returns once it is written."""
        entry = _Entry(event)
        with self._turn:
            self._waiting.append(entry)
            while not entry.written:
                if self._writing:
                    self._turn.wait()
                    continue
                # No write in flight: this caller writes everything waiting, its own event included.
                group, self._waiting, self._writing = self._waiting, [], True
                self._turn.release()
                error = None
                try:
                    self.engine.append_history(self.project, tuple(e.event for e in group))
                except BaseException as exc:   # noqa: BLE001 - handed to every caller of the group, raised there
                    error = exc
                finally:
                    self._turn.acquire()
                for written in group:
                    written.written, written.error = True, error
                self._writing = False
                self.recorded = self.recorded or error is None
                self._turn.notify_all()
        if entry.error is not None:
            raise entry.error
