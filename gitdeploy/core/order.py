"""The order a sync changes things in. Pure.

A declared service or job changes only after everything it depends on is
converged in this run; a dependency with nothing to do costs nothing, but it
passes on a wait (and a failure) of its own dependencies, so `api → migrate →
db` waits for db even when migrate has nothing to do. Things no longer declared
are removed the other way round: a removed dependent goes before what it
depended on (their labels say what that was). Validation refuses cycles among
declared things; labels written by different commits can still disagree into
a cycle among removed ones, whose members then wait for none of each other.
So every wait ends.
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
    for members in cycles({name: list(found[name]) for name in removing}):
        for name in members:
            found[name] = tuple(d for d in found[name] if d not in members)
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


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The groups of names that wait for each other (strongly connected components of two or more), each
    sorted; Tarjan's algorithm, iterative (a chain of a thousand services is no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        path = [(root, iter(graph.get(root, ())))]
        while path:
            name, pending = path[-1]
            following = next(pending, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    path.append((following, iter(graph.get(following, ()))))
                elif following in on_stack:
                    low[name] = min(low[name], index[following])
                continue
            path.pop()
            if path:
                low[path[-1][0]] = min(low[path[-1][0]], low[name])
            if low[name] == index[name]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == name:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return sorted(found)
