"""The layers keep their import rule (docs/how-it-works.md#layers): the core stays pure, use cases
see the engine only through its interface, renderers read core results only."""
import ast
from pathlib import Path

import pytest

import gitdeploy

ROOT = Path(gitdeploy.__file__).parent
ADAPTERS = ("docker", "git", "typer", "rich", "requests", "subprocess", "gitdeploy.engine", "gitdeploy.source",
            "gitdeploy.secrets", "pyrage", "cryptography",
            "gitdeploy.cli", "gitdeploy.output")
EXECUTION = ("gitdeploy.apply", "gitdeploy.rollout", "gitdeploy.job_run", "gitdeploy.restart", "gitdeploy.operations",
             "gitdeploy.watch")
# A use case sees the engine through engine/base.py only.
CONCRETE_ENGINE = ("gitdeploy.engine.docker", "gitdeploy.engine.socket_api", "gitdeploy.engine.secret_files",
                   "gitdeploy.engine.endpoint", "gitdeploy.engine.docker_lock", "gitdeploy.engine.docker_history")

# (files, imports they must not make)
LAYERS = [
    ("core/*.py", ADAPTERS + EXECUTION + ("gitdeploy.manifests", "gitdeploy.errors", "gitdeploy.probes")),
    ("apply.py", ("docker", "git", "typer", "rich", "gitdeploy.cli", "gitdeploy.output") + CONCRETE_ENGINE),
    ("rollout.py", ("docker", "git", "typer", "rich", "gitdeploy.cli", "gitdeploy.output") + CONCRETE_ENGINE),
    ("job_run.py", ("docker", "git", "typer", "rich", "gitdeploy.cli", "gitdeploy.output") + CONCRETE_ENGINE),
    ("restart.py", ("docker", "git", "typer", "rich", "gitdeploy.cli", "gitdeploy.output") + CONCRETE_ENGINE),
    ("operations.py", ("docker", "typer", "rich", "gitdeploy.cli", "gitdeploy.output") + CONCRETE_ENGINE),
    ("watch.py", ("docker", "typer", "rich", "gitdeploy.cli", "gitdeploy.source") + CONCRETE_ENGINE),
    ("output/*.py", ("docker", "git", "typer") + EXECUTION + ("gitdeploy.engine", "gitdeploy.source")),
]


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("pattern, forbidden", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_imports_nothing_it_must_not(pattern, forbidden):
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in sorted(ROOT.glob(pattern))
                 for name in imports_of(path) if any(name == f or name.startswith(f + ".") for f in forbidden)]
    assert offenders == []


def test_core_imports_nothing_impure():
    test_layer_imports_nothing_it_must_not(*LAYERS[0])
