"""Sampling availability while something changes: how many replicas the engine reports healthy."""
from __future__ import annotations

import threading


class HealthSampler:
    """Counts, every 0.2 s, running containers matching all `labels` whose health is "healthy"."""

    def __init__(self, labels: list[str]) -> None:
        import docker

        self.samples: list[int] = []
        self._api = docker.from_env().api   # its own client: this runs on another thread
        self._filters = {"label": labels}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @classmethod
    def of_service(cls, project: str, service: str) -> "HealthSampler":
        return cls([f"io.gitdeploy.project={project}", f"io.gitdeploy.service={service}"])

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = self._api.containers(filters=self._filters)
            self.samples.append(sum(r["State"] == "running" and r["Status"].endswith("(healthy)") for r in rows))
            self._stop.wait(0.2)

    def __enter__(self) -> "HealthSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
