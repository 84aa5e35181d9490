"""Events of units finishing together are written in few engine writes, and each caller waits for its own."""
from __future__ import annotations

import threading

import pytest

from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.errors import EngineError
from gitdeploy.recorder import Recorder


def event(i: int) -> RevisionEvent:
    return RevisionEvent(f"svc{i}", 1, Event.DEPLOYED, "h", "", "c", "i", float(i))


class SlowEngine:
    """An engine whose first history write is held until the test lets it go."""

    def __init__(self, fail: bool = False) -> None:
        self.writes: list[tuple[RevisionEvent, ...]] = []
        self.first_started, self.release = threading.Event(), threading.Event()
        self.fail = fail

    def append_history(self, project, events):
        if not self.writes:
            self.first_started.set()
            self.release.wait(5)
        self.writes.append(events)
        if self.fail:
            raise EngineError("recording the revision history: no space left on device")


def test_events_that_arrive_during_a_write_go_together_in_the_next_one():
    engine = SlowEngine()
    recorder = Recorder(engine, "shop")
    done: list[int] = []
    first = threading.Thread(target=lambda: (recorder.record(event(0)), done.append(0)))
    first.start()
    engine.first_started.wait(5)
    others = [threading.Thread(target=lambda i=i: (recorder.record(event(i)), done.append(i))) for i in range(1, 6)]
    for thread in others:
        thread.start()
    while len(recorder._waiting) < 5:   # all five wait behind the first write
        threading.Event().wait(0.001)
    assert done == [], "no caller returns before its event is written"
    engine.release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert [len(w) for w in engine.writes] == [1, 5]
    assert sorted(done) == list(range(6)) and recorder.recorded


def test_a_failed_write_raises_in_every_caller_of_its_group():
    engine = SlowEngine(fail=True)
    engine.release.set()
    recorder = Recorder(engine, "shop")
    with pytest.raises(EngineError, match="no space left"):
        recorder.record(event(1))
    assert not recorder.recorded
