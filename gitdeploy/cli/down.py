"""`gitdeploy down`: remove everything of the project from the engine."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, LockTimeout, Output, OutputFormat, Path, Ref, Repo, Verbose
from gitdeploy.errors import GitDeployError


def down(yes: Annotated[bool, typer.Option("--yes", "-y", envvar="GITDEPLOY_DOWN_YES", metavar="",
                                           help="Do not ask for confirmation (needed when not on a terminal). Its "
                                                "own variable: one set for `unlock` does not take a project down.")] = False,
         volumes: Annotated[bool, typer.Option("--volumes", envvar="GITDEPLOY_DOWN_VOLUMES",
                                               metavar="", help="Also remove the project's volumes, and the data in them.")] = False,
         history: Annotated[bool, typer.Option("--history", envvar="GITDEPLOY_DOWN_HISTORY",
                                               metavar="", help="Also remove the revision history (and with it every pin and "
                                                    "the memory of failed revisions).")] = False,
         repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, lock_timeout: LockTimeout = 0.0,
         output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Remove everything of the project from the engine: its replicas, its jobs' kept runs (dependents
    first), its network and its lock. Volumes and the revision history are kept unless --volumes /
    --history. Asks first (--yes when not on a terminal). Exit 0; 1 on error or when not confirmed; 4 if
    another run holds the project's lock."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, progress, text

    command = Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        kept = ", ".join(what for what, asked in (("volumes", volumes), ("history", history)) if not asked)
        question = (f"Remove every replica, job run and the network of project {desired.project}"
                    + (f" (keeping its {kept})" if kept else ", its volumes and its history") + "?")
        if not yes:
            if not sys.stdin.isatty():
                raise GitDeployError(f"refusing to take project {desired.project} down without confirmation",
                                     hint="add --yes")
            typer.confirm(question, abort=True)
        with progress.progress(desired.project) as report:
            gone = operations.down(desired, command.engine(desired), volumes=volumes, history=history,
                                   lock_timeout=lock_timeout, progress=report)
    command.show(jsonout.down(desired.project, gone), lambda: text.down(desired.project, gone, volumes, history))
