"""The Docker Engine adapter (docker SDK, low-level API).

Reading state costs one container listing filtered by our project label: the
labels carry slot, template hash and commit, so no per-container inspect is
needed. Docker exceptions are translated into gitdeploy errors here and
nowhere else.
"""
from __future__ import annotations

import json
import os
import urllib.parse
from contextlib import contextmanager
from typing import Callable, Iterator

from gitdeploy import __version__
from gitdeploy.core import labels as L
from gitdeploy.core.defaults import default
from gitdeploy.core.history import RevisionEvent
from gitdeploy.core.model import (IngressSettings, CheckKind, Mount, MountKind, ServiceSpec, VolumeSpec,
                                  uncovered_volume_paths)
from gitdeploy.core.observed import ObservedReplica, ObservedState, ObservedVolume, routed
from gitdeploy.core.readiness import ReplicaProbe
from gitdeploy.core.units import parse_duration
from gitdeploy.engine.base import PullPolicy
from gitdeploy.engine.secret_files import SecretFiles
from gitdeploy.engine.socket_api import UNREACHABLE_HINT, LocalReads, local_socket
from gitdeploy.errors import EngineError, EngineUnreachable, GitDeployError, ImageNotFound, NotFound, NotOwned, SecretError


POOL = 40   # connections to the engine kept open: every rollout of a sync at once (rollout.SERVICES_AT_ONCE), and more


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@contextmanager
def translated_errors(doing: str) -> Iterator[None]:
    """Turns docker SDK and connection failures into one-line gitdeploy errors. The SDK's exception types are
    imported only to sort a failure: a read over the local socket (socket_api.py) never loads the SDK."""
    try:
        yield
    except GitDeployError:
        raise
    except Exception as exc:
        import docker.errors
        import requests.exceptions

        if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError)):
            raise EngineUnreachable(f"cannot connect to the Docker engine at {engine_address()}",
                                    hint=_unreachable_hint()) from exc
        if isinstance(exc, requests.exceptions.Timeout):
            raise EngineError(f"{doing}: the engine did not answer in time") from exc
        if isinstance(exc, docker.errors.APIError):
            raise EngineError(f"{doing}: {exc.explanation or exc}", status=exc.status_code) from exc
        if isinstance(exc, docker.errors.DockerException):
            # from_env() wraps connection failures in a plain DockerException
            if "Connection" in str(exc) or "FileNotFound" in str(exc):
                raise EngineUnreachable(f"cannot connect to the Docker engine at {engine_address()}",
                                        hint=_unreachable_hint()) from exc
            raise EngineError(f"{doing}: {exc}") from exc
        raise


class DockerEngine:
    """The engine at DOCKER_HOST (default: the local socket).

    The SDK client is created on first use, so a pass that only reads never
    imports the SDK (see socket_api.py).
    """

    def __init__(self, pull: PullPolicy = PullPolicy.MISSING, timeout: int = 60,
                 secret_files: SecretFiles | None = None, ingress: IngressSettings | None = None) -> None:
        self._pull = pull
        self._ingress_settings = ingress or IngressSettings()   # gitdeploy.yaml `ingress` of the run
        self._timeout = timeout
        self._client = None      # docker.APIClient, once needed
        self._held: list = []    # EngineLocks this run holds: checked before every change
        self._image_configs: dict[str, dict] = {}   # image -> its Config (present images only)
        self._secret_files = secret_files or SecretFiles()

    @property
    def _api(self):
        if self._client is None:
            import docker

            with translated_errors("connecting to the Docker engine"):
                # ssh:// through the ssh command (the user's ssh config and agent), not paramiko.
                self._client = docker.from_env(timeout=self._timeout, max_pool_size=POOL,
                                               use_ssh_client=engine_address().startswith("ssh://")).api
        return self._client

    @property
    def _reads(self):
        """Who answers listings: the local socket directly (no SDK import), else the SDK (socket_api.py)."""
        path = local_socket()
        return LocalReads(path, self._timeout) if path else self._api

    # -- reading -----------------------------------------------------------

    def observe(self, project: str) -> ObservedState:
        with translated_errors("listing containers"):
            rows = self._reads.containers(all=True, filters={"label": [f"{L.PROJECT}={project}"]})
        found = sorted(((_replica(row), (row.get("Labels") or {}).get(L.KIND) == L.JOB_KIND) for row in rows),
                       key=lambda pair: pair[0].name)
        return ObservedState(project, tuple(r for r, is_run in found if not is_run),
                             tuple(r for r, is_run in found if is_run))

    def replicas_reachable(self) -> bool:
        # Replicas' bridge addresses are routable only on the engine's own machine.
        return _on_this_machine()

    def cpu_count(self) -> int:
        with translated_errors("reading the engine's CPU count"):
            return int(self._api.info().get("NCPU") or 1)

    # -- changing ----------------------------------------------------------

    def ensure_network(self, project: str) -> None:
        self._still_locked()
        name = L.network_name(project)
        with translated_errors(f"creating network {name}"):
            found = self._api.networks(names=[name])
            exact = [n for n in found if n["Name"] == name]
            if exact:
                if (exact[0].get("Labels") or {}).get(L.PROJECT) != project:
                    raise NotOwned(
                        f"network {name} exists but was not created by gitdeploy for project {project}",
                        hint=f"rename or remove that network (docker network rm {name}); gitdeploy never modifies objects it does not own",
                    )
                return
            self._api.create_network(name, driver="bridge", labels={L.PROJECT: project, L.MANAGED_BY: "gitdeploy"})

    def volume_problems(self, project: str, volumes: tuple[VolumeSpec, ...]) -> list[str]:
        problems = []
        for volume in volumes:
            found = self._volume(volume.engine_name)
            if volume.external and found is None:
                problems.append(f"external volume {volume.engine_name} (volume {volume.name}) does not exist on "
                                "the engine")
            elif not volume.external and found is not None and not _owned(found, project, volume.name):
                problems.append(f"volume {volume.engine_name} exists but was not created by gitdeploy for volume "
                                f"{volume.name} of project {project}; gitdeploy will not use it (declare it "
                                f"external: true with name: {volume.engine_name} to use it on purpose)")
        return problems

    def ensure_volumes(self, project: str, volumes: tuple[VolumeSpec, ...]) -> None:
        for volume in volumes:
            if volume.external or self._volume(volume.engine_name) is not None:
                continue
            self._still_locked()
            with translated_errors(f"creating volume {volume.engine_name}"):
                self._api.create_volume(volume.engine_name, driver=volume.driver,
                                        driver_opts=dict(volume.driver_opts) or None,
                                        labels={L.PROJECT: project, L.VOLUME: volume.name,
                                                L.MANAGED_BY: f"gitdeploy/{__version__}"})

    def observe_volumes(self, project: str) -> tuple[ObservedVolume, ...]:
        with translated_errors("listing volumes"):
            found = self._reads.volumes(filters={"label": [f"{L.PROJECT}={project}"]})
        kept = []
        for volume in found.get("Volumes") or []:
            labels = volume.get("Labels") or {}
            if labels.get(L.KIND) == "history":
                continue
            kept.append(ObservedVolume(volume["Name"], labels.get(L.VOLUME, ""), labels.get(L.IMPLICIT, ""),
                                       labels.get(L.SERVICE, "")))
        return tuple(sorted(kept, key=lambda v: v.engine_name))

    def remove_volume(self, engine_name: str) -> None:
        import docker.errors

        self._still_locked()
        with translated_errors(f"removing volume {engine_name}"):
            try:
                self._api.remove_volume(engine_name)
            except docker.errors.NotFound:
                pass

    def _volume(self, engine_name: str) -> dict | None:
        import docker.errors

        with translated_errors(f"inspecting volume {engine_name}"):
            try:
                return self._api.inspect_volume(engine_name)
            except docker.errors.NotFound:
                return None

    def images_missing(self, images: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(image for image in images if self._image_config(image) is None)

    def image_volume_paths(self, image: str) -> tuple[str, ...]:
        config = self._image_config(image)
        return tuple(sorted(config.get("Volumes") or ())) if config is not None else ()

    def _image_config(self, image: str) -> dict | None:
        """An image's Config, or None when the engine lacks it. One inspect per present image and run, not
        per replica or per question; a missing one is asked again (a pull may bring it)."""
        import docker.errors

        if image not in self._image_configs:
            with translated_errors(f"inspecting image {image}"):
                try:
                    self._image_configs[image] = self._api.inspect_image(image).get("Config") or {}
                except docker.errors.ImageNotFound:
                    return None
        return self._image_configs[image]

    def _implicit_mounts(self, project: str, spec: ServiceSpec, slot: int) -> list:
        """One volume per slot for each path the image declares as VOLUME and no mount covers.

        The engine would give such a path a fresh anonymous volume with every new
        container, so an update would lose what the replica wrote there; keeping
        it per slot (as compose keeps it across a recreate) hands it to the
        replica that replaces this one, and to a rollback.
        """
        from docker.types import Mount as EngineMount

        mounts = []
        for path in uncovered_volume_paths(self.image_volume_paths(spec.image), spec):
            name = L.implicit_volume_name(project, spec.name, slot, path)
            if self._volume(name) is None:
                with translated_errors(f"creating volume {name}"):
                    self._api.create_volume(name, labels={L.PROJECT: project, L.SERVICE: spec.name,
                                                          L.SLOT: str(slot), L.IMPLICIT: path,
                                                          L.MANAGED_BY: f"gitdeploy/{__version__}"})
            mounts.append(EngineMount(path, name, type="volume"))
        return mounts

    # -- secrets (engine/secret_files.py) -----------------------------------

    def deliver_secrets(self, project: str, spec: ServiceSpec, read: Callable[[], dict[str, bytes]]) -> None:
        if not spec.secrets:
            return
        if not _on_this_machine():
            raise SecretError(f"service {spec.name} has secrets, which gitdeploy delivers as files in memory on the "
                              f"engine's machine, but the engine at {engine_address()} is on another one",
                              hint="run gitdeploy on the engine's machine (DOCKER_HOST=unix://...)")
        folder = self._secret_files.folder(project, spec.name, spec.template_hash())
        if self._secret_files.missing(folder, spec):
            self._secret_files.write(folder, spec, read())

    def forget_secrets(self, project: str) -> None:
        if not self._secret_files.has_project(project):
            return
        in_use = {f"{r.service}-{r.template_hash}" for r in self.observe(project).replicas}
        self._secret_files.remove_unused(project, in_use)

    def _secret_mounts(self, project: str, spec: ServiceSpec) -> tuple[list, dict[str, str]]:
        """Each secret's file, bind-mounted read-only, and the environment variables that hold one."""
        from docker.types import Mount as EngineMount

        if not spec.secrets:
            return [], {}
        folder = self._secret_files.folder(project, spec.name, spec.template_hash())
        mounts = [EngineMount(s.target, str(folder / s.name), type="bind", read_only=True) for s in spec.secrets]
        env = {}
        for var, name in spec.secret_env:
            try:
                env[var] = self._secret_files.read(folder, name).decode("utf-8")
            except UnicodeDecodeError:
                raise SecretError(f"secret {name} is not text, so it cannot be the environment variable {var} of "
                                  f"service {spec.name}; use its file") from None
            if "\0" in env[var]:
                raise SecretError(f"secret {name} holds a NUL character, which an environment variable cannot "
                                  f"({var} of service {spec.name}); use its file")
        return mounts, env

    def ensure_image(self, image: str) -> None:
        import docker.errors

        with translated_errors(f"checking image {image}"):
            present = True
            try:
                self._api.inspect_image(image)
            except docker.errors.ImageNotFound:
                present = False
            if self._pull is PullPolicy.ALWAYS or (not present and self._pull is PullPolicy.MISSING):
                try:
                    repository, tag = _split_tag(image)
                    self._api.pull(repository, tag=tag)
                    return
                except docker.errors.APIError as exc:
                    if present:
                        raise
                    raise ImageNotFound(
                        f"image {image} is not on the engine and could not be pulled: {exc.explanation or exc}",
                        hint="build or load it (docker build / docker load), or check the name and your registry login",
                    ) from None
            if not present:
                raise ImageNotFound(
                    f"image {image} is not on the engine (pull policy: never)",
                    hint="build or load it first (docker build / docker load), or allow pulling with --pull missing",
                )

    def start_replica(self, project: str, commit: str, spec: ServiceSpec, slot: int) -> str:
        name = L.replica_name(project, spec.name, slot, spec.template_hash()) + L.PENDING
        # The service name resolves to every replica (DNS round-robin); name-slot reaches one replica.
        return self._create_started(project, commit, spec, name, slot, {L.SLOT: str(slot)},
                                    aliases=[spec.name, f"{spec.name}-{slot}"], hostname=f"{spec.name}-{slot}")

    def run_job(self, project: str, commit: str, spec: ServiceSpec) -> str:
        name = L.job_run_name(project, spec.name, spec.template_hash())
        return self._create_started(project, commit, spec, name, 0, {L.KIND: L.JOB_KIND}, aliases=[],
                                    hostname=spec.name)

    def kill_job(self, name: str) -> None:
        import docker.errors

        with translated_errors(f"killing job run {name}"):
            try:
                self._api.kill(name)
            except docker.errors.APIError as exc:
                if exc.status_code not in (404, 409):   # gone, or not running any more: it ended anyway
                    raise

    def _create_started(self, project: str, commit: str, spec: ServiceSpec, name: str, slot: int,
                        extra_labels: dict[str, str], aliases: list[str], hostname: str) -> str:
        """Creates and starts one container of `spec` on the project network; leaves nothing behind on failure."""
        self._still_locked()
        _no_links_into_the_host(spec)
        api, network = self._api, L.network_name(project)
        secret_mounts, secret_env = self._secret_mounts(project, spec)
        labels = dict(spec.labels) | {
            L.PROJECT: project,
            L.SERVICE: spec.name,
            L.TEMPLATE_HASH: spec.template_hash(),
            L.TEMPLATE: spec.template_json(),
            L.COMMIT: commit,
            L.MANAGED_BY: f"gitdeploy/{__version__}",
        } | ({L.DEPENDS_ON: ",".join(spec.depends_on)} if spec.depends_on else {}) | extra_labels
        context = spec.security_context
        host_config = api.create_host_config(
            port_bindings={
                f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port) if p.host_ip else p.host_port
                for p in spec.ports
                if p.host_port or spec.ingress is None   # behind the ingress: reached on the project network only
            },
            restart_policy={"Name": spec.restart, "MaximumRetryCount": 0},
            mem_limit=spec.memory,
            mem_reservation=spec.reserved_memory,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            init=spec.init,
            network_mode="host" if spec.host_network else network,
            mounts=[_engine_mount(m) for m in spec.mounts] + self._implicit_mounts(project, spec, slot) + secret_mounts,
            # What reaches past the container; the host's policy allowed it before this point (core/policy.py).
            privileged=bool(context and context.privileged),
            cap_add=list(context.cap_add) if context and context.cap_add else None,
            cap_drop=list(context.cap_drop) if context and context.cap_drop else None,
            read_only=bool(context and context.read_only_root_filesystem),
            devices=list(spec.devices) or None,
        )
        # On the host's network a replica has the host's name and no aliases (the engine refuses both).
        networking = None if spec.host_network else api.create_networking_config({
            network: api.create_endpoint_config(aliases=aliases or None),
        })
        with translated_errors(f"creating replica {name}"):
            created = api.create_container(
                spec.image,
                command=list(spec.command) if spec.command is not None else None,
                environment=dict(spec.env) | secret_env,
                labels=labels,
                name=name,
                hostname=None if spec.host_network else hostname,
                user=context.user if context and context.user else None,
                ports=[(p.container_port, p.protocol) for p in spec.ports],
                host_config=host_config,
                networking_config=networking,
                stop_timeout=max(1, round(spec.stop_grace_period)),
                healthcheck=_engine_healthcheck(spec),
            )
        try:
            if spec.files:
                with translated_errors(f"putting files into replica {name}"):
                    api.put_archive(created["Id"], "/", _tar_of(spec.files))
            with translated_errors(f"starting replica {name}"):
                api.start(created["Id"])
        except EngineError:
            # Do not leave a created-but-never-started container behind.
            with translated_errors(f"removing replica {name} that failed to start"):
                api.remove_container(created["Id"], force=True)
            raise
        return name

    def exec_in(self, name: str, command: tuple[str, ...], interactive: bool) -> int:
        """Runs `command` in a replica; its exit code. Interactive (a terminal both ways) through the docker
        CLI, which owns the terminal's raw mode and resizing; otherwise through the API, output streamed."""
        import shutil
        import subprocess
        import sys

        if interactive:
            docker_cli = shutil.which("docker")
            if docker_cli is None:
                raise EngineError("an interactive exec needs the docker CLI (Debian: docker.io), which is not on "
                                  "the PATH; without a terminal gitdeploy runs the command itself")
            return subprocess.call([docker_cli, "exec", "-it", name, *command])
        with translated_errors(f"running a command in {name}"):
            created = self._api.exec_create(name, list(command), stdout=True, stderr=True)
            for out, err in self._api.exec_start(created["Id"], stream=True, demux=True):
                if out:
                    sys.stdout.buffer.write(out)
                    sys.stdout.flush()
                if err:
                    sys.stderr.buffer.write(err)
                    sys.stderr.flush()
            return int(self._api.exec_inspect(created["Id"]).get("ExitCode") or 0)

    def begin_exec_check(self, name: str, command: tuple[str, ...]) -> str:
        with translated_errors(f"running the health check in {name}"):
            created = self._api.exec_create(name, list(command), stdout=False, stderr=False)
            self._api.exec_start(created["Id"], detach=True)
        return created["Id"]

    def exec_check_result(self, check_id: str) -> int | None:
        with translated_errors("reading a health check's result"):
            info = self._api.exec_inspect(check_id)
        code = info.get("ExitCode")
        return None if info.get("Running") or code is None else int(code)

    def restart_replica(self, replica: ObservedReplica) -> None:
        self._still_locked()
        with translated_errors(f"restarting replica {replica.name}"):
            self._api.restart(replica.id, timeout=_grace_period(replica))

    def confirm_replica(self, name: str) -> str:
        self._still_locked()
        final = name.removesuffix(L.PENDING)
        with translated_errors(f"confirming replica {name}"):
            self._api.rename(name, final)
            labels = self._api.inspect_container(final)["Config"]["Labels"] or {}
        if routed(labels.get(L.TEMPLATE, "")):   # it passed its checks: from now on the ingress sends it requests
            self.converge_ingress()
        return final

    # -- the ingress (engine/ingress.py) ----------------------------------

    def _ingress(self):
        from gitdeploy.engine.ingress import Ingress

        return Ingress(self._api, self._ingress_settings, self._pull)

    def take_out(self, replica: ObservedReplica) -> None:
        """Takes a replica out of the ingress (renamed NAME-draining): it gets no new requests."""
        self._still_locked()
        if not replica.draining:
            with translated_errors(f"taking {replica.name} out of the ingress"):
                self._api.rename(replica.id, replica.name.removesuffix(L.PENDING) + L.DRAINING)
        self.converge_ingress()

    def converge_ingress(self) -> str:
        """Makes the ingress serve what runs, one run at a time on this engine; what was wrong ("": nothing)."""
        from gitdeploy.engine.ingress import LOCK

        with self.lock(LOCK, timeout=60):
            return self._ingress().converge()

    def ingress_drift(self, routes=None) -> str:
        return self._ingress().drift(routes)

    def ensure_ingress_image(self) -> None:
        self._ingress().ensure_image()

    def ingress_routes(self):
        return self._ingress().routes()

    def ingress_info(self):
        return self._ingress().info()

    def ingress_logs(self, tail: int, follow: bool):
        """The ingress's access log (one JSON object per request), as `docker logs` gives it."""
        from gitdeploy.engine.ingress import NAME

        if self._ingress().container() is None:
            raise NotFound("there is no ingress on this engine (no service routes through it yet)")
        return self.logs((NAME,), tail, follow)

    def remove_replica(self, replica: ObservedReplica) -> None:
        self._still_locked()
        import docker.errors

        with translated_errors(f"removing replica {replica.name}"):
            try:
                if replica.state in ("running", "restarting", "paused"):
                    # The grace period is given explicitly: the SDK's HTTP timeout is
                    # its own 60 s plus this, so a long stopGracePeriod does not time out.
                    self._api.stop(replica.id, timeout=_grace_period(replica))
                self._api.remove_container(replica.id, force=True)
            except docker.errors.NotFound:
                pass  # already gone: the goal is reached
        if replica.routed:   # its routes go with it (a removed service's become 404s)
            self.converge_ingress()


    def inspect_replica(self, name: str) -> ReplicaProbe:
        with translated_errors(f"inspecting replica {name}"):
            info = self._api.inspect_container(name)
        state = info.get("State") or {}
        health = state.get("Health") or {}
        log = health.get("Log") or []
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        address = next((n.get("IPAddress", "") for n in networks.values() if n.get("IPAddress")), "")
        return ReplicaProbe(
            state=state.get("Status", ""),
            exit_code=int(state.get("ExitCode") or 0),
            restart_count=int(info.get("RestartCount") or 0),
            health=health.get("Status", ""),
            health_output=(log[-1].get("Output") or "").strip() if log else "",
            address=address,
            health_exit_code=log[-1].get("ExitCode") if log else None,
        )

    def replica_logs(self, name: str, lines: int = 20) -> str:
        import docker.errors

        with translated_errors(f"reading logs of {name}"):
            try:
                return self._api.logs(name, tail=lines).decode(errors="replace").strip()
            except docker.errors.NotFound:
                return ""   # gone already: a failure report without its log tail

    def logs(self, names: tuple[str, ...], tail: int, follow: bool) -> Iterator[tuple[str, str]]:
        import queue
        import threading

        if not follow:
            for name in names:
                with translated_errors(f"reading logs of {name}"):
                    text = self._api.logs(name, tail=tail).decode(errors="replace")
                yield from ((name, line) for line in text.splitlines())
            return
        lines: queue.Queue = queue.Queue()

        def pump(name: str) -> None:   # one thread per replica: the engine streams each separately
            try:
                with translated_errors(f"reading logs of {name}"):
                    pending = b""
                    for chunk in self._api.logs(name, tail=tail, stream=True, follow=True):
                        pending += chunk
                        *whole, pending = pending.split(b"\n")
                        for line in whole:
                            lines.put((name, line.decode(errors="replace")))
                    if pending:
                        lines.put((name, pending.decode(errors="replace")))
            except EngineError as exc:
                lines.put((name, f"(gitdeploy: {exc.message})"))
            finally:
                lines.put(None)

        for name in names:
            threading.Thread(target=pump, args=(name,), daemon=True, name=f"logs-{name}").start()
        running = len(names)
        while running:
            item = lines.get()
            if item is None:
                running -= 1
            else:
                yield item

    def remove_network(self, project: str) -> bool:
        import docker.errors

        self._still_locked()
        name = L.network_name(project)
        self._ingress().disconnect(project)   # the shared ingress holds an endpoint on it
        with translated_errors(f"removing network {name}"):
            ours = [n for n in self._api.networks(names=[name]) if n["Name"] == name
                    and (n.get("Labels") or {}).get(L.PROJECT) == project]
            for network in ours:
                try:
                    self._api.remove_network(network["Id"])
                except docker.errors.NotFound:
                    pass
        return bool(ours)

    def remove_history(self, project: str) -> int:
        from gitdeploy.engine import docker_history

        self._still_locked()
        with translated_errors("removing the revision history"):
            return docker_history.remove_all(self._api, project)

    # -- one run at a time ---------------------------------------------------

    @contextmanager
    def lock(self, project: str, timeout: float = 0.0) -> Iterator[None]:
        from gitdeploy.engine.docker_lock import EngineLock

        held = EngineLock(self._api, project, timeout=timeout)
        with translated_errors(f"locking project {project}"):
            held.acquire()
        self._held.append(held)
        try:
            yield
        finally:
            self._held.remove(held)
            with translated_errors(f"unlocking project {project}"):
                held.release()

    def _still_locked(self) -> None:
        """Before a change: stop if this run has lost a lock it took (LockHeld, exit 4)."""
        for held in self._held:
            with translated_errors(f"renewing the lock of project {held.project}"):
                held.check()

    def lock_holder(self, project: str):
        from gitdeploy.engine.docker_lock import read_lock

        with translated_errors(f"reading the lock of project {project}"):
            return read_lock(self._api, project)

    def unlock(self, project: str):
        from gitdeploy.engine.docker_lock import break_lock

        with translated_errors(f"unlocking project {project}"):
            return break_lock(self._api, project)

    # -- history: one tagged, empty image per event (engine/docker_history.py) --

    def read_history(self, project: str) -> tuple[RevisionEvent, ...]:
        from gitdeploy.engine import docker_history

        with translated_errors("reading the revision history"):
            return docker_history.read(self._reads, project)

    def forget_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        from gitdeploy.engine import docker_history

        if not events:
            return
        self._still_locked()
        with translated_errors("removing old revision history"):
            docker_history.forget(self._api, project, events)

    def append_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        from gitdeploy.engine import docker_history

        if not events:
            return
        self._still_locked()
        with translated_errors("recording the revision history"):
            docker_history.append(self._api, project, events)


def _unreachable_hint() -> str:
    if engine_address().startswith("ssh://"):
        return ("check that `ssh USER@HOST docker version` works from here as this user: the key, known_hosts, "
                "and the docker CLI on that host (gitdeploy connects through the ssh command)")
    return UNREACHABLE_HINT


def _on_this_machine() -> bool:
    address = urllib.parse.urlsplit(engine_address())
    return address.scheme in ("unix", "npipe") or (address.scheme == "tcp" and address.hostname in
                                                     ("localhost", "127.0.0.1", "::1"))


def _no_links_into_the_host(spec: ServiceSpec) -> None:
    """The policy judged each hostPath as written; the kernel follows symbolic links. A link that a replica
    could have made (in a folder it may write) into a path the policy protects is refused here, at the last
    moment, on the engine's own machine (a remote engine's links cannot be seen from here)."""
    from gitdeploy.core.policy import normalised, protected
    from gitdeploy.errors import PolicyViolation

    if not _on_this_machine():
        return
    for mount in spec.mounts:
        if mount.kind is MountKind.HOST_PATH:
            real = os.path.realpath(mount.source)
            if real != normalised(mount.source) and protected(real):
                raise PolicyViolation([], "", [f"write the real path, {real}, in the manifest (and list it exactly "
                                                "in allow.hostPaths)"],
                                      what=f"{spec.name}: hostPath {mount.source} is a link to {real}, which the "
                                           "host's policy protects; refused")


def _engine_healthcheck(spec: ServiceSpec) -> dict | None:
    """The engine's HEALTHCHECK for a replica: exec checks run there; http/tcp are probed by gitdeploy."""
    check = spec.health
    if check is None:
        return None  # the image's own HEALTHCHECK, if it has one, applies
    if check.kind is not CheckKind.EXEC:
        return {"test": ["NONE"]}  # one source of truth: gitdeploy's probe
    nanoseconds = 1_000_000_000
    return {
        "test": ["CMD", *check.exec],
        "interval": int(check.interval * nanoseconds),
        "timeout": int(check.timeout * nanoseconds),
        "retries": check.retries,
        "start_period": int(check.start_period * nanoseconds),
    }


def _replica(row: dict) -> ObservedReplica:
    labels = row.get("Labels") or {}
    try:
        slot = int(labels.get(L.SLOT, "0"))
    except ValueError:
        slot = 0
    names = row.get("Names") or [""]
    return ObservedReplica(
        id=row["Id"],
        name=names[0].lstrip("/"),
        service=labels.get(L.SERVICE, ""),
        slot=slot,
        template_hash=labels.get(L.TEMPLATE_HASH, ""),
        template_json=labels.get(L.TEMPLATE, ""),
        commit=labels.get(L.COMMIT, ""),
        image=row.get("Image", ""),
        state=row.get("State", ""),
        status=row.get("Status", ""),
        networks=tuple(sorted(((row.get("NetworkSettings") or {}).get("Networks") or {}))),
        volumes=tuple(sorted(m["Name"] for m in row.get("Mounts") or () if m.get("Type") == "volume" and m.get("Name"))),
        depends_on=tuple(name for name in labels.get(L.DEPENDS_ON, "").split(",") if name),
        created=float(row.get("Created") or 0),
        ports=tuple(_port(p) for p in sorted(row.get("Ports") or (), key=lambda p: (p.get("PrivatePort", 0),
                                                                                  p.get("IP", ""))))
    )


def _port(port: dict) -> str:
    inside = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
    if not port.get("PublicPort"):
        return inside
    address = port.get("IP", "")
    return f"{address}:{port['PublicPort']}->{inside}" if ":" not in address else f"[{address}]:{port['PublicPort']}->{inside}"


def _tar_of(files) -> bytes:
    """The config files as a tar archive for the engine to unpack at /.

    No folder entries: the engine creates missing parent folders (0755, root)
    and leaves existing ones as they are (an entry would reset /tmp's mode).
    """
    import io
    import tarfile
    import time as clock

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for file in files:
            info = tarfile.TarInfo(file.path.strip("/"))
            info.size, info.mode, info.mtime = len(file.content), file.mode, int(clock.time())
            tar.addfile(info, io.BytesIO(file.content))
    return data.getvalue()


def _owned(volume: dict, project: str, name: str) -> bool:
    labels = volume.get("Labels") or {}
    return labels.get(L.PROJECT) == project and labels.get(L.VOLUME) == name


def _engine_mount(mount: Mount):
    from docker.types import Mount as EngineMount

    if mount.kind is MountKind.TMPFS:
        return EngineMount(mount.path, None, type="tmpfs", read_only=mount.read_only, tmpfs_size=mount.size)
    kind = "volume" if mount.kind is MountKind.VOLUME else "bind"
    return EngineMount(mount.path, mount.source, type=kind, read_only=mount.read_only)


def _grace_period(replica: ObservedReplica) -> int:
    """The replica's stopGracePeriod in whole seconds, from its template label (the default if unrecognised)."""
    written = default("stopGracePeriod")
    if replica.recognised:
        try:
            written = json.loads(replica.template_json).get("stopGracePeriod", written)
        except (ValueError, AttributeError):
            pass
    try:
        return max(1, round(parse_duration(written)))
    except ValueError:
        return round(parse_duration(default("stopGracePeriod")))


def _split_tag(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image, None
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return image, "latest"
