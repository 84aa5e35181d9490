"""Manifests: YAML documents → validated, typed desired state.

`load_desired(tree)` is the one entry point. It reports every problem in every
file at once (as `ManifestError`), never just the first.
"""
from gitdeploy.manifests.loader import PROJECT_FILE, load_desired

__all__ = ["PROJECT_FILE", "load_desired"]
