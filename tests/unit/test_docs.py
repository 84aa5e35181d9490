"""The docs stay true: the manifest reference is what the schemas render, and every CLI option is documented."""
from pathlib import Path

import pytest
import typer.main

from gitdeploy.cli.app import app
from gitdeploy.manifests.reference import render

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {f"{name} {sub}" if sub else name: command
            for name, group in typer.main.get_command(app).commands.items()
            for sub, command in (getattr(group, "commands", None) or {None: group}).items()}   # `ingress logs`


def test_manifest_reference_matches_the_schemas():
    assert (ROOT / "docs" / "manifest-reference.md").read_text() == render(), \
        "regenerate: .venv/bin/python -m gitdeploy.manifests.reference > docs/manifest-reference.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_in_the_cli_reference(name):
    cli_doc = (ROOT / "docs" / "cli.md").read_text()
    assert f"`{name}`" in cli_doc
    options = [p for p in COMMANDS[name].params if p.name != "help"]
    assert options
    for option in options:
        if option.param_type_name == "argument":
            assert option.name.upper() in cli_doc, f"{name}'s argument {option.name.upper()} is not in docs/cli.md"
            continue
        for flag in option.opts:
            assert f"`{flag}`" in cli_doc, f"{name} {flag} is not in docs/cli.md"
        assert f"`{option.envvar}`" in cli_doc, f"{name} {option.envvar} is not in docs/cli.md"


@pytest.mark.parametrize("command", ["sync", "watch", "down", "exec", "status"])
def test_help_at_80_columns_names_values_and_cuts_no_variable(command):
    """No <bool>/<str> type labels; every GITDEPLOY_ variable whole; nothing cut with an ellipsis."""
    import os
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "gitdeploy", command, "--help"], capture_output=True, text=True,
                           env=os.environ | {"COLUMNS": "80", "TERM": "dumb"}, check=True).stdout
    assert "<bool>" not in shown and "<str>" not in shown and "…" not in shown
    assert all(len(line) <= 80 for line in shown.splitlines())
    click_command = typer.main.get_command(app).commands[command]
    for option in click_command.params:
        for name in ([option.envvar] if isinstance(option.envvar, str) else option.envvar or []):
            assert name in shown.replace("\n", " ").replace("  ", " "), name
