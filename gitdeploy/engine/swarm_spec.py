"""From a `ServiceSpec` to the Swarm service definition the Engine API takes, and back to "does it still match".

Pure (no docker import): the Swarm adapter (engine/swarm.py) posts what `service_definition`
builds, and `drift` compares a live definition with it, so a service changed by hand
(`docker service update --image ...`) is found and reset like any other drift. Names of
configs and secrets are derived from their content's digest: a change makes a new
object (Swarm's are immutable), which rolls the service; the old one is removed after.
"""
from __future__ import annotations

import hashlib

from gitdeploy import __version__
from gitdeploy.core import labels as L
from gitdeploy.core.model import (CheckKind, EndpointMode, MountKind, PublishMode, SecretFile,
                                  ServiceSpec, UpdateOrder)

NANO = 1_000_000_000
KIND_SERVICE, KIND_JOB = "service", "job"   # L.KIND on a Swarm service
CONFIG, SECRET = "config", "secret"         # L.KIND on a Swarm config or secret
# A restart policy per manifest word; a job's run never restarts (its retries are gitdeploy's attempts).
_RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def service_name(project: str, service: str) -> str:
    # As a replica's name: '_' appears in no project or service name, so no two pairs share one.
    return f"{project}_{service}"


def ownership(project: str, commit: str, spec: ServiceSpec, kind: str) -> dict[str, str]:
    """The labels every Swarm object of a service carries, and every one of its containers."""
    return dict(spec.labels) | {
        L.PROJECT: project,
        L.SERVICE: spec.name,
        L.KIND: kind,
        L.TEMPLATE_HASH: spec.template_hash(),
        L.TEMPLATE: spec.template_json(),
        L.COMMIT: commit,
        L.MANAGED_BY: f"gitdeploy/{__version__}",
    } | ({L.DEPENDS_ON: ",".join(spec.depends_on)} if spec.depends_on else {})


def config_name(project: str, spec: ServiceSpec, index: int) -> str:
    """A config file's Swarm config: named by its content, so a change is a new config. At most 58
    characters (Swarm allows 64); its labels say whose it is."""
    file = spec.files[index]
    digest = hashlib.sha256(f"{spec.name}\0{file.path}\0".encode() + file.content).hexdigest()[:16]
    return f"{project}_f{digest}"


def secret_name(project: str, spec: ServiceSpec, secret: SecretFile) -> str:
    """A secret's Swarm secret: named by its keyed digest (never a plain hash of the plaintext), so a
    changed secret is a new one. At most 58 characters."""
    digest = hashlib.sha256(f"{spec.name}\0{secret.name}\0{secret.target}\0{secret.digest}".encode()).hexdigest()[:16]
    return f"{project}_s{digest}"


NAME_LIMIT = 63   # characters in a Swarm service's name (a job's run: labels.job_run_name, 12 more than its name)


def service_definition(project: str, commit: str, spec: ServiceSpec, network: str, *, job: bool = False,
                       ids: dict[str, str] | None = None) -> dict:
    """The Swarm ServiceSpec (Engine API) of `spec`. `ids`: Swarm object name -> ID, for the configs and
    secrets it refers to (the API wants both; without them only names are filled in, for `drift`)."""
    ids = ids or {}
    kind = KIND_JOB if job else KIND_SERVICE
    labels = ownership(project, commit, spec, kind)
    context = spec.security_context
    container = {
        "Image": spec.image,
        "Labels": labels,
        "Env": [f"{name}={value}" for name, value in spec.env],
        "Init": spec.init,
        "StopGracePeriod": int(spec.stop_grace_period * NANO),
        "Mounts": [_mount(project, m) for m in spec.mounts],
        "Configs": [{"File": {"Name": f.path, "UID": "0", "GID": "0", "Mode": f.mode},
                     "ConfigName": config_name(project, spec, i), "ConfigID": ids.get(config_name(project, spec, i), "")}
                    for i, f in enumerate(spec.files)],
        "Secrets": [{"File": {"Name": s.target, "UID": str(s.uid), "GID": str(s.gid), "Mode": s.mode},
                     "SecretName": secret_name(project, spec, s), "SecretID": ids.get(secret_name(project, spec, s), "")}
                    for s in spec.secrets],
    }
    if spec.command is not None:
        container["Args"] = list(spec.command)   # as `docker run IMAGE ARGS`: the image's entrypoint stays
    if spec.health is not None and spec.health.kind is CheckKind.EXEC:
        check = spec.health
        container["Healthcheck"] = {"Test": ["CMD", *check.exec], "Interval": int(check.interval * NANO),
                                    "Timeout": int(check.timeout * NANO), "Retries": check.retries,
                                    "StartPeriod": int(check.start_period * NANO)}
    if context is not None:
        container |= {"ReadOnly": context.read_only_root_filesystem} \
            | ({"User": context.user} if context.user else {}) \
            | ({"CapabilityAdd": list(context.cap_add)} if context.cap_add else {}) \
            | ({"CapabilityDrop": list(context.cap_drop)} if context.cap_drop else {})
    limits = ({"NanoCPUs": int(spec.cpus * NANO)} if spec.cpus else {}) \
        | ({"MemoryBytes": spec.memory} if spec.memory else {})
    reserved = ({"NanoCPUs": int(spec.reserved_cpus * NANO)} if spec.reserved_cpus else {}) \
        | ({"MemoryBytes": spec.reserved_memory} if spec.reserved_memory else {})
    placement = spec.placement
    task = {
        "ContainerSpec": container,
        "Resources": ({"Limits": limits} if limits else {}) | ({"Reservations": reserved} if reserved else {}),
        "RestartPolicy": {"Condition": "none" if job else _RESTART.get(spec.restart, "any"),
                          "Delay": NANO, "MaxAttempts": 0},
        "Placement": {} if placement is None else {
            "Constraints": list(placement.constraints),
            "Preferences": [{"Spread": {"SpreadDescriptor": label}} for label in placement.spread],
        } | ({"MaxReplicas": placement.max_replicas_per_node} if placement.max_replicas_per_node else {}),
        "Networks": [{"Target": network, "Aliases": [spec.name]}],
    }
    definition = {
        "Name": service_name(project, spec.name),
        "Labels": labels,
        "TaskTemplate": task,
        "Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}} if job
        else {"Replicated": {"Replicas": spec.replicas}},
        "EndpointSpec": {
            "Mode": (spec.endpoint_mode or EndpointMode.VIP).value,
            "Ports": [{"Protocol": p.protocol, "TargetPort": p.container_port,
                       "PublishMode": (p.mode or PublishMode.INGRESS).value}
                      | ({"PublishedPort": p.host_port} if p.host_port else {}) for p in spec.ports],
        },
    }
    if not job:
        definition |= {"UpdateConfig": _update_config(spec, spec.update.failure_action.value),
                       "RollbackConfig": _update_config(spec, "pause")}
    return definition


def _update_config(spec: ServiceSpec, failure_action: str) -> dict:
    update = spec.update
    return {"Parallelism": update.parallelism, "Delay": int(update.delay * NANO),
            "FailureAction": failure_action,
            "Monitor": int(max(update.monitor, 0.001) * NANO), "MaxFailureRatio": 0,
            "Order": "start-first" if update.order is UpdateOrder.START_FIRST else "stop-first"}


def _mount(project: str, mount) -> dict:
    if mount.kind is MountKind.TMPFS:
        return {"Type": "tmpfs", "Target": mount.path, "ReadOnly": mount.read_only} \
            | ({"TmpfsOptions": {"SizeBytes": mount.size}} if mount.size else {})
    if mount.kind is MountKind.HOST_PATH:
        return {"Type": "bind", "Source": mount.source, "Target": mount.path, "ReadOnly": mount.read_only}
    # Each node makes its own copy of a volume the first time a replica there mounts it, labelled as ours.
    return {"Type": "volume", "Source": mount.source, "Target": mount.path, "ReadOnly": mount.read_only,
            "VolumeOptions": {"Labels": {L.PROJECT: project, L.VOLUME: mount.source}}}


def drift(expected: dict, live: dict, path: str = "") -> str:
    """Where a live Swarm definition no longer says what gitdeploy would post ("" when it all still does).

    What gitdeploy sets must be there unchanged, and nothing may be added to it, but for what
    the engine fills in itself (IDs, `ForceUpdate`, `Isolation`, ...) and empty values. The
    replica count is left to the planner, which sees it in the tasks. Values are never
    returned: only the path (an env value may be a secret the user typed).
    """
    if isinstance(expected, dict):
        if not isinstance(live, dict):
            return path or "(the service)"
        for key in sorted(set(expected) | set(live)):
            if key in _ENGINE_FILLED or (path == "Mode.Replicated" and key == "Replicas"):
                continue
            value, found = expected.get(key), live.get(key)
            if _empty(value) and _empty(found):
                continue
            where = f"{path}.{key}" if path else key
            if key not in expected and path in _OPEN:   # a part gitdeploy does not own
                continue
            differs = drift(value, found, where)
            if differs:
                return differs
        return ""
    if isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            return path
        return next((found for found in (drift(e, v, f"{path}[{i}]") for i, (e, v) in
                                         enumerate(zip(expected, live))) if found), "")
    return "" if expected == live or (_empty(expected) and _empty(live)) else path


def _empty(value) -> bool:
    return value in ({}, [], "", None, False, 0)


# Filled in by the engine, or IDs that the names say already: never drift.
_ENGINE_FILLED = {"ConfigID", "SecretID", "ForceUpdate", "Isolation", "Platforms", "Runtime", "Window"}
# Parts of a definition that hold more than gitdeploy sets, left to their owners: the whole service
# (UpdateStatus lives beside Spec, but a Spec may carry fields of newer Engine API versions).
_OPEN = {""}
