"""Is a commit signed by a key this host trusts? Checked before anything of it deploys.

SSH signatures are checked against an ALLOWED SIGNERS file (ssh-keygen(1)'s
format, as `git verify-commit` does with gpg.ssh.allowedSignersFile), GPG
signatures against a keyring. The commit object is read with `git cat-file`
and its signature checked by this machine's `ssh-keygen` or `gpg`, never through
`git verify-commit`: that would run whatever gpg.program or gpg.ssh.program the
repository's own config names. Both files come from the host's policy
(docs/policy.md), never from the repository.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitdeploy.core.policy import SignaturePolicy
from gitdeploy.errors import GitDeployError, SignatureRefused

SIGNATURE_HEADERS = (b"gpgsig", b"gpgsig-sha256")
_SSH_FINGERPRINT = re.compile(r"(?:with|key) (\S+) key (SHA256:\S+)")


@dataclass(frozen=True, slots=True)
class Signed:
    signer: str   # the principal of the allowed signers file, or the GPG key's user id
    key: str      # its fingerprint


def split_signature(raw: bytes) -> tuple[bytes, bytes | None]:
    """(what was signed, the signature): the commit object without its signature headers, and the first
    one's value (continuation lines start with a space)."""
    head, separator, message = raw.partition(b"\n\n")
    kept: list[bytes] = []
    signature: list[bytes] = []
    in_header = taking = False   # inside a signature header; and it is the one checked
    for line in head.split(b"\n"):
        if in_header and line.startswith(b" "):
            if taking:
                signature.append(line[1:])
            continue
        name = line.split(b" ", 1)[0]
        in_header = name in SIGNATURE_HEADERS
        if in_header:
            taking = not signature   # the first signature header is checked; a second (sha1 and sha256) dropped
            if taking:
                signature.append(line[len(name) + 1:])
            continue
        kept.append(line)
    payload = b"\n".join(kept) + separator + message
    return payload, (b"\n".join(signature) + b"\n") if signature else None


def verify(location: str, commit: str, trusted: SignaturePolicy, policy_file: str) -> Signed:
    """The commit's signer, or SignatureRefused (one line naming the commit and the signer, or its absence)."""
    short = commit[:12]
    payload, signature = split_signature(_raw_commit(location, commit))
    if signature is None:
        raise SignatureRefused(f"commit {short} is not signed; only commits signed by a trusted key deploy here",
                               hint="sign it (git commit -S) with a key listed in the host's allowed signers")
    with tempfile.TemporaryDirectory(prefix="gitdeploy-verify-") as folder:
        signature_file = Path(folder) / "commit.sig"
        signature_file.write_bytes(signature)
        if signature.startswith(b"-----BEGIN SSH SIGNATURE-----"):
            return _verify_ssh(short, payload, signature_file, trusted.allowed_signers, policy_file)
        if signature.startswith(b"-----BEGIN PGP SIGNATURE-----"):
            return _verify_gpg(short, payload, signature_file, Path(folder), trusted.gpg_keyring, policy_file)
    raise SignatureRefused(f"commit {short} carries a signature of a kind gitdeploy cannot check (not SSH, not "
                           "OpenPGP); refused")


def _verify_ssh(short: str, payload: bytes, signature_file: Path, allowed: str, policy_file: str) -> Signed:
    if not allowed:
        raise SignatureRefused(f"commit {short} is signed with an SSH key, and no allowed signers file is set",
                               hint=f"set signatures.allowedSigners in the policy {policy_file or '(--policy)'}")
    _readable(allowed, "allowed signers file")
    found = _run(["ssh-keygen", "-Y", "find-principals", "-s", str(signature_file), "-f", allowed])
    for principal in found.stdout.decode(errors="replace").split():
        checked = _run(["ssh-keygen", "-Y", "verify", "-f", allowed, "-I", principal, "-n", "git",
                        "-s", str(signature_file)], payload)
        if checked.returncode == 0:
            return Signed(principal, _fingerprint(checked.stdout + checked.stderr))
    # Whose key it is, for the message: checked without an allowed list (nothing is trusted by this).
    anyone = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(signature_file)], payload)
    key = _fingerprint(anyone.stdout + anyone.stderr)
    if anyone.returncode != 0:
        raise SignatureRefused(f"commit {short}: its SSH signature does not match its content; refused")
    raise SignatureRefused(f"commit {short} is signed by a key not in {allowed} ({key or 'unknown key'}); refused",
                           hint="add the signer's public key to the allowed signers file, if it is to deploy")


def _verify_gpg(short: str, payload: bytes, signature_file: Path, folder: Path, keyring: str,
                policy_file: str) -> Signed:
    if not keyring:
        raise SignatureRefused(f"commit {short} is signed with a GPG key, and no trusted keyring is set",
                               hint=f"set signatures.gpgKeyring in the policy {policy_file or '(--policy)'}")
    _readable(keyring, "trusted keyring")
    payload_file = folder / "commit.payload"
    payload_file.write_bytes(payload)
    home = folder / "gnupg"   # an empty home: no user's keys, config or agent take part
    home.mkdir(mode=0o700)
    checked = _run(["gpg", "--homedir", str(home), "--batch", "--no-default-keyring", "--keyring", keyring,
                    "--trust-model", "always", "--status-fd", "1", "--verify", str(signature_file), str(payload_file)])
    status: dict[str, list[str]] = {}   # "[GNUPG:] KEYWORD ARGS..." lines: KEYWORD -> ARGS
    for line in checked.stdout.decode(errors="replace").splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == "[GNUPG:]":
            status[words[1]] = words[2:]
    if checked.returncode == 0 and status.get("GOODSIG") and status.get("VALIDSIG"):
        return Signed(" ".join(status["GOODSIG"][1:]), status["VALIDSIG"][0])
    if "NO_PUBKEY" in status or "ERRSIG" in status:
        key = (status.get("NO_PUBKEY") or status.get("ERRSIG") or [""])[0]
        raise SignatureRefused(f"commit {short} is signed by a GPG key not in {keyring} ({key or 'unknown key'}); "
                               "refused", hint="import the signer's public key into the trusted keyring, if it is "
                                               "to deploy")
    raise SignatureRefused(f"commit {short}: its GPG signature does not verify; refused")


def _readable(path: str, what: str) -> None:
    """A trust file the policy names must be there: otherwise every commit would read as a stranger's."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise GitDeployError(f"cannot read the {what} {path}: {exc.strerror or exc}",
                             hint="fix the path in the host's policy (signatures), or the file's permissions") from None


def _raw_commit(location: str, commit: str) -> bytes:
    done = _run(["git", "-C", location, "cat-file", "commit", commit])
    if done.returncode != 0:
        raise GitDeployError(f"reading commit {commit[:12]} to check its signature: "
                             f"{done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout


def _run(command: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": os.environ.get("HOME", "/"),
           "GIT_NO_REPLACE_OBJECTS": "1"}   # the commit object itself, never a replacement pushed beside it
    try:
        return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60)
    except FileNotFoundError:
        raise GitDeployError(f"checking a commit's signature needs {command[0]}, which is not installed",
                             hint="Debian: apt install openssh-client gnupg") from None


def _fingerprint(output: bytes) -> str:
    found = _SSH_FINGERPRINT.search(output.decode(errors="replace"))
    return f"{found.group(1)} {found.group(2)}" if found else ""
