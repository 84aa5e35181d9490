"""`gitdeploy rollback`: put a service back on an earlier revision, and keep it there."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command
from gitdeploy.cli.engine import Pull
from gitdeploy.cli.interrupt import graceful_stop
from gitdeploy.cli.options import EngineChoice, Env, AgeKeyFile, LockTimeout, Output, OutputFormat, Path, PolicyFile, Ref, Repo, Verbose
from gitdeploy.engine.base import PullPolicy
from gitdeploy.errors import ExitCode


def rollback(service: Annotated[str, typer.Argument(hidden=True, metavar="SERVICE", help="The service to roll back.")],
             to: Annotated[int | None, typer.Option("--to", envvar="GITDEPLOY_TO",
                                                    metavar="N", help="Revision number (see `gitdeploy history`). Default: the "
                                                         "last deployed revision before the running one.")] = None,
             clear: Annotated[bool, typer.Option("--clear", envvar="GITDEPLOY_CLEAR",
                                                 metavar="", help="Remove the pin: the service follows Git again (a revision Git declares that failed before "
                                                      "stays held).")] = False,
             repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, lock_timeout: LockTimeout = 0.0,
             pull: Pull = PullPolicy.MISSING, age_key_file: AgeKeyFile = None, policy: PolicyFile = None,
             output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Roll SERVICE back to an earlier revision, health-gated, and pin it there.

    The pin is kept on the engine: later syncs leave the service alone (status shows it OutOfSync, rolled back)
    until Git declares something else for it, or `gitdeploy rollback SERVICE --clear`.
    Exit 0 on success, 3 if the earlier revision failed its health checks (the running one is restored),
    4 if another run holds the project's lock, 1 on error.
    """
    from gitdeploy import operations
    from gitdeploy.output import jsonout, progress, text

    command = Command(repo, ref, path, output, verbose, age_key_file=age_key_file, policy_file=policy,
                      verify_signatures=False, env=env, engine_choice=engine)   # the policy's signatures.required holds for rollback too
    with command.loaded() as (revision, desired):
        if clear:
            cleared = operations.clear_pin(desired, command.engine(desired), service)
            held = cleared.held_revision
            follows = (f"the next sync rolls out what it declares" if not held else
                       f"but Git declares revision {held}, which failed and was rolled back: the next sync keeps what "
                       f"runs (sync --retry-failed to try revision {held} again)")
            command.say({"project": desired.project, "service": service, "cleared": cleared.cleared,
                         "heldRevision": held or None},
                        f"{service} follows Git again; {follows}." if cleared.cleared
                        else f"{service} was not pinned.")
            return
        with progress.progress(desired.project) as report, graceful_stop() as stopped:
            the_plan, result = operations.rollback(desired, command.engine(desired, pull), service, to,
                                                   lock_timeout=lock_timeout, progress=report, stop_requested=stopped,
                                                   secrets=command.secrets(revision), policy=command.policy)
    command.show(jsonout.sync(revision, the_plan, result), lambda: text.rollback_result(result, the_plan))
    command.exit(ExitCode.INTERRUPTED if stopped() else ExitCode.of(result.result))
