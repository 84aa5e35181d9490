"""`gitdeploy status`: desired against running, per service."""
from __future__ import annotations

from gitdeploy.cli.command import Command
from gitdeploy.cli.engine import docker_engine
from gitdeploy.cli.options import AgeKeyFile, Output, OutputFormat, Path, Ref, Repo, Verbose


def status(repo: Repo = ".", ref: Ref = None, path: Path = None, age_key_file: AgeKeyFile = None,
           output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Per service: running/desired replicas, image, deployed commit, Synced or OutOfSync; per job: its last
    run (revision, image, result, exit code, when, how long); then the volumes."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, age_key_file=age_key_file)
    with command.loaded() as (revision, desired):
        seen = operations.overview(desired, docker_engine())
    command.show(jsonout.status(revision, desired.project, seen.services, seen.volumes, seen.jobs),
                 lambda: text.status(revision, desired.project, seen.services, seen.volumes, seen.jobs))
