"""`gitdeploy rollback`: put a service back on an earlier revision, and keep it there."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.engine import docker_engine
from gitdeploy.cli.options import LockTimeout, Output, OutputFormat, Path, Ref, Repo, Verbose, rendered_errors
from gitdeploy.errors import ExitCode


def rollback(service: Annotated[str, typer.Argument(help="The service to roll back.")],
             to: Annotated[int | None, typer.Option("--to", envvar="GITDEPLOY_TO",
                                                    help="Revision number (see `gitdeploy history`). Default: the "
                                                         "last deployed revision before the running one.")] = None,
             clear: Annotated[bool, typer.Option("--clear", envvar="GITDEPLOY_CLEAR",
                                                 help="Remove the pin: the next sync rolls out what Git declares.")] = False,
             repo: Repo = ".", ref: Ref = None, path: Path = None, lock_timeout: LockTimeout = 0.0,
             output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Roll SERVICE back to an earlier revision, health-gated, and pin it there.

    The pin is kept on the engine: later syncs leave the service alone (status shows it OutOfSync, rolled back)
    until Git declares something else for it, or `gitdeploy rollback SERVICE --clear`.
    Exit 0 on success, 3 if the earlier revision failed its health checks (the running one is restored),
    4 if another run holds the project's lock, 1 on error.
    """
    from gitdeploy import operations
    from gitdeploy.output import jsonout, progress, text

    with rendered_errors(output, verbose):
        revision, desired = operations.read_desired(operations.Source(repo, ref, path))
        text.warnings(revision)
        if clear:
            cleared = operations.clear_pin(desired, docker_engine(), service)
            message = (f"{service} follows Git again; the next sync rolls out what it declares." if cleared
                       else f"{service} was not pinned.")
            if output is OutputFormat.JSON:
                jsonout.emit({"project": desired.project, "service": service, "cleared": cleared})
            else:
                text.console.stdout().print(message)
            return
        with progress.progress() as report:
            the_plan, result = operations.rollback(desired, docker_engine(), service, to,
                                                   lock_timeout=lock_timeout, progress=report)
    if output is OutputFormat.JSON:
        jsonout.emit(jsonout.sync(revision, the_plan, result))
    else:
        text.sync_result(result)
    raise typer.Exit(int(ExitCode.for_result(result.result)))
