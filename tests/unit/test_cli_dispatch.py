"""A run registers only the command it runs; help, no command or an unknown one see them all."""
import pytest
import typer

from gitdeploy.cli.app import COMMANDS, build, invoked

CASES = [
    (["sync", "--repo", "."], "sync"),
    (["-H", "ssh://me@host", "status"], "status"),
    (["--host=unix:///x.sock", "diff"], "diff"),
    (["--context", "prod", "exec", "web", "--", "sh"], "exec"),
    (["--help", "sync"], None),            # the whole tool's help
    (["sync", "--help"], "sync"),          # the command's own
    ([], None),
    (["bogus"], None),                     # click's "No such command" needs every name to suggest one
    (["--version"], None),
]


@pytest.mark.parametrize("args, command", CASES)
def test_the_command_a_run_registers(args, command):
    assert invoked(args) == command


def test_one_command_or_all():
    assert list(typer.main.get_command(build("sync")).commands) == ["sync"]
    assert list(typer.main.get_command(build()).commands) == list(COMMANDS)
