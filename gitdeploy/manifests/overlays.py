"""Environments: one set of base manifests, and per environment an overlay of what differs.

`gitdeploy.yaml` declares the environments; the base manifests are every
manifest outside `environments/`, an environment's overlay every manifest in
`environments/NAME/`. An overlay document names its object by `kind` and
`metadata.name` and gives only what differs: mappings merge deeply, lists and
scalars replace, `null` removes a key; `delete: true` at its top removes the
object in this environment; a document whose object is not in the base adds
it. The result is the same kind of documents the base manifests are, so the
rest of the loader (schema, checks, the typed model) does not know overlays
exist; a merged document locates each value in the file that set it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from gitdeploy.errors import Problem
from gitdeploy.manifests.schema import did_you_mean
from gitdeploy.manifests.yamldoc import Document

FOLDER = "environments"


def in_overlays(relative_path: str) -> bool:
    """Whether a manifest (its path under the manifest folder) belongs to an environment's overlay."""
    return relative_path.startswith(FOLDER + "/")


def of_environment(relative_path: str, env: str) -> bool:
    return relative_path.startswith(f"{FOLDER}/{env}/")


def apply(base: list[Document], overlay: list[Document], env: str) -> tuple[list[Document], list[Problem]]:
    """The base documents with the environment's overlay applied, and what is wrong with the overlay."""
    problems: list[Problem] = []
    by_object: dict[tuple[str, str], Document] = {}
    for doc in overlay:
        key = _object_of(doc)
        if key is None:
            problems.append(doc.problem([], f"an overlay document names its object with kind and metadata.name "
                                            f"(environment {env})"))
        elif key in by_object:
            first = by_object[key]
            problems.append(doc.problem(["metadata", "name"], f"metadata.name: {key[0]} {key[1]} is overlaid twice in "
                                        f"environment {env} (first at {first.file}:{first.line}); merge the two"))
        else:
            by_object[key] = doc
    merged: list[Document] = []
    for doc in base:
        key = _object_of(doc)
        change = by_object.pop(key, None) if key is not None else None
        if change is None:
            merged.append(doc)
        elif change.body.get("delete") is not True:
            merged.append(replace(doc, body=_merge(doc.body, _without_delete(change.body)), overlay=change))
    names = {kind: sorted(n for k, n in filter(None, map(_object_of, base)) if k == kind) for kind, _ in by_object}
    for key, doc in by_object.items():   # objects the base does not have: added, whole
        guess = did_you_mean(key[1], names.get(key[0], []))
        if doc.body.get("delete") is True:
            problems.append(doc.problem(["delete"], f"delete: there is no {key[0]} {key[1]} in the base manifests "
                                                    f"to delete{guess}"))
        elif "apiVersion" not in doc.body:
            problems.append(doc.problem(["metadata", "name"], f"metadata.name: there is no {key[0]} {key[1]} in the "
                                        f"base manifests to overlay{guess}; an object added here is written whole, "
                                        "with apiVersion"))
        else:
            merged.append(replace(doc, body=_without_nulls(_without_delete(doc.body))))
    for doc in overlay:
        body = doc.body if isinstance(doc.body, dict) else {}
        if "delete" in body and not isinstance(body["delete"], bool):
            problems.append(doc.problem(["delete"], "delete: write delete: true to remove the object here"))
        elif body.get("delete") is True and set(body) - {"apiVersion", "kind", "metadata", "delete"}:
            problems.append(doc.problem(["delete"], "delete: true removes the object; leave out everything else "
                                                    "but kind and metadata.name"))
    return merged, problems


def _object_of(doc: Document) -> tuple[str, str] | None:
    body = doc.body
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        return None
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return (body["kind"], str(name)) if isinstance(name, (str, int)) else None


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _without_delete(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "delete"}


def _merge(base: Any, change: Any) -> Any:
    """Mappings merge key by key (None removes a key); anything else the change replaces."""
    if not isinstance(base, dict) or not isinstance(change, dict):
        return _without_nulls(change)   # a null that removes nothing (the base has no such map) is no value
    merged = dict(base)
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(base.get(key), value)
    return merged
