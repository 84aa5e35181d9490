"""The core stays pure: no engine, git, CLI or output library is imported there."""
import ast
from pathlib import Path

import gitdeploy.core

FORBIDDEN = ("docker", "git", "typer", "rich", "requests", "subprocess", "gitdeploy.engine", "gitdeploy.source",
             "gitdeploy.cli", "gitdeploy.output")


def test_core_imports_nothing_impure():
    offenders = []
    for path in Path(gitdeploy.core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names
                          if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert offenders == []
