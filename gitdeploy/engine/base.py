"""The interface between `apply` and a container engine.

Small on purpose: the Docker adapter (docker.py) and the Swarm adapter (swarm.py)
implement the same calls; a Swarm also implements `ServiceEngine`, rolling whole
services out itself. Every method raises only `GitDeployError` subclasses.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterator, Protocol

from gitdeploy.core.history import RevisionEvent
from gitdeploy.core.model import ServiceSpec, VolumeSpec
from gitdeploy.core.observed import ObservedReplica, ObservedState, ObservedVolume
from gitdeploy.core.readiness import ReplicaProbe


class PullPolicy(str, Enum):
    MISSING = "missing"   # use the engine's copy; pull only when it has none
    ALWAYS = "always"     # pull before creating replicas
    NEVER = "never"       # never pull; a missing image is an error


# The plaintext of a spec's secrets as committed at a commit: (commit, spec) -> {secret name: plaintext}.
# Given by the caller (it reads Git and holds the age key); the engine calls it only when it lacks a file.
ReadSecrets = Callable[[str, ServiceSpec], dict[str, bytes]]


class Engine(Protocol):
    def observe(self, project: str) -> ObservedState:
        """One snapshot of every replica labelled with the project."""

    def ensure_network(self, project: str) -> None:
        """Create the project's network if it does not exist."""

    def volume_problems(self, project: str, volumes: tuple[VolumeSpec, ...]) -> list[str]:
        """Why these volumes cannot be used (an external one missing, a name taken by a volume not ours)."""

    def ensure_volumes(self, project: str, volumes: tuple[VolumeSpec, ...]) -> None:
        """Create the project's volumes that do not exist yet (never external ones; never changes existing ones)."""

    def observe_volumes(self, project: str) -> tuple[ObservedVolume, ...]:
        """Every volume labelled with the project (history records aside)."""

    def remove_volume(self, engine_name: str) -> None:
        """Remove one of the project's volumes (only `sync --prune-volumes` asks)."""

    def deliver_secrets(self, project: str, spec: ServiceSpec, read: Callable[[], dict[str, bytes]]) -> None:
        """Make the spec's secrets ready for its replicas; `read` gives their plaintext, asked only when
        something is missing. Raises SecretError when this engine cannot take secrets."""

    def forget_secrets(self, project: str) -> None:
        """Remove the project's delivered secrets that no replica uses any more."""

    def ensure_image(self, image: str) -> None:
        """Make sure `image` is on the engine, per the pull policy, or raise ImageNotFound."""

    def images_missing(self, images: tuple[str, ...]) -> tuple[str, ...]:
        """Of these images, those the engine does not have (nothing is pulled)."""

    def image_volume_paths(self, image: str) -> tuple[str, ...]:
        """The paths `image` declares as VOLUME; () when the engine does not have the image."""

    def cpu_count(self) -> int:
        """How many CPUs a replica could use at most."""

    def replicas_reachable(self) -> bool:
        """Whether this machine can reach a replica's network address (for gitdeploy's http/tcp checks)."""

    def start_replica(self, project: str, commit: str, spec: ServiceSpec, slot: int) -> str:
        """Create and start one replica, unconfirmed; return its name. Leaves nothing behind on failure."""

    def run_job(self, project: str, commit: str, spec: ServiceSpec) -> str:
        """Create and start one run of a job (`spec` is its run template); return the container's name.
        Leaves nothing behind on failure. The container is kept after it exits, for its logs."""

    def kill_job(self, name: str) -> None:
        """Kill a job's run at once (SIGKILL): it ran past its timeout. Nothing if it has ended already."""

    def exec_in(self, name: str, command: tuple[str, ...], interactive: bool) -> int:
        """Run a command in a replica (attached to this terminal when `interactive`); its exit code."""

    def begin_exec_check(self, name: str, command: tuple[str, ...]) -> str:
        """Start a replica's exec health check once, now, without waiting for it; an id for
        `exec_check_result`. (The engine's own checks start one interval after the replica.)"""

    def exec_check_result(self, check_id: str) -> int | None:
        """The exit code of a check begun by `begin_exec_check`; None while it runs."""

    def restart_replica(self, replica: ObservedReplica) -> None:
        """Stop (SIGTERM, then SIGKILL after its stopGracePeriod) and start the same container again."""

    def confirm_replica(self, name: str) -> str:
        """Mark a replica started by `start_replica` as having passed its checks; return its new name."""

    def remove_replica(self, replica: ObservedReplica) -> None:
        """Stop (SIGTERM, then SIGKILL after the replica's stopGracePeriod) and remove it."""

    def inspect_replica(self, name: str) -> ReplicaProbe:
        """State, restarts, engine health and network address of one replica, now."""

    def replica_logs(self, name: str, lines: int = 20) -> str:
        """The last lines of a replica's output, for failure reports."""

    def logs(self, names: tuple[str, ...], tail: int, follow: bool) -> Iterator[tuple[str, str]]:
        """(replica name, line) of each replica's output: the last `tail` lines of each, then, with
        `follow`, new lines as they come (from all replicas at once) until every replica stops."""

    def remove_network(self, project: str) -> bool:
        """Remove the project's network, if it is ours (`down`); whether there was one."""

    def remove_history(self, project: str) -> int:
        """Remove every history record of the project (`down --history`); how many there were."""

    def read_history(self, project: str) -> tuple[RevisionEvent, ...]:
        """Every revision event recorded for the project on this engine."""

    def append_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        """Record these events, together (one write where the engine can). Records are never changed
        afterwards, only added (and removed when old)."""

    def forget_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        """Remove the records of these events (old revisions; see History.expired)."""

    def take_out(self, replica: ObservedReplica) -> None:
        """Take a replica out of the engine's ingress (it gets no new requests); before it is removed."""

    def converge_ingress(self) -> str:
        """Make the ingress serve what runs now; what was wrong with it ("" when nothing was)."""

    def ingress_drift(self, routes=None) -> str:
        """Why the ingress does not serve what runs ("" when it does, or when nothing is routed); `routes`:
        ingress_routes(), when read already."""

    def ensure_ingress_image(self) -> None:
        """The ingress's image is on the engine (pulled per the pull policy), or raise: before any change."""

    def ingress_routes(self) -> tuple:
        """The routes the ingress serves, derived from what runs (core/ingress.Route)."""

    def ingress_info(self):
        """The ingress as `status` shows it (core/ingress.IngressInfo), or None where there is none."""

    def lock(self, project: str, timeout: float = 0.0):
        """A context manager holding the project's lock on this engine; raises LockHeld after `timeout` s."""

    def unlock(self, project: str):
        """Breaks the project's lock whoever holds it; returns who held it (or None)."""

    def lock_holder(self, project: str):
        """Who holds the project's lock (host, pid, command, since, lease), or None."""


@dataclass(frozen=True, slots=True)
class ServiceProgress:
    """One look at a Swarm service during its rollout."""

    exists: bool
    replicas: int = 0              # the count its definition asks for
    template_hash: str = ""        # what its definition's labels say now (a Swarm rollback puts back the old one)
    update_state: str = ""         # Swarm's UpdateStatus.State: updating, paused, completed, rollback_*; "" none
    update_message: str = ""
    running: int = 0               # tasks of the task template rolled out, running (on a node that is up)
    others: int = 0                # tasks of another template Swarm still means to run
    failed: int = 0                # tasks of the template rolled out that failed or were rejected
    errors: tuple[str, ...] = ()   # why they ended, newest first: "node2: task: non-zero exit (1)"
    nodes: tuple[str, ...] = ()    # where the running ones are


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    hostname: str
    role: str            # manager or worker
    availability: str    # active, pause, drain
    status: str          # ready, down, unknown, disconnected
    address: str
    leader: bool = False
    labels: tuple[tuple[str, str], ...] = ()


class ServiceEngine(Engine, Protocol):
    """An engine that runs whole services and their rolling updates itself (a Swarm: engine/swarm.py).
    apply.py hands it each service (swarm_rollout.py) instead of rolling replicas out one by one."""

    rolls_out_itself: bool

    def put_service(self, project: str, commit: str, spec: ServiceSpec, *, job: bool = False) -> tuple[bool, dict]:
        """Create the service, or update it where it differs from `spec`: (whether anything was posted,
        the task template its tasks are to run)."""

    def progress(self, project: str, name: str, rolling_out: dict | None = None) -> ServiceProgress:
        """Where the service's rollout stands now: tasks running `rolling_out` (a task template)."""

    def roll_back(self, project: str, name: str) -> None:
        """Put back the service's definition from before its last update."""

    def remove_service(self, project: str, name: str) -> bool:
        """Remove the service; whether there was one."""

    def nodes(self) -> tuple[Node, ...]:
        """The cluster's nodes."""

    def set_availability(self, hostname: str, availability: str) -> Node:
        """Set a node to active, pause or drain."""
