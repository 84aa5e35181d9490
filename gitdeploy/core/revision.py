"""What the Git adapter hands to the rest: a resolved revision, and its files.

Plain data, so the manifest loader (and its tests) need no Git at all, and the
renderers read a revision without depending on the Git adapter.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_DATA_FILE = 256 * 1024    # a config file a manifest may reference; its content lives in a label, so keep it small


@dataclass(frozen=True, slots=True)
class Revision:
    commit: str                    # full SHA
    ref: str                       # what was deployed, by name: "main", "v1.2", or a short SHA
    root: str                      # the manifest path inside the repository ("" for the top)
    location: str                  # local folder git reads from (the repo, or the cached mirror of a URL)
    warnings: tuple[str, ...] = ()

    @property
    def short_commit(self) -> str:
        return self.commit[:12]

    def path_of(self, source: str) -> str:
        """A path relative to the manifest folder (a `files` or `secrets` source) as a path in the repository."""
        return posixpath.normpath(posixpath.join(self.root, source)) if self.root else posixpath.normpath(source)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str      # path inside the repository, e.g. "deploy/web.yaml"
    data: bytes


@dataclass(frozen=True, slots=True)
class SourceTree:
    revision: Revision
    files: tuple[SourceFile, ...]  # every *.yaml / *.yml under the root, sorted by path
