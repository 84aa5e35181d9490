"""Manifests: YAML documents → validated, typed desired state.

`load_desired(tree)` is the one entry point. It reports every problem in every
file at once (as `ManifestError`), never just the first. The loader (YAML,
JSON Schema) is imported on first use: an unattended no-op pass reads the
desired state from the cache (`manifests/cache.py`) and never needs it.
"""

__all__ = ["PROJECT_FILE", "load_desired"]


def __getattr__(name: str):
    if name in __all__:
        from gitdeploy.manifests import loader

        return getattr(loader, name)
    raise AttributeError(name)
