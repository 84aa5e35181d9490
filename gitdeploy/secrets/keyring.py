"""Opening one secret: which format a file is, decrypting it with this run's age keys, and its digest.

The digest is what a template holds instead of the plaintext: an HMAC-SHA256 of
the plaintext keyed by the age key that opened it (age.Identities.open). It
changes exactly when the plaintext does (not when a file is re-encrypted), and
without the age key nobody can test a guess against it, however short the
password: an unkeyed hash of a short secret can be reversed by trying them all.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum

from gitdeploy.errors import SecretError
from gitdeploy.secrets.age import Identities
from gitdeploy.secrets.sops import lookup, read_sops, sops_document

IDENTITY_HINT = ("give the age key with --age-key-file or GITDEPLOY_AGE_KEY_FILE (or SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, "
                 "~/.config/sops/age/keys.txt, where sops looks)")


class SecretFormat(str, Enum):
    AGE = "age"                  # a whole file encrypted by the age tool, binary or armored
    SOPS = "sops"                # a SOPS YAML or JSON file; one value is a secret
    SOPS_DOTENV = "sops-dotenv"  # a SOPS dotenv or INI file: not read yet
    UNKNOWN = "unknown"


def format_of(data: bytes) -> SecretFormat:
    if data.startswith(b"age-encryption.org/v1\n") or data.lstrip().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        return SecretFormat.AGE
    if sops_document(data) is not None:
        return SecretFormat.SOPS
    if b"\nsops_mac=" in b"\n" + data or b"\n[sops]" in b"\n" + data:
        return SecretFormat.SOPS_DOTENV
    return SecretFormat.UNKNOWN


def sops_keys(data: bytes) -> list[str]:
    """The dotted keys of a SOPS file's single values (readable without decrypting), for messages."""
    found: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [str(key)])
        elif path:
            found.append(".".join(path))

    walk({k: v for k, v in (sops_document(data) or {}).items() if k != "sops"}, [])
    return found


@dataclass(frozen=True, slots=True)
class Opened:
    plaintext: bytes = field(repr=False)
    digest: str


class Keyring:
    """This run's age keys, looked for on first use: a project without secrets never needs one."""

    def __init__(self, key_file: str | None = None) -> None:
        self._key_file = key_file
        self._identities: Identities | None = None
        self._looked = False

    def _found(self) -> Identities | None:
        if not self._looked:
            self._identities, self._looked = Identities.find(self._key_file), True
        return self._identities

    @property
    def fingerprint(self) -> str:
        """Names the keys (digests depend on them); "" when there are none. Never raises for a missing key."""
        found = self._found()
        return found.fingerprint if found else ""

    @property
    def available(self) -> bool:
        return self._found() is not None

    def open(self, name: str, where: str, data: bytes, key: str = "") -> Opened:
        """Secret `name`, from the file `where` (its path in the repository) holding `data`."""
        what = f"secret {name} ({where})"
        identities = self._found()
        if identities is None:
            raise SecretError(f"cannot decrypt {what}: no age key found", hint=IDENTITY_HINT)
        kind = format_of(data)
        if kind is SecretFormat.AGE and not key:
            plaintext, digest_key = identities.open(data, what)
        elif kind is SecretFormat.SOPS and key:
            document, digest_key = read_sops(data, identities, what)
            plaintext = value_bytes(lookup(document, key, what))
        else:
            raise SecretError(f"cannot decrypt {what}: {format_problem(kind, key)}")
        return Opened(plaintext, hmac.new(digest_key, plaintext, hashlib.sha256).hexdigest()[:32])


def format_problem(kind: SecretFormat, key: str) -> str:
    """Why a file of this format cannot be read with (or without) `key`; "" when it can."""
    if kind is SecretFormat.AGE:
        return "an age file is one secret as a whole; remove key" if key else ""
    if kind is SecretFormat.SOPS:
        return "" if key else "a SOPS file holds many values; name one with key (such as key: db.password)"
    if kind is SecretFormat.SOPS_DOTENV:
        return "SOPS dotenv and INI files are not supported yet; encrypt a YAML or JSON file with sops"
    return "it is neither an age file nor a SOPS YAML/JSON file encrypted to age recipients"


def value_bytes(value) -> bytes:
    """A SOPS value as the bytes a replica reads, written as `sops -d --extract` prints it."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode("utf-8")
