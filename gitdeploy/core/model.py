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

from gitdeploy.core.units import format_duration, format_memory

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


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
        }

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


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
