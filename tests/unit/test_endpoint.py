"""Which engine, decided as the docker CLI decides it (a context store written as the docker CLI writes it)."""
from __future__ import annotations

import hashlib
import json

import pytest

from gitdeploy.engine.endpoint import ContextNotFound, choose


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A DOCKER_CONFIG with a context `far` (ssh) and `tls` (tcp with TLS files), current context `far`."""
    for name, host in (("far", "ssh://deploy@far"), ("tls", "tcp://10.0.0.5:2376")):
        meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True)
        (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    tls = tmp_path / "contexts" / "tls" / hashlib.sha256(b"tls").hexdigest() / "docker"
    tls.mkdir(parents=True)
    (tls / "ca.pem").write_text("x")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "far"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("host, context, env, expected", [
    ("tcp://a:1", "far", {"DOCKER_HOST": "unix:///x"}, {"DOCKER_HOST": "tcp://a:1"}),   # --host wins
    (None, "far", {"DOCKER_HOST": "unix:///x"}, {"DOCKER_HOST": "ssh://deploy@far"}),     # then --context
    (None, None, {"DOCKER_HOST": "unix:///x", "DOCKER_CONTEXT": "tls"}, {}),              # then DOCKER_HOST
    (None, None, {"DOCKER_CONTEXT": "tls"}, None),                                         # then DOCKER_CONTEXT
    (None, None, {}, {"DOCKER_HOST": "ssh://deploy@far"}),                                 # then the current one
    (None, "default", {}, {}),                                                             # default: the socket
])
def test_the_engine_chosen(store, monkeypatch, host, context, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tls = {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(store / "contexts" / "tls" / hashlib.sha256(b"tls").hexdigest() / "docker")}
    assert choose(host, context) == (tls if expected is None else expected)


def test_an_unknown_context_names_the_known_ones(store):
    with pytest.raises(ContextNotFound) as caught:
        choose(None, "fra")
    assert caught.value.hint == "known contexts: far, tls (docker context ls)"
