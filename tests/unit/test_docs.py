"""The docs stay true: the manifest reference is what the schemas render, and every CLI option is documented."""
from pathlib import Path

import pytest
import typer.main

from gitdeploy.cli.app import app
from gitdeploy.manifests.reference import render

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = typer.main.get_command(app).commands


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
