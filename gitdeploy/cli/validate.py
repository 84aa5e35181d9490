"""`gitdeploy validate`: check the manifests at a commit, without an engine."""
from __future__ import annotations

from gitdeploy.cli.command import Command
from gitdeploy.cli.options import Output, OutputFormat, Path, Ref, Repo, Verbose


def validate(repo: Repo = ".", ref: Ref = None, path: Path = None,
             output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Check the manifests: schema, units, unique names and ports. Exit 0 if valid, 1 if not."""
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose)
    with command.loaded() as (revision, desired):
        pass
    command.say(jsonout.validation(revision, desired),
                f"{text.header(revision, desired.project)}: {len(desired.services)} services, valid.")
