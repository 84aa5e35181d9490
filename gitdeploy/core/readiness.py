"""Is a new replica ready, still starting, or failed? Pure logic over observations.

A rollout feeds a `ReplicaWatch` what the engine says about a replica (and, for
http/tcp checks, whether gitdeploy's own probe passed) at each tick. The watch
remembers only what the rules need: since when the replica has been healthy,
how many probes failed in a row, and its restart count at start.

Rules (documented in docs/rollouts.md):
- exited, dead, restarting, or restarted since it started: failed;
- engine health check (exec, or the image's HEALTHCHECK) reported unhealthy:
  failed; http/tcp: `retries` consecutive failed probes after `startPeriod`: failed;
- ready once healthy (or, with no check at all, running) continuously for
  `monitor`; any failed check restarts that clock.
- The engine runs its first exec check one `interval` after the start. Until
  it has, gitdeploy may run the same command itself (as Docker 25's
  `start_interval` and Kubernetes' startup probes do): a pass counts as
  healthy (it starts the monitor clock, and lets the next batch start); a
  failure counts for nothing (a replica still starting up), so failing takes
  exactly as long as the engine's own `retries` say. Ready still needs the
  engine's own verdict: never on early passes alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gitdeploy.core.model import CheckKind, HealthCheck


@dataclass(frozen=True, slots=True)
class ReplicaProbe:
    """What the engine says about one replica at one moment."""

    state: str              # running, exited, restarting, created, dead, ...
    exit_code: int = 0
    restart_count: int = 0
    health: str = ""        # engine health: "" (none), starting, healthy, unhealthy
    health_output: str = "" # output of the last engine health check
    address: str = ""       # address on the project network, for gitdeploy's own probes
    health_exit_code: int | None = None   # exit code of the last engine health check (exec)


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One of gitdeploy's own http/tcp probes: passed, or why not (an HTTP status, a connection error)."""

    passed: bool
    why: str = ""


PASSED = ProbeOutcome(True)


class Verdict(str, Enum):
    WAITING = "waiting"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Readiness:
    verdict: Verdict
    reason: str


class ReplicaWatch:
    """Tracks one new replica through its observations. No I/O; time is passed in."""

    def __init__(self, check: HealthCheck | None, monitor: float, started_at: float) -> None:
        self.check = check
        self.monitor = monitor
        self.started_at = started_at
        self.healthy_since: float | None = None
        self.failed_probes = 0
        self.last_probe_failure = ""      # why gitdeploy's last probe failed, for the failure report
        self.first_restart_count: int | None = None
        self.passed_early = False         # one of gitdeploy's own early exec checks passed (see the rules)
        self.last: Readiness = Readiness(Verdict.WAITING, "starting")

    @property
    def probed_by_gitdeploy(self) -> bool:
        return self.check is not None and self.check.kind.probed_by_gitdeploy

    def observe(self, probe: ReplicaProbe, now: float, probe_ok: ProbeOutcome | None = None) -> Readiness:
        self.last = self._assess(probe, now, probe_ok)
        return self.last

    def _assess(self, probe: ReplicaProbe, now: float, probe_ok: ProbeOutcome | None) -> Readiness:
        if self.first_restart_count is None:
            self.first_restart_count = probe.restart_count
        if probe.state in ("exited", "dead"):
            return Readiness(Verdict.FAILED, f"exited with code {probe.exit_code}")
        if probe.state == "restarting" or probe.restart_count > self.first_restart_count:
            return Readiness(Verdict.FAILED, f"crashed and was restarted (exit code {probe.exit_code})")
        if probe.state != "running":
            return Readiness(Verdict.WAITING, f"{probe.state}")

        healthy = self._healthy(probe, now, probe_ok)
        if isinstance(healthy, Readiness):
            return healthy
        if not healthy:
            self.healthy_since = None
            return Readiness(Verdict.WAITING, "waiting for a passing health check")
        if self.healthy_since is None:
            self.healthy_since = now
        if now - self.healthy_since >= self.monitor:
            if _engine_has_not_checked(probe):   # healthy on our early checks only: the engine has the last word
                return Readiness(Verdict.WAITING, "healthy, waiting for the engine's first check")
            return Readiness(Verdict.READY, "ready")
        what = "healthy" if (self.check or probe.health) else "running"
        # A stable text (no running clock): progress reports each change once.
        return Readiness(Verdict.WAITING, f"{what}, monitored for {self.monitor:g}s")

    def checks_early(self, probe: ReplicaProbe) -> bool:
        """Whether an early exec check of gitdeploy's own would tell something now: the replica runs, the
        engine has not run its first check yet, and no early check has passed."""
        return (self.check is not None and self.check.kind is CheckKind.EXEC and not self.passed_early
                and probe.state == "running" and _engine_has_not_checked(probe))

    @property
    def healthy(self) -> bool:
        """Passing its checks now (ready or still being monitored)."""
        return self.healthy_since is not None and self.last.verdict is not Verdict.FAILED

    def _healthy(self, probe: ReplicaProbe, now: float, probe_ok: ProbeOutcome | None) -> bool | Readiness:
        if self.probed_by_gitdeploy:
            if probe_ok is None:          # no probe was due this tick: keep the last answer
                return self.healthy_since is not None
            if probe_ok.passed:
                self.failed_probes = 0
                self.last_probe_failure = ""
                return True
            self.failed_probes += 1
            self.last_probe_failure = probe_ok.why
            past_grace = now - self.started_at >= self.check.start_period
            if past_grace and self.failed_probes >= self.check.retries:
                why = f": the last: {probe_ok.why}" if probe_ok.why else ""
                return Readiness(Verdict.FAILED, f"{self.failed_probes} {self.check.kind.value} health checks failed "
                                                 f"in a row{why}")
            return False
        if probe.health == "unhealthy":
            code = f" (exit code {probe.health_exit_code})" if probe.health_exit_code is not None else ""
            return Readiness(Verdict.FAILED, f"health check reported unhealthy{code}")
        if _engine_has_not_checked(probe):
            if probe_ok is not None and probe_ok.passed and self.check is not None:
                self.passed_early = True
            return self.passed_early
        if probe.health:
            return probe.health == "healthy"
        return True  # no health check at all: running is all we can know


def _engine_has_not_checked(probe: ReplicaProbe) -> bool:
    # "starting" also follows failed checks short of `retries`: only an empty log means none ran yet.
    return probe.health == "starting" and probe.health_exit_code is None
