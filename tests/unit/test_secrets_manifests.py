"""Secrets in manifests: loaded as references with a keyed digest, checked, diffed by name, delivered
through the engine only when it lacks them. No engine, no Docker."""
from __future__ import annotations

import pyrage
import pytest

from gitdeploy.apply import apply_plan
from gitdeploy.core.changes import template_changes
from gitdeploy.core.history import History
from gitdeploy.core.model import DesiredState, SecretFile, ServiceSpec, spec_from_template
from gitdeploy.core.plan import plan
from gitdeploy.core.revision import Revision, SourceFile, SourceTree
from gitdeploy.errors import ManifestError, SecretError
from gitdeploy.manifests import load_desired
from gitdeploy.secrets.keyring import Keyring
from tests.fake_engine import FakeEngine
from tests.unit.test_manifests import PROJECT, service
from tests.unit.test_secrets_crypto import FIXTURES, HELM_FILE, HELM_KEY

SOPS = (FIXTURES / HELM_FILE).read_bytes()
KEY = pyrage.x25519.Identity.from_str(next(line for line in (FIXTURES / HELM_KEY).read_text().splitlines()
                                           if line.startswith("AGE-SECRET-KEY-")))
PASSWORD = b"correct horse battery staple"
SECRETS = """image: a
secrets:
  - {name: db-password, source: secrets/db-password.age}
  - {name: api-key, source: secrets/app.sops.yaml, key: global_secret}
  - {name: tls-key, source: secrets/db-password.age, path: /etc/tls/key.pem, mode: "0400", uid: 101, gid: 101}
env:
  DB_PASSWORD: {secret: db-password}
  PLAIN: hello
"""


def the_tree(spec: str = SECRETS, **extra: bytes) -> SourceTree:
    files = {"gitdeploy.yaml": PROJECT[1].encode(), "web.yaml": service(spec=spec).encode(),
             "secrets/db-password.age": pyrage.encrypt(PASSWORD, [KEY.to_public()]),
             "secrets/app.sops.yaml": SOPS} | extra
    return SourceTree(Revision("ab" * 20, "main", "", "."), tuple(SourceFile(p, d) for p, d in sorted(files.items())))


def opener():
    keyring = Keyring(str(FIXTURES / HELM_KEY))
    return lambda name, where, data, key: keyring.open(name, where, data, key).digest


def test_secrets_load_as_references_with_a_digest_never_the_plaintext():
    desired = load_desired(the_tree(), open_secret=opener())
    (web,) = desired.services        # the SOPS file is data, not a manifest
    db, api, tls = web.secrets
    assert (db.name, db.source, db.target, db.mode, db.uid, db.key) == \
        ("db-password", "secrets/db-password.age", "/run/secrets/db-password", 0o444, 0, "")
    assert (api.key, tls.target, tls.mode, tls.uid, tls.gid) == ("global_secret", "/etc/tls/key.pem", 0o400, 101, 101)
    assert len(db.digest) == 32 and db.digest == tls.digest != api.digest
    assert web.secret_env == (("DB_PASSWORD", "db-password"),) and web.env == (("PLAIN", "hello"),)
    label = web.template_json()
    assert PASSWORD.decode() not in label and "global_age" not in label
    assert web.template()["env"]["DB_PASSWORD"] == {"secret": "db-password"}
    assert spec_from_template("web", 1, web.template(), web.update) == web


def test_re_encrypting_a_secret_rolls_nothing_out_and_changing_it_does():
    first = load_desired(the_tree(), open_secret=opener()).services[0]
    again = load_desired(the_tree(), open_secret=opener()).services[0]    # a new encryption of the same password
    changed = load_desired(the_tree(**{"secrets/db-password.age": pyrage.encrypt(b"new", [KEY.to_public()])}),
                           open_secret=opener()).services[0]
    assert again.template_hash() == first.template_hash() != changed.template_hash()
    described = [c.describe() for c in template_changes(first.template(), changed.template())]
    assert described == ["secret db-password changed", "secret tls-key changed"]


def test_without_a_key_secrets_are_checked_but_not_opened():
    desired = load_desired(the_tree())
    assert all(s.digest == "" for s in desired.services[0].secrets)


@pytest.mark.parametrize("entries, extra, message", [
    ("  - {name: a, source: secrets/nope.age}", {},
     "web.yaml:8:25: spec.secrets[0].source: no file secrets/nope.age at this commit"),
    ("  - {name: a, source: secrets/app.sops.yaml, key: global_secrte}", {},
     "web.yaml:8:53: spec.secrets[0].key: secrets/app.sops.yaml has no value global_secrte; did you mean "
     "'global_secret'?"),
    ("  - {name: a, source: secrets/app.sops.yaml}", {},
     "web.yaml:8:25: spec.secrets[0]: secrets/app.sops.yaml: a SOPS file holds many values; name one with key"),
    ("  - {name: a, source: secrets/db-password.age, key: x}", {},
     "web.yaml:8:55: spec.secrets[0]: secrets/db-password.age: an age file is one secret as a whole; remove key"),
    ("  - {name: a, source: secrets/plain.txt}", {"secrets/plain.txt": b"hunter2\n"},
     "web.yaml:8:25: spec.secrets[0]: secrets/plain.txt: it is neither an age file nor a SOPS YAML/JSON file"),
    ("  - {name: a, source: secrets/db-password.age}\n  - {name: a, source: secrets/db-password.age}", {},
     "web.yaml:9:14: spec.secrets[1].name: a is already spec.secrets[0]; give each secret its own name"),
    ("  - {name: a, source: secrets/db-password.age, path: /etc/x}\nfiles:\n  - {path: /etc/x, source: gitdeploy.yaml}",
     {}, "web.yaml:8:56: spec.secrets[0]: /etc/x is already taken by spec.files[0]; give each file a path of its own"),
    ("  - {name: a, source: ../outside.age}", {},
     "web.yaml:8:25: spec.secrets[0].source: ../outside.age leaves the manifest folder; keep it inside"),
])
def test_bad_secrets_are_located(entries, extra, message):
    with pytest.raises(ManifestError) as caught:
        load_desired(the_tree("image: a\nsecrets:\n" + entries, **extra), open_secret=opener())
    found = [str(p) for p in caught.value.problems]
    assert found[0].startswith(message), found


def test_env_names_a_declared_secret():
    spec = "image: a\nsecrets:\n  - {name: db-password, source: secrets/db-password.age}\nenv:\n  X: {secret: db-pasword}"
    with pytest.raises(ManifestError) as caught:
        load_desired(the_tree(spec), open_secret=opener())
    assert [str(p) for p in caught.value.problems] == [
        "web.yaml:10:17: spec.env.X.secret: no secret 'db-pasword' in spec.secrets; did you mean 'db-password'?"]


def test_a_wrong_key_is_one_error_naming_the_secret_and_file(tmp_path):
    (tmp_path / "other.txt").write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    keyring = Keyring(str(tmp_path / "other.txt"))
    with pytest.raises(SecretError, match=r"cannot decrypt secret db-password \(secrets/db-password.age\): none of "
                                          "the keys"):
        load_desired(the_tree(), open_secret=lambda n, w, d, k: keyring.open(n, w, d, k).digest)


# -- delivery, through the executor and the fake engine -----------------------------------------------

WEB = ServiceSpec("web", "v1", secrets=(SecretFile("db", "db.age", digest="d1"),))


def run(engine: FakeEngine, spec: ServiceSpec, secrets):
    desired = DesiredState("shop", "c" * 40, (spec,))
    the_plan = plan(desired, engine.observe("shop"), history=History(tuple(engine.events)))
    return apply_plan(the_plan, engine, runtime=engine.clock.runtime(), secrets=secrets)


def test_the_engine_is_handed_secrets_from_the_commit_only_when_it_lacks_them():
    engine, asked = FakeEngine(), []

    def read(commit, spec):
        asked.append((commit, spec.name))
        return {"db": b"pw"}

    run(engine, WEB, read)
    assert asked == [("c" * 40, "web")]
    assert engine.secret_files == {("shop", "web", WEB.template_hash()): {"db": b"pw"}}
    run(engine, WEB, read)                                  # in sync, files there: not read again
    assert len(asked) == 1
    engine.secret_files.clear()                             # a reboot emptied the memory file system
    run(engine, WEB, read)
    assert len(asked) == 2 and engine.secret_files


def test_a_secret_that_cannot_be_read_stops_the_run_before_any_change():
    engine = FakeEngine()

    def read(commit, spec):
        raise SecretError("cannot decrypt secret db (db.age): no age key found")

    with pytest.raises(SecretError):
        run(engine, WEB, read)
    assert engine.log == [] and not engine.replicas


def test_files_of_a_template_no_replica_runs_are_forgotten():
    engine = FakeEngine()
    run(engine, WEB, lambda c, s: {"db": b"pw"})
    newer = ServiceSpec("web", "v1", secrets=(SecretFile("db", "db.age", digest="d2"),))
    run(engine, newer, lambda c, s: {"db": b"pw2"})
    assert list(engine.secret_files) == [("shop", "web", newer.template_hash())]


def with_secret(image: str, digest: str) -> ServiceSpec:
    return ServiceSpec("web", image, secrets=(SecretFile("db", "db.age", digest=digest),))


def test_a_rollback_whose_secret_cannot_be_read_changes_nothing_not_even_the_pin():
    from gitdeploy import operations
    from gitdeploy.core.history import Event

    engine = FakeEngine()
    contents = {"c1": b"old", "c2": b"new"}
    read = lambda commit, spec: {"db": contents[commit[:2]]}   # noqa: E731 - a table of commits
    for commit, image, digest in (("c1", "v1", "d1"), ("c2", "v2", "d2")):
        state = DesiredState("shop", commit * 20, (with_secret(image, digest),))
        operations.sync(state, engine, runtime=engine.clock.runtime(), secrets=read)
    engine.secret_files.clear()                        # a reboot: the old revision's files are gone

    def unreadable(commit, spec):
        raise SecretError("cannot decrypt secret db (db.age): none of the keys can open it")

    events, log = list(engine.events), list(engine.log)
    with pytest.raises(SecretError):
        operations.rollback(state, engine, "web", runtime=engine.clock.runtime(), secrets=unreadable)
    changes = lambda entries: [e for e in entries if e.split()[0] in ("start", "remove", "confirm")]  # noqa: E731
    assert engine.events == events and changes(engine.log) == changes(log)   # no pin recorded, nothing touched
    operations.rollback(state, engine, "web", runtime=engine.clock.runtime(), secrets=read)
    assert engine.images("web") == ["v1"] and [e.event for e in engine.events][-2:] == [Event.PINNED, Event.DEPLOYED]
    assert list(engine.secret_files.values()) == [{"db": b"old"}]   # the old commit's content


def test_an_update_also_restores_the_files_of_the_revision_it_may_go_back_to():
    engine = FakeEngine()
    read = lambda commit, spec: {"db": commit[:2].encode()}   # noqa: E731
    run(engine, with_secret("v1", "d1"), read)
    engine.secret_files.clear()                        # a reboot, then a new commit
    desired_state = DesiredState("shop", "c2" * 20, (with_secret("v2", "d2"),))
    the_plan = plan(desired_state, engine.observe("shop"), history=History(tuple(engine.events)))
    from gitdeploy.apply import deliver_secrets

    deliver_secrets(the_plan, engine, read)
    assert {key[2] for key in engine.secret_files} == {with_secret("v1", "d1").template_hash(),
                                                        with_secret("v2", "d2").template_hash()}


def test_a_sops_value_whose_type_was_edited_fails_without_showing_itself():
    text = SOPS.decode().replace("type:str]", "type:int]", 1)
    keyring = Keyring(str(FIXTURES / HELM_KEY))
    with pytest.raises(SecretError) as caught:
        keyring.open("g", HELM_FILE, text.encode(), "global_secret")
    assert "is not a valid int" in caught.value.message and "global_age" not in str(caught.value)
