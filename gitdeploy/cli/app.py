"""The `gitdeploy` command: registers the commands and maps failures to exit codes.

A run registers only the command it runs (typer inspects every registered
function's signature at each start: 20 ms for all thirteen, on every cron
pass); `--help`, no command or an unknown one get them all (`app`).
"""
from __future__ import annotations

import importlib
import sys

import typer

from gitdeploy import __version__

# name: (module, function), in the order --help lists them, by task (TASKS says which is which)
COMMANDS = {
    "validate": ("gitdeploy.cli.validate", "validate"), "render": ("gitdeploy.cli.render", "render"),
    "diff": ("gitdeploy.cli.diff", "diff"),
    "sync": ("gitdeploy.cli.sync", "sync"), "rollback": ("gitdeploy.cli.rollback", "rollback"),
    "restart": ("gitdeploy.cli.restart", "restart"), "watch": ("gitdeploy.cli.watch", "watch"),
    "status": ("gitdeploy.cli.status", "status"), "ps": ("gitdeploy.cli.ps", "ps"),
    "logs": ("gitdeploy.cli.logs", "logs"), "history": ("gitdeploy.cli.history", "history"),
    "down": ("gitdeploy.cli.down", "down"), "unlock": ("gitdeploy.cli.unlock", "unlock"),
    "exec": ("gitdeploy.cli.exec", "exec_"),   # `exec` is a Python built-in's name
    "nodes": ("gitdeploy.cli.nodes", "nodes"), "drain": ("gitdeploy.cli.nodes", "drain"),
    "activate": ("gitdeploy.cli.nodes", "activate"),
    "ingress": ("gitdeploy.cli.ingress", "app"),   # a group: `gitdeploy ingress logs`
}
GLOBAL_OPTIONS_WITH_VALUE = ("-H", "--host", "--context")

EXIT_CODES = """Exit codes: 0 success or nothing to do; 1 error (bad manifests, git, engine, a failed service, bad usage); 2 changes pending (diff) or something not ready (status --check); 3 a rollout failed and was rolled back; 4 another run holds the project's lock; 130 stopped by Ctrl-C."""

TASKS = """Deploy: validate, render, diff, sync, rollback, restart, watch. Inspect: status, ps, logs, history, exec. Clean up: down, unlock. A Swarm's nodes: nodes, drain, activate. The engine's ingress: ingress logs."""

def build(only: str | None = None) -> typer.Typer:
    """The command line with every command, or with `only` that one."""
    app = typer.Typer(
        name="gitdeploy",
        help="Deploy the services declared in a Git repository onto a Docker engine.\n\n" + TASKS + "\n\n" + EXIT_CODES,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,  # a secret in a local variable must never be printed
        # Plain help: it wraps at any width without cutting an environment variable's name, and shows no
        # <bool>/<str> type labels.
        rich_markup_mode=None,
    )
    for name, (module, function) in COMMANDS.items():
        if only in (None, name):
            found = getattr(importlib.import_module(module), function)
            if isinstance(found, typer.Typer):
                app.add_typer(found, name=name)
            else:
                app.command(name=name)(found)
    app.callback()(_root)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":   # every command: what --help lists (and the docs tests read)
        return build()
    raise AttributeError(name)


def invoked(args: list[str]) -> str | None:
    """The command these arguments run, if it is one of ours and no help for the whole tool comes first."""
    value_follows = False
    for arg in args:
        if value_follows:
            value_follows = False
        elif arg in GLOBAL_OPTIONS_WITH_VALUE:
            value_follows = True
        elif arg in ("--help", "-h"):
            return None
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _version(value: bool) -> None:
    if value:
        print(f"gitdeploy {__version__}")
        raise typer.Exit()


def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       metavar="", help="Print the version and exit."),
          host: str | None = typer.Option(None, "--host", "-H", metavar="HOST",
                                          help="The Docker engine, as the docker CLI's -H: unix://PATH, "
                                               "tcp://HOST:PORT or ssh://USER@HOST. Default: DOCKER_HOST, or "
                                               "the current docker context."),
          context: str | None = typer.Option(None, "--context", metavar="NAME",
                                             help="A docker context (docker context ls) naming the engine. "
                                                  "Default: DOCKER_CONTEXT, then the docker CLI's current context "
                                                  "(DOCKER_HOST wins over both).")) -> None:
    """Points every command at the engine --host or --context names (engine/endpoint.py)."""
    import os

    from gitdeploy.engine.endpoint import choose
    from gitdeploy.errors import GitDeployError

    try:
        os.environ.update(choose(host, context))
    except GitDeployError as exc:
        from gitdeploy.output import text

        text.error(exc)
        raise typer.Exit(int(exc.exit_code)) from None


def _usage_error_type() -> type[Exception]:
    # Typer vendors click since 0.2x; older releases use click itself.
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            return importlib.import_module(module).UsageError
        except ImportError:
            continue
    raise RuntimeError("neither typer's nor click's UsageError is importable")


def main() -> None:
    usage_error = _usage_error_type()
    try:
        code = build(invoked(sys.argv[1:]))(standalone_mode=False)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":   # plain `gitdeploy`: its help, as kubectl and docker do
            print(exc.format_message())
            sys.exit(0)
        # click's own code for usage errors is 2, which we reserve for "changes pending". Its own
        # rendering would echo the bad argument raw, escapes and all; ours is escaped.
        from gitdeploy.output.safe import plain

        command = exc.ctx.command_path if exc.ctx is not None else "gitdeploy"
        print(plain(f"gitdeploy: error: {exc.format_message()}"), file=sys.stderr)
        print(plain(f"  hint: see {command} --help"), file=sys.stderr)
        _json_error(f"usage: {exc.format_message()}", f"see {command} --help")
        sys.exit(1)
    except typer.Abort as exc:
        print("Aborted.", file=sys.stderr)
        # Ctrl-C outside a run that changes the engine (click turns it into Abort): the shell's 130.
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        sys.exit(130 if interrupted else 1)
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, traceback only on request
        from gitdeploy.output.safe import plain

        if _verbose():
            import traceback

            print(plain(traceback.format_exc()), file=sys.stderr, end="")
        message = f"internal error: {type(exc).__name__}: {plain(exc)}"
        print(f"gitdeploy: {message}", file=sys.stderr)
        print("  hint: run again with --verbose for the traceback, and please report it", file=sys.stderr)
        _json_error(message, "run again with --verbose for the traceback, and please report it")
        sys.exit(1)
    sys.exit(code or 0)


def _json_error(message: str, hint: str) -> None:
    """With --output json, every failure still prints one JSON document on stdout."""
    if _json_wanted():
        from gitdeploy.errors import GitDeployError
        from gitdeploy.output import jsonout

        jsonout.emit(jsonout.error(GitDeployError(message, hint)))


def _json_wanted() -> bool:
    import os

    args = sys.argv[1:]
    for index, arg in enumerate(args):
        if arg in ("-o", "--output") and index + 1 < len(args):
            return args[index + 1].lower() in ("json", "jsonl")
        if arg.startswith("--output=") or (arg.startswith("-o") and len(arg) > 2):
            return arg.split("=", 1)[-1].removeprefix("-o").lower() in ("json", "jsonl")
    return os.environ.get("GITDEPLOY_OUTPUT", "").lower() in ("json", "jsonl")


def _verbose() -> bool:
    # Outside any command's option parsing, so read the flag where the user put it.
    import os

    return bool({"-v", "--verbose"} & set(sys.argv[1:])) or os.environ.get("GITDEPLOY_VERBOSE", "") not in ("", "0", "false")
