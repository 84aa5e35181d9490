"""`gitdeploy render`: the final manifests of an environment, with where each value came from."""
from __future__ import annotations

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, OutputFormat, Path, Ref, Repo, Verbose


def render(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None, verbose: Verbose = False) -> None:
    """Print the manifests as they deploy: with environments, the base manifests with the environment's
    overlay applied. YAML that validate accepts, each value followed by `# FILE:LINE`, the file that set
    it; secrets stay references. Exit 0; 1 when the manifests are invalid (the same problems as validate).
    """
    from gitdeploy import operations
    from gitdeploy.output.render import rendered

    command = Command(repo, ref, path, OutputFormat.TEXT, verbose, decryption=Decryption.NONE, env=env, engine_choice=engine)
    with command.loaded() as (revision, desired):
        documents = operations.manifests(revision, env)
    where = f"environment {env} of " if env else ""
    print(rendered(documents, f"gitdeploy render: {where}project {desired.project} at commit {revision.short_commit}"),
          end="")
