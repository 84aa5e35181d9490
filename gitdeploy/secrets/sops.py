"""Reading SOPS files (YAML or JSON) encrypted to age recipients, natively: no `sops` binary.

The format, as getsops/sops writes it (aes/cipher.go, sops.go): every value is
`ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM under the file's
32-byte data key with the value's path of mapping keys joined by `:` (plus a
trailing `:`) as additional data; the data key is stored per age recipient as
an armored age file under `sops.age[].enc`; `sops.mac` is the SHA-512 of every
leaf's plaintext in document order (upper-case hex), encrypted with the data
key and `sops.lastmodified` as additional data. A file whose MAC does not
match was tampered with, and is refused.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from gitdeploy.errors import SecretError
from gitdeploy.secrets.age import Identities

_ENC = re.compile(r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),type:(?P<type>\w+)\]$")


def read_sops(data: bytes, identities: Identities, what: str) -> tuple[dict, bytes]:
    """The decrypted document (values typed as sops typed them), and the digest key of the age key that
    opened it (age.Identities.open). Raises SecretError naming `what`."""
    document = sops_document(data)
    if document is None:
        raise SecretError(f"{what} is not a SOPS file (YAML or JSON with sops metadata)")
    metadata = document["sops"]
    if not metadata.get("age"):
        raise SecretError(f"{what} is not a SOPS file encrypted to age recipients (no sops.age)")
    key, digest_key = _data_key(metadata, identities, what)
    digest = hashlib.sha512()
    plain = _walk({k: v for k, v in document.items() if k != "sops"}, [], key, digest, what)
    mac = metadata.get("mac")
    if not isinstance(mac, str):
        raise SecretError(f"{what} has no MAC; refusing a SOPS file that cannot be checked")
    expected = _decrypt_value(mac, key, str(metadata.get("lastmodified", "")).encode(), what, "its MAC")
    if not hmac.compare_digest(expected.upper() if isinstance(expected, str) else str(expected),
                               digest.hexdigest().upper()):
        raise SecretError(f"{what} was changed after it was encrypted (its MAC does not match); refusing it")
    return plain, digest_key


def sops_document(data: bytes) -> dict | None:
    """The document of a SOPS YAML or JSON file, still encrypted (its keys are plain text), or None."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe").load(data.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("sops"), dict) else None


def lookup(document: dict, key: str, what: str):
    """The value at `key`, dotted (`api.key`), in a decrypted document."""
    node = document
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise SecretError(f"{what} has no key {key}")
        node = node[part]
    if isinstance(node, (dict, list)):
        raise SecretError(f"{what}: {key} is not a single value")
    return node


def _data_key(metadata: dict, identities: Identities, what: str) -> tuple[bytes, bytes]:
    for recipient in metadata["age"]:
        enc = recipient.get("enc") if isinstance(recipient, dict) else None
        if not isinstance(enc, str):
            continue
        try:
            return identities.open(enc.encode(), what)
        except SecretError:
            continue
    raise SecretError(f"cannot decrypt {what}: none of the keys from {identities.origin} is one of its age "
                      "recipients")


def _walk(node, path: list[str], key: bytes, digest, what: str):
    if isinstance(node, dict):
        return {k: _walk(v, path + [str(k)], key, digest, what) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, path, key, digest, what) for v in node]
    if isinstance(node, str) and node.startswith("ENC["):
        aad = (":".join(path) + ":").encode()
        value = _decrypt_value(node, key, aad, what, ".".join(path) or "a value")
        digest.update(_to_bytes(value))
        return value
    digest.update(_to_bytes(node))     # left unencrypted (unencrypted_suffix, ...): still covered by the MAC
    return node


def _decrypt_value(text: str, key: bytes, aad: bytes, what: str, where: str):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    match = _ENC.match(text)
    if not match:
        raise SecretError(f"{what}: {where} is not a SOPS value (ENC[AES256_GCM,...])")
    try:
        data, iv, tag = (base64.b64decode(match[name]) for name in ("data", "iv", "tag"))
        plain = AESGCM(key).decrypt(iv, data + tag, aad)
    except (InvalidTag, ValueError):
        raise SecretError(f"{what}: {where} does not decrypt (the file was tampered with, or its key is "
                          "wrong)") from None
    kind = match["type"]
    try:   # the type is not authenticated: a value edited to another type must fail without showing itself
        if kind == "str" or kind == "comment":
            return plain.decode("utf-8")
        if kind == "int":
            return int(plain)
        if kind == "float":
            return float(plain)
    except (ValueError, UnicodeDecodeError):
        raise SecretError(f"{what}: {where} is not a valid {kind} (the file was tampered with)") from None
    if kind == "bool":
        return plain.lower() == b"true"
    return plain   # bytes


def _to_bytes(value) -> bytes:
    # As sops's ToBytes: what it hashed when it wrote the MAC.
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, float):
        return repr(value).encode() if value != int(value) else str(int(value)).encode()
    return str(value).encode()
