"""The use cases behind the commands: read the source, observe, plan, apply.

Each function here is what one CLI command does, minus parsing and rendering.
The engine is passed in, so tests and a future Swarm backend plug in here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gitdeploy.apply import Progress, SyncResult, apply_plan
from gitdeploy.core.model import DesiredState
from gitdeploy.core.plan import Plan, plan as make_plan
from gitdeploy.core.status import ServiceStatus, service_statuses
from gitdeploy.engine.base import Engine
from gitdeploy.source.tree import Revision


@dataclass(frozen=True, slots=True)
class Source:
    repo: str = "."
    ref: str | None = None
    path: str | None = None


def read_desired(source: Source) -> tuple[Revision, DesiredState]:
    """The validated desired state at the source's commit; parsed only on a cache miss."""
    from gitdeploy.manifests import cache
    from gitdeploy.source.git import resolve

    revision = resolve(source.repo, source.ref, source.path)
    key = cache.cache_key(revision.commit, revision.root)
    desired = cache.load(key)
    if desired is None:
        from gitdeploy.manifests import load_desired
        from gitdeploy.source.git import read_files
        from gitdeploy.source.tree import SourceTree

        desired = load_desired(SourceTree(revision, read_files(revision)))
        cache.store(key, desired)
    return revision, desired


def diff(desired: DesiredState, engine: Engine, *, prune: bool = True) -> Plan:
    return make_plan(desired, engine.observe(desired.project), prune=prune)


def sync(desired: DesiredState, engine: Engine, *, prune: bool = True, dry_run: bool = False,
         progress: Progress = lambda s, m: None,
         on_plan: Callable[[Plan], None] = lambda p: None) -> tuple[Plan, SyncResult | None]:
    the_plan = diff(desired, engine, prune=prune)
    on_plan(the_plan)
    if dry_run:
        return the_plan, None
    return the_plan, apply_plan(the_plan, engine, progress=progress)


def status(desired: DesiredState, engine: Engine) -> tuple[ServiceStatus, ...]:
    observed = engine.observe(desired.project)
    return service_statuses(make_plan(desired, observed, prune=True), observed)
