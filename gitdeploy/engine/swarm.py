"""The Docker Swarm backend: each Service is a Swarm service, each Job a `replicated-job` service.

Swarm, not gitdeploy, runs a service's replicas and its rolling update (the
UpdateConfig and RollbackConfig come from the manifest's `update`); gitdeploy
decides what to change, in dependency order, puts the definition, waits for
Swarm's verdict and reports it (swarm_rollout.py). What reads like a replica
elsewhere is a task here: `observe` lists the tasks Swarm means to run, each with
the template labels of the definition it was made from, so the planner, diff,
status and history work unchanged. A service changed by hand is found by
comparing its live definition with the one its labels say gitdeploy posted
(swarm_spec.drift).

History records and the lock live on the manager DOCKER_HOST points at, as on a
single engine (engine/docker.py does both): point every run at the same manager.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from gitdeploy.core import labels as L
from gitdeploy.core.history import RevisionEvent
from gitdeploy.core.model import ServiceSpec, UpdatePolicy, VolumeSpec, spec_from_template
from gitdeploy.core.observed import ObservedReplica, ObservedState, ObservedVolume
from gitdeploy.core.readiness import ReplicaProbe
from gitdeploy.engine import swarm_spec as S
from gitdeploy.engine.base import Node, ServiceProgress
from gitdeploy.engine.docker import DockerEngine, translated_errors
from gitdeploy.errors import EngineError, NotOwned

# Task states before a task runs, in Swarm's order; a task in one of them is "starting" here.
_BEFORE_RUNNING = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting")
_ENDED = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")


class SwarmEngine:
    """The Swarm whose manager DOCKER_HOST points at."""

    rolls_out_itself = True   # apply.py hands it whole services (swarm_rollout.py), not replicas

    def __init__(self, local: DockerEngine | None = None) -> None:
        self.local = local or DockerEngine()   # the manager as one engine: history, lock, images

    @property
    def _api(self):
        return self.local._api

    # -- reading -----------------------------------------------------------

    def _services(self, project: str) -> list[dict]:
        with translated_errors("listing Swarm services"):
            try:
                return self._api.services(filters={"label": f"{L.PROJECT}={project}"})
            except Exception as exc:   # noqa: BLE001 - sorted below: only "not a swarm" is ours to explain
                if "not a swarm manager" in str(exc) or "This node is not a swarm manager" in str(exc):
                    raise EngineError("the engine at DOCKER_HOST is not a Swarm manager (engine: swarm)",
                                      hint="point DOCKER_HOST at a manager of the Swarm, or deploy with "
                                           "--engine docker") from exc
                raise

    def _tasks(self, services: list[dict]) -> list[dict]:
        if not services:
            return []
        with translated_errors("listing Swarm tasks"):
            return self._api.tasks(filters={"service": [s["ID"] for s in services]})

    def _node_names(self) -> dict[str, str]:
        """Node ID -> hostname, of the nodes Swarm has not marked down (a task there is lost, not running)."""
        with translated_errors("listing Swarm nodes"):
            return {n["ID"]: (n.get("Description") or {}).get("Hostname", n["ID"][:12]) for n in self._api.nodes()
                    if (n.get("Status") or {}).get("State") != "down"}

    def observe(self, project: str) -> ObservedState:
        services = self._services(project)
        tasks = self._tasks(services)
        nodes = self._node_names() if tasks else {}
        replicas, runs = [], []
        network = self._network_id(project) if services else ""
        for service in services:
            labels = service["Spec"].get("Labels") or {}
            own = [t for t in tasks if t.get("ServiceID") == service["ID"]]
            if labels.get(L.KIND) == S.KIND_JOB:
                runs.append(_run(service, own))
                continue
            drifted = _drift(project, service, network)
            replicas += [_replica(service, task, nodes, drifted) for task in _current(own, _replicas(service["Spec"]))]
        return ObservedState(project, tuple(sorted(replicas, key=lambda r: r.name)), tuple(runs))

    def progress(self, project: str, name: str, rolling_out: dict | None = None) -> ServiceProgress:
        """Where a service's rollout stands now. `rolling_out`: the task template put (`put_service`): a
        task counts as running it only when its own spec says all of it, so tasks of a definition changed
        by hand, or of one Swarm has not replaced yet, are not taken for it; its failed tasks are counted
        also once Swarm has rolled back to another."""
        service = self._service(project, name)
        if service is None:
            return ServiceProgress(False)
        labels = service["Spec"].get("Labels") or {}
        want = labels.get(L.TEMPLATE_HASH, "")
        tasks = sorted(self._tasks([service]), key=lambda t: t.get("CreatedAt", ""), reverse=True)
        nodes = self._node_names() if tasks else {}
        template = rolling_out or service["Spec"].get("TaskTemplate") or {}
        ours = [t for t in tasks if not S.drift(template, t.get("Spec") or {})]
        running = [t for t in ours if t.get("DesiredState") == "running" and _state(t) == "running"
                   and t.get("NodeID") in nodes]
        failed = [t for t in ours if (t.get("Status") or {}).get("State") in ("failed", "rejected")
                  or (t.get("Status") or {}).get("Err")]
        errors = [f"{nodes.get(t.get('NodeID', ''), '?')}: {_why_ended(t)}" for t in failed][:3]
        status = service.get("UpdateStatus") or {}
        others = [t for t in tasks if t.get("DesiredState") == "running" and t not in ours]
        return ServiceProgress(True, _replicas(service["Spec"]), want, status.get("State", ""),
                               status.get("Message", ""), len(running), len(others), len(failed), tuple(errors),
                               tuple(sorted(nodes.get(t.get("NodeID", ""), "?") for t in running)))

    def _service(self, project: str, name: str) -> dict | None:
        import docker.errors

        swarm_name = S.service_name(project, name)
        with translated_errors(f"inspecting Swarm service {swarm_name}"):
            try:
                service = self._api.inspect_service(swarm_name)
            except docker.errors.NotFound:
                return None
        if (service["Spec"].get("Labels") or {}).get(L.PROJECT) != project:
            raise NotOwned(f"Swarm service {swarm_name} exists but was not created by gitdeploy for project {project}",
                           hint=f"rename or remove it (docker service rm {swarm_name}); gitdeploy never changes "
                                "objects it does not own")
        return service

    def _network_id(self, project: str) -> str:
        """The project's overlay network's ID: what a service's definition holds (it is given the name)."""
        name = L.network_name(project)
        with translated_errors(f"inspecting network {name}"):
            found = [n for n in self._api.networks(names=[name]) if n["Name"] == name]
        return found[0]["Id"] if found else name

    def replicas_reachable(self) -> bool:
        return False   # replicas run on other nodes: gitdeploy's own http/tcp probes cannot reach them

    def cpu_count(self) -> int:
        with translated_errors("reading the Swarm's nodes"):
            cpus = [int(((n.get("Description") or {}).get("Resources") or {}).get("NanoCPUs") or 0) // S.NANO
                    for n in self._api.nodes()]
        return max(cpus or [1])

    def nodes(self) -> tuple[Node, ...]:
        with translated_errors("listing Swarm nodes"):
            rows = self._api.nodes()
        return tuple(sorted((_node(n) for n in rows), key=lambda n: n.hostname))

    def set_availability(self, hostname: str, availability: str) -> Node:
        """Sets a node to active, pause or drain (`gitdeploy drain`/`activate`)."""
        import docker.errors

        found = [n for n in self.nodes() if hostname in (n.hostname, n.id) or n.id.startswith(hostname)]
        if len(found) != 1:
            names = ", ".join(n.hostname for n in self.nodes())
            raise EngineError(f"no Swarm node {hostname}" if not found else f"{hostname} names several nodes",
                              hint=f"the nodes are: {names}")
        with translated_errors(f"setting node {hostname} to {availability}"):
            for _ in range(5):   # the node's version moves under us (heartbeats): read it again and retry
                node = self._api.inspect_node(found[0].id)
                spec = dict(node["Spec"]) | {"Availability": availability}
                try:
                    self._api.update_node(node["ID"], node["Version"]["Index"], spec)
                    break
                except docker.errors.APIError as exc:
                    if "update out of sequence" not in str(exc):
                        raise
        return next(n for n in self.nodes() if n.id == found[0].id)

    # -- changing ----------------------------------------------------------

    def ensure_network(self, project: str) -> None:
        self.local._still_locked()
        name = L.network_name(project)
        with translated_errors(f"creating overlay network {name}"):
            exact = [n for n in self._api.networks(names=[name]) if n["Name"] == name]
            if exact:
                if (exact[0].get("Labels") or {}).get(L.PROJECT) != project:
                    raise NotOwned(f"network {name} exists but was not created by gitdeploy for project {project}",
                                   hint=f"rename or remove that network (docker network rm {name})")
                if exact[0].get("Driver") != "overlay":
                    raise EngineError(f"network {name} is a {exact[0].get('Driver')} network, not an overlay "
                                      "network: this project was deployed to this engine as a single engine",
                                      hint="gitdeploy down it with --engine docker first")
                return
            # Attachable: `docker run --network` and a job's one-off containers can join it too.
            self._api.create_network(name, driver="overlay", attachable=True,
                                     labels={L.PROJECT: project, L.MANAGED_BY: "gitdeploy"})

    def volume_problems(self, project: str, volumes: tuple[VolumeSpec, ...]) -> list[str]:
        return []   # each node makes its own copy when a replica there first mounts it

    def ensure_volumes(self, project: str, volumes: tuple[VolumeSpec, ...]) -> None:
        pass        # as above: made by the node that runs the replica, with the labels of the mount

    def observe_volumes(self, project: str) -> tuple[ObservedVolume, ...]:
        return self.local.observe_volumes(project)   # the manager's copies only

    def remove_volume(self, engine_name: str) -> None:
        # Swarm stops a removed service's containers in the background (each within its grace period).
        deadline = time.monotonic() + 60
        while True:
            try:
                return self.local.remove_volume(engine_name)
            except EngineError as exc:
                if "in use" not in exc.message or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def deliver_secrets(self, project: str, spec: ServiceSpec, read: Callable[[], dict[str, bytes]]) -> None:
        """Each secret becomes a Swarm secret named by its keyed digest, created only when missing."""
        self.local._still_locked()
        existing = self._names("secrets", project)
        plaintext: dict[str, bytes] | None = None
        for secret in spec.secrets:
            name = S.secret_name(project, spec, secret)
            if name in existing:
                continue
            plaintext = plaintext if plaintext is not None else read()
            with translated_errors(f"creating Swarm secret {name}"):
                self._api.create_secret(name, plaintext[secret.name], labels={
                    L.PROJECT: project, L.SERVICE: spec.name, L.KIND: S.SECRET})

    def forget_secrets(self, project: str) -> None:
        """Removes the project's configs and secrets no service's definition refers to, once its rollout
        has ended. (`gitdeploy rollback` makes an old version again; `docker service rollback` by hand
        would find it gone.) One still mounted by a task going away is removed by a later run."""
        import docker.errors

        used: set[str] = set()
        for service in self._services(project):
            container = service["Spec"].get("TaskTemplate", {}).get("ContainerSpec") or {}
            used |= {c.get("ConfigName") for c in container.get("Configs") or ()}
            used |= {s.get("SecretName") for s in container.get("Secrets") or ()}
        for kind in ("secrets", "configs"):
            for name, object_id in self._names(kind, project).items():
                if name in used:
                    continue
                with translated_errors(f"removing Swarm {kind[:-1]} {name}"):
                    try:
                        (self._api.remove_secret if kind == "secrets" else self._api.remove_config)(object_id)
                    except docker.errors.APIError as exc:
                        if exc.status_code not in (400, 404):   # still in use by a task going away: next run
                            raise

    def _names(self, kind: str, project: str) -> dict[str, str]:
        """The project's Swarm secrets or configs: name -> ID."""
        with translated_errors(f"listing Swarm {kind}"):
            rows = getattr(self._api, kind)(filters={"label": f"{L.PROJECT}={project}"})
        return {r["Spec"]["Name"]: r["ID"] for r in rows}

    def put_service(self, project: str, commit: str, spec: ServiceSpec, *,
                    job: bool = False) -> tuple[bool, dict]:
        """Creates the service, or updates it where its definition differs from `spec`'s (a Swarm rolling
        update, when the template changed). (Whether anything was posted, the task template its tasks
        are to run: what `progress` waits for.)"""
        self.local._still_locked()
        configs = self._ensure_configs(project, spec)
        ids = configs | self._names("secrets", project)
        missing = [s.name for s in spec.secrets if S.secret_name(project, spec, s) not in ids]
        if missing:
            raise EngineError(f"service {spec.name}: secret {missing[0]} was not delivered to the Swarm")
        current = None if job else self._service(project, spec.name)
        if current is not None:
            labels = current["Spec"].get("Labels") or {}
            if labels.get(L.TEMPLATE_HASH) == spec.template_hash():
                commit = labels.get(L.COMMIT, commit)   # the same template: its tasks are not rolled for a commit
        definition = S.service_definition(project, commit, spec, self._network_id(project), job=job, ids=ids)
        if job:
            definition["Name"] = L.job_run_name(project, spec.name, spec.template_hash())
        fields = dict(task_template=definition["TaskTemplate"], name=definition["Name"], labels=definition["Labels"],
                      mode=definition["Mode"], endpoint_spec=definition["EndpointSpec"])
        if not job:
            fields |= dict(update_config=definition["UpdateConfig"], rollback_config=definition["RollbackConfig"])
        if current is None:
            with translated_errors(f"creating Swarm service {definition['Name']}"):
                self._api.create_service(**fields)
            return True, definition["TaskTemplate"]
        live = current["Spec"]
        if not S.drift(definition, live) and _replicas(live) == spec.replicas and \
                (live.get("Labels") or {}).get(L.TEMPLATE_HASH) == spec.template_hash():
            return False, definition["TaskTemplate"]
        with translated_errors(f"updating Swarm service {definition['Name']}"):
            self._api.update_service(current["ID"], current["Version"]["Index"], **fields)
        return True, definition["TaskTemplate"]

    def _ensure_configs(self, project: str, spec: ServiceSpec) -> dict[str, str]:
        existing = self._names("configs", project)
        for index, file in enumerate(spec.files):
            name = S.config_name(project, spec, index)
            if name not in existing:
                with translated_errors(f"creating Swarm config {name}"):
                    made = self._api.create_config(name, file.content, labels={
                        L.PROJECT: project, L.SERVICE: spec.name, L.KIND: S.CONFIG})
                existing[name] = made["ID"] if isinstance(made, dict) else made
        return existing

    def roll_back(self, project: str, name: str) -> None:
        """Asks Swarm to put back the definition before the last update (a rollout that made no progress)."""
        service = self._service(project, name)
        if service is None or not service.get("PreviousSpec"):
            return
        with translated_errors(f"rolling back Swarm service {name}"):
            response = self._api._post_json(self._api._url("/services/{0}/update", service["ID"]),
                                            data=service["Spec"],
                                            params={"version": service["Version"]["Index"], "rollback": "previous"})
            self._api._raise_for_status(response)

    def remove_service(self, project: str, name: str) -> bool:
        """Removes a service (its tasks stop, each within its stop grace period); whether there was one."""
        self.local._still_locked()
        return self._remove(S.service_name(project, name))

    def _remove(self, swarm_name: str) -> bool:
        import docker.errors

        with translated_errors(f"removing Swarm service {swarm_name}"):
            try:
                self._api.remove_service(swarm_name)
            except docker.errors.NotFound:
                return False
        return True

    def ensure_image(self, image: str) -> None:
        pass   # each node gets its images from the registry itself; a node without one rejects the task

    def images_missing(self, images: tuple[str, ...]) -> tuple[str, ...]:
        return ()

    def image_volume_paths(self, image: str) -> tuple[str, ...]:
        return ()   # a Swarm task keeps an image's VOLUME paths in anonymous volumes of its node

    # -- jobs (JobRun drives them as on one engine) --------------------------

    def run_job(self, project: str, commit: str, spec: ServiceSpec) -> str:
        self.put_service(project, commit, spec, job=True)
        return L.job_run_name(project, spec.name, spec.template_hash())

    def kill_job(self, name: str) -> None:
        self._remove(name)

    def inspect_replica(self, name: str) -> ReplicaProbe:
        """A job run's state (by its service's name), from its newest task."""
        import docker.errors

        with translated_errors(f"inspecting {name}"):
            try:
                self._api.inspect_service(name)
                tasks = self._api.tasks(filters={"service": name})
            except docker.errors.NotFound:
                return ReplicaProbe(state="exited", exit_code=137)   # removed (killed past its timeout)
        if not tasks:
            return ReplicaProbe(state="created")   # Swarm has not made its task yet
        task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
        return ReplicaProbe(state=_state(task), exit_code=_exit_code(task))

    def replica_logs(self, name: str, lines: int = 20) -> str:
        """The last lines of a service's (or a job run's) output, and why its newest task ended, if Swarm
        says (a task that never started has no output: "No such image")."""
        import docker.errors

        output = "\n".join(line for _, line in self.logs((name,), lines, False))
        with translated_errors(f"inspecting {name}"):
            try:
                tasks = self._api.tasks(filters={"service": name.rsplit(".", 1)[0] if "." in name else name})
            except docker.errors.NotFound:
                tasks = []
        ended = max(tasks, key=lambda t: t.get("CreatedAt", "")) if tasks else {}
        why = (ended.get("Status") or {}).get("Err", "")
        return "\n".join(part for part in (output, f"(Swarm: {why})" if why else "") if part)

    def remove_replica(self, replica: ObservedReplica) -> None:
        """Removes the Swarm service a task (or a job's run) belongs to: `down`, and a job's previous run."""
        self.local._still_locked()
        self._remove(replica.name.rsplit(".", 1)[0] if replica.slot else replica.name)

    def logs(self, names: tuple[str, ...], tail: int, follow: bool) -> Iterator[tuple[str, str]]:
        """Each line as Swarm collects it from the nodes, by the replica (task) that wrote it. With `follow`,
        the services are followed one after the other (the CLI asks for one service at a time)."""
        by_service: dict[str, list[str]] = {}
        for name in names:   # a replica is SERVICE.SLOT; a job's run is its service
            by_service.setdefault(name.rsplit(".", 1)[0] if "." in name else name, []).append(name)
        for service, wanted in by_service.items():
            with translated_errors(f"reading logs of {service}"):
                slots = {t["ID"]: f"{service}.{t.get('Slot', 0)}" for t in self._api.tasks(filters={"service": service})}
                stream = self._api.service_logs(service, stdout=True, stderr=True, tail=tail, follow=follow,
                                                details=True)
                pending = b""
                for chunk in stream:
                    pending += chunk
                    *whole, pending = pending.split(b"\n")
                    yield from (_attributed(line.decode(errors="replace"), slots, wanted) for line in whole)
                if pending:
                    yield _attributed(pending.decode(errors="replace"), slots, wanted)

    def remove_network(self, project: str) -> bool:
        # Swarm removes an overlay network's endpoints a moment after the last task stops.
        for _ in range(40):
            try:
                return self.local.remove_network(project)
            except EngineError as exc:
                if "active endpoints" not in exc.message:
                    raise
                time.sleep(0.25)
        return self.local.remove_network(project)

    # -- what a single engine does, replica by replica: Swarm does it itself --

    def start_replica(self, project: str, commit: str, spec: ServiceSpec, slot: int) -> str:
        raise EngineError("a Swarm starts its replicas itself")

    def confirm_replica(self, name: str) -> str:
        raise EngineError("a Swarm starts its replicas itself")

    def restart_replica(self, replica: ObservedReplica) -> None:
        raise EngineError("restart on a Swarm: use `docker service update --force SERVICE`",
                          hint="gitdeploy restart drives single engines only for now")

    def begin_exec_check(self, name: str, command: tuple[str, ...]) -> str:
        raise EngineError("a Swarm runs health checks itself")

    def exec_check_result(self, check_id: str) -> int | None:
        raise EngineError("a Swarm runs health checks itself")

    def exec_in(self, name: str, command: tuple[str, ...], interactive: bool) -> int:
        raise EngineError("exec on a Swarm: run `docker exec` on the node that runs the replica "
                          "(gitdeploy status shows which)")

    # -- the ingress: a single engine's for now (spec.ingress is refused on a Swarm) --

    def take_out(self, replica: ObservedReplica) -> None:
        pass

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

    # -- history and the lock: the manager's, as on one engine ---------------

    def read_history(self, project: str) -> tuple[RevisionEvent, ...]:
        return self.local.read_history(project)

    def append_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        self.local.append_history(project, events)

    def forget_history(self, project: str, events: tuple[RevisionEvent, ...]) -> None:
        self.local.forget_history(project, events)

    def remove_history(self, project: str) -> int:
        return self.local.remove_history(project)

    @contextmanager
    def lock(self, project: str, timeout: float = 0.0):
        with self.local.lock(project, timeout):
            yield

    def unlock(self, project: str):
        return self.local.unlock(project)

    def lock_holder(self, project: str):
        return self.local.lock_holder(project)


def _current(tasks: list[dict], replicas: int) -> list[dict]:
    """The tasks that stand for a service's replicas: those Swarm means to run, and, of a slot with none
    (its task exited and its restart policy does not start it again), the newest one: a stopped
    replica, as on one engine."""
    meant = [t for t in tasks if t.get("DesiredState") == "running"]
    covered = {t.get("Slot") for t in meant}
    newest: dict[int, dict] = {}
    for task in tasks:
        slot = task.get("Slot")
        if isinstance(slot, int) and 0 < slot <= replicas and slot not in covered and (slot not in newest or task.get("CreatedAt", "") > newest[slot].get("CreatedAt", "")):
            newest[slot] = task
    return meant + list(newest.values())


def _attributed(line: str, slots: dict[str, str], wanted: list[str]) -> tuple[str, str]:
    """(replica, text) of a service log line with details: "com.docker.swarm.node.id=…,…task.id=ID TEXT"."""
    details, _, text = line.partition(" ")
    fields = dict(item.split("=", 1) for item in details.split(",") if "=" in item)
    if "com.docker.swarm.task.id" not in fields:
        return wanted[0], line
    name = slots.get(fields["com.docker.swarm.task.id"], wanted[0])
    return (name if name in wanted else wanted[0]), text


def _task_labels(task: dict) -> dict:
    return (((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels")) or {}


def _state(task: dict) -> str:
    state = (task.get("Status") or {}).get("State", "")
    if state == "running":
        return "running"
    if state in _BEFORE_RUNNING:
        return "created"
    return "exited"


def _exit_code(task: dict) -> int:
    status = task.get("Status") or {}
    state = status.get("State")
    if state == "complete" or state == "running" or state in _BEFORE_RUNNING:
        return 0
    # Ended otherwise: its container's code, or 1 when it never ran (rejected: the engine reports 0 then).
    return int((status.get("ContainerStatus") or {}).get("ExitCode") or 1)


def _why_ended(task: dict) -> str:
    status = task.get("Status") or {}
    return status.get("Err") or status.get("Message") or status.get("State", "")


def _replicas(spec: dict) -> int:
    return int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)


def _drift(project: str, service: dict, network: str) -> str:
    """What of a service's live definition differs from the one its labels say gitdeploy posted."""
    spec = service["Spec"]
    labels = spec.get("Labels") or {}
    try:
        import json

        declared = spec_from_template(labels.get(L.SERVICE, ""), _replicas(spec),
                                      json.loads(labels.get(L.TEMPLATE, "")), UpdatePolicy(),
                                      depends_on=tuple(d for d in labels.get(L.DEPENDS_ON, "").split(",") if d))
    except (KeyError, ValueError, TypeError, AttributeError):
        return "its labels were changed"
    if declared.template_hash() != labels.get(L.TEMPLATE_HASH):
        return "its labels were changed"
    expected = S.service_definition(project, labels.get(L.COMMIT, ""), declared, network)
    for volatile in ("UpdateConfig", "RollbackConfig"):   # not part of the template: set by the next update
        expected.pop(volatile)
    return S.drift(expected, spec)


def _replica(service: dict, task: dict, nodes: dict[str, str], drift: str) -> ObservedReplica:
    labels = _task_labels(task)
    status = task.get("Status") or {}
    state = _state(task)
    image = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Image") or ""
    if task.get("NodeID") and task["NodeID"] not in nodes:   # its node is down: Swarm will start it elsewhere
        state, status = "lost", {"Message": "its node is down"}
    ports = tuple(f"{p.get('PublishedPort')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
                  for p in (service.get("Endpoint") or {}).get("Ports") or ())
    return ObservedReplica(
        id=task["ID"], name=f"{service['Spec']['Name']}.{task.get('Slot', 0)}", service=labels.get(L.SERVICE, ""),
        slot=int(task.get("Slot") or 0), template_hash=labels.get(L.TEMPLATE_HASH, ""),
        template_json=labels.get(L.TEMPLATE, ""), commit=labels.get(L.COMMIT, ""), image=image, state=state,
        status=status.get("Message", "") if state != "running" else f"Up ({status.get('Message', 'running')})",
        networks=None, depends_on=tuple(d for d in labels.get(L.DEPENDS_ON, "").split(",") if d),
        created=_epoch(task.get("CreatedAt", "")), ports=ports, node=nodes.get(task.get("NodeID", ""), ""),
        drift=drift)


def _run(service: dict, tasks: list[dict]) -> ObservedReplica:
    """A job's run: its service, in the state of its newest task."""
    labels = service["Spec"].get("Labels") or {}
    task = max(tasks, key=lambda t: t.get("CreatedAt", "")) if tasks else {}
    state = _state(task) if task else "created"
    return ObservedReplica(
        id=service["ID"], name=service["Spec"]["Name"], service=labels.get(L.SERVICE, ""), slot=0,
        template_hash=labels.get(L.TEMPLATE_HASH, ""), template_json=labels.get(L.TEMPLATE, ""),
        commit=labels.get(L.COMMIT, ""), image=(labels.get(L.IMAGE) or ""), state=state,
        status=f"Exited ({_exit_code(task)})" if state == "exited" else "",
        created=_epoch(service.get("CreatedAt", "")))


def _node(row: dict) -> Node:
    spec, description, status = row.get("Spec") or {}, row.get("Description") or {}, row.get("Status") or {}
    manager = row.get("ManagerStatus") or {}
    return Node(row["ID"], description.get("Hostname", row["ID"][:12]), spec.get("Role", ""),
                spec.get("Availability", ""), status.get("State", ""), status.get("Addr", ""),
                bool(manager.get("Leader")), tuple(sorted((spec.get("Labels") or {}).items())))


def _epoch(stamp: str) -> float:
    """Seconds since the epoch of an Engine API time (RFC 3339, nanoseconds); 0.0 when unreadable."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
