"""Options shared by every command, and the one place errors are rendered.

Every option also reads from a GITDEPLOY_* environment variable, so cron and CI
can configure gitdeploy without long command lines.
"""
from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Iterator

import typer

from gitdeploy.errors import GitDeployError


class OutputFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


Repo = Annotated[str, typer.Option(
    "--repo", envvar="GITDEPLOY_REPO", show_default=True,
    help="Git repository: a local path (working tree, subfolder of one, or bare repo) or a URL (file://, https://, ssh).")]
Ref = Annotated[str | None, typer.Option(
    "--ref", envvar="GITDEPLOY_REF",
    help="Branch, tag or commit to deploy. Default: the checked-out branch (a URL: the remote's default branch).")]
Path = Annotated[str | None, typer.Option(
    "--path", envvar="GITDEPLOY_PATH", help="Folder inside the repository that holds gitdeploy.yaml and the manifests.")]
Output = Annotated[OutputFormat, typer.Option(
    "--output", "-o", envvar="GITDEPLOY_OUTPUT", case_sensitive=False,
    help="text for people; json prints one JSON document on stdout (logs stay on stderr).")]
Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", envvar="GITDEPLOY_VERBOSE", help="Show tracebacks of errors.")]
LockTimeout = Annotated[float, typer.Option(
    "--lock-timeout", envvar="GITDEPLOY_LOCK_TIMEOUT", min=0,
    help="Seconds to wait for another run's lock on the project; then exit 4. Default 0: do not wait.")]
Webhooks = Annotated[list[str] | None, typer.Option(
    "--notify-webhook", envvar="GITDEPLOY_NOTIFY_WEBHOOK",
    help="POST the JSON result here after a sync that did something or failed (repeatable). "
         "A failing webhook is logged, never fails the sync.")]
RetryFailed = Annotated[bool, typer.Option(
    "--retry-failed", envvar="GITDEPLOY_RETRY_FAILED",
    help="Roll out a revision again even though it failed and was rolled back before.")]
Prune = Annotated[bool, typer.Option(
    "--prune/--no-prune", envvar="GITDEPLOY_PRUNE",
    help="Remove services that are no longer declared (only ever objects labelled with this project).")]


@contextmanager
def rendered_errors(output: OutputFormat, verbose: bool) -> Iterator[None]:
    """Renders a GitDeployError once, as text on stderr (and JSON on stdout), and exits with its code."""
    try:
        yield
    except GitDeployError as exc:
        from gitdeploy.output import jsonout, text

        if verbose:
            import traceback

            traceback.print_exc()
        if output is OutputFormat.JSON:
            jsonout.emit(jsonout.error(exc))
        text.error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
