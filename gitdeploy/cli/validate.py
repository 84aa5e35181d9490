"""`gitdeploy validate`: check the manifests at a commit, without an engine."""
from __future__ import annotations

from gitdeploy.cli.command import Command, Decryption
from gitdeploy.cli.options import EngineChoice, Env, AgeKeyFile, Output, OutputFormat, Path, PolicyFile, Ref, Repo, Verbose


def validate(repo: Repo = ".", ref: Ref = None, path: Path = None, env: Env = None, engine: EngineChoice = None,
             age_key_file: AgeKeyFile = None,
             policy: PolicyFile = None, output: Output = OutputFormat.TEXT, verbose: Verbose = False) -> None:
    """Check the manifests: schema, units, unique names and ports, dependsOn (known names, no cycle), secret
    files and keys, and what the engine they go to (--engine) cannot do. Exit 0 if valid, 1 if not.

    With an age key at hand, secrets are decrypted too (each SOPS MAC checked); without one, only their files.
    """
    from gitdeploy.engine.socket_api import local_images_missing
    from gitdeploy.output import jsonout, text

    command = Command(repo, ref, path, output, verbose, age_key_file=age_key_file,
                      decryption=Decryption.IF_KEY, policy_file=policy, checks_policy=True, env=env,
                      engine_choice=engine)
    with command.loaded() as (revision, desired):
        pass
    missing = local_images_missing(tuple(sorted({spec.image for spec in desired.runnable()})))
    warnings = tuple(f"image {image} is not on the local engine: sync pulls it (it fails with --pull never)"
                     for image in missing)
    if not command.json:
        for warning in warnings:
            text.console.stderr().print(f"[yellow]warning:[/] {text.shown(warning)}")
    unopened = any(s.secrets for s in desired.runnable()) \
        and not command.keyring.available
    jobs = f", {len(desired.jobs)} job{'s' if len(desired.jobs) != 1 else ''}" if desired.jobs else ""
    command.say(jsonout.validation(revision, desired, warnings),
                f"{text.header(revision, desired.project)}: {len(desired.services)} services{jobs}, valid."
                + (" Secrets not decrypted (no age key): their files were checked, not their content." if unopened
                   else ""))
