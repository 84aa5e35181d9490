"""The failures a user can act on, each with the exit code the CLI returns.

Adapters translate docker and git exceptions into these at their edge; the CLI
renders them once (cli/app.py). Exit codes are part of the public interface and
are documented in README.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from gitdeploy.core.results import RunOutcome


class ExitCode(IntEnum):
    OK = 0                # success, or nothing to do
    ERROR = 1             # any error: bad input, engine, git, a failed service
    CHANGES_PENDING = 2   # `diff`: the engine differs from the manifests
    ROLLED_BACK = 3       # a rollout failed its health checks and was rolled back
    LOCK_HELD = 4         # another run holds the project's lock
    INTERRUPTED = 130     # stopped by Ctrl-C (or SIGTERM), as shells report a SIGINT

    @classmethod
    def of(cls, run: RunOutcome | None) -> "ExitCode":
        """The exit code of a sync-like command from its run's outcome (None: a dry run)."""
        return _EXIT_CODE_OF[run or RunOutcome.NOOP]


# The one table from a run's outcome to the process's exit code (documented in README.md).
_EXIT_CODE_OF = {RunOutcome.NOOP: ExitCode.OK, RunOutcome.APPLIED: ExitCode.OK,
                 RunOutcome.ROLLED_BACK: ExitCode.ROLLED_BACK, RunOutcome.FAILED: ExitCode.ERROR}


class GitDeployError(Exception):
    """Base of every error the CLI renders as one line (plus an optional hint)."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong in the manifests, located in the repository."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ManifestError(GitDeployError):
    """The manifests are invalid; carries every problem found, sorted."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the manifests")


class PolicyViolation(ManifestError):
    """Manifests ask for what the host's policy does not allow (core/policy.py); nothing was changed."""

    def __init__(self, problems: list[Problem], policy: str, allowed_by: list[str], what: str = "") -> None:
        super().__init__(problems)
        count = len(self.problems)
        where = f"policy {policy}" if policy else "the built-in policy"
        self.message = what or f"{count} thing{'s' if count != 1 else ''} not allowed by {where}; nothing was changed"
        self.hint = "change the manifests, or have the host's operator allow it (docs/policy.md): " + \
            "; ".join(dict.fromkeys(allowed_by))


class PolicyFileError(ManifestError):
    """The host's policy file cannot be read or does not follow its format: no policy is guessed."""

    def __init__(self, problems: list[Problem], path: str) -> None:
        super().__init__(problems)
        count = len(self.problems)
        self.message = f"{count} problem{'s' if count != 1 else ''} in the policy file {path}"
        self.hint = "fix the file (docs/policy.md; its schema: gitdeploy/schemas/policy.v1.schema.json)"


class SignatureRefused(GitDeployError):
    """The commit is not signed, or not by a key the host's policy trusts: nothing of it deploys."""


class SourceError(GitDeployError):
    """The repository, ref or path cannot be read."""


class EngineUnreachable(GitDeployError):
    """No Docker engine answers at the configured address."""


class ImageNotFound(GitDeployError):
    """An image is neither present on the engine nor pullable under the pull policy."""


class EngineError(GitDeployError):
    """The engine refused an operation (other than the cases above)."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status   # the Engine API's HTTP status, when it answered one

    @property
    def environmental(self) -> bool:
        """The engine or its host failed (5xx: a host port taken, a full disk; or no answer), not what it
        was asked to run (4xx: a command that does not exist, a bad mount)."""
        return self.status is None or self.status >= 500


class Unsatisfiable(GitDeployError):
    """The engine cannot run what the plan needs (a missing image, too few CPUs): found before any change."""


class RouteTaken(GitDeployError):
    """A host name and path another project's service holds on the engine's ingress: found before any change."""


class SecretError(GitDeployError):
    """A secret cannot be read: no identity, a wrong key, a tampered file, a missing key. Never says its value."""


class NotOwned(GitDeployError):
    """An object gitdeploy would use exists but lacks our labels, so we won't touch it."""


class NotFound(GitDeployError):
    """A service or revision the user named does not exist."""


class LockHeld(GitDeployError):
    """Another run holds the project's lock on this engine."""

    exit_code = ExitCode.LOCK_HELD
