"""Every module imports: the CLI imports most of them lazily, so nothing else would notice a broken import early."""
import importlib
import pkgutil

import pytest

import gitdeploy

MODULES = [m.name for m in pkgutil.walk_packages(gitdeploy.__path__, "gitdeploy.") if not m.name.endswith("__main__")]


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)
