"""Day-two work on a Swarm's nodes: list them with the project's replicas, drain one and wait, activate one.

`docker node update --availability drain` returns at once; `gitdeploy drain`
waits until every replica of the project has left the node and each service
runs its declared count again elsewhere, so a script can go on to reboot the
node (or stops with exit 1 naming the services that did not move).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from gitdeploy.core.model import DesiredState
from gitdeploy.engine.base import Node, ServiceEngine
from gitdeploy.errors import GitDeployError

TICK = 0.5   # seconds between looks while a drain moves replicas


@dataclass(frozen=True, slots=True)
class NodeRow:
    node: Node
    tasks: tuple[tuple[str, int], ...]   # (service, replicas of the project running there), by service


@dataclass(frozen=True, slots=True)
class Drained:
    node: str
    moved: bool
    not_moved: tuple[str, ...]   # services still on the node, or short of their count elsewhere
    seconds: float


def swarm_of(engine) -> ServiceEngine:
    if not getattr(engine, "rolls_out_itself", False):
        raise GitDeployError("this command works on a Swarm: set `engine: swarm` in gitdeploy.yaml (or --engine swarm)")
    return engine


def rows(desired: DesiredState, engine) -> tuple[NodeRow, ...]:
    swarm = swarm_of(engine)
    observed = swarm.observe(desired.project)
    return tuple(NodeRow(node, tuple(sorted(Counter(r.service for r in observed.replicas
                                                    if r.node == node.hostname and r.running).items())))
                 for node in swarm.nodes())


def activate(desired: DesiredState, engine, node: str) -> Node:
    return swarm_of(engine).set_availability(node, "active")


def drain(desired: DesiredState, engine, node: str, timeout: float,
          progress: Callable[[str, str], None] = lambda s, m: None) -> Drained:
    """Sets `node` to drain and waits (up to `timeout` s) until the project's replicas that ran there run
    elsewhere, each service with as many running replicas as before the drain."""
    swarm = swarm_of(engine)
    began = time.monotonic()
    before = Counter(r.service for r in swarm.observe(desired.project).replicas if r.running)
    hostname = swarm.set_availability(node, "drain").hostname
    progress(hostname, "set to drain; waiting for its replicas to run elsewhere")
    while True:
        stuck = _not_moved(swarm, desired.project, hostname, before)
        if not stuck:
            return Drained(hostname, True, (), time.monotonic() - began)
        if time.monotonic() - began > timeout:
            return Drained(hostname, False, stuck, time.monotonic() - began)
        time.sleep(TICK)


def _not_moved(swarm: ServiceEngine, project: str, hostname: str, before: Counter) -> tuple[str, ...]:
    """Services with a replica still on the node, or fewer running elsewhere than ran before the drain."""
    observed = swarm.observe(project)
    stuck = {r.service for r in observed.replicas if r.node == hostname and r.state != "exited"}
    elsewhere = Counter(r.service for r in observed.replicas if r.running and r.node != hostname)
    stuck |= {service for service, count in before.items() if elsewhere[service] < count}
    return tuple(sorted(stuck))
