"""Building typed `ServiceSpec`s from validated documents: the one place dicts become values."""
from __future__ import annotations

from gitdeploy.core.model import PortSpec, ServiceSpec
from gitdeploy.core.units import parse_cpus, parse_duration, parse_memory
from gitdeploy.manifests.yamldoc import Document


def build_service(doc: Document) -> ServiceSpec:
    meta, spec = doc.body["metadata"], doc.body["spec"]
    resources = spec.get("resources") or {}
    ports = tuple(sorted(
        (
            PortSpec(
                container_port=int(p["containerPort"]),
                host_port=int(p["hostPort"]) if "hostPort" in p else None,
                protocol=str(p.get("protocol", "tcp")),
                host_ip=str(p.get("hostIP", "")),
            )
            for p in spec.get("ports") or []
        ),
        key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port or 0),
    ))
    command = spec.get("command")
    return ServiceSpec(
        name=str(meta["name"]),
        image=str(spec["image"]),
        replicas=int(spec.get("replicas", 1)),
        command=tuple(str(c) for c in command) if command is not None else None,
        env=_string_pairs(spec.get("env")),
        ports=ports,
        cpus=parse_cpus(resources["cpus"]) if "cpus" in resources else None,
        memory=parse_memory(resources["memory"]) if "memory" in resources else None,
        restart=str(spec.get("restart", "unless-stopped")),
        init=bool(spec.get("init", True)),
        stop_grace_period=parse_duration(spec.get("stopGracePeriod", "10s")),
        labels=_string_pairs(meta.get("labels")),
        source=f"{doc.file}:{doc.line}",
    )


def _string_pairs(mapping) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), _scalar_text(v)) for k, v in (mapping or {}).items()))


def _scalar_text(value) -> str:
    # YAML `DEBUG: true` and `PORT: 8080` mean the strings "true" and "8080".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
