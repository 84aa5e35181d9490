"""Renders the manifest reference (docs/manifest-reference.md) from the JSON Schemas.

The schemas are the one source of truth; tests/unit/test_docs.py fails when the
committed reference differs from what this renders. Regenerate with:

    .venv/bin/python -m gitdeploy.manifests.reference > docs/manifest-reference.md
"""
from __future__ import annotations

import json

from gitdeploy.manifests.schema import JOB_SCHEMA, PROJECT_SCHEMA, SERVICE_SCHEMA, VOLUME_SCHEMA, load_schema


def render() -> str:
    lines = [
        "# Manifest reference",
        "",
        "Generated from `schemas/` by `python -m gitdeploy.manifests.reference`; do not edit by hand.",
        "Unknown keys are errors everywhere.",
        "",
    ]
    for name, heading in ((PROJECT_SCHEMA, "`gitdeploy.yaml`"), (SERVICE_SCHEMA, "`kind: Service` (`apiVersion: gitdeploy/v1`)"),
                          (JOB_SCHEMA, "`kind: Job` (`apiVersion: gitdeploy/v1`)"),
                          (VOLUME_SCHEMA, "`kind: Volume` (`apiVersion: gitdeploy/v1`)")):
        schema = load_schema(name)
        shared = load_schema.__wrapped__(name).get("x-shares", {}).get("schema")   # as written, before merging
        where = f"`schemas/{name}`" + (f", sharing fields with `schemas/{shared}`" if shared else "")
        lines += [f"## {heading}", "", schema["description"], "", f"Schema: {where}", "",
                  "| key | type | default | required | description |", "| --- | --- | --- | --- | --- |"]
        lines += _rows(schema, "")
        lines.append("")
    return "\n".join(lines)


def _rows(schema: dict, prefix: str) -> list[str]:
    rows = []
    required = set(schema.get("required", ()))
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ""
        rows.append(f"| `{path}` | {_type(sub)} | {default} | {'yes' if key in required else ''} | "
                    f"{sub.get('description', '')} |")
        if sub.get("type") == "object":
            rows += _rows(sub, path + ".")
        elif sub.get("type") == "array" and sub.get("items", {}).get("type") == "object":
            rows += _rows(sub["items"], path + "[].")
    return rows


def _type(schema: dict) -> str:
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "oneOf" in schema and "type" not in schema:   # a value of one of several types, such as env's
        return " or ".join(_choice(choice) for choice in schema["oneOf"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return " or ".join(kind) if isinstance(kind, list) else kind


def _choice(schema: dict) -> str:
    if schema.get("type") == "object" and schema.get("properties"):
        return "{" + ", ".join(f"{key}: {_type(value)}" for key, value in schema["properties"].items()) + "}"
    return _type(schema)


if __name__ == "__main__":
    print(render(), end="")
