"""`gitdeploy ingress logs`: the engine's ingress's access log. It belongs to the engine, so no repository is read."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.options import Verbose, rendered_errors, OutputFormat
from gitdeploy.errors import ExitCode

app = typer.Typer(help="The engine's ingress (docs/ingress.md).", no_args_is_help=True, add_completion=False,
                  rich_markup_mode=None)


@app.command("logs")
def logs(tail: Annotated[int, typer.Option("--tail", "-n", envvar="GITDEPLOY_TAIL", min=0, metavar="N",
                                           help="Lines from the end of the access log.")] = 100,
         follow: Annotated[bool, typer.Option("--follow", "-f", envvar="GITDEPLOY_FOLLOW", metavar="",
                                              help="Keep printing new lines until Ctrl-C.")] = False,
         verbose: Verbose = False) -> None:
    """Print the ingress's access log: one JSON object per request (host, URI, status, duration, upstream).
    Needs no repository: the ingress belongs to the engine. Exit 0; 1 when there is no ingress; 130 on Ctrl-C."""
    from gitdeploy.cli.engine import docker_engine
    from gitdeploy.output import text

    out = text.console.stdout()
    with rendered_errors(OutputFormat.TEXT, verbose):
        try:
            for _, line in docker_engine().ingress_logs(tail, follow):
                out.print(text.shown(line), highlight=False, markup=False)
                out.file.flush()
        except KeyboardInterrupt:
            raise typer.Exit(int(ExitCode.INTERRUPTED))
