"""`gitdeploy exec`: run a command in a replica of a service, as `docker compose exec`."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, OutputFormat, Path, Ref, Repo, Verbose


def exec_(service: Annotated[str, typer.Argument(hidden=True, metavar="SERVICE", help="The service to run the command in.")],
          command: Annotated[list[str], typer.Argument(hidden=True, metavar="COMMAND", help="The command and its "
                                                       "arguments, after --.")],
          replica: Annotated[int | None, typer.Option("--replica", envvar="GITDEPLOY_REPLICA", metavar="N", min=1,
                                                      help="The replica's slot (as in SERVICE-N). Default: the "
                                                           "lowest running one.")] = None,
          repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, verbose: Verbose = False) -> None:
    """Run COMMAND (after --) in a running replica of SERVICE: `gitdeploy exec web -- sh -c 'ls /data'`. Interactive (a TTY, with
    stdin) when on a terminal; otherwise output is streamed and nothing is read from stdin. Exit: the
    command's exit code; 1 for an unknown service or no running replica."""
    from gitdeploy import operations

    command_line = Command(repo, ref, path, OutputFormat.TEXT, verbose, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command_line.loaded() as (revision, desired):
        adapter = command_line.engine(desired)
        name = operations.replica_of(desired, adapter, service, replica)
        code = adapter.exec_in(name, tuple(command), interactive=sys.stdin.isatty() and sys.stdout.isatty())
    raise typer.Exit(code)
