"""What runs on the engine: an immutable snapshot, read once per pass.

The engine adapter builds it from one container listing (labels carry all we
need, so no per-container inspect). Nothing here does I/O.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gitdeploy.core.labels import DRAINING, is_pending
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
    depends_on: tuple[str, ...] = ()          # what it depended on when it was made (label)
    created: float = 0.0                      # seconds since the epoch
    ports: tuple[str, ...] = ()               # as `docker ps` shows them: 0.0.0.0:32768->80/tcp
    node: str = ""                            # on a Swarm: the node it runs on
    drift: str = ""                           # on a Swarm: what of its service was changed by hand ("": nothing)

    @property
    def recognised(self) -> bool:
        """Its template label is the template its hash label names: the labels were written by
        gitdeploy and not damaged since. An unrecognised replica is replaced, and its labels'
        content is never shown (it may hold anything, env values included)."""
        return template_intact(self.template_json, self.template_hash)

    @property
    def routed(self) -> bool:
        """Its template routes it through the engine's ingress."""
        return routed(self.template_json)

    @property
    def draining(self) -> bool:
        """Taken out of the ingress to be removed (a run was interrupted before it removed it): it gets no
        requests any more, so it serves nothing and is replaced."""
        return self.name.endswith(DRAINING)

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

    @property
    def exit_code(self) -> int | None:
        """How an exited container ended, from the listing's status text ("Exited (1) 3 minutes ago");
        None while it has not exited."""
        found = _EXITED.match(self.status) if self.state == "exited" else None
        return int(found.group(1)) if found else None


def routed(template_json: str) -> bool:
    """Whether a replica made from this template (its label) is routed through the engine's ingress."""
    try:
        template = json.loads(template_json) if template_json else {}
    except ValueError:
        return False
    return isinstance(template, dict) and bool(template.get("ingress"))


_EXITED = re.compile(r"Exited \((-?\d+)\)")


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
    runs: tuple[ObservedReplica, ...] = ()   # jobs' kept containers (`service` is the job's name, slot 0)

    def of_service(self, service: str) -> tuple[ObservedReplica, ...]:
        return tuple(r for r in self.replicas if r.service == service)

    def service_names(self) -> tuple[str, ...]:
        return tuple(sorted({r.service for r in self.replicas}))

    def of_job(self, job: str) -> tuple[ObservedReplica, ...]:
        """The job's kept run containers, newest first (one, unless a run was interrupted)."""
        return tuple(sorted((r for r in self.runs if r.service == job), key=lambda r: -r.created))

    def job_names(self) -> tuple[str, ...]:
        return tuple(sorted({r.service for r in self.runs}))
