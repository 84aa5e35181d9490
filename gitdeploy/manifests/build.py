"""Building typed `ServiceSpec`s from validated documents: the one place dicts become values."""
from __future__ import annotations

from gitdeploy.core.model import HealthCheck, PortSpec, ServiceSpec, UpdatePolicy
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
        health=build_health(spec["healthCheck"]) if "healthCheck" in spec else None,
        update=build_update(spec.get("update") or {}, fixed_host_port=any(p.host_port for p in ports)),
        source=f"{doc.file}:{doc.line}",
    )


def build_health(check) -> HealthCheck:
    http, tcp = check.get("http") or {}, check.get("tcp") or {}
    interval = parse_duration(check.get("interval", "5s"))
    return HealthCheck(
        exec=tuple(str(c) for c in check["exec"]) if "exec" in check else None,
        http_port=int(http["port"]) if http else None,
        http_path=str(http.get("path", "/")),
        http_status=int(http.get("expectStatus", 200)),
        tcp_port=int(tcp["port"]) if tcp else None,
        interval=interval,
        timeout=parse_duration(check["timeout"]) if "timeout" in check else min(2.0, interval),
        retries=int(check.get("retries", 3)),
        start_period=parse_duration(check.get("startPeriod", "0s")),
    )


def build_update(update, *, fixed_host_port: bool) -> UpdatePolicy:
    # Two replicas cannot share a fixed host port, so such a service defaults to stop-first.
    default_order = "stop-first" if fixed_host_port else "start-first"
    return UpdatePolicy(
        parallelism=int(update.get("parallelism", 1)),
        order=str(update.get("order", default_order)),
        delay=parse_duration(update.get("delay", "0s")),
        monitor=parse_duration(update.get("monitor", "5s")),
        progress_deadline=parse_duration(update.get("progressDeadline", "2m")),
        failure_action=str(update.get("failureAction", "rollback")),
    )


def _string_pairs(mapping) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), _scalar_text(v)) for k, v in (mapping or {}).items()))


def _scalar_text(value) -> str:
    # YAML `DEBUG: true` and `PORT: 8080` mean the strings "true" and "8080".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
