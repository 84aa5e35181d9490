"""What the user declared: typed, validated, defaults filled.

A `ServiceSpec` is built only by the manifest loader (manifests/build.py) from a
document that already passed validation, so every value here is well-formed.

The *template* of a service is everything that defines one replica (all but the
name and the replica count). Its canonical JSON form is hashed; the hash, kept
in a label on every replica, is what decides "changed". Because the canonical
form is defaults-filled, writing `protocol: tcp` or leaving it out gives the
same hash, and because it holds only what the user declared, fields the engine
fills in never cause a false change.

Stability rule for later versions: a field added to the template must be left
out of `template()` while it has its default value, or every replica deployed
by an older gitdeploy would look changed after an upgrade.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from gitdeploy.core.units import format_duration, format_memory, parse_duration, parse_memory

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One of exec (run by the engine inside the container), http or tcp (probed by gitdeploy)."""

    exec: tuple[str, ...] | None = None
    http_port: int | None = None
    http_path: str = "/"
    http_status: int = 200
    tcp_port: int | None = None
    interval: float = 5.0
    timeout: float = 2.0
    retries: int = 3
    start_period: float = 0.0

    @property
    def kind(self) -> str:
        return "exec" if self.exec else "http" if self.http_port else "tcp"

    def canonical(self) -> dict:
        probe: dict = (
            {"exec": list(self.exec)} if self.exec else
            {"http": {"port": self.http_port, "path": self.http_path, "expectStatus": self.http_status}}
            if self.http_port else {"tcp": {"port": self.tcp_port}}
        )
        return probe | {
            "interval": format_duration(self.interval), "timeout": format_duration(self.timeout),
            "retries": self.retries, "startPeriod": format_duration(self.start_period),
        }

    @classmethod
    def from_canonical(cls, data: dict) -> "HealthCheck":
        http, tcp = data.get("http") or {}, data.get("tcp") or {}
        return cls(
            exec=tuple(data["exec"]) if data.get("exec") else None,
            http_port=http.get("port"), http_path=http.get("path", "/"), http_status=http.get("expectStatus", 200),
            tcp_port=tcp.get("port"),
            interval=parse_duration(data.get("interval", "5s")), timeout=parse_duration(data.get("timeout", "2s")),
            retries=int(data.get("retries", 3)), start_period=parse_duration(data.get("startPeriod", "0s")),
        )


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    """How a changed service is rolled out. Not part of the replica template."""

    parallelism: int = 1
    order: str = "start-first"         # or stop-first
    delay: float = 0.0
    monitor: float = 5.0
    progress_deadline: float = 120.0
    failure_action: str = "rollback"   # or pause


@dataclass(frozen=True, slots=True)
class PortSpec:
    container_port: int
    host_port: int | None = None      # None: the engine picks a free host port
    protocol: str = "tcp"
    host_ip: str = ""                 # "": all interfaces, as `docker run -p`

    def canonical(self) -> dict:
        return {
            "containerPort": self.container_port,
            "hostPort": self.host_port,
            "protocol": self.protocol,
            "hostIP": self.host_ip,
        }

    def __str__(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = f"{host}{self.host_port}" if self.host_port else f"{host}*"
        return f"{published}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    image: str
    replicas: int = 1
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()          # sorted by name
    ports: tuple[PortSpec, ...] = ()               # sorted
    cpus: float | None = None
    memory: int | None = None                      # bytes
    restart: str = "unless-stopped"
    init: bool = True                              # run an init process as PID 1 (signals, zombies)
    stop_grace_period: float = 10.0                # seconds between SIGTERM and SIGKILL
    labels: tuple[tuple[str, str], ...] = ()       # sorted; the user's metadata.labels
    health: HealthCheck | None = None              # None: the image's HEALTHCHECK, if any
    update: UpdatePolicy = UpdatePolicy()
    source: str = field(default="", compare=False)  # "web.yaml:3", where it was declared

    def template(self) -> dict:
        """The canonical, defaults-filled form of one replica, JSON-ready."""
        return {
            "image": self.image,
            "command": list(self.command) if self.command is not None else None,
            "env": dict(self.env),
            "ports": [p.canonical() for p in self.ports],
            "resources": {
                "cpus": self.cpus,
                "memory": format_memory(self.memory) if self.memory is not None else None,
            },
            "restart": self.restart,
            "init": self.init,
            "stopGracePeriod": format_duration(self.stop_grace_period),
            "labels": dict(self.labels),
        } | ({"healthCheck": self.health.canonical()} if self.health else {})

    def template_json(self) -> str:
        return canonical_json(self.template())

    def template_hash(self) -> str:
        return hashlib.sha256(self.template_json().encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the manifests at one commit ask for."""

    project: str
    commit: str
    services: tuple[ServiceSpec, ...]   # sorted by name

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)


def spec_from_template(name: str, replicas: int, template: dict, update: UpdatePolicy) -> ServiceSpec:
    """The spec a replica was created from, rebuilt from its template label.

    Used to restore a previous revision on rollback: the engine's labels, not
    a local file, are what remembers it. Raises KeyError/ValueError on a
    template this version cannot read.
    """
    resources = template.get("resources") or {}
    return ServiceSpec(
        name=name,
        image=template["image"],
        replicas=replicas,
        command=tuple(template["command"]) if template.get("command") is not None else None,
        env=tuple(sorted(template.get("env", {}).items())),
        ports=tuple(
            PortSpec(p["containerPort"], p.get("hostPort"), p.get("protocol", "tcp"), p.get("hostIP", ""))
            for p in template.get("ports", [])
        ),
        cpus=resources.get("cpus"),
        memory=parse_memory(resources["memory"]) if resources.get("memory") else None,
        restart=template.get("restart", "unless-stopped"),
        init=template.get("init", True),
        stop_grace_period=parse_duration(template.get("stopGracePeriod", "10s")),
        labels=tuple(sorted(template.get("labels", {}).items())),
        health=HealthCheck.from_canonical(template["healthCheck"]) if template.get("healthCheck") else None,
        update=update,
    )


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
