"""The default of every manifest field, read from the service schema's `default` keywords.

The schema is where a default is stated (the reference docs are generated from
it, and the validator reads it); the typed model and the one dict-to-spec
conversion (model.spec_from_template) take theirs from here, so a default is
changed in one place. Two defaults depend on other fields and so cannot be a
schema `default`; they are computed in model.py and described in the schema:
a health check's timeout (2s, or the interval if shorter) and the update order
(stop-first for a service with a fixed hostPort).
"""
from __future__ import annotations

import json
import os
from functools import cache

SERVICE_SCHEMA = "service.v1.schema.json"
VOLUME_SCHEMA = "volume.v1.schema.json"
JOB_SCHEMA = "job.v1.schema.json"     # its own fields only; the rest it shares with the service schema


def schema_folder() -> str:
    """Where the JSON Schemas are (gitdeploy/schemas/). A plain path, not importlib.resources, whose imports
    cost 10 ms at every start: the package is always installed as files."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas")


@cache
def _spec_schema(name: str) -> dict:
    with open(os.path.join(schema_folder(), name), encoding="utf-8") as text:
        schema = json.load(text)
    return schema["properties"]["spec"]


def default(path: str, schema: str = SERVICE_SCHEMA):
    """The default of `spec.<path>`, e.g. default("update.monitor") == "5s"; KeyError if it has none."""
    node = _spec_schema(schema)
    for part in path.split("."):
        node = node.get("items", node)["properties"][part]
    return node["default"]


def default_of_volume(path: str):
    """The default of a Volume's `spec.<path>`."""
    return default(path, VOLUME_SCHEMA)
