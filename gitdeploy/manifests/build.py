"""Building typed `ServiceSpec`s from validated documents.

A manifest's `spec` has the shape of a replica template (model.ServiceSpec.template),
with fields left out where the user wants the default, so it goes through the
same one conversion, `spec_from_template`, that reads templates back from the
engine's labels and from the cache.
"""
from __future__ import annotations

from gitdeploy.core.model import ServiceSpec, UpdatePolicy, spec_from_template
from gitdeploy.core.defaults import default
from gitdeploy.manifests.yamldoc import Document


def build_service(doc: Document) -> ServiceSpec:
    meta, spec = doc.body["metadata"], doc.body["spec"]
    fixed_host_port = any("hostPort" in port for port in spec.get("ports") or ())
    return spec_from_template(
        str(meta["name"]), int(spec.get("replicas", default("replicas"))),
        dict(spec) | {"env": _as_written(doc, ["spec", "env"]), "labels": _as_written(doc, ["metadata", "labels"])},
        UpdatePolicy.from_canonical(spec.get("update") or {}, fixed_host_port=fixed_host_port),
        source=f"{doc.file}:{doc.line}",
    )


def _as_written(doc: Document, path: list[str]) -> dict[str, str]:
    """A mapping of strings, each value as the user wrote it: `1.10` stays "1.10", `0x1F` stays "0x1F"."""
    mapping = doc.body
    for step in path:
        mapping = (mapping or {}).get(step)
    return {str(key): value if isinstance(value, str) else (doc.written([*path, key]) or str(value))
            for key, value in (mapping or {}).items()}
