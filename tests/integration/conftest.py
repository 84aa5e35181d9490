"""Fixtures for tests against a real Docker engine.

No mocks: the engine must be reachable (scripts/ensure-engine.sh), and the test
images are built locally (scripts/build-images.sh test). Every test gets its own
project name and removes everything labelled with it afterwards. Pulling is
switched off so that no test ever talks to a registry.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.manifest_repo import ManifestRepo

ROOT = Path(__file__).resolve().parents[2]
PROJECT_LABEL = "io.gitdeploy.project"
os.environ["GITDEPLOY_PULL"] = "never"


@pytest.fixture(scope="session")
def api():
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means the same thing
        pytest.fail(f"no Docker engine reachable ({exc}); run scripts/ensure-engine.sh", pytrace=False)
    for tag in ("v1", "v2", "v3", "v4", "v2-hc", "v3-hc"):
        try:
            client.api.inspect_image(f"gitdeploy-test/app:{tag}")
        except docker.errors.ImageNotFound:
            subprocess.run([str(ROOT / "scripts" / "build-images.sh"), "test"], check=True)
            break
    return client.api


def remove_project(api, project: str) -> None:
    for container in api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        api.remove_container(container["Id"], force=True)
    for network in api.networks(filters={"label": f"{PROJECT_LABEL}={project}"}):
        api.remove_network(network["Id"])
    for volume in api.volumes(filters={"label": f"{PROJECT_LABEL}={project}"}).get("Volumes") or []:
        api.remove_volume(volume["Name"])
    for image in api.images(filters={"label": f"{PROJECT_LABEL}={project}"}):   # the history
        api.remove_image(image["Id"], force=True)
    for lock in api.containers(all=True, filters={"label": f"io.gitdeploy.lock={project}"}):
        api.remove_container(lock["Id"], force=True)


@pytest.fixture
def project(api):
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    remove_project(api, name)


@pytest.fixture
def repo(tmp_path, project) -> ManifestRepo:
    return ManifestRepo(tmp_path / "deploy", project)


def gitdeploy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs the real CLI, as a user or a CI step would."""
    return subprocess.run(
        [sys.executable, "-m", "gitdeploy", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


def containers(api, project: str, service: str | None = None) -> list[dict]:
    """Our containers, sorted by name; running or not."""
    label = [f"{PROJECT_LABEL}={project}"] + ([f"io.gitdeploy.service={service}"] if service else [])
    found = api.containers(all=True, filters={"label": label})
    return sorted(found, key=lambda c: c["Names"][0])


def ids(api, project: str, service: str | None = None) -> list[str]:
    return [c["Id"] for c in containers(api, project, service)]

