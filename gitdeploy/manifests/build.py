"""Building typed `ServiceSpec`s from validated documents.

A manifest's `spec` has the shape of a replica template (model.ServiceSpec.template),
with fields left out where the user wants the default, so it goes through the
same one conversion, `spec_from_template`, that reads templates back from the
engine's labels and from the cache.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from gitdeploy.core.defaults import default, default_of_volume
from gitdeploy.core.labels import volume_name
from gitdeploy.core.defaults import JOB_SCHEMA
from gitdeploy.core.model import (JOB_RESTART, ConfigFile, EngineKind, JobSpec, PublishMode, ServiceSpec,
                                  UpdatePolicy, VolumeSpec, spec_from_template)
from gitdeploy.core.units import parse_duration
from gitdeploy.manifests.yamldoc import Document


def holds_host_ports(spec: dict, engine: EngineKind = EngineKind.DOCKER) -> bool:
    """Whether a replica binds fixed ports of the host it runs on (a fixed hostPort published there, or
    the host's network), so that two replicas of it cannot run side by side on one host. A Swarm's
    routing mesh (a port's `mode: ingress`, its default) publishes for the whole service instead."""
    def on_its_host(port: dict) -> bool:
        return "hostPort" in port and (engine is EngineKind.DOCKER or port.get("mode") == PublishMode.HOST.value)

    return any(on_its_host(port) for port in spec.get("ports") or ()) or bool(spec.get("hostNetwork"))


def build_service(doc: Document, volume_names: dict[str, str], read: Callable[[str], bytes],
                  digest: Callable[[dict], str], engine: EngineKind = EngineKind.DOCKER) -> ServiceSpec:
    """`volume_names`: each Volume document's name -> its engine volume's name (what the template holds);
    `read`: the content of a `files` source at the commit; `digest`: a `secrets` entry's digest."""
    meta, spec = doc.body["metadata"], doc.body["spec"]
    # Two replicas that cannot run side by side are updated stop-first.
    fixed_host_port = holds_host_ports(spec, engine)
    mounts = [dict(m) | ({"volume": volume_names[m["volume"]]} if "volume" in m else {})
              for m in spec.get("volumes") or ()]
    ingress = spec.get("ingress")
    if ingress is not None and "port" not in ingress:   # checked: exactly one containerPort is declared
        ingress = dict(ingress) | {"port": spec["ports"][0]["containerPort"]}
    return spec_from_template(
        str(meta["name"]), int(spec.get("replicas", default("replicas"))),
        dict(spec) | {"env": _as_written(doc, ["spec", "env"]), "labels": _as_written(doc, ["metadata", "labels"]),
                      "ingress": ingress,
                      "volumes": mounts,
                      "files": [ConfigFile(f["path"], read(f["source"]), int(f.get("mode", default("files.mode")), 8))
                                .canonical() for f in spec.get("files") or ()],
                      "secrets": [dict(s) | {"digest": digest(s)} for s in spec.get("secrets") or ()]},
        UpdatePolicy.from_canonical(spec.get("update") or {}, fixed_host_port=fixed_host_port),
        source=f"{doc.file}:{doc.line}",
        depends_on=tuple(str(name) for name in spec.get("dependsOn") or ()),
    )


def build_job(doc: Document, volume_names: dict[str, str], read: Callable[[str], bytes],
              digest: Callable[[dict], str], engine: EngineKind = EngineKind.DOCKER) -> JobSpec:
    """A Job: its spec read as a one-replica service that never restarts, plus timeout and retries."""
    spec = doc.body["spec"]
    run = replace(build_service(doc, volume_names, read, digest, engine), replicas=1, restart=JOB_RESTART)
    return JobSpec(run, parse_duration(spec.get("timeout", default("timeout", JOB_SCHEMA))),
                   int(spec.get("retries", default("retries", JOB_SCHEMA))))


def build_volume(doc: Document, project: str) -> VolumeSpec:
    name, spec = str(doc.body["metadata"]["name"]), doc.body.get("spec") or {}
    external = bool(spec.get("external", default_of_volume("external")))
    return VolumeSpec(
        name=name,
        engine_name=str(spec["name"]) if external else volume_name(project, name),
        driver=str(spec.get("driver", default_of_volume("driver"))),
        driver_opts=tuple(sorted(_as_written(doc, ["spec", "driverOpts"]).items())),
        external=external,
    )


def _as_written(doc: Document, path: list[str]) -> dict:
    """A mapping of strings, each value as the user wrote it: `1.10` stays "1.10", `0x1F` stays "0x1F"
    (a mapping, such as env's `{secret: NAME}`, stays a mapping)."""
    mapping = doc.body
    for step in path:
        mapping = (mapping or {}).get(step)
    return {str(key): value if isinstance(value, (str, dict)) else (doc.written([*path, key]) or str(value))
            for key, value in (mapping or {}).items()}
