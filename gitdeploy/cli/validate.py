"""`gitdeploy validate`: check the manifests at a commit, without an engine."""
from __future__ import annotations

from gitdeploy.cli.options import Output, OutputFormat, Path, Ref, Repo, Verbose, rendered_errors


def validate(repo: Repo = ".", ref: Ref = None, path: Path = None,
             output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Check the manifests: schema, units, unique names and ports. Exit 0 if valid, 1 if not."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    with rendered_errors(output, verbose):
        revision, desired = operations.read_desired(operations.Source(repo, ref, path))
        text.warnings(revision)
        if output is OutputFormat.JSON:
            jsonout.emit(jsonout.validation(revision, desired))
        else:
            text.console.stdout().print(
                f"{text.header(revision, desired.project)}: {len(desired.services)} services, valid.")
