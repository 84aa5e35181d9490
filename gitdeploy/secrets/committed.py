"""The plaintext of a service's secrets as committed at a commit: what the engine is handed when it
needs a secret file it does not have (a new template, a rollback to an older one, after a reboot).

Read from Git at the commit of the template being started, so a rollback gets
the content that revision ran with; checked against the template's digest, so
a replica never gets content other than what its template names.
"""
from __future__ import annotations

from gitdeploy.core.model import ServiceSpec
from gitdeploy.core.revision import Revision
from gitdeploy.errors import SecretError
from gitdeploy.secrets.keyring import Keyring


class CommittedSecrets:
    """A `ReadSecrets` (engine/base.py) over the deployed repository, decrypting with `keyring`."""

    def __init__(self, revision: Revision, keyring: Keyring) -> None:
        self.revision, self.keyring = revision, keyring

    def __call__(self, commit: str, spec: ServiceSpec) -> dict[str, bytes]:
        from gitdeploy.source.git import read_file_at

        plaintexts = {}
        for secret in spec.secrets:
            where = self.revision.path_of(secret.source)
            data = read_file_at(self.revision, commit, where)
            if data is None:
                raise SecretError(f"secret {secret.name} of service {spec.name}: no file {where} at commit "
                                  f"{commit[:12]}, where that revision comes from")
            opened = self.keyring.open(secret.name, where, data, secret.key)
            if opened.digest != secret.digest:   # "" (made without a key) never matches
                raise SecretError(f"secret {secret.name} ({where}) at commit {commit[:12]} is not the content "
                                  f"service {spec.name}'s revision was made with (its age key differs?)")
            plaintexts[secret.name] = opened.plaintext
        return plaintexts
