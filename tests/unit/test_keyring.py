"""Opening a secret: its format, its plaintext, and the keyed digest that stands for it in templates."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from gitdeploy.errors import SecretError
from gitdeploy.secrets.keyring import Keyring, SecretFormat, format_of, format_problem, sops_keys
from tests.unit.test_secrets_crypto import FIXTURES, HELM_FILE, HELM_KEY, NIX_FILE

needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="the age tool is installed by scripts/test.sh")


def new_key(path) -> str:
    """A key made by age-keygen; returns its recipient."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(line.split(": ")[1] for line in path.read_text().splitlines() if line.startswith("# public key"))


def seal(recipient: str, plaintext: bytes, armor: bool = False) -> bytes:
    return subprocess.run(["age", "-r", recipient] + (["-a"] if armor else []), input=plaintext,
                          capture_output=True, check=True).stdout


@needs_age
def test_the_digest_follows_the_content_not_the_encryption(tmp_path):
    recipient = new_key(tmp_path / "key.txt")
    keyring = Keyring(str(tmp_path / "key.txt"))
    first = keyring.open("db", "db.age", seal(recipient, b"hunter2"))
    again = keyring.open("db", "db.age", seal(recipient, b"hunter2", armor=True))   # re-encrypted
    changed = keyring.open("db", "db.age", seal(recipient, b"hunter3"))
    assert first.plaintext == b"hunter2" and again.digest == first.digest and changed.digest != first.digest
    assert "hunter2" not in repr(first)


@needs_age
def test_the_digest_is_keyed_by_the_age_key_that_opened_it(tmp_path):
    recipient = new_key(tmp_path / "key.txt")
    new_key(tmp_path / "other.txt")
    both = tmp_path / "both.txt"
    both.write_text((tmp_path / "other.txt").read_text() + (tmp_path / "key.txt").read_text())
    sealed = seal(recipient, b"hunter2")
    digest = Keyring(str(tmp_path / "key.txt")).open("db", "db.age", sealed).digest
    # One more key on a machine changes nothing (no needless rollout) ...
    assert Keyring(str(both)).open("db", "db.age", sealed).digest == digest
    # ... and without the key, a guess cannot be tested: the digest is no plain hash of the secret.
    import hashlib

    assert digest not in hashlib.sha256(b"hunter2").hexdigest()


def test_sops_values_by_key_and_their_formats():
    keyring = Keyring(str(FIXTURES / HELM_KEY))
    data = (FIXTURES / HELM_FILE).read_bytes()
    assert keyring.open("port", HELM_FILE, data, "service.port").plaintext == b"92"
    assert keyring.open("g", HELM_FILE, data, "global_secret").plaintext == b"global_age"
    assert "service.port" in sops_keys(data) and "global_secret" in sops_keys(data)
    with pytest.raises(SecretError, match="secret g .*: a SOPS file holds many values; name one with key"):
        keyring.open("g", HELM_FILE, data)


@pytest.mark.parametrize("data, kind", [
    (b"age-encryption.org/v1\n-> X25519 abc\n", SecretFormat.AGE),
    (b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n", SecretFormat.AGE),
    ((FIXTURES / NIX_FILE).read_bytes(), SecretFormat.SOPS),
    (b"A=ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops_mac=ENC[...]\n", SecretFormat.SOPS_DOTENV),
    (b"password: plain text\n", SecretFormat.UNKNOWN),
    (b"\x00\xff binary", SecretFormat.UNKNOWN),
])
def test_formats(data, kind):
    assert format_of(data) is kind


@pytest.mark.parametrize("kind, key, problem", [
    (SecretFormat.AGE, "", ""),
    (SecretFormat.AGE, "a.b", "remove key"),
    (SecretFormat.SOPS, "a.b", ""),
    (SecretFormat.SOPS, "", "name one with key"),
    (SecretFormat.SOPS_DOTENV, "A", "not supported yet"),
    (SecretFormat.UNKNOWN, "", "neither an age file nor a SOPS"),
])
def test_format_problems(kind, key, problem):
    assert (problem in format_problem(kind, key)) and bool(problem) == bool(format_problem(kind, key))


def test_no_key_is_one_clear_error_naming_the_secret_and_file(monkeypatch, tmp_path):
    for name in ("GITDEPLOY_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    keyring = Keyring()
    assert not keyring.available and keyring.fingerprint == ""
    with pytest.raises(SecretError, match=r"cannot decrypt secret db \(secrets/db.age\): no age key found") as error:
        keyring.open("db", "secrets/db.age", b"age-encryption.org/v1\n")
    assert "--age-key-file" in error.value.hint
