"""What people read, at the width of a small terminal."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.core.revision import Revision
from gitdeploy.output import console, text


@pytest.fixture
def screen(monkeypatch):
    """An 80-column terminal."""
    shown = io.StringIO()
    monkeypatch.setattr(console, "stdout", lambda: Console(file=shown, width=80, highlight=False, soft_wrap=True))
    return shown


def test_history_at_80_columns_keeps_the_image_tag_and_marks_what_runs(screen):
    """A 40-character image and long messages on 80 columns: the messages go, then the registry path."""
    image = "registry.example.com/shop/web:1.4.2-rc.1"
    events = tuple(RevisionEvent("web", n, Event.DEPLOYED, f"h{n}", "{}", "ab" * 20, image, 1e9 + n,
                                 "3 started, 3 removed; 3 ready " * 4) for n in (1, 2))
    text.history(Revision("ab" * 20, "main", "", "."), "shop", events, running=frozenset({("web", "h2")}))
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    rows = [line for line in lines if line.startswith("web")]
    assert [row.split()[1:3] for row in rows] == [["1", "deployed"], ["2", "*"]]
    assert all("…example.com/shop/web:1.4.2-rc.1" in row for row in rows)   # the registry path gives way, not the tag
    assert lines[-1] == "* runs now (of a job: its last run)"


def test_history_shows_the_message_where_there_is_room(monkeypatch):
    wide = io.StringIO()
    monkeypatch.setattr(console, "stdout", lambda: Console(file=wide, width=200, highlight=False, soft_wrap=True))
    events = (RevisionEvent("web", 1, Event.ROLLED_BACK, "h1", "{}", "ab" * 20, "shop/web:2", 1e9,
                            "replica web-1 exited with code 1; rolled back"),)
    text.history(Revision("ab" * 20, "main", "", "."), "shop", events)
    row = wide.getvalue().splitlines()[2]
    assert row.startswith("web      1    rolled-back") and row.endswith("replica web-1 exited with code 1; rolled back")
