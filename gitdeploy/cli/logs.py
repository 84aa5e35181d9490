"""`gitdeploy logs`: the output of every replica of a service, prefixed by replica, or of a job's last run."""
from __future__ import annotations

from typing import Annotated

import typer

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, Output, OutputFormat, Path, Ref, Repo, Verbose
from gitdeploy.errors import ExitCode


def logs(service: Annotated[str, typer.Argument(hidden=True, metavar="NAME", help="The service whose replicas' output to show, or the job whose last run's.")],
         tail: Annotated[int, typer.Option("--tail", "-n", envvar="GITDEPLOY_TAIL", min=0,
                                           metavar="N", help="Lines from the end of each replica's output.")] = 100,
         follow: Annotated[bool, typer.Option("--follow", "-f", envvar="GITDEPLOY_FOLLOW",
                                              metavar="", help="Keep printing new lines until Ctrl-C (or every replica stops).")] = False,
         repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
         output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Print the output of every replica of the service NAME, each line prefixed by its replica (NAME-SLOT),
    as `docker compose logs` does; for a job NAME, its last run's output (kept until its next run). With -o json,
    one JSON object per line: {"replica": ..., "line": ...}.
    Exit 0; 1 for an unknown name; 130 when --follow is stopped by Ctrl-C."""
    from gitdeploy import operations
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, allow_empty=True, decryption=Decryption.NONE, env=env, engine_choice=engine)
    out = text.console.stdout()
    with command.loaded() as (revision, desired):
        lines = operations.logs(desired, command.engine(desired), service, tail, follow)
        try:
            for replica, line in lines:
                if command.json:
                    jsonout.emit({"project": desired.project, "service": service, "replica": replica, "line": line},
                                 one_line=True)
                else:
                    out.print(f"[cyan]{text.shown(replica)}[/] | {text.shown(line)}", highlight=False)
                    out.file.flush()   # --follow into a pipe: each line as it comes
        except KeyboardInterrupt:
            command.exit(ExitCode.INTERRUPTED)
