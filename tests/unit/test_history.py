"""The revision history as a table of cases: events in, answers out. Pure."""
from __future__ import annotations

import pytest

from gitdeploy.core.history import Event, History, RevisionEvent

D, R, P, U = Event.DEPLOYED, Event.ROLLED_BACK, Event.PINNED, Event.UNPINNED


def events(*rows: tuple) -> History:
    """rows of (revision, event, template hash[, git hash]) for service web, one second apart."""
    return History(tuple(RevisionEvent("web", rev, event, h, "{}", "c", "img", float(at), "",
                                       git_hash=rest[0] if rest else "")
                         for at, (rev, event, h, *rest) in enumerate(rows)))


# (id, history, template hash asked about, revision_of, failed?)
TEMPLATE_CASES = [
    ("no history: revision 1", events(), "a", 1, False),
    ("a known template keeps its number", events((1, D, "a"), (2, D, "b")), "a", 1, False),
    ("a new template gets the next number", events((1, D, "a"), (2, R, "b")), "c", 3, False),
    ("rolled back: failed", events((1, D, "a"), (2, R, "b")), "b", 2, True),
    ("deployed after failing: not failed any more", events((1, D, "a"), (2, R, "b"), (2, D, "b")), "b", 2, False),
    ("a pin's number is skipped for new templates", events((1, D, "a"), (1, P, "a", "b")), "z", 2, False),
]


@pytest.mark.parametrize("history, template_hash, revision, failed", [c[1:] for c in TEMPLATE_CASES],
                         ids=[c[0] for c in TEMPLATE_CASES])
def test_revision_numbers_and_failures(history, template_hash, revision, failed):
    assert history.revision_of("web", template_hash) == revision
    assert (history.failed("web", template_hash) is not None) == failed


# (id, history, git hash now, pinned revision or None)
PIN_CASES = [
    ("no pin", events((1, D, "a")), "b", None),
    ("pinned while Git declares the same", events((1, D, "a"), (2, D, "b"), (1, P, "a", "b")), "b", 1),
    ("Git moved on: the pin lapses", events((1, D, "a"), (2, D, "b"), (1, P, "a", "b")), "c", None),
    ("cleared", events((1, D, "a"), (2, D, "b"), (1, P, "a", "b"), (1, U, "a", "b")), "b", None),
]


@pytest.mark.parametrize("history, git_hash, pinned", [c[1:] for c in PIN_CASES], ids=[c[0] for c in PIN_CASES])
def test_pins(history, git_hash, pinned):
    pin = history.pin("web", git_hash)
    assert (pin.revision if pin else None) == pinned


# (id, history, running template, rollback's default target revision or None)
PREVIOUS_CASES = [
    ("nothing earlier", events((1, D, "a")), "a", None),
    ("the last deployed before the running one", events((1, D, "a"), (2, D, "b"), (3, D, "c")), "c", 2),
    ("a failed revision is no target", events((1, D, "a"), (2, R, "b"), (3, D, "c")), "c", 1),
    ("running an older one: the newest other", events((1, D, "a"), (2, D, "b")), "a", 2),
]


@pytest.mark.parametrize("history, running, target", [c[1:] for c in PREVIOUS_CASES],
                         ids=[c[0] for c in PREVIOUS_CASES])
def test_previous_deployed(history, running, target):
    found = history.previous_deployed("web", running)
    assert (found.revision if found else None) == target


def test_events_are_ordered_by_time_and_revision_lookup_needs_a_template():
    history = History((RevisionEvent("web", 2, D, "b", "{}", "c", "i", 5.0),
                       RevisionEvent("web", 1, D, "a", "{}", "c", "i", 1.0),
                       RevisionEvent("web", 3, U, "c", "", "c", "i", 6.0)))
    assert [e.revision for e in history.events] == [1, 2, 3]
    assert history.revision("web", 2).template_hash == "b"
    assert history.revision("web", 3) is None and history.revision("api", 1) is None


def test_only_the_newest_revisions_are_kept_and_a_pin_survives():
    rows = [(n, D, f"h{n}") for n in range(1, 26)]
    history = events(*rows)
    gone = history.expired(keep=20)
    assert sorted({e.revision for e in gone}) == [1, 2, 3, 4, 5]
    pinned = events(*rows, (3, P, "h3", "h25"))
    assert sorted({e.revision for e in pinned.expired(keep=20)}) == [1, 2, 4, 5]
    assert events(*rows[:20]).expired(keep=20) == ()


def test_a_revision_deployed_again_is_new_whatever_its_number():
    """Going back to an old template reuses its number: its fresh record must not be the one expired."""
    rows = [(n, D, f"h{n}") for n in range(1, 26)] + [(2, D, "h2")]   # revision 2 deployed again, last
    assert sorted({e.revision for e in events(*rows).expired(keep=20)}) == [1, 3, 4, 5, 6]
