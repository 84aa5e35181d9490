"""The console-script entry point: answers `--version` before any import that costs.

cron and health probes call `gitdeploy --version` often; typer (with pydantic)
and rich cost about 0.1 s to import, the interpreter alone about 0.03 s.
"""
from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from gitdeploy import __version__

        print(f"gitdeploy {__version__}")
        return
    from gitdeploy.cli.app import main as app_main

    app_main()
