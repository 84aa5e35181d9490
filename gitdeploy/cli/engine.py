"""Building the engine adapter from options."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.engine.base import PullPolicy

Pull = Annotated[PullPolicy, typer.Option(
    "--pull", envvar="GITDEPLOY_PULL", case_sensitive=False,
    metavar="POLICY", help="When to pull images: missing (only images the engine lacks), always, or never.")]


def docker_engine(pull: PullPolicy = PullPolicy.MISSING, ingress=None):
    from gitdeploy.engine.docker import DockerEngine

    return DockerEngine(pull=pull, ingress=ingress)


def engine_for(desired, pull: PullPolicy | None = None):
    """The adapter of the engine a desired state goes to: a Swarm's wraps the manager's engine (history, lock)."""
    engine = docker_engine(pull or PullPolicy.MISSING, desired.ingress)
    if desired.engine.value == "swarm":
        from gitdeploy.engine.swarm import SwarmEngine

        return SwarmEngine(engine)
    return engine
