"""A fake engine and a fake clock, for unit tests of apply, rollout, operations and watch.

It implements the Engine interface (gitdeploy/engine/base.py) in memory. What
a replica reports over time is scripted per image by a `Behaviour`: a list of
(age in seconds, what `inspect` says from then on). The scripts below are the
state sequences the real engine shows for the integration tests' images
(tests/integration/test_rollout.py: v1/v2 good, v3 unhealthy, v4 exits at once).
Time is a `FakeClock`: `sleep` advances it, so a rollout with a 2-minute deadline
runs in milliseconds.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from gitdeploy.core import labels as L
from gitdeploy.core.history import RevisionEvent
from gitdeploy.core.model import ServiceSpec
from gitdeploy.core.observed import ObservedReplica, ObservedState, ObservedVolume
from gitdeploy.core.readiness import PASSED, ReplicaProbe
from gitdeploy.errors import EngineError, ImageNotFound, LockHeld
from gitdeploy.rollout import Runtime

Behaviour = list[tuple[float, ReplicaProbe]]

# An exec health check passing after its first interval (1 s).
GOOD: Behaviour = [(0.0, ReplicaProbe("running", health="starting")), (1.0, ReplicaProbe("running", health="healthy"))]
# The check fails `retries` times: the engine reports unhealthy.
UNHEALTHY: Behaviour = [(0.0, ReplicaProbe("running", health="starting")),
                        (3.0, ReplicaProbe("running", health="unhealthy", health_output="wget: 404 Not Found"))]
# The process exits at once (v4: "missing config").
CRASHES: Behaviour = [(0.0, ReplicaProbe("running")), (0.3, ReplicaProbe("exited", exit_code=1))]
# Healthy, then killed while being monitored.
DIES_IN_MONITOR: Behaviour = [(0.0, ReplicaProbe("running", health="starting")),
                              (1.0, ReplicaProbe("running", health="healthy")),
                              (2.5, ReplicaProbe("exited", exit_code=137))]
# Never answers its check: only the progress deadline ends the wait.
NEVER_READY: Behaviour = [(0.0, ReplicaProbe("running", health="starting"))]
# No health check at all: running is all there is.
RUNS: Behaviour = [(0.0, ReplicaProbe("running"))]
# A job's run: exits 0 after 2 s; or 1 after 1 s.
JOB_SUCCEEDS: Behaviour = [(0.0, ReplicaProbe("running")), (2.0, ReplicaProbe("exited", exit_code=0))]
JOB_FAILS: Behaviour = [(0.0, ReplicaProbe("running")), (1.0, ReplicaProbe("exited", exit_code=1))]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def runtime(self, probe=lambda check, address: PASSED) -> Runtime:
        # One thread each: services and steps run one after another, so fake time is deterministic.
        return Runtime(clock=self, sleep=self.sleep, probe=probe, services_at_once=1, steps_at_once=1)


class Killed(BaseException):
    """The gitdeploy process dies here (SIGKILL): nothing after it runs, whatever it catches."""


@dataclass
class FakeReplica:
    name: str
    project: str
    service: str
    slot: int
    spec: ServiceSpec
    commit: str
    started_at: float
    job: bool = False

    def observed(self, probe: ReplicaProbe) -> ObservedReplica:
        status = "Up (unhealthy)" if probe.health == "unhealthy" else "Up"
        if probe.state == "exited":
            status = f"Exited ({probe.exit_code}) 1 second ago"
        return ObservedReplica(self.name, self.name, self.service, self.slot, self.spec.template_hash(),
                               self.spec.template_json(), self.commit, self.spec.image, probe.state, status,
                               volumes=tuple(sorted(m.source for m in self.spec.mounts if m.kind.value == "volume")),
                               depends_on=self.spec.depends_on, created=self.started_at)


@dataclass
class FakeEngine:
    clock: FakeClock = field(default_factory=FakeClock)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)   # image -> behaviour; default GOOD
    replica_behaviours: dict[str, Behaviour] = field(default_factory=dict)   # one replica's, by name
    missing_images: set[str] = field(default_factory=set)
    kill_at_start: int = 0            # die (Killed) at this start_replica call, counting from 1; 0: never
    on_start: object = None           # called with the replica name after each start (tests change the world here)
    replicas: dict[str, FakeReplica] = field(default_factory=dict)
    events: list[RevisionEvent] = field(default_factory=list)
    log: list[str] = field(default_factory=list)       # "start NAME", "remove NAME", "lock", ...
    lowest_running: dict[str, int] = field(default_factory=dict)   # service -> fewest running after a removal
    most_replicas: dict[str, int] = field(default_factory=dict)    # service -> most replicas at once
    held_by: str | None = None        # another run's lock
    volumes: dict[str, ObservedVolume] = field(default_factory=dict)   # engine name -> volume
    reachable: bool = True            # False: a remote engine, whose replicas' addresses this machine cannot reach
    starts: int = 0
    image_volumes: dict[str, tuple[str, ...]] = field(default_factory=dict)   # image -> its VOLUME paths
    secret_files: dict[tuple[str, str, str], dict[str, bytes]] = field(default_factory=dict)  # (project, service, hash)
    refuse_start: dict[str, str] = field(default_factory=dict)   # image -> the engine's error when starting it
    # image -> the age from which its exec check passes when gitdeploy runs it early; absent: it never does
    early_check_passes: dict[str, float] = field(default_factory=dict)
    early_checks: list[tuple[str, float]] = field(default_factory=list)   # (replica, its age) per early check
    history_writes: int = 0           # append_history calls

    def __post_init__(self) -> None:
        self._lock = threading.RLock()

    # -- the Engine interface ----------------------------------------------

    def observe(self, project: str) -> ObservedState:
        with self._lock:
            mine = [r for r in self.replicas.values() if r.project == project]
            return ObservedState(project, tuple(r.observed(self._probe(r)) for r in mine if not r.job),
                                 tuple(r.observed(self._probe(r)) for r in mine if r.job))

    def ensure_network(self, project: str) -> None:
        self.log.append(f"network {project}")

    def images_missing(self, images: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(image for image in images if image in self.missing_images)

    def image_volume_paths(self, image: str) -> tuple[str, ...]:
        return self.image_volumes.get(image, ())

    def cpu_count(self) -> int:
        return 2

    def replicas_reachable(self) -> bool:
        return self.reachable

    def volume_problems(self, project, volumes) -> list[str]:
        return [f"external volume {v.engine_name} (volume {v.name}) does not exist on the engine"
                for v in volumes if v.external and v.engine_name not in self.volumes]

    def ensure_volumes(self, project, volumes) -> None:
        for volume in volumes:
            if not volume.external and volume.engine_name not in self.volumes:
                self.volumes[volume.engine_name] = ObservedVolume(volume.engine_name, volume.name)
                self.log.append(f"volume {volume.engine_name}")

    def observe_volumes(self, project):
        return tuple(v for v in self.volumes.values() if v.engine_name.startswith(f"{project}_"))

    def remove_volume(self, engine_name: str) -> None:
        self.volumes.pop(engine_name, None)
        self.log.append(f"remove volume {engine_name}")

    def ensure_image(self, image: str) -> None:
        if image in self.missing_images:
            raise ImageNotFound(f"image {image} is not on the engine and --pull never forbids pulling it")

    def start_replica(self, project: str, commit: str, spec: ServiceSpec, slot: int) -> str:
        with self._lock:
            self.starts += 1
            if self.starts == self.kill_at_start:
                raise Killed()
            if spec.image in self.refuse_start:
                message = self.refuse_start[spec.image]
                raise EngineError(f"starting replica of {spec.name}: {message}",
                                  status=400 if "executable file not found" in message else 500)
            name = L.replica_name(project, spec.name, slot, spec.template_hash()) + L.PENDING
            if name in self.replicas:
                raise EngineError(f"creating replica {name}: Conflict. The container name is already in use")
            self.replicas[name] = FakeReplica(name, project, spec.name, slot, spec, commit, self.clock())
            self.log.append(f"start {name}")
            count = sum(1 for r in self.replicas.values() if r.service == spec.name)
            self.most_replicas[spec.name] = max(count, self.most_replicas.get(spec.name, 0))
        if self.on_start:
            self.on_start(name)
        return name

    def run_job(self, project: str, commit: str, spec: ServiceSpec) -> str:
        with self._lock:
            name = L.job_run_name(project, spec.name, spec.template_hash())
            if name in self.replicas:
                raise EngineError(f"creating job run {name}: Conflict. The container name is already in use")
            self.replicas[name] = FakeReplica(name, project, spec.name, 0, spec, commit, self.clock(), job=True)
            self.log.append(f"run {name}")
        if self.on_start:
            self.on_start(name)
        return name

    def kill_job(self, name: str) -> None:
        with self._lock:
            self.log.append(f"kill {name}")
            if self._probe(self.replicas[name]).state != "exited":
                self.replica_behaviours[name] = [(0.0, ReplicaProbe("exited", exit_code=137))]

    def deliver_secrets(self, project: str, spec: ServiceSpec, read) -> None:
        folder = (project, spec.name, spec.template_hash())
        if spec.secrets and folder not in self.secret_files:
            self.secret_files[folder] = read()

    def forget_secrets(self, project: str) -> None:
        # As the Docker engine: a job's kept run needs its secrets no more.
        in_use = {(r.project, r.service, r.spec.template_hash()) for r in self.replicas.values() if not r.job}
        for folder in [f for f in self.secret_files if f[0] == project and f not in in_use]:
            del self.secret_files[folder]

    def restart_replica(self, replica: ObservedReplica) -> None:
        with self._lock:
            self.replicas[replica.name].started_at = self.clock()   # its behaviour starts over
            self.log.append(f"restart {replica.name}")

    def begin_exec_check(self, name: str, command: tuple[str, ...]) -> str:
        with self._lock:
            replica = self.replicas[name]
            age = self.clock() - replica.started_at
            self.early_checks.append((name, age))
            passes = age >= self.early_check_passes.get(replica.spec.image, float("inf"))
            return f"{name} {'passes' if passes else 'fails'}"

    def exec_check_result(self, check_id: str) -> int | None:
        return 0 if check_id.endswith("passes") else 1

    def take_out(self, replica: ObservedReplica) -> None:
        self.log.append(f"take out {replica.name}")

    def converge_ingress(self) -> str:
        return ""

    def ingress_drift(self, routes=None) -> str:
        return ""

    def ensure_ingress_image(self) -> None:
        pass

    def ingress_routes(self) -> tuple:
        return ()

    def ingress_info(self):
        return None

    def confirm_replica(self, name: str) -> str:
        with self._lock:
            final = name.removesuffix(L.PENDING)
            if final in self.replicas:
                raise EngineError(f"confirming replica {name}: Conflict. The container name is already in use")
            replica = self.replicas.pop(name)
            replica.name = final
            self.replicas[final] = replica
            self.log.append(f"confirm {final}")
            return final

    def remove_replica(self, replica: ObservedReplica) -> None:
        with self._lock:
            removed = self.replicas.pop(replica.name, None)
            self.log.append(f"remove {replica.name}")
            if removed is not None:
                running = sum(1 for r in self.replicas.values()
                              if r.service == removed.service and self._probe(r).state == "running")
                self.lowest_running[removed.service] = min(running, self.lowest_running.get(removed.service, running))

    def inspect_replica(self, name: str) -> ReplicaProbe:
        with self._lock:
            return self._probe(self.replicas[name])

    def replica_logs(self, name: str, lines: int = 20) -> str:
        return f"log of {name}"

    def logs(self, names, tail: int, follow: bool):
        for name in names:
            yield from ((name, line) for line in self.replica_logs(name, tail).splitlines())

    def remove_network(self, project: str) -> bool:
        self.log.append(f"remove network {project}")
        return True

    def remove_history(self, project: str) -> int:
        count, self.events = len(self.events), []
        return count

    def read_history(self, project: str) -> tuple[RevisionEvent, ...]:
        return tuple(self.events)

    def append_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        self.events.extend(events)
        self.history_writes += 1

    def forget_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        self.events = [e for e in self.events if e not in events]

    @contextmanager
    def lock(self, project: str, timeout: float = 0.0):
        if self.held_by:
            raise LockHeld(f"project {project} is locked by {self.held_by}")
        self.log.append("lock")
        self.held_by = "this run"
        try:
            yield
        finally:
            self.held_by = None
            self.log.append("unlock")

    def unlock(self, project: str):
        holder, self.held_by = self.held_by, None
        return holder

    def lock_holder(self, project: str):
        return self.held_by

    # -- for assertions -------------------------------------------------------

    def images(self, service: str) -> list[str]:
        """The image of each replica of `service`, by slot."""
        with self._lock:
            return [r.spec.image for r in sorted(self.replicas.values(), key=lambda r: r.slot) if r.service == service]

    def names(self, service: str) -> list[str]:
        return sorted(r.name for r in self.replicas.values() if r.service == service)

    def _probe(self, replica: FakeReplica) -> ReplicaProbe:
        age = self.clock() - replica.started_at
        behaviour = self.replica_behaviours.get(replica.name) or self.behaviours.get(replica.spec.image, GOOD)
        return [probe for since, probe in behaviour if age >= since][-1]
