"""`gitdeploy unlock`: break a project's lock whose holder is gone."""
from __future__ import annotations

import sys

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, Output, OutputFormat, Path, Ref, Repo, Verbose, Yes
from gitdeploy.errors import GitDeployError


def unlock(yes: Yes = False,
           repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
           output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Remove the project's lock on the engine, for the rare run killed without its lease expiring.

    A lock whose lease expired (30 s after its holder stopped renewing) is taken over by the next run anyway.
    Only use this when you know the holder is gone: two runs at once can undo each other's work.
    """
    from gitdeploy import operations

    command = Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        engine = command.engine(desired)
        holder = operations.lock_holder(desired, engine)
        if holder is None:
            message = f"project {desired.project} is not locked"
        else:
            if not yes:
                if not sys.stdin.isatty():
                    raise GitDeployError(f"project {desired.project} is locked by {holder.describe()}; "
                                         "refusing to unlock without confirmation", hint="add --yes")
                typer.confirm(f"Remove the lock of {desired.project} held by {holder.describe()}?", abort=True)
            operations.unlock(desired, engine)
            message = f"removed the lock of {desired.project} held by {holder.describe()}"
    command.say({"project": desired.project, "unlocked": holder is not None,
                 "holder": holder.describe() if holder else None}, message)
