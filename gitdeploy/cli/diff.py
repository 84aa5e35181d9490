"""`gitdeploy diff`: what a sync would change."""
from __future__ import annotations

import typer

from gitdeploy.cli.engine import docker_engine
from gitdeploy.cli.options import Output, OutputFormat, Path, Prune, Ref, Repo, Verbose, rendered_errors
from gitdeploy.errors import ExitCode


def diff(repo: Repo = ".", ref: Ref = None, path: Path = None, prune: Prune = True,
         output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Show the plan: per service create / update (field by field) / scale / repair / remove / unchanged.

    Exit 0 when in sync, 2 when changes are pending, 1 on error.
    """
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    with rendered_errors(output, verbose):
        revision, desired = operations.read_desired(operations.Source(repo, ref, path))
        text.warnings(revision)
        the_plan = operations.diff(desired, docker_engine(), prune=prune)
    if output is OutputFormat.JSON:
        jsonout.emit(jsonout.plan(revision, the_plan))
    else:
        text.plan(revision, the_plan)
    raise typer.Exit(int(ExitCode.OK if the_plan.in_sync else ExitCode.CHANGES_PENDING))
