"""Options shared by every command, and the one place errors are rendered.

Every option also reads from a GITDEPLOY_* environment variable, so cron and CI
can configure gitdeploy without long command lines.
"""
from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Iterator

import click
import typer

from gitdeploy.errors import GitDeployError


class OutputFormat(str, Enum):
    TEXT = "text"
    JSON = "json"     # indented on a terminal, one line otherwise (so `>> log.jsonl` holds one document a line)
    JSONL = "jsonl"   # always one line per document

    @property
    def is_json(self) -> bool:
        return self is not OutputFormat.TEXT


Repo = Annotated[str, typer.Option(
    "--repo", envvar="GITDEPLOY_REPO", show_default=True,
    metavar="REPO", help="Git repository: a local path (working tree, subfolder of one, or bare repo) or a URL (file://, https://, ssh).")]
Ref = Annotated[str | None, typer.Option(
    "--ref", envvar="GITDEPLOY_REF",
    metavar="REF", help="Branch, tag or commit to deploy. Default: the checked-out branch (a URL: the remote's default branch).")]
Path = Annotated[str | None, typer.Option(
    "--path", envvar="GITDEPLOY_PATH", metavar="FOLDER", help="Folder inside the repository that holds gitdeploy.yaml and the manifests.")]
Env = Annotated[str | None, typer.Option(
    "--env", envvar="GITDEPLOY_ENV", metavar="NAME",
    help="The environment to work on, when gitdeploy.yaml declares environments (then it is required): its "
         "overlay in environments/NAME/ applies, and it is its own project on the engine.")]
EngineChoice = Annotated[str | None, typer.Option(
    "--engine", envvar="GITDEPLOY_ENGINE", metavar="ENGINE", click_type=click.Choice(["docker", "swarm"]),
    help="What to deploy onto: docker (the one engine DOCKER_HOST points at) or swarm (the Swarm whose manager it "
         "points at). Default: gitdeploy.yaml's `engine`, else docker.")]
Output = Annotated[OutputFormat, typer.Option(
    "--output", "-o", envvar="GITDEPLOY_OUTPUT", case_sensitive=False,
    metavar="FORMAT", help="text for people; json prints one JSON document on stdout (logs stay on stderr), indented on a "
         "terminal and on one line otherwise; jsonl always on one line.")]
PolicyFile = Annotated[str | None, typer.Option(
    "--policy", envvar="GITDEPLOY_POLICY", metavar="FILE",
    help="The host's policy: what manifests may ask of this host (docs/policy.md). Default: "
         "/etc/gitdeploy/policy.yaml when it exists, else the built-in default.")]
VerifySignatures = Annotated[bool, typer.Option(
    "--verify-signatures", envvar="GITDEPLOY_VERIFY_SIGNATURES", metavar="",
    help="Deploy a commit only if it is signed by a key the host's policy trusts (signatures.allowedSigners, "
         "signatures.gpgKeyring); signatures.required in the policy makes it so without this flag.")]
AgeKeyFile = Annotated[str | None, typer.Option(
    "--age-key-file", envvar="GITDEPLOY_AGE_KEY_FILE",
    metavar="FILE", help="File holding the age secret key(s) that open the project's secrets. Default: as sops looks, "
         "SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, then ~/.config/sops/age/keys.txt.")]


def _switch(*flags: str, help: str):
    """An on/off option whose environment variable is named after it: --retry-failed, GITDEPLOY_RETRY_FAILED."""
    name = flags[0].split("/")[0].removeprefix("--").replace("-", "_").upper()
    return typer.Option(*flags, envvar=f"GITDEPLOY_{name}", metavar="", help=help)


Verbose = Annotated[bool, _switch("--verbose", "-v", help="Show tracebacks of errors.")]
LockTimeout = Annotated[float, typer.Option(
    "--lock-timeout", envvar="GITDEPLOY_LOCK_TIMEOUT", min=0,
    metavar="SECONDS", help="Seconds to wait for another run's lock on the project; then exit 4. Default 0: do not wait.")]
Webhooks = Annotated[list[str] | None, typer.Option(
    "--notify-webhook", envvar="GITDEPLOY_NOTIFY_WEBHOOK",
    metavar="URL", help="POST the JSON result here after a sync that did something or failed (repeatable). "
         "A failing webhook is logged, never fails the sync.")]
RetryFailed = Annotated[bool, _switch(
    "--retry-failed", help="Roll out a revision again even though it failed and was rolled back before; run a "
                           "job again whose last run failed.")]
AllowEmpty = Annotated[bool, _switch(
    "--allow-empty", help="Accept a commit that declares no service (with --prune, every service of the project is "
                          "removed). Without it such a commit is an error: usually a wrong --path.")]
Prune = Annotated[bool, _switch(
    "--prune/--no-prune", help="Remove services that are no longer declared (only ever objects labelled with this "
                               "project).")]


@contextmanager
def rendered_errors(output: OutputFormat, verbose: bool) -> Iterator[None]:
    """Renders a GitDeployError once, as text on stderr (and JSON on stdout), and exits with its code."""
    try:
        yield
    except GitDeployError as exc:
        from gitdeploy.output import jsonout, text

        if verbose:
            import sys
            import traceback

            from gitdeploy.output.safe import plain

            print(plain(traceback.format_exc()), file=sys.stderr, end="")
        if output.is_json:
            jsonout.emit(jsonout.error(exc), one_line=output is OutputFormat.JSONL)
        text.error(exc)
        raise typer.Exit(int(exc.exit_code)) from None


Yes = Annotated[bool, typer.Option("--yes", "-y", envvar="GITDEPLOY_YES",
                                   metavar="", help="Do not ask for confirmation (needed when not on a terminal).")]
