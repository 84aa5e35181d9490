"""`gitdeploy status`: desired against running, per service."""
from __future__ import annotations

from gitdeploy.cli.engine import docker_engine
from gitdeploy.cli.options import Output, OutputFormat, Path, Ref, Repo, Verbose, rendered_errors


def status(repo: Repo = ".", ref: Ref = None, path: Path = None,
           output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Per service: running/desired replicas, image, deployed commit, Synced or OutOfSync."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    with rendered_errors(output, verbose):
        revision, desired = operations.read_desired(operations.Source(repo, ref, path))
        text.warnings(revision)
        rows = operations.status(desired, docker_engine())
    if output is OutputFormat.JSON:
        jsonout.emit(jsonout.status(revision, desired.project, rows))
    else:
        text.status(revision, desired.project, rows)
