"""`gitdeploy watch`: the reconcile loop for unattended use.

Every `interval` one pass: resolve the source (for a URL a `git fetch`, which
moves no data when nothing changed), then sync. A pass with nothing to do costs
one container listing and takes no lock; drift and new commits are both just
"work" for the planner. One line per pass; a pass that fails is logged and the
loop goes on (an engine restart or a network blip must not end the watch).

A pass that fails (an error, or a service or job that failed) is tried again,
but not at full speed: after consecutive failed passes the wait doubles, up to
BACKOFF_LIMIT intervals, and a new commit ends the wait at once (it is looked
for every interval). A held revision (exit 3) is no failed pass: it costs
nothing and waits for Git. Nor is a commit refused for its signature
(docs/policy.md): what runs keeps running, the refusal is logged and posted
once per commit, and only a new commit can change the answer. The host's policy
file is read every pass, so an operator's edit takes effect at the next one.

Stopping (SIGTERM/SIGINT) sets a flag checked between passes: a pass in
progress finishes, so a rollout is completed or rolled back, never abandoned
half-way. A newer commit does interrupt a rollout that is waiting for health:
it is rolled back as failed, and the next pass starts at once with the new
commit, so a fix need not wait out a stuck rollout's deadline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from gitdeploy import notify, operations
from gitdeploy.core.results import Outcome
from gitdeploy.core.model import DesiredState
from gitdeploy.engine.base import Engine
from gitdeploy.errors import GitDeployError, SignatureRefused
from gitdeploy.manifests.policy_check import check_policy
from gitdeploy.manifests.policy_file import load_policy
from gitdeploy.output import jsonout
from gitdeploy.rollout import Runtime

if TYPE_CHECKING:
    from gitdeploy.secrets.keyring import Keyring

NEWER_COMMIT_CHECK = 5.0  # seconds between looks for a newer commit during a rollout
BACKOFF_LIMIT = 8         # intervals at most between passes after failed ones


def intervals_to_wait(failed_passes: int) -> int:
    """How many intervals to wait after `failed_passes` failed passes in a row: 1, 1, 2, 4, 8, 8..."""
    return min(2 ** max(failed_passes - 1, 0), BACKOFF_LIMIT)


@dataclass
class Watch:
    source: operations.Source
    engine: Callable[[DesiredState], Engine]         # the adapter of the engine a commit names (it may change)
    interval: float
    log: Callable[[str], None]                       # one line per pass (and warnings)
    progress: Callable[[str, str], None]
    stop: threading.Event = field(default_factory=threading.Event)
    emit: Callable[[dict], None] | None = None       # --output json: one document per pass
    webhooks: tuple[str, ...] = ()
    prune: bool = True
    retry_failed: bool = False
    lock_timeout: float = 0.0
    runtime: Runtime = Runtime()                     # tests pass a fake clock
    verbose: bool = False                            # log tracebacks of internal errors
    allow_empty: bool = False                        # a commit declaring no service prunes everything
    keyring: "Keyring | None" = None                 # opens the project's secrets (found on first use)
    policy_file: str | None = None                   # --policy; read every pass, so an edit takes effect
    verify_signatures: bool = False                  # --verify-signatures (or the policy's signatures.required)
    _refused_commit: str = field(default="", init=False)   # the last commit refused for its signature
    _last_failure: tuple[str, str] | None = field(default=None, init=False)
    failed_passes: int = field(default=0, init=False)   # in a row; 0 after a pass that did not fail
    _commit: str = field(default="", init=False)          # of the last pass that read one

    def run(self) -> None:
        self.log(f"watching {self.source.repo} every {self.interval:g}s")
        while not self.stop.is_set():
            preempted = self.one_pass()
            if not preempted:
                self._rest()
        self.log("stopped")

    def _rest(self) -> None:
        """Waits until the next pass: one interval, or after failed passes more, ended by a new commit."""
        waits = intervals_to_wait(self.failed_passes)
        if waits > 1:
            self.log(f"{self.failed_passes} failed passes in a row: next pass in "
                     f"{waits * self.interval:g}s, or as soon as a new commit lands")
        for _ in range(waits):
            if self.stop.wait(self.interval):
                return
            if waits > 1 and self._new_commit():
                return

    def _new_commit(self) -> bool:
        return self._current_commit() not in ("", self._commit)

    def _current_commit(self) -> str:
        """The source's commit now ("" when it cannot be told): an errored pass's, to back off on."""
        try:
            return operations.current_commit(self.source)
        except GitDeployError:
            return ""

    def one_pass(self) -> bool:
        """Runs one pass; True if a newer commit pre-empted it (then the next pass starts at once)."""
        started = self.runtime.clock()
        preempted = threading.Event()
        refused = False   # the commit's signature was refused: waiting for Git, not a failed pass
        try:
            revision, desired = operations.read_desired(self.source, allow_empty=self.allow_empty,
                                                        keyring=self.keyring)
            policy = load_policy(self.policy_file)
            check_policy(revision, desired, policy, self.source.env)   # refused: an error pass, nothing changed
            if self.verify_signatures or policy.signatures.required:
                operations.verify_commit(revision, policy)   # refused: what runs keeps running
            the_plan, result = operations.sync(
                desired, self.engine(desired), prune=self.prune, retry_failed=self.retry_failed,
                lock_timeout=self.lock_timeout, progress=lambda name, message: self.progress(
                    f"{desired.project} {name}", message),
                should_abort=self._newer_commit(revision.commit, preempted), runtime=self.runtime,
                secrets=operations.committed_secrets(revision, self.keyring) if self.keyring else None,
                policy=policy)
            document = jsonout.sync(revision, the_plan, result)
            self.log(self._line(f"{desired.project}@{revision.short_commit}", result.result.value, started,
                                # A failure's reason is said here once (progress only names the replica).
                                [f"{s.name} {s.outcome.value}" + (f": {s.message}" if s.outcome.went_wrong else "")
                                 for s in result.services if s.outcome not in (Outcome.UNCHANGED, Outcome.KEPT)]))
        except SignatureRefused as exc:   # raised only after read_desired, so `revision` is the refused commit
            refused = True
            document = jsonout.error(exc)
            if revision.commit != self._refused_commit:   # logged once per commit (posted once per commit: _news)
                self._refused_commit = revision.commit
                self.log(self._line("", f"error: {exc.message}", started, []))
        except GitDeployError as exc:   # ssh-keygen missing, a broken policy: a failed pass, backed off
            document = jsonout.error(exc)
            self.log(self._line("", f"error: {exc.message}", started, []))
        except Exception as exc:  # noqa: BLE001 - a bug in one pass must not end the watch; it is logged, not hidden
            error = GitDeployError(f"internal error: {type(exc).__name__}: {exc}",
                                   hint="please report it; the next pass runs as usual")
            document = jsonout.error(error)
            self.log(self._line("", f"error: {error.message}", started, []))
            if self.verbose:
                import traceback

                self.log(traceback.format_exc())
        # A held revision or job (an earlier failure, waiting for Git) costs nothing: no reason to back off;
        # nor does a commit refused for its signature (only a new commit can change that answer).
        failed = (not refused and "error" in document) or any(
            unit.get("outcome") == "failed" and unit.get("action") != "held"
            for unit in document.get("services", []) + document.get("jobs", []))
        self.failed_passes = self.failed_passes + 1 if failed else 0
        self._commit = document.get("commit") or (self._current_commit() if failed else self._commit)
        if self.emit:
            self.emit(document)
        if self._news(document):
            notify.tell(self.webhooks, document, self.log)
        return preempted.is_set()

    def _news(self, document: dict) -> bool:
        """A failure is posted once per commit, not on every pass that meets it again."""
        if "error" not in document:
            self._last_failure = None
            return True
        try:
            commit = operations.current_commit(self.source)
        except GitDeployError:
            commit = ""
        failure = (commit, document["error"]["message"])
        if failure == self._last_failure:
            return False
        self._last_failure = failure
        return True

    def _newer_commit(self, current: str, preempted: threading.Event) -> Callable[[], str | None]:
        clock = self.runtime.clock
        last_look = [clock()]

        def check() -> str | None:
            if preempted.is_set():
                return "a newer commit landed"
            if clock() - last_look[0] < min(NEWER_COMMIT_CHECK, self.interval):
                return None
            last_look[0] = clock()
            try:
                newest = operations.current_commit(self.source)
            except GitDeployError:
                return None  # cannot tell now; keep rolling out
            if newest != current:
                preempted.set()
                return f"commit {newest[:12]} landed while it waited"
            return None

        return check

    def _line(self, what: str, result: str, started: float, details: list[str]) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        tail = f" ({', '.join(details)})" if details else ""
        return f"{stamp} {what + ' ' if what else ''}{result} in {self.runtime.clock() - started:.1f}s{tail}"
