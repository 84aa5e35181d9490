"""`gitdeploy nodes`, `drain NODE`, `activate NODE`: a Swarm's nodes (engine: swarm)."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, Output, OutputFormat, Path, Ref, Repo, Verbose
from gitdeploy.errors import ExitCode

NodeName = Annotated[str, typer.Argument(metavar="NODE", help="The node's hostname (or ID), as `gitdeploy nodes` lists it.")]
Timeout = Annotated[float, typer.Option(
    "--timeout", envvar="GITDEPLOY_DRAIN_TIMEOUT", min=0, metavar="SECONDS",
    help="How long to wait for the node's replicas to run elsewhere.")]


def nodes(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
          output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """List the Swarm's nodes: role, availability, status, address, and the project's running replicas on each."""
    from gitdeploy import nodes as swarm_nodes
    from gitdeploy.output import jsonout, text

    command = _command(repo, ref, path, env, engine, output, verbose)
    with command.loaded() as (revision, desired):
        found = swarm_nodes.rows(desired, command.engine(desired))
    command.show(jsonout.nodes(desired.project, found), lambda: text.nodes(desired.project, found))


def drain(node: NodeName, timeout: Timeout = 300.0, repo: Repo = ".", ref: Ref = None, path: Path = None,
          env: Env = None, engine: EngineChoice = None, output: Output = OutputFormat.TEXT,
          verbose: Verbose = False) -> None:
    """Set NODE to drain and wait until the project's replicas on it run elsewhere, each service with as many
    running replicas as before the drain. Exit 0 once they do; 1 after --timeout, naming the services that did
    not move."""
    from gitdeploy import nodes as swarm_nodes
    from gitdeploy.output import jsonout, progress, text

    command = _command(repo, ref, path, env, engine, output, verbose)
    with command.loaded() as (revision, desired), progress.progress(desired.project) as report:
        swarm = command.engine(desired)
        drained = swarm_nodes.drain(desired, swarm, node, timeout, report)
        found = swarm_nodes.rows(desired, swarm)
    message = (f"{drained.node} drained: the replicas of {desired.project} run elsewhere "
               f"({drained.seconds:.1f}s)") if drained.moved else \
        (f"{drained.node} is set to drain, but after {timeout:g}s these services did not run elsewhere at the "
         f"count they had: {', '.join(drained.not_moved)}")
    command.show(jsonout.nodes(desired.project, found, drained),
                 lambda: (text.console.stdout().print(text.shown(message)), text.nodes(desired.project, found)))
    if not drained.moved:
        command.exit(ExitCode.ERROR)


def activate(node: NodeName, repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None,
             engine: EngineChoice = None, output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Set NODE back to active: the Swarm may place replicas on it again (it moves none there by itself)."""
    from gitdeploy import nodes as swarm_nodes
    from gitdeploy.output import jsonout, text

    command = _command(repo, ref, path, env, engine, output, verbose)
    with command.loaded() as (revision, desired):
        swarm = command.engine(desired)
        done = swarm_nodes.activate(desired, swarm, node)
        found = swarm_nodes.rows(desired, swarm)
    command.show(jsonout.nodes(desired.project, found),
                 lambda: (text.console.stdout().print(f"{text.shown(done.hostname)} is active"),
                          text.nodes(desired.project, found)))


def _command(repo, ref, path, env, engine, output, verbose) -> Command:
    return Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env,
                   engine_choice=engine)
