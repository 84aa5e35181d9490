"""What runs on the engine: an immutable snapshot, read once per pass.

The engine adapter builds it from one container listing (labels carry all we
need, so no per-container inspect). Nothing here does I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

from gitdeploy.core.labels import is_pending
from gitdeploy.core.model import template_intact


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
    networks: tuple[str, ...] | None = None   # networks it is attached to; None: not known
    volumes: tuple[str, ...] = ()             # engine volumes it mounts

    @property
    def recognised(self) -> bool:
        """Its template label is the template its hash label names: the labels were written by
        gitdeploy and not damaged since. An unrecognised replica is replaced, and its labels'
        content is never shown (it may hold anything, env values included)."""
        return template_intact(self.template_json, self.template_hash)

    @property
    def confirmed(self) -> bool:
        """It passed its checks in the rollout that started it (see labels.PENDING). A replica left
        unconfirmed by an interrupted run serves nothing until it is replaced."""
        return not is_pending(self.name)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def unhealthy(self) -> bool:
        # The listing carries the engine's health verdict in its status text.
        return self.status.endswith("(unhealthy)")


@dataclass(frozen=True, slots=True)
class ObservedVolume:
    """An engine volume labelled with the project: a Volume's, or one kept per slot for an image's VOLUME path."""

    engine_name: str
    volume: str = ""          # the Volume document's name; "" for an implicit one
    implicit_path: str = ""   # the image VOLUME path an implicit one holds
    service: str = ""         # an implicit one's service


@dataclass(frozen=True, slots=True)
class ObservedState:
    project: str
    replicas: tuple[ObservedReplica, ...]

    def of_service(self, service: str) -> tuple[ObservedReplica, ...]:
        return tuple(r for r in self.replicas if r.service == service)

    def service_names(self) -> tuple[str, ...]:
        return tuple(sorted({r.service for r in self.replicas}))
