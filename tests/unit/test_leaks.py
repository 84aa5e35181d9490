"""Nothing gitdeploy prints, writes as JSON, posts or records carries a credential, a damaged label's
content, or a raw terminal escape (issue 10, findings 1, 4 and 5)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gitdeploy import notify
from gitdeploy.core.history import Event, RevisionEvent
from gitdeploy.core.model import DesiredState, ServiceSpec
from gitdeploy.core.observed import ObservedState
from gitdeploy.core.plan import UNRECOGNISED, ServiceAction, plan
from gitdeploy.core.redact import redact
from gitdeploy.core.results import Outcome, ServiceResult, SyncResult
from gitdeploy.core.revision import Revision
from gitdeploy.output import console, jsonout, text
from gitdeploy.output.safe import plain
from tests.unit.test_plan import running

SECRET = "s3cr3t-T0KEN"
WEB = ServiceSpec("web", "shop/web:1", env=(("PASSWORD", SECRET),))
REVISION = Revision("ab" * 20, "main", "", ".")


def damaged(template_json: str):
    return replace(running(WEB, 1), template_json=template_json)


# (id, what the template label says instead of the template)
DAMAGE = [
    ("not JSON", '{"env": {"PASSWORD": "%s"' % SECRET),
    ("JSON of another shape", json.dumps({"environment": {"PASSWORD": SECRET}, "image": "x"})),
    ("env as a list", json.dumps({"image": "x", "env": [f"PASSWORD={SECRET}"]})),
    ("a valid template of another hash", ServiceSpec("web", "x", env=(("K", SECRET),)).template_json()),
    ("a string", json.dumps(f"PASSWORD={SECRET}")),
]


@pytest.mark.parametrize("label", [d[1] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_damaged_template_label_is_named_replaced_and_never_shown(label, capsys):
    replica = damaged(label)
    assert not replica.recognised
    the_plan = plan(DesiredState("shop", "c", (WEB,)), ObservedState("shop", (replica,)))
    (web,) = the_plan.services
    assert web.action is ServiceAction.REPAIR   # drift to repair: the manifest did not change
    assert [s.reason for s in web.steps] == [UNRECOGNISED, "replaces an unrecognised replica"]
    document = jsonout.dumps(jsonout.plan(REVISION, the_plan))
    console.stdout.cache_clear()
    text.plan(REVISION, the_plan)
    console.stdout.cache_clear()
    shown = capsys.readouterr().out
    assert SECRET not in document and SECRET not in shown
    assert replica.name in json.loads(document)["services"][0]["steps"][0]["replica"]


def test_an_intact_label_is_recognised():
    assert running(WEB, 1).recognised


# (id, text, what remains)
REDACT = [
    ("userinfo", "cannot fetch https://bob:ghp_abc123@github.example/x.git", "cannot fetch https://***@github.example/x.git"),
    ("token only", "https://ghp_abc123@host/x", "https://***@host/x"),
    ("ssh", "ssh://git:pw@host:22/x", "ssh://***@host:22/x"),
    ("query token", "https://hooks.example/h?token=abc123&x=1", "https://hooks.example/h?token=***&x=1"),
    ("query signature", "https://b.example/o?X-Amz-Signature=abc123", "https://b.example/o?X-Amz-Signature=***"),
    ("two in one line", "a https://u:abc123@h/ b http://h/?access_token=abc123", "a https://***@h/ b http://h/?access_token=***"),
    ("no URL", "email bob@example.com", "email bob@example.com"),
    ("an @ in the password", "https://user:p@abc123@host/r", "https://***@host/r"),
    ("a token in the fragment", "https://h/cb#access_token=abc123", "https://h/cb#access_token=***"),
]


@pytest.mark.parametrize("before, after", [r[1:] for r in REDACT], ids=[r[0] for r in REDACT])
def test_credentials_are_masked(before, after):
    assert redact(before) == after
    assert "abc123" not in plain(before)


def test_json_documents_and_history_records_are_redacted():
    document = {"error": {"message": "cannot fetch https://bob:abc123@h/x", "hint": None}, "x": ["?token=abc123"]}
    assert "abc123" not in jsonout.dumps(document)
    event = RevisionEvent.of_rollout(WEB, 1, Event.ROLLED_BACK, "c", 0.0, "probe https://u:abc123@h/ failed")
    assert "abc123" not in event.message


# (id, text with escapes, what is printed)
ESCAPES = [
    ("ANSI colour", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("OSC title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("C1 CSI", "\x9b2J", "\\x9b2J"),
    ("NUL and DEL", "a\x00b\x7f", "a\\x00b\\x7f"),
    ("newlines and tabs stay", "line 1\n\tline 2", "line 1\n\tline 2"),
    ("carriage return", "ok\rFAKE", "ok\\x0dFAKE"),
]


@pytest.mark.parametrize("raw, printed", [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_control_characters_are_printed_visibly(raw, printed):
    assert plain(raw) == printed


def test_a_sync_result_with_escapes_in_logs_prints_none_raw(capsys):
    result = SyncResult("shop", "c" * 40, (ServiceResult(
        "web", ServiceAction.UPDATE, Outcome.ROLLED_BACK, "replica \x1b]52;c;cHduZWQ=\x07 exited",
        "last log lines:\n\x1b[2J\x9b31mboom"),))
    console.stdout.cache_clear()
    text.sync_result(result)
    console.stdout.cache_clear()
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\x1b\x07\x9b")
    assert "\\x1b]52;c;cHduZWQ=\\x07" in out
    assert "\\u009b" in jsonout.dumps({"detail": "\x9b"}) and "\x9b" not in jsonout.dumps({"detail": "\x9b"})


def test_a_webhook_url_with_userinfo_authenticates_and_never_shows_its_token(webhook):
    port, got = webhook.port, webhook.received
    warnings: list[str] = []
    document = {"result": "applied", "repo": "https://bob:abc123@git.example/x.git"}
    notify.tell([f"http://hook:abc123@127.0.0.1:{port}/h"], document, warnings.append)
    (body, authorization), = got
    assert authorization == "Basic aG9vazphYmMxMjM="    # hook:abc123
    assert "abc123" not in json.dumps(body) and warnings == []
    notify.tell([f"http://hook:abc123@127.0.0.1:1/h?token=abc123"], document, warnings.append)
    assert len(warnings) == 1 and "abc123" not in warnings[0]
    notify.tell(["https://u:abc123@hook:8o8/x", "http://[::1/x"], document, warnings.append)   # malformed: warned
    assert len(warnings) == 3 and not any("abc123" in w for w in warnings)


def test_tracebacks_with_verbose_are_redacted(capsys):
    from gitdeploy.cli.options import OutputFormat, rendered_errors
    from gitdeploy.errors import SourceError

    with pytest.raises(Exception):
        with rendered_errors(OutputFormat.TEXT, verbose=True):
            raise SourceError("cannot fetch https://bob:abc123@h/x.git")
    assert "abc123" not in capsys.readouterr().err



def test_a_usage_error_does_not_echo_escapes():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "gitdeploy", "sync", "--bogus\x1b]0;pwned\x07"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "--bogus\\x1b]0;pwned\\x07" in result.stderr
