"""The files of the manifest path at one commit, as plain data.

This is what the Git adapter hands to the manifest loader, so the loader (and
its tests) need no Git at all.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str      # path inside the repository, e.g. "deploy/web.yaml"
    data: bytes


@dataclass(frozen=True, slots=True)
class SourceTree:
    commit: str                    # full SHA
    ref: str                       # what the user asked for, resolved: "main", "v1.2", or a SHA
    root: str                      # the manifest path inside the repository ("" for the top)
    files: tuple[SourceFile, ...]  # every *.yaml / *.yml under root, sorted by path
    warnings: tuple[str, ...] = ()

    @property
    def short_commit(self) -> str:
        return self.commit[:12]
