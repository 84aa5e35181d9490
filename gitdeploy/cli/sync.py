"""`gitdeploy sync`: converge the engine to the manifests."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command
from gitdeploy.cli.engine import Pull
from gitdeploy.cli.interrupt import graceful_stop
from gitdeploy.cli.options import (EngineChoice, Env, AgeKeyFile, AllowEmpty, LockTimeout, Output, OutputFormat, Path, PolicyFile, Prune, Ref, Repo, RetryFailed,
                                   VerifySignatures,
                                   Verbose, Webhooks)
from gitdeploy.engine.base import PullPolicy
from gitdeploy.errors import ExitCode

PruneVolumes = Annotated[bool, typer.Option(
    "--prune-volumes", envvar="GITDEPLOY_PRUNE_VOLUMES",
    metavar="", help="After the sync, remove the project's volumes that nothing mounts any more (each is named first). "
         "Their data is lost. External volumes are never removed.")]
DryRun = Annotated[bool, typer.Option("--dry-run", envvar="GITDEPLOY_DRY_RUN", metavar="", help="Show the plan; change nothing.")]
Atomic = Annotated[bool, typer.Option(
    "--atomic", envvar="GITDEPLOY_ATOMIC",
    metavar="", help="All or nothing: if any service fails, cancel the others' rollouts and put back what ran before in "
         "every service this sync changed.")]


def sync(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, prune: Prune = True,
         allow_empty: AllowEmpty = False, prune_volumes: PruneVolumes = False,
         dry_run: DryRun = False, retry_failed: RetryFailed = False, pull: Pull = PullPolicy.MISSING,
         lock_timeout: LockTimeout = 0.0, atomic: Atomic = False, notify_webhook: Webhooks = None,
         age_key_file: AgeKeyFile = None, policy: PolicyFile = None, verify_signatures: VerifySignatures = False,
         output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Converge the engine to the manifests: create, roll out changes health-gated, scale, prune.

    Only changed services are touched, and jobs whose template is new are run, in dependsOn order: what
    depends on something that failed is left untouched (blocked). A rollout whose new replicas fail their
    health checks is rolled back. Changes are made under the project's lock on the engine: one run at a time,
    from any machine. Exit 0 on success or nothing to do, 3 when a rollout failed and was rolled back, 4 when
    another run holds the lock, 1 on any other error (a job that failed, too).
    """
    from gitdeploy import operations
    from gitdeploy.output import jsonout, progress, text

    command = Command(repo, ref, path, output, verbose, allow_empty, age_key_file, policy_file=policy,
                      checks_policy=True, verify_signatures=verify_signatures, env=env, engine_choice=engine)
    show_plan = text.plan if not command.json else (lambda revision, p: None)
    with command.loaded() as (revision, desired), progress.progress(desired.project) as report, \
            graceful_stop() as stopped:
        the_plan, result = operations.sync(
            desired, command.engine(desired, pull), prune=prune, dry_run=dry_run, retry_failed=retry_failed,
            lock_timeout=lock_timeout, atomic=atomic, stop_requested=stopped, secrets=command.secrets(revision),
            policy=command.policy,
            progress=report, on_plan=lambda p: show_plan(revision, p) if not p.in_sync or dry_run else None,
        )
        if prune_volumes and not dry_run and not stopped():
            operations.prune_volumes(desired, command.engine(desired, pull), lock_timeout=lock_timeout, progress=report)
    document = jsonout.sync(revision, the_plan, result)
    command.show(document, lambda: text.sync_result(result) if result is not None else text.dry_run())
    if result is not None and notify_webhook:
        from gitdeploy import notify   # urllib.request: only when there is somewhere to post

        notify.tell(notify_webhook, document, lambda m: text.console.stderr().print(f"warning: {text.shown(m)}"))
    command.exit(ExitCode.INTERRUPTED if stopped() else ExitCode.of(result.result if result is not None else None))
