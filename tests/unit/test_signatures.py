"""What a commit's signature covers: the commit object without its signature headers (as git verifies it)."""
from gitdeploy.source.signatures import split_signature

COMMIT = (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
          b"author A <a@example.com> 1700000000 +0000\n"
          b"committer A <a@example.com> 1700000000 +0000\n"
          b"gpgsig -----BEGIN SSH SIGNATURE-----\n"
          b" U1NIU0lHAAAAAQ==\n"
          b" \n"
          b" -----END SSH SIGNATURE-----\n"
          b"\n"
          b"v1\n\ngpgsig in the message is not a header\n")


def test_the_signature_header_and_its_continuation_lines_are_split_off():
    payload, signature = split_signature(COMMIT)
    assert signature == b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n\n-----END SSH SIGNATURE-----\n"
    assert payload == (b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
                       b"author A <a@example.com> 1700000000 +0000\n"
                       b"committer A <a@example.com> 1700000000 +0000\n"
                       b"\nv1\n\ngpgsig in the message is not a header\n")


def test_an_unsigned_commit_has_no_signature_and_a_second_header_is_dropped():
    unsigned = COMMIT[:COMMIT.index(b"gpgsig")] + COMMIT[COMMIT.index(b"\nv1"):]
    assert split_signature(unsigned) == (unsigned, None)
    both = COMMIT.replace(b"\n\nv1", b"\ngpgsig-sha256 second\n more\n\nv1", 1)
    payload, signature = split_signature(both)
    assert b"second" not in signature and b"gpgsig" not in payload.split(b"\n\n")[0]


def test_a_missing_trust_file_is_an_error_not_a_strangers_signature(tmp_path):
    import subprocess

    import pytest

    from gitdeploy.core.policy import SignaturePolicy
    from gitdeploy.errors import GitDeployError, SignatureRefused
    from gitdeploy.source.signatures import verify

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", "-c", "gpg.format=ssh",
                    "-c", f"user.signingkey={key}", "commit", "-q", "--allow-empty", "-S", "-m", "x"], check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    with pytest.raises(GitDeployError, match="cannot read the allowed signers file") as caught:
        verify(str(repo), head, SignaturePolicy(True, str(tmp_path / "missing")), "policy.yaml")
    assert not isinstance(caught.value, SignatureRefused)
