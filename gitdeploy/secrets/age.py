"""age identities, looked for where SOPS looks for them, and decryption of age files."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.errors import SecretError

SECRET_KEY_PREFIX = "AGE-SECRET-KEY-"


@dataclass(frozen=True)
class Identities:
    """The age secret keys this run can decrypt with, and where they came from (for messages)."""

    keys: tuple[object, ...]     # pyrage identities
    origin: str
    material: bytes              # the keys' text, to derive a digest key from: never shown

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
        return cls(tuple(keys), origin, "\n".join(lines).encode())

    def decrypt(self, data: bytes, what: str) -> bytes:
        """The plaintext of an age file (binary or armored); `what` names it in errors."""
        import pyrage

        try:
            return pyrage.decrypt(data, list(self.keys))
        except pyrage.DecryptError as exc:
            reason = "none of the keys from " + self.origin + " can open it" if "No matching keys" in str(exc) \
                else "it is damaged or not an age file"
            raise SecretError(f"cannot decrypt {what}: {reason}") from None


def _read(path: str, origin: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise SecretError(f"cannot read the age key file from {origin}: {exc.strerror}: {path}") from None
