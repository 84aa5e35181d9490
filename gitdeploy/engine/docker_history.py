"""The revision history on a Docker engine: tagged, empty images, one per event or per group of events.

Why images: the history (revisions, pins, the memory of failed revisions and of
job runs) must survive the cleanups people run on Docker hosts from cron.
`docker volume prune -f` (Engine 20.10: every volume no container uses) and
`docker system prune -f` (stopped containers, dangling images, unused networks)
leave a tagged image alone; only `docker image prune -a` or `docker rmi` remove
one (docs/how-it-works.md says what survives which prune). An image lives on
the engine (shared by every machine deploying there, surviving ephemeral CI
runners), lists with its labels in one call, is never run, and all of them
share one empty layer.

An image of one event is tagged `gitdeploy-history/PROJECT:SERVICE-rREVISION-EVENT-MILLIS`
and labelled like the objects it describes; the values are base64 (a LABEL
instruction builds them, and a template holds quotes and spaces), except the
project and kind a listing filters on. Events written together (a run's units
finishing at once, recorder.py) share one image, `...:group-MILLIS-RANDOM`,
whose `io.gitdeploy.events` label holds them all (base64 of a JSON list of
those labels), up to GROUP_BYTES per image. Expiring part of a group writes
the survivors to a new image before the old one goes, so no step loses one;
an entry this version cannot read is carried over as it was. A gitdeploy older
than the grouping (before issue 14) reads a group as one unreadable record and
skips it: machines sharing an engine should run the same version.

gitdeploy up to issue 12 kept each event as a labelled volume, which a volume
prune deletes; those are still read, and removed when they expire, never written.
"""
from __future__ import annotations

import base64
import io
import json
import secrets
import tarfile
import time

from gitdeploy import __version__
from gitdeploy.core import labels as L
from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.core.model import template_intact

ENCODING = L.PREFIX + "encoding"   # "base64": every other label value but project and kind is encoded
EVENTS = L.PREFIX + "events"       # a group's events: base64 of a JSON list of their (plain) labels
_PLAIN = (L.PROJECT, L.KIND, ENCODING)
# The engine takes an import's LABEL instruction in its URL: keep each well under its 1 MB header limit.
GROUP_BYTES = 256 * 1024


def repository(project: str) -> str:
    return f"gitdeploy-history/{project}"


def read(api, project: str) -> tuple[RevisionEvent, ...]:
    """Every event of the project: its images (single or grouped), and the volumes older versions wrote."""
    events = {}
    found = [e for i in _images(api, project) for e in _events_in(i)] + \
        [_event_of(v.get("Labels") or {}) for v in _volumes(api, project)]
    for event in found:
        if event is not None:
            events.setdefault(_key(event), event)   # a group rewritten by forget() may briefly exist twice
    return tuple(events.values())


def append(api, project: str, events: tuple[RevisionEvent, ...]) -> None:
    """Writes the events: one image for one event, else one per group of up to GROUP_BYTES."""
    if len(events) == 1:
        event = events[0]
        _import(api, project, f"{event.service}-r{event.revision}-{event.event.value}-{int(event.at * 1000)}",
                {key: base64.b64encode(value.encode()).decode() for key, value in _labels_of(event).items()})
        return
    group: list = []
    size = 0   # of the group's JSON, about; base64 makes it 4/3 of that
    for event in events:
        labels = _labels_of(event)
        grows = len(json.dumps(labels)) + 2
        if group and (size + grows) * 4 // 3 > GROUP_BYTES:
            _import_group(api, project, group)
            group, size = [], 0
        group.append(labels)
        size += grows
    if group:
        _import_group(api, project, group)


def forget(api, project: str, events: tuple[RevisionEvent, ...]) -> None:
    """Removes the records of these events (images, and volumes older versions wrote). A group keeps the
    events not named: they are written to a new image first, then the old one is removed."""
    import docker.errors

    doomed = {_key(e) for e in events}

    def is_doomed(event: RevisionEvent | None) -> bool:
        return event is not None and _key(event) in doomed

    for image in _images(api, project):
        labels = _decoded(image.get("Labels") or {})
        items = _group_items(labels)
        if items is None:   # one event
            if not is_doomed(_event_of(labels)):
                continue
        else:
            held = [(item, _item_event(item)) for item in items]
            if not any(is_doomed(event) for _, event in held):
                continue
            survivors = [item for item, event in held if not is_doomed(event)]
            if survivors:   # what this version cannot read goes along unchanged
                _import_group(api, project, survivors)
        for tag in image.get("RepoTags") or ():
            try:
                api.remove_image(tag)
            except docker.errors.NotFound:
                pass
    for volume in _volumes(api, project):
        event = _event_of(volume.get("Labels") or {})
        if event is not None and _key(event) in doomed:
            try:
                api.remove_volume(volume["Name"])
            except docker.errors.NotFound:
                pass


def remove_all(api, project: str) -> int:
    """`down --history`: every record of the project, readable or not (by id: a record may have lost its
    tag); how many there were."""
    import docker.errors

    images, volumes = _images(api, project), _volumes(api, project)
    for image in images:
        try:
            api.remove_image(image["Id"], force=True)   # force: an image under two tags
        except docker.errors.NotFound:
            pass
    for volume in volumes:
        try:
            api.remove_volume(volume["Name"])
        except docker.errors.NotFound:
            pass
    return len(images) + len(volumes)


def _import_group(api, project: str, group: list) -> None:
    _import(api, project, f"group-{int(time.time() * 1000)}-{secrets.token_hex(3)}",
            {EVENTS: base64.b64encode(json.dumps(group).encode()).decode()})


def _import(api, project: str, tag: str, encoded: dict[str, str]) -> None:
    labels = {L.PROJECT: project, L.KIND: "history", ENCODING: "base64"} | encoded
    answer = api.import_image_from_data(_EMPTY, repository=repository(project), tag=tag,
                                        changes=["LABEL " + " ".join(f"{k}={v}" for k, v in labels.items())])
    if "error" in str(answer).lower():   # the engine reports some failures in the answer, not its status
        from gitdeploy.errors import EngineError

        raise EngineError(f"recording the revision history: the engine answered {str(answer)[:200]}")


def _events_in(image: dict) -> list[RevisionEvent | None]:
    """The events one history image holds (None for what this version cannot read)."""
    labels = _decoded(image.get("Labels") or {})
    items = _group_items(labels)
    return [_event_of(labels)] if items is None else [_item_event(i) for i in items]


def _group_items(labels: dict[str, str]) -> list | None:
    """A group's entries as written, from an image's decoded labels (None for an image of one event; [] for a
    group that cannot be read)."""
    if EVENTS not in labels:
        return None
    try:
        group = json.loads(labels[EVENTS] or "null")
    except ValueError:
        return []
    return group if isinstance(group, list) else []


def _item_event(item: object) -> RevisionEvent | None:
    return _event_of({str(k): str(v) for k, v in item.items()}) if isinstance(item, dict) else None


def _images(api, project: str) -> list[dict]:
    return api.images(filters={"label": [f"{L.PROJECT}={project}", f"{L.KIND}=history"]}) or []


def _volumes(api, project: str) -> list[dict]:
    return api.volumes(filters={"label": [f"{L.PROJECT}={project}", f"{L.KIND}=history"]}).get("Volumes") or []


def _labels_of(event: RevisionEvent) -> dict[str, str]:
    return {
        L.SERVICE: event.service, L.REVISION: str(event.revision), L.EVENT: event.event.value,
        L.TEMPLATE_HASH: event.template_hash, L.TEMPLATE: event.template_json, L.COMMIT: event.commit,
        L.IMAGE: event.image, L.AT: f"{event.at:.3f}", L.MESSAGE: event.message[:500], L.GIT_HASH: event.git_hash,
        L.MANAGED_BY: f"gitdeploy/{__version__}",
    } | ({L.EXIT_CODE: str(event.exit_code)} if event.exit_code is not None else {}) \
      | ({L.DURATION: f"{event.duration:.3f}"} if event.duration is not None else {})


def _decoded(labels: dict[str, str]) -> dict[str, str]:
    if labels.get(ENCODING) != "base64":
        return labels
    decoded = {}
    for key, value in labels.items():
        try:
            decoded[key] = value if key in _PLAIN else base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded[key] = ""   # damaged: _event_of skips what it needs and cannot read
    return decoded


def _event_of(labels: dict[str, str]) -> RevisionEvent | None:
    template_hash, template_json = labels.get(L.TEMPLATE_HASH, ""), labels.get(L.TEMPLATE, "")
    if template_json and not template_intact(template_json, template_hash):
        template_json = ""   # damaged: the revision stays listed but cannot be rolled back to
    try:
        return RevisionEvent(
            service=labels[L.SERVICE], revision=int(labels[L.REVISION]), event=Event(labels[L.EVENT]),
            template_hash=template_hash, template_json=template_json,
            commit=labels.get(L.COMMIT, ""), image=labels.get(L.IMAGE, ""), at=float(labels[L.AT]),
            message=labels.get(L.MESSAGE, ""), git_hash=labels.get(L.GIT_HASH, ""),
            exit_code=int(labels[L.EXIT_CODE]) if labels.get(L.EXIT_CODE) else None,
            duration=float(labels[L.DURATION]) if labels.get(L.DURATION) else None,
        )
    except (KeyError, ValueError):
        return None   # a record this version cannot read is skipped, not fatal


def _key(event: RevisionEvent) -> tuple:
    return event.service, event.revision, event.event, f"{event.at:.3f}"


def _empty_tar() -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w"):
        pass
    return data.getvalue()


_EMPTY = _empty_tar()
