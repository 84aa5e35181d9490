"""`gitdeploy diff`: what a sync would change."""
from __future__ import annotations

from gitdeploy.cli.command import Command
from gitdeploy.cli.options import EngineChoice, Env, AgeKeyFile, AllowEmpty, Output, OutputFormat, Path, PolicyFile, Prune, Ref, Repo, Verbose
from gitdeploy.errors import ExitCode


def diff(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, prune: Prune = True,
         allow_empty: AllowEmpty = False, age_key_file: AgeKeyFile = None, policy: PolicyFile = None,
         output: Output = OutputFormat.TEXT,
         verbose: Verbose = False) -> None:
    """Show the plan: per service create / update (field by field) / scale / repair / remove / unchanged; per
    job whether it runs and why; the order of steps when something waits for something else.

    Exit 0 when in sync, 2 when changes are pending, 1 on error.
    """
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, allow_empty, age_key_file, policy_file=policy,
                      checks_policy=True, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        the_plan = operations.diff(desired, command.engine(desired), prune=prune)
    command.show(jsonout.plan(revision, the_plan), lambda: text.plan(revision, the_plan))
    command.exit(ExitCode.OK if the_plan.in_sync else ExitCode.CHANGES_PENDING)
