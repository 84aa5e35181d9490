"""A cache of validated desired state, keyed by what fully determines it.

A commit's content never changes, so the DesiredState built from (commit,
manifest path) is the same every time, for the same gitdeploy and schemas.
Caching it lets an unattended no-op pass skip reading, parsing and validating
the manifests. It caches the *source*, never what runs: the engine is read
afresh on every pass. A missing, stale or corrupt entry is simply a miss.
"""
from __future__ import annotations

import hashlib
import dataclasses
import json
import os
from pathlib import Path
from typing import Callable

from gitdeploy import __version__
from gitdeploy.core.defaults import schema_folder
from gitdeploy.core.model import EngineKind, IngressSettings, DesiredState, JobSpec, ServiceSpec, UpdatePolicy, VolumeSpec, spec_from_template


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitdeploy" / "desired"


def cache_key(commit: str, root: str, env: str = "", engine: str = "") -> str:
    """`engine`: --engine, when given (the manifests are checked against the engine they go to)."""
    digest = hashlib.sha256(f"{__version__}\0{commit}\0{root}\0{env}\0{engine}\0".encode())
    folder = schema_folder()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), "rb") as schema:
                digest.update(schema.read())
    return digest.hexdigest()[:32]


def load(key: str, keys: Callable[[], str] = lambda: "", directory: Path | None = None) -> DesiredState | None:
    """The cached state, or None. Secret digests depend on the age keys that opened them: an entry with
    secrets counts only for the same keys (`keys()` names them; asked only when the entry has secrets)."""
    try:
        document = json.loads(((directory or default_dir()) / f"{key}.json").read_text())
        desired = _desired_from(document)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(s.secrets for s in desired.runnable()) and document.get("keys", "") != keys():
        return None
    return desired


def store(key: str, desired: DesiredState, keys: str = "", directory: Path | None = None) -> None:
    """Keeps the state (templates hold secret digests, never plaintext) and which keys made its digests."""
    import tempfile

    folder = directory or default_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
            json.dump(_desired_to(desired) | {"keys": keys}, handle)
        os.replace(handle.name, folder / f"{key}.json")  # atomic: readers see all or nothing
    except OSError:
        pass  # a read-only home is no reason to fail a deployment; next pass parses again


def _spec_to(spec: ServiceSpec) -> dict:
    return {"name": spec.name, "replicas": spec.replicas, "source": spec.source, "template": spec.template(),
            "update": spec.update.canonical(), "dependsOn": list(spec.depends_on)}


def _spec_from(entry: dict) -> ServiceSpec:
    return spec_from_template(entry["name"], entry["replicas"], entry["template"],
                              UpdatePolicy.from_canonical(entry["update"]), source=entry["source"],
                              depends_on=tuple(entry["dependsOn"]))


def _desired_to(desired: DesiredState) -> dict:
    return {
        "project": desired.project,
        "commit": desired.commit,
        "services": [_spec_to(s) for s in desired.services],
        "jobs": [_spec_to(j.run) | {"timeout": j.timeout, "retries": j.retries} for j in desired.jobs],
        "volumes": [{"name": v.name, "engineName": v.engine_name, "driver": v.driver,
                     "driverOpts": dict(v.driver_opts), "external": v.external} for v in desired.volumes],
        "warnings": list(desired.warnings),
        "engine": desired.engine.value,
        "ingress": dataclasses.asdict(desired.ingress),
    }


def _desired_from(document: dict) -> DesiredState:
    services = tuple(_spec_from(s) for s in document["services"])
    jobs = tuple(JobSpec(_spec_from(j), float(j["timeout"]), int(j["retries"])) for j in document["jobs"])
    volumes = tuple(VolumeSpec(v["name"], v["engineName"], v["driver"], tuple(sorted(v["driverOpts"].items())),
                               v["external"]) for v in document["volumes"])
    return DesiredState(document["project"], document["commit"], services, volumes, tuple(document["warnings"]), jobs,
                        EngineKind(document["engine"]), IngressSettings(**document["ingress"]))
