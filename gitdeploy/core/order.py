"""The order a sync changes things in. Pure.

A declared service or job changes only after everything it depends on is
converged in this run; a dependency with nothing to do costs nothing, but it
passes on a wait (and a failure) of its own dependencies, so `api → migrate →
db` waits for db even when migrate has nothing to do. Things no longer declared
are removed the other way round: a removed dependent goes before what it
depended on (their labels say what that was). Validation refuses cycles, so
every wait ends.
"""
from __future__ import annotations

from gitdeploy.core.actions import ServiceAction


def waits(units) -> dict[str, tuple[str, ...]]:
    """name -> the names it waits for. `units` are the plan's services and jobs (Plan.units)."""
    names = {u.name for u in units}
    removing = {u.name for u in units if u.action is ServiceAction.REMOVE}
    found = {}
    for unit in units:
        if unit.name in removing:
            found[unit.name] = tuple(sorted(o.name for o in units if o.name in removing and unit.name in o.depends_on))
        else:
            found[unit.name] = tuple(d for d in unit.depends_on if d in names and d not in removing)
    return found


def waves(units) -> tuple[tuple[str, ...], ...]:
    """The names of the units with work, in the steps a sync takes: each step's units change at the same
    time, after every earlier step they wait for (through units with nothing to do, too)."""
    waiting, working = waits(units), {u.name for u in units if u.work}
    depth: dict[str, int] = {}

    def step(name: str, seen: frozenset = frozenset()) -> int:
        """How many steps with work come before `name` can start."""
        if name not in depth:
            before = [step(d, seen | {name}) + (d in working) for d in waiting.get(name, ()) if d not in seen]
            depth[name] = max(before, default=0)
        return depth[name]

    steps: dict[int, list[str]] = {}
    for name in sorted(working):
        steps.setdefault(step(name), []).append(name)
    return tuple(tuple(steps[k]) for k in sorted(steps))
