"""`gitdeploy ps`: one line per container of the project, as `docker compose ps`."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, Output, OutputFormat, Path, Ref, Repo, Verbose


def ps(name: Annotated[str | None, typer.Argument(hidden=True, metavar="NAME", help="Only this service (or job).")] = None,
       repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
       output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """List the project's containers (of the service or job NAME, or all), one a line: name, revision, state and health, uptime, published ports;
    replicas first, then each job's kept last run. Exit 0; 1 for an unknown name."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        rows = operations.ps(desired, command.engine(desired), name)
    command.show(jsonout.ps(revision, desired.project, rows), lambda: text.ps(rows))
