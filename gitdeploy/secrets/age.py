"""age identities, looked for where SOPS looks for them, and decryption of age files."""
from __future__ import annotations

import os
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from gitdeploy.errors import SecretError

SECRET_KEY_PREFIX = "AGE-SECRET-KEY-"
# A digest key is derived from the age key that opened a secret (see open()).
_DIGEST_CONTEXT = b"gitdeploy secret digest v1\0"


@dataclass(frozen=True)
class Identities:
    """The age secret keys this run can decrypt with, and where they came from (for messages)."""

    keys: tuple[object, ...]     # pyrage identities
    origin: str
    lines: tuple[str, ...] = field(repr=False, default=())   # the keys' text, to derive digest keys from

    @classmethod
    def find(cls, key_file: str | None = None) -> "Identities | None":
        """--age-key-file / GITDEPLOY_AGE_KEY_FILE, then SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, then
        ~/.config/sops/age/keys.txt (XDG_CONFIG_HOME respected), as SOPS looks for them."""
        candidates = [("--age-key-file", key_file or os.environ.get("GITDEPLOY_AGE_KEY_FILE")),
                      ("SOPS_AGE_KEY_FILE", os.environ.get("SOPS_AGE_KEY_FILE"))]
        for origin, path in candidates:
            if path:
                return cls._from_text(_read(path, origin), f"{origin} {path}")
        if os.environ.get("SOPS_AGE_KEY"):
            return cls._from_text(os.environ["SOPS_AGE_KEY"], "SOPS_AGE_KEY")
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "sops" / "age" / "keys.txt"
        if config.is_file():
            return cls._from_text(_read(str(config), "the SOPS key file"), str(config))
        return None

    @classmethod
    def _from_text(cls, text: str, origin: str) -> "Identities":
        import pyrage

        lines = [line.strip() for line in text.splitlines() if line.strip().startswith(SECRET_KEY_PREFIX)]
        keys = []
        for line in lines:
            try:
                keys.append(pyrage.x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                raise SecretError(f"{origin} holds an age secret key that is not valid (never shown)") from None
        if not keys:
            raise SecretError(f"{origin} holds no age secret key (a line starting with {SECRET_KEY_PREFIX})")
        return cls(tuple(keys), origin, tuple(lines))

    @property
    def fingerprint(self) -> str:
        """Names this set of keys (for the desired-state cache, whose digests depend on them); reveals nothing."""
        return hashlib.sha256(_DIGEST_CONTEXT + "\n".join(sorted(self.lines)).encode()).hexdigest()[:16]

    def open(self, data: bytes, what: str) -> tuple[bytes, bytes]:
        """The plaintext of an age file (binary or armored), and the digest key of the age key that opened
        it; `what` names the file in errors.

        The digest key is derived from that one age key, not from the whole set,
        so a machine with one more key in its key file computes the same digests
        (and rolls nothing out); re-encrypting a file to the same recipients
        keeps its digest too.
        """
        import pyrage

        damaged = False
        for key, line in zip(self.keys, self.lines):
            try:
                plaintext = pyrage.decrypt(data, [key])
            except pyrage.DecryptError as exc:
                damaged = damaged or "No matching keys" not in str(exc)
                continue
            return plaintext, hashlib.sha256(_DIGEST_CONTEXT + line.encode()).digest()
        reason = "it is damaged or not an age file" if damaged else f"none of the keys from {self.origin} can open it"
        raise SecretError(f"cannot decrypt {what}: {reason}")

    def decrypt(self, data: bytes, what: str) -> bytes:
        return self.open(data, what)[0]


def _read(path: str, origin: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise SecretError(f"cannot read the age key file from {origin}: {exc.strerror}: {path}") from None
