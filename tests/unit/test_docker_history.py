"""The history's records on the engine (tagged empty images), read back as written: a recorded API."""
from __future__ import annotations

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
    docker_history.append(api, "shop", event)
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
    docker_history.append(api, "shop", RevisionEvent("web", 1, Event.DEPLOYED, "h", "", "c", "i", 1.0))
    docker_history.append(api, "other", RevisionEvent("web", 1, Event.DEPLOYED, "h", "", "c", "i", 2.0))
    assert [e.at for e in docker_history.read(api, "shop")] == [1.0]
    assert docker_history.remove_all(api, "other") == 1 and list(api.images_made) == [
        "gitdeploy-history/shop:web-r1-deployed-1000"]
