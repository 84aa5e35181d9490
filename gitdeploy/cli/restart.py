"""`gitdeploy restart`: a health-gated rolling restart of one service."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.interrupt import graceful_stop
from gitdeploy.cli.options import EngineChoice, Env, LockTimeout, Output, OutputFormat, Path, Ref, Repo, Verbose
from gitdeploy.core.results import Outcome
from gitdeploy.errors import ExitCode


def restart(service: Annotated[str, typer.Argument(hidden=True, metavar="SERVICE", help="The service whose replicas to restart.")],
            repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, lock_timeout: LockTimeout = 0.0,
            output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Restart every running replica of SERVICE, update.parallelism at a time (one always keeps serving when
    there are two or more; a single replica is down while it restarts), each batch passing its health checks
    and monitor period before the next. No spec change.
    Exit 0; 1 when a replica does not come back (the others keep running); 4 if another run holds the lock."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, progress, text

    command = Command(repo, ref, path, output, verbose, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired), progress.progress(desired.project) as report, \
            graceful_stop() as stopped:
        result = operations.restart(desired, command.engine(desired), service, lock_timeout=lock_timeout, progress=report,
                                    stop_requested=stopped)
    command.show(jsonout.restart(desired.project, result), lambda: text.restart(result))
    command.exit(ExitCode.INTERRUPTED if stopped() else ExitCode.OK if result.outcome is not Outcome.FAILED
                 else ExitCode.ERROR)
