"""age and SOPS decryption, against files written by the real `age` tool and the real `sops` (fixtures)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gitdeploy.errors import SecretError
from gitdeploy.secrets.age import Identities
from gitdeploy.secrets.sops import lookup, read_sops

# Copied from ../shared/fixtures/sops (see its README: files written by the real sops, test keys published
# on purpose by their projects, MIT and Apache-2.0).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sops"
HELM_KEY, HELM_FILE = "helm-secrets/tests/assets/age/key.txt", "helm-secrets/tests/assets/values/sops/secrets.age.yaml"
NIX_KEY, NIX_FILE = ("sops-nix/pkgs/sops-install-secrets/test-assets/age-keys.txt",
                     "sops-nix/pkgs/sops-install-secrets/test-assets/secrets.yaml")

needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="the age tool is installed by scripts/test.sh")


def identities(path: str) -> Identities:
    return Identities._from_text((FIXTURES / path).read_text(), path)


@pytest.mark.parametrize("key, file, path, value", [
    (HELM_KEY, HELM_FILE, "global_secret", "global_age"),
    (HELM_KEY, HELM_FILE, "service.port", 92),
    (NIX_KEY, NIX_FILE, "test_key", "test_value"),
    (NIX_KEY, NIX_FILE, "nested.test.file", "another value"),
])
def test_sops_files_written_by_sops_read_as_sops_reads_them(key, file, path, value):
    document, _ = read_sops((FIXTURES / file).read_bytes(), identities(key), file)
    assert lookup(document, path, file) == value


def test_lists_and_missing_keys():
    document, _ = read_sops((FIXTURES / NIX_FILE).read_bytes(), identities(NIX_KEY), "secrets.yaml")
    assert document["a_list"] == ["e1", "e3"]
    with pytest.raises(SecretError, match="secrets.yaml has no key nested.nope"):
        lookup(document, "nested.nope", "secrets.yaml")


@pytest.mark.parametrize("tamper, message", [
    (lambda text: text.replace("global_secret: ENC[AES256_GCM,data:8J9", "global_secret: ENC[AES256_GCM,data:9J9"),
     "global_secret does not decrypt"),
    (lambda text: text.replace('lastmodified: "2021-11-05T00:56:57Z"', 'lastmodified: "2021-11-05T00:56:58Z"'),
     "its MAC does not decrypt"),
    (lambda text: text.replace("global_secret: ENC", "extra: plain\nglobal_secret: ENC"),
     "was changed after it was encrypted"),
])
def test_a_tampered_sops_file_is_refused(tamper, message):
    text = tamper((FIXTURES / HELM_FILE).read_text())
    with pytest.raises(SecretError, match=message):
        read_sops(text.encode(), identities(HELM_KEY), "secrets.age.yaml")


def test_a_sops_file_for_other_recipients_is_refused_naming_the_key_source():
    with pytest.raises(SecretError, match="none of the keys from .* is one of its age recipients"):
        read_sops((FIXTURES / HELM_FILE).read_bytes(), identities(NIX_KEY), "secrets.age.yaml")


@needs_age
@pytest.mark.parametrize("armor", [False, True])
def test_files_encrypted_by_the_age_tool(tmp_path, armor):
    subprocess.run(["age-keygen", "-o", str(tmp_path / "key.txt")], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in (tmp_path / "key.txt").read_text().splitlines()
                     if line.startswith("# public key"))
    sealed = subprocess.run(["age", "-r", recipient] + (["-a"] if armor else []), input=b"s3cret\n",
                            capture_output=True, check=True).stdout
    mine = Identities.find(str(tmp_path / "key.txt"))
    assert mine.decrypt(sealed, "db-password.age") == b"s3cret\n"
    subprocess.run(["age-keygen", "-o", str(tmp_path / "other.txt")], check=True, capture_output=True)
    with pytest.raises(SecretError, match="cannot decrypt db-password.age: none of the keys from"):
        Identities.find(str(tmp_path / "other.txt")).decrypt(sealed, "db-password.age")
    with pytest.raises(SecretError, match="damaged or not an age file"):
        mine.decrypt(b"not age at all", "db-password.age")


@pytest.mark.parametrize("setting, origin", [
    ({"GITDEPLOY_AGE_KEY_FILE": "{k}", "SOPS_AGE_KEY_FILE": "/nonexistent"}, "--age-key-file"),
    ({"SOPS_AGE_KEY_FILE": "{k}"}, "SOPS_AGE_KEY_FILE"),
    ({"SOPS_AGE_KEY": "KEY"}, "SOPS_AGE_KEY"),
    ({"XDG_CONFIG_HOME": "{d}"}, "sops/age/keys.txt"),
    ({}, None),
])
def test_identities_are_looked_for_where_sops_looks(tmp_path, monkeypatch, setting, origin):
    import pyrage

    key = str(pyrage.x25519.Identity.generate())
    (tmp_path / "sops" / "age").mkdir(parents=True)
    (tmp_path / "sops" / "age" / "keys.txt").write_text(key + "\n")
    (tmp_path / "k.txt").write_text(f"# created: now\n{key}\n")
    for name in ("GITDEPLOY_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in setting.items():
        monkeypatch.setenv(name, value.replace("{k}", str(tmp_path / "k.txt")).replace("{d}", str(tmp_path))
                           .replace("KEY", key))
    found = Identities.find()
    assert (found.origin if found else None) is None if origin is None else origin in found.origin
