"""What a manifest asks that the engine it goes to cannot do: one located error each, never a silent drop.

The schema holds the fields of every engine; which of them an engine honours is
decided here, once the engine is known (gitdeploy.yaml `engine`, or --engine).
"""
from __future__ import annotations

from gitdeploy.core.model import EngineKind, EndpointMode, PublishMode
from gitdeploy.errors import Problem
from gitdeploy.manifests.yamldoc import Document

_SWARM_ONLY = "only a Swarm does this; remove it, or deploy with `engine: swarm` in gitdeploy.yaml (or --engine swarm)"


def engine_problems(doc: Document, engine: EngineKind) -> list[Problem]:
    spec = doc.body["spec"]
    if engine is EngineKind.SWARM:
        return _swarm_problems(doc, spec)
    problems = []
    if "placement" in spec:
        problems.append(doc.problem(["spec", "placement"], f"spec.placement: places replicas on a Swarm's nodes; "
                                                           f"{_SWARM_ONLY}"))
    if "endpointMode" in spec:
        problems.append(doc.problem(["spec", "endpointMode"], f"spec.endpointMode: {_SWARM_ONLY}"))
    for index, port in enumerate(spec.get("ports") or []):
        if port.get("mode") == PublishMode.INGRESS.value:
            problems.append(doc.problem(["spec", "ports", index, "mode"],
                                        f"spec.ports[{index}].mode: ingress is Swarm's routing mesh; a single engine "
                                        "publishes on its own host: remove mode (or write mode: host)"))
    return problems


def _swarm_problems(doc: Document, spec: dict) -> list[Problem]:
    problems = []
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
        if dnsrr and "hostPort" in port and port.get("mode") != PublishMode.HOST.value:
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
