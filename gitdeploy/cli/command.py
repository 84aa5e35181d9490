"""What every command shares: where the manifests are, how to print, and the error boundary.

A command parses its options, opens `Command.loaded()` (reads the desired state
at the commit, prints source warnings, renders any GitDeployError once with its
exit code), calls one operation, and renders the result with `show`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Callable, Iterator

import typer

from gitdeploy.cli.options import OutputFormat, rendered_errors
from gitdeploy.errors import ExitCode


class Decryption(str, Enum):
    """Whether a command opens the project's secrets (to compare or deliver them)."""

    REQUIRED = "required"   # diff, sync, status, rollback, watch: a project with secrets needs an age key
    IF_KEY = "if-key"       # validate: opens them (checking each MAC) when an age key is at hand
    NONE = "none"           # history, unlock: secrets do not matter


@dataclass(frozen=True)
class Command:
    repo: str
    ref: str | None
    path: str | None
    output: OutputFormat
    verbose: bool
    allow_empty: bool = False
    age_key_file: str | None = None
    decryption: Decryption = Decryption.REQUIRED
    policy_file: str | None = None   # --policy
    env: str | None = None           # --env
    checks_policy: bool = False      # commands that deploy (or could): the host's policy is enforced
    verify_signatures: bool | None = None   # --verify-signatures; None: a command that deploys no commit
    engine_choice: str | None = None        # --engine

    @cached_property
    def keyring(self):
        from gitdeploy.secrets.keyring import Keyring

        return Keyring(self.age_key_file)

    @contextmanager
    def loaded(self) -> Iterator[tuple]:
        """(revision, desired state) at the source's commit, inside the error boundary."""
        from gitdeploy import operations
        from gitdeploy.output import text

        with self.errors():
            opens = self.decryption is Decryption.REQUIRED or \
                (self.decryption is Decryption.IF_KEY and self.keyring.available)
            revision, desired = operations.read_desired(operations.Source(self.repo, self.ref, self.path, self.env,
                                                                          self.engine_choice),
                                                        allow_empty=self.allow_empty,
                                                        keyring=self.keyring if opens else None)
            text.warnings(revision, desired)
            if self.checks_policy:
                from gitdeploy.manifests.policy_check import check_policy

                check_policy(revision, desired, self.policy, self.env)
            if self.verify_signatures or (self.verify_signatures is not None and self.policy.signatures.required):
                operations.verify_commit(revision, self.policy)
            yield revision, desired

    @staticmethod
    def engine(desired, pull=None):
        """The engine adapter the desired state goes to: one Docker engine, or a Swarm (engine/swarm.py)."""
        from gitdeploy.cli.engine import engine_for

        return engine_for(desired, pull)

    @cached_property
    def policy(self):
        """The host's policy (manifests/policy_file.py): read once, before anything is read from the engine."""
        from gitdeploy.manifests.policy_file import load_policy

        return load_policy(self.policy_file)

    def secrets(self, revision):
        """What hands the engine a secret it lacks (operations.committed_secrets)."""
        from gitdeploy import operations

        return operations.committed_secrets(revision, self.keyring)

    def errors(self):
        return rendered_errors(self.output, self.verbose)

    @property
    def json(self) -> bool:
        return self.output.is_json

    def show(self, document: dict, as_text: Callable[[], None]) -> None:
        """One JSON document on stdout with --output json, else the text rendering."""
        from gitdeploy.output import jsonout

        if self.json:
            jsonout.emit(document, one_line=self.output is OutputFormat.JSONL)
        else:
            as_text()

    def say(self, document: dict, message: str) -> None:
        """A document, or one line of text."""
        from gitdeploy.output import text

        self.show(document, lambda: text.console.stdout().print(text.shown(message)))

    @staticmethod
    def exit(code: ExitCode) -> None:
        raise typer.Exit(int(code))
