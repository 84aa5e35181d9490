"""`gitdeploy status`: desired against running, per service."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command
from gitdeploy.cli.options import EngineChoice, Env, AgeKeyFile, Output, OutputFormat, Path, Ref, Repo, Verbose
from gitdeploy.errors import ExitCode

Check = Annotated[bool, typer.Option(
    "--check", envvar="GITDEPLOY_CHECK",
    metavar="", help="Exit 2 unless every service is Synced with all its replicas running, and every job Synced: a probe.")]


def status(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, age_key_file: AgeKeyFile = None,
           check: Check = False, output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Per service what runs (replicas running/desired, image, revision, commit) and whether it is what Git
    declares (Synced or OutOfSync, with why); per job its last run (revision, image, result, exit code, when,
    how long); then the volumes. Exit 0; with --check, 2 when anything is not Synced and ready."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, age_key_file=age_key_file, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        seen = operations.overview(desired, command.engine(desired))
    command.show(jsonout.status(revision, desired.project, seen.services, seen.volumes, seen.jobs, seen.routes,
                                seen.ingress),
                 lambda: text.status(revision, desired.project, seen.services, seen.volumes, seen.jobs, seen.routes,
                                     seen.ingress))
    if check and not seen.healthy:
        command.exit(ExitCode.CHANGES_PENDING)
