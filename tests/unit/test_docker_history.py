"""The history's records on the engine (tagged empty images), read back as written: a recorded API."""
from __future__ import annotations

import base64
import json

import pytest

from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.engine import docker_history


class RecordingApi:
    """The few calls docker_history makes, answered from memory as the Engine API would."""

    def __init__(self) -> None:
        self.images_made: dict[str, dict[str, str]] = {}   # tag -> labels

    def import_image_from_data(self, data, repository, tag, changes):
        (instruction,) = changes
        assert instruction.startswith("LABEL ") and "\n" not in instruction
        pairs = instruction.removeprefix("LABEL ").split(" ")
        self.images_made[f"{repository}:{tag}"] = dict(pair.split("=", 1) for pair in pairs)

    def images(self, filters):
        wanted = dict(f.split("=", 1) for f in filters["label"])
        return [{"Id": tag, "RepoTags": [tag], "Labels": labels} for tag, labels in self.images_made.items()
                if all(labels.get(key) == value for key, value in wanted.items())]

    def volumes(self, filters):
        return {"Volumes": None}

    def remove_image(self, tag, force=False):
        del self.images_made[tag]


def test_an_event_with_quotes_spaces_and_newlines_is_read_back_whole_and_forgotten():
    api = RecordingApi()
    event = RevisionEvent("web", 3, Event.FAILED, "0123456789ab", "", "c" * 40, "shop/web:1", 1700000000.5,
                          'exited with code 1\n"db" said: no', exit_code=1, duration=2.5)
    docker_history.append(api, "shop", (event,))
    (tag,) = api.images_made
    assert tag == "gitdeploy-history/shop:web-r3-failed-1700000000500"
    assert docker_history.read(api, "shop") == (event,)
    docker_history.forget(api, "shop", (event,))
    assert api.images_made == {}


def test_a_damaged_record_is_skipped_not_fatal():
    api = RecordingApi()
    api.images_made["gitdeploy-history/shop:x"] = {"io.gitdeploy.encoding": "base64", "io.gitdeploy.service": "%%%"}
    assert docker_history.read(api, "shop") == ()


def test_only_the_projects_records_are_read():
    api = RecordingApi()
    docker_history.append(api, "shop", (RevisionEvent("web", 1, Event.DEPLOYED, "h", "", "c", "i", 1.0),))
    docker_history.append(api, "other", (RevisionEvent("web", 1, Event.DEPLOYED, "h", "", "c", "i", 2.0),))
    assert [e.at for e in docker_history.read(api, "shop")] == [1.0]
    assert docker_history.remove_all(api, "other") == 1 and list(api.images_made) == [
        "gitdeploy-history/shop:web-r1-deployed-1000"]


def deployed(service: str, at: float, message: str = "") -> RevisionEvent:
    return RevisionEvent(service, 1, Event.DEPLOYED, "h", "", "c" * 40, "shop/web:1", at, message or 'a "b" c')


def test_events_written_together_share_one_image_and_read_back_one_by_one():
    api = RecordingApi()
    events = tuple(deployed(f"svc{i}", 1000.0 + i) for i in range(20))
    docker_history.append(api, "shop", events)
    (tag,) = api.images_made
    assert tag.startswith("gitdeploy-history/shop:group-")
    assert sorted(docker_history.read(api, "shop"), key=lambda e: e.at) == list(events)


def test_a_large_group_is_split_below_the_engines_limit(monkeypatch):
    monkeypatch.setattr(docker_history, "GROUP_BYTES", 4000)
    api = RecordingApi()
    events = tuple(deployed(f"svc{i}", 1000.0 + i, "m" * 400) for i in range(20))
    docker_history.append(api, "shop", events)
    assert len(api.images_made) > 2
    assert all(len(" ".join(labels.values())) < 4000 + 200 for labels in api.images_made.values())
    assert len(docker_history.read(api, "shop")) == 20


def test_forgetting_part_of_a_group_keeps_the_rest():
    api = RecordingApi()
    events = tuple(deployed(f"svc{i}", 1000.0 + i) for i in range(3))
    docker_history.append(api, "shop", events)
    docker_history.forget(api, "shop", events[:1])
    assert set(docker_history.read(api, "shop")) == set(events[1:])
    docker_history.forget(api, "shop", events[1:])
    assert api.images_made == {}


def test_forgetting_part_of_a_group_keeps_what_this_version_cannot_read():
    api = RecordingApi()
    events = tuple(deployed(f"svc{i}", 1000.0 + i) for i in range(2))
    docker_history.append(api, "shop", events)
    (labels,) = api.images_made.values()
    group = json.loads(base64.b64decode(labels["io.gitdeploy.events"]))
    future = dict(group[0], **{"io.gitdeploy.event": "promoted"})   # written by a newer gitdeploy
    labels["io.gitdeploy.events"] = base64.b64encode(json.dumps(group + [future]).encode()).decode()
    docker_history.forget(api, "shop", events[:1])
    (labels,) = api.images_made.values()
    kept = json.loads(base64.b64decode(labels["io.gitdeploy.events"]))
    assert kept == [group[1], future]


@pytest.mark.parametrize("events_label", ["%%%", "bnVsbA==", "WzEsICJ4Il0="])   # not base64; null; [1, "x"]
def test_a_damaged_group_is_skipped_not_fatal(events_label):
    api = RecordingApi()
    api.images_made["gitdeploy-history/shop:group-1-x"] = {
        "io.gitdeploy.project": "shop", "io.gitdeploy.kind": "history", "io.gitdeploy.encoding": "base64",
        "io.gitdeploy.events": events_label}
    assert docker_history.read(api, "shop") == ()
