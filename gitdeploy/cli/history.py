"""`gitdeploy history`: the revisions of each service, as recorded on the engine."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, Output, OutputFormat, Path, Ref, Repo, Verbose


def history(service: Annotated[str | None, typer.Argument(hidden=True, metavar="NAME", help="Only this service (or job).")] = None,
            repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
            output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """List revisions (of the service or job NAME, or all): number, event (deployed, rolled-back, pinned, unpinned; a job's runs: succeeded, failed),
    commit, image, when; the revision that runs now is marked *."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        engine = command.engine(desired)
        events = operations.history(desired, engine, service)
        running = operations.running_templates(desired, engine)
    command.show(jsonout.history(revision, desired.project, events, running),
                 lambda: text.history(revision, desired.project, events, running))
