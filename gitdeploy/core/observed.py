"""What runs on the engine: an immutable snapshot, read once per pass.

The engine adapter builds it from one container listing (labels carry all we
need, so no per-container inspect). Nothing here does I/O.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ObservedReplica:
    id: str
    name: str
    service: str
    slot: int                 # 0 when the label is missing or malformed
    template_hash: str
    template_json: str        # canonical template it was created from; "" if unknown
    commit: str
    image: str
    state: str                # the engine's word: running, exited, restarting, created, dead...
    status: str = ""          # the engine's human text, e.g. "Up 3 minutes (healthy)"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def unhealthy(self) -> bool:
        # The listing carries the engine's health verdict in its status text.
        return self.status.endswith("(unhealthy)")


@dataclass(frozen=True, slots=True)
class ObservedState:
    project: str
    replicas: tuple[ObservedReplica, ...]

    def of_service(self, service: str) -> tuple[ObservedReplica, ...]:
        return tuple(r for r in self.replicas if r.service == service)

    def service_names(self) -> tuple[str, ...]:
        return tuple(sorted({r.service for r in self.replicas}))
