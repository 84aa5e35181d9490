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
        dict(spec) | {"labels": meta.get("labels") or {}},
        UpdatePolicy.from_canonical(spec.get("update") or {}, fixed_host_port=fixed_host_port),
        source=f"{doc.file}:{doc.line}",
    )
