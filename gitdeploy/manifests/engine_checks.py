"""What a manifest asks that the engine it goes to cannot do: one located error each, never a silent drop.

The schema holds the fields of every engine; which of them an engine honours is
decided here, once the engine is known (gitdeploy.yaml `engine`, or --engine).
"""
from __future__ import annotations

from gitdeploy.core.model import EngineKind, EndpointMode, PublishMode
from gitdeploy.engine import swarm_spec as S
from gitdeploy.errors import Problem
from gitdeploy.manifests.yamldoc import Document

_SWARM_ONLY = "only a Swarm does this; remove it, or deploy with `engine: swarm` in gitdeploy.yaml (or --engine swarm)"


def engine_problems(doc: Document, engine: EngineKind, project: str = "") -> list[Problem]:
    """`project`: the engine's project name (a Swarm service's name holds it)."""
    spec = doc.body.get("spec") or {}
    if doc.body.get("kind") == "Volume":
        return _swarm_volume_problems(doc, spec) if engine is EngineKind.SWARM else []
    if engine is EngineKind.SWARM:
        return _swarm_problems(doc, spec) + _swarm_name_problems(doc, project)
    problems = []
    if "placement" in spec:
        problems.append(doc.problem(["spec", "placement"], f"spec.placement: places replicas on a Swarm's nodes; "
                                                           f"{_SWARM_ONLY}"))
    if "endpointMode" in spec:
        problems.append(doc.problem(["spec", "endpointMode"], f"spec.endpointMode: {_SWARM_ONLY}"))
    if "cpus" in ((spec.get("resources") or {}).get("reservations") or {}):
        problems.append(doc.problem(["spec", "resources", "reservations", "cpus"],
                                    "spec.resources.reservations.cpus: a single engine does not reserve CPUs (only a "
                                    "Swarm places replicas by them); remove it, or set resources.cpus as a limit"))
    for index, port in enumerate(spec.get("ports") or []):
        if port.get("mode") == PublishMode.INGRESS.value:
            problems.append(doc.problem(["spec", "ports", index, "mode"],
                                        f"spec.ports[{index}].mode: ingress is Swarm's routing mesh; a single engine "
                                        "publishes on its own host: remove mode (or write mode: host)"))
    return problems


def _swarm_problems(doc: Document, spec: dict) -> list[Problem]:
    problems = []
    if "ingress" in spec:
        problems.append(doc.problem(["spec", "ingress"], "spec.ingress: gitdeploy's ingress runs on a single engine "
                                                         "for now; on a Swarm publish the port on the routing mesh "
                                                         "(ports: [{containerPort: N, hostPort: 80}])"))
    check = spec.get("healthCheck") or {}
    for kind in ("http", "tcp"):
        if kind in check:
            problems.append(doc.problem(
                ["spec", "healthCheck", kind],
                f"spec.healthCheck.{kind}: gitdeploy probes {kind} checks itself, and on a Swarm the replicas run "
                "on other nodes it cannot reach; write an exec check that the engine runs in the replica, e.g. "
                "exec: [sh, -c, 'nc -w1 127.0.0.1 PORT </dev/null']"))
    dnsrr = spec.get("endpointMode") == EndpointMode.DNSRR.value
    for index, port in enumerate(spec.get("ports") or []):
        if port.get("hostIP"):
            problems.append(doc.problem(["spec", "ports", index, "hostIP"],
                                        f"spec.ports[{index}].hostIP: a Swarm publishes on every address of a node; "
                                        "remove hostIP"))
        if dnsrr and port.get("mode") != PublishMode.HOST.value:
            problems.append(doc.problem(["spec", "ports", index],
                                        f"spec.ports[{index}]: with endpointMode: dnsrr there is no routing mesh to "
                                        "publish on; write mode: host"))
    for var, value in (spec.get("env") or {}).items():
        if isinstance(value, dict):
            problems.append(doc.problem(["spec", "env", var],
                                        f"spec.env.{var}: on a Swarm an environment value is stored in the service's "
                                        "definition, readable by anyone who can inspect it; read the secret from its "
                                        "file instead (spec.secrets puts it at /run/secrets/NAME)"))
    for field, why in (("hostNetwork", "Swarm services get the host's network only through a network named host"),
                       ("devices", "Swarm services cannot be given devices")):
        if spec.get(field):
            problems.append(doc.problem(["spec", field], f"spec.{field}: {why}; gitdeploy does not support it on a "
                                                         "Swarm: remove it, or deploy this service to one engine"))
    if (spec.get("securityContext") or {}).get("privileged"):
        problems.append(doc.problem(["spec", "securityContext", "privileged"],
                                    "spec.securityContext.privileged: Swarm services cannot run privileged; "
                                    "add the capabilities it needs with capAdd instead"))
    return problems


def _swarm_name_problems(doc: Document, project: str) -> list[Problem]:
    """A Swarm service is named PROJECT_NAME (a job's run PROJECT_NAME-run-HASH7): at most 63 characters."""
    name = str(doc.body["metadata"]["name"])
    length = len(project) + 1 + len(name) + (12 if doc.body.get("kind") == "Job" else 0)
    if length <= S.NAME_LIMIT:
        return []
    return [doc.problem(["metadata", "name"], f"metadata.name: on a Swarm this {doc.body['kind'].lower()} is named "
                                              f"{project}_{name}{'-run-HASH' if doc.body.get('kind') == 'Job' else ''}, "
                                              f"{length} characters, over Swarm's {S.NAME_LIMIT}; shorten the name "
                                              "(or the project's)")]


def _swarm_volume_problems(doc: Document, spec: dict) -> list[Problem]:
    """A Volume's driver and options would have to travel with every mount of it, on every node."""
    problems = []
    for field in ("driver", "driverOpts"):
        if field in spec and not spec.get("external") and spec[field] not in ("local", {}, None):
            problems.append(doc.problem(["spec", field], f"spec.{field}: on a Swarm each node makes its own copy of "
                                                         "a volume with the local driver; gitdeploy does not pass "
                                                         "drivers to the nodes yet: remove it, or create the volume "
                                                         "on every node yourself and declare it external: true"))
    return problems
