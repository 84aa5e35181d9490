"""A real Git repository of manifests in a temporary folder, as a user would keep one."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class ManifestRepo:
    def __init__(self, root: Path, project: str, subdir: str = "") -> None:
        self.root = root
        self.dir = root / subdir if subdir else root
        self.project = project
        self.dir.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.email", "test@gitdeploy.invalid")
        git(root, "config", "user.name", "gitdeploy tests")
        (self.dir / "gitdeploy.yaml").write_text(f"project: {project}\n")

    def service(self, name: str, image: str = "gitdeploy-test/app:v1", replicas: int = 1, **spec) -> Path:
        """Writes services/NAME.yaml; JSON is valid YAML, so the spec goes in as JSON."""
        # Short timings keep tests quick on a 2-core machine: a 1 s monitor, 1 s grace period.
        spec = {"image": image, "replicas": replicas, "stopGracePeriod": "1s", "update": {"monitor": "1s"}, **spec}
        document = {"apiVersion": "gitdeploy/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
        path = self.dir / "services" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path

    def job(self, name: str, image: str = "gitdeploy-test/app:v1", **spec) -> Path:
        """Writes services/NAME.yaml holding a Job."""
        document = {"apiVersion": "gitdeploy/v1", "kind": "Job", "metadata": {"name": name},
                    "spec": {"image": image, **spec}}
        path = self.dir / "services" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path

    def remove(self, name: str) -> None:
        (self.dir / "services" / f"{name}.yaml").unlink()

    def commit(self, message: str = "change") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")
