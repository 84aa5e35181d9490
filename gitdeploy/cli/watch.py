"""`gitdeploy watch`: keep the engine converged to the repository, pass after pass."""
from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from gitdeploy.cli.command import Command
from gitdeploy.cli.engine import Pull, engine_for
from gitdeploy.cli.options import (EngineChoice, Env, AgeKeyFile, AllowEmpty, LockTimeout, Output, OutputFormat, Path, PolicyFile, Prune, Ref, Repo, RetryFailed,
                                   VerifySignatures,
                                   Verbose, Webhooks)
from gitdeploy.engine.base import PullPolicy

MIN_INTERVAL = 1.0   # seconds

Interval = Annotated[str, typer.Option("--interval", envvar="GITDEPLOY_INTERVAL",
                                       metavar="DURATION", help="Time between passes: 30s, 5m, ...")]


def watch(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, interval: Interval = "60s", prune: Prune = True, allow_empty: AllowEmpty = False,
          retry_failed: RetryFailed = False, pull: Pull = PullPolicy.MISSING, lock_timeout: LockTimeout = 0.0,
          notify_webhook: Webhooks = None, age_key_file: AgeKeyFile = None, policy: PolicyFile = None,
          verify_signatures: VerifySignatures = False, output: Output = OutputFormat.TEXT,
          verbose: Verbose = False) -> None:
    """Sync every --interval when the commit changes or drift appears; one log line per pass.

    SIGTERM or SIGINT stop it after the pass in progress (a rollout is finished or rolled back, never abandoned).
    A newer commit pre-empts a rollout stuck waiting for health. With --output json, one JSON document per pass
    on stdout. Exit 0 when stopped; 1 on bad options.
    """
    from gitdeploy import operations
    from gitdeploy.core.units import parse_duration
    from gitdeploy.errors import GitDeployError
    from gitdeploy.output import jsonout, progress, text
    from gitdeploy.watch import Watch

    command = Command(repo, ref, path, output, verbose, age_key_file=age_key_file, env=env, engine_choice=engine)
    with command.errors():
        try:
            seconds = parse_duration(interval)
        except ValueError as exc:
            raise GitDeployError(f"--interval: {exc}") from None
        if seconds < MIN_INTERVAL:
            # A pass reads Git and the engine; many a second would only load both.
            raise GitDeployError(f"--interval: {interval} is too short; the shortest is 1s")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        Watch(
            source=operations.Source(repo, ref, path, env, engine), engine=lambda desired: engine_for(desired, pull),
            interval=seconds,
            log=lambda line: text.console.stderr().print(text.shown(line)), progress=progress.plain,
            stop=stop, emit=(lambda document: jsonout.emit(document, one_line=output is OutputFormat.JSONL))
            if output.is_json else None,
            webhooks=tuple(notify_webhook or ()), prune=prune, retry_failed=retry_failed, lock_timeout=lock_timeout,
            verbose=verbose, allow_empty=allow_empty, keyring=command.keyring, policy_file=policy,
            verify_signatures=verify_signatures,
        ).run()
