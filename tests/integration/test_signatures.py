"""Signed commits only, with keys made by ssh-keygen: a trusted signer's commit deploys; an unsigned one and
a stranger's do not, and nothing changes (docs/policy.md)."""
from __future__ import annotations

import json
import os
import subprocess

from tests.integration.conftest import containers, gitdeploy
from tests.manifest_repo import git


def ssh_key(folder, name: str):
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def signed_commit(repo, key, message: str) -> str:
    git(repo.root, "add", "-A")
    # The command line wins over the repository's config, whose gpg.ssh.program is a trap (below).
    git(repo.root, "-c", "gpg.format=ssh", "-c", "gpg.ssh.program=ssh-keygen", "-c", f"user.signingkey={key}",
        "commit", "-q", "-S", "-m", message)
    return git(repo.root, "rev-parse", "HEAD")


def test_only_commits_signed_by_an_allowed_key_deploy(api, project, repo, tmp_path):
    alice, mallory = ssh_key(tmp_path, "alice"), ssh_key(tmp_path, "mallory")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {(tmp_path / 'alice.pub').read_text().split(' ', 2)[0]} "
                       f"{(tmp_path / 'alice.pub').read_text().split(' ', 2)[1]}\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(json.dumps({"apiVersion": "gitdeploy/v1", "kind": "Policy",
                                  "signatures": {"required": True, "allowedSigners": str(allowed)}}))
    # A program the repository's own config names must never run while verifying.
    marker = tmp_path / "ran"
    trap = tmp_path / "trap.sh"
    trap.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    trap.chmod(0o755)
    repo.service("web")
    first = signed_commit(repo, alice, "v1 by alice")
    git(repo.root, "config", "gpg.ssh.program", str(trap))
    git(repo.root, "config", "gpg.program", str(trap))
    env = {"GITDEPLOY_POLICY": str(policy)}

    done = gitdeploy("sync", "--repo", str(repo.root), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["Labels"]["io.gitdeploy.commit"] for c in containers(api, project, "web")] == [first]

    repo.service("web", image="gitdeploy-test/app:v2")
    unsigned = repo.commit("v2, unsigned")
    refused = gitdeploy("sync", "--repo", str(repo.root), env=env)
    assert refused.returncode == 1
    assert f"commit {unsigned[:12]} is not signed" in refused.stderr

    repo.service("web", image="gitdeploy-test/app:v3")
    stranger = signed_commit(repo, mallory, "v3 by mallory")
    refused = gitdeploy("sync", "--repo", str(repo.root), env=env)
    assert refused.returncode == 1
    assert f"commit {stranger[:12]} is signed by a key not in {allowed} (ED25519 SHA256:" in refused.stderr
    assert [c["Image"] for c in containers(api, project, "web")] == ["gitdeploy-test/app:v1"], "nothing changed"

    repo.service("web", image="gitdeploy-test/app:v2")
    latest = signed_commit(repo, alice, "v2 by alice")
    done = gitdeploy("sync", "--verify-signatures", "--repo", str(repo.root), "-o", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["Labels"]["io.gitdeploy.commit"] for c in containers(api, project, "web")] == [latest]
    assert not marker.exists(), "the repository's gpg.ssh.program ran"


def gpg_key(home, name: str) -> str:
    """A new signing key in GNUPGHOME `home`; its fingerprint."""
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.com>",
                    "ed25519", "sign", "never"], check=True, capture_output=True, env=env)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys", f"{name}@example.com"],
                             check=True, capture_output=True, text=True, env=env).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def test_gpg_signed_commits_are_checked_against_the_policys_keyring(api, project, repo, tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    alice, stranger = gpg_key(home, "alice"), gpg_key(home, "stranger")
    env = {**os.environ, "GNUPGHOME": str(home)}
    keyring = tmp_path / "trusted.gpg"
    keyring.write_bytes(subprocess.run(["gpg", "--batch", "--export", alice], check=True, capture_output=True,
                                       env=env).stdout)
    policy = tmp_path / "policy.yaml"
    policy.write_text(json.dumps({"apiVersion": "gitdeploy/v1", "kind": "Policy",
                                  "signatures": {"required": True, "gpgKeyring": str(keyring)}}))

    def gpg_commit(key: str, message: str) -> str:
        subprocess.run(["git", "-C", str(repo.root), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo.root), "-c", "gpg.program=gpg", "-c", f"user.signingkey={key}",
                        "commit", "-q", "-S", "-m", message], check=True, env=env)
        return git(repo.root, "rev-parse", "HEAD")

    try:
        repo.service("web")
        signed = gpg_commit(alice, "v1 by alice")
        done = gitdeploy("sync", "--repo", str(repo.root), "--policy", str(policy))
        assert done.returncode == 0, done.stdout + done.stderr
        repo.service("web", image="gitdeploy-test/app:v2")
        other = gpg_commit(stranger, "v2 by a stranger")
        refused = gitdeploy("sync", "--repo", str(repo.root), "--policy", str(policy))
        assert refused.returncode == 1
        assert f"commit {other[:12]} is signed by a GPG key not in {keyring}" in refused.stderr
        assert [c["Labels"]["io.gitdeploy.commit"] for c in containers(api, project, "web")] == [signed]
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)
