"""The reconcile loop, pass by pass, on a real Git repository and the fake engine."""
from __future__ import annotations

import pytest

from gitdeploy import operations
from gitdeploy.watch import Watch
from tests.fake_engine import NEVER_READY, FakeEngine
from tests.manifest_repo import ManifestRepo

CHECK = {"exec": ["true"], "interval": "1s", "timeout": "1s"}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def repo(tmp_path) -> ManifestRepo:
    repo = ManifestRepo(tmp_path / "deploy", "shop")
    repo.service("web", image="v1", healthCheck=CHECK)
    repo.commit("web v1")
    return repo


def watch(repo: ManifestRepo, engine: FakeEngine, **options) -> tuple[Watch, list[str]]:
    lines: list[str] = []
    return Watch(operations.Source(str(repo.root)), lambda desired: engine, interval=1.0, log=lines.append,
                 progress=lambda s, m: None, runtime=engine.clock.runtime(), **options), lines


# (id, what changes between passes, words in the second pass's line)
CASES = [
    ("nothing changed: a no-op", lambda repo, engine: None, ["shop@", "noop"]),
    ("a new commit is rolled out", lambda repo, engine: (repo.service("web", image="v2", healthCheck=CHECK),
                                                         repo.commit("v2")), ["applied", "(web applied)"]),
    ("drift is repaired", lambda repo, engine: engine.replicas.clear(), ["applied", "(web applied)"]),
]


@pytest.mark.parametrize("change, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_second_pass(repo, webhook, change, words):
    engine = FakeEngine()
    loop, lines = watch(repo, engine, webhooks=(webhook.url,))
    assert loop.one_pass() is False and "applied" in lines[-1]
    change(repo, engine)
    loop.one_pass()
    assert all(word in lines[-1] for word in words), lines[-1]
    # A no-op is not news; every pass that did something is posted once.
    assert [d["result"] for d in webhook.bodies] == ["applied"] + (["applied"] if "applied" in words else [])


def test_a_failing_pass_is_logged_and_posted_once_per_commit_and_the_loop_goes_on(repo, webhook):
    (repo.root / "services" / "web.yaml").write_text("kind: [")
    repo.commit("broken")
    loop, lines = watch(repo, FakeEngine(), webhooks=(webhook.url,))
    loop.one_pass()
    loop.one_pass()
    assert "error: " in lines[-1] and [d["error"]["exitCode"] for d in webhook.bodies] == [1]
    (repo.root / "services" / "web.yaml").write_text("kind: [[")
    repo.commit("broken differently")
    loop.one_pass()
    loop.one_pass()
    assert len(webhook.received) == 2


def test_a_bug_in_one_pass_is_logged_and_the_next_pass_runs(repo):
    class Flaky(FakeEngine):
        def observe(self, project):
            if not self.log:
                self.log.append("boom")
                raise RuntimeError("engine adapter bug")
            return super().observe(project)

    loop, lines = watch(repo, Flaky())
    assert loop.one_pass() is False
    assert "error: internal error: RuntimeError: engine adapter bug" in lines[-1]
    loop.one_pass()
    assert "applied" in lines[-1]


def test_a_newer_commit_preempts_a_rollout_stuck_on_health(repo):
    engine = FakeEngine(behaviours={"v2": NEVER_READY})
    loop, lines = watch(repo, engine)
    loop.one_pass()
    repo.service("web", image="v2", healthCheck=CHECK)
    repo.commit("v2: never ready")
    fix = []
    engine.on_start = lambda name: fix or fix.append(
        (repo.service("web", image="v3", healthCheck=CHECK), repo.commit("v3: the fix")))
    assert loop.one_pass() is True, lines   # the next pass starts at once
    assert "rolled_back" in lines[-1]
    assert engine.images("web") == ["v1"]
    loop.one_pass()
    assert engine.images("web") == ["v3"]


def test_json_documents_go_to_emit_and_stop_ends_the_loop(repo):
    documents: list[dict] = []
    loop, lines = watch(repo, FakeEngine(), emit=documents.append)
    loop.stop.set()
    loop.run()
    assert lines[0].startswith("watching ") and lines[-1] == "stopped" and documents == []
    loop.one_pass()
    assert documents[0]["result"] == "applied" and documents[0]["services"][0]["outcome"] == "applied"


@pytest.mark.parametrize("failed_passes, intervals", [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (9, 8)])
def test_failed_passes_back_off(failed_passes, intervals):
    from gitdeploy.watch import intervals_to_wait

    assert intervals_to_wait(failed_passes) == intervals


class CountingStop:
    """The watch's stop flag, never set; records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False

    def is_set(self) -> bool:
        return False


def test_a_backing_off_watch_starts_at_once_when_a_new_commit_lands(repo):
    engine = FakeEngine(refuse_start={"v2": "no space left on device"})
    repo.service("web", image="v2", healthCheck=CHECK)
    repo.commit("v2")
    loop, lines = watch(repo, engine)
    loop.stop = CountingStop()
    for _ in range(3):
        loop.one_pass()
    assert loop.failed_passes == 3 and "failed" in lines[-1]
    loop._rest()                         # 4 intervals: no new commit
    assert loop.stop.waits == [1.0] * 4 and "3 failed passes in a row: next pass in 4s" in lines[-1]
    repo.service("web", image="v3", healthCheck=CHECK)
    repo.commit("v3")
    loop.stop.waits.clear()
    loop._rest()                         # the new commit ends the wait after one interval
    assert loop.stop.waits == [1.0]
    engine.refuse_start.clear()
    loop.one_pass()
    assert loop.failed_passes == 0


def test_a_broken_commit_backs_off_until_the_next_commit(repo):
    """An errored pass (here: a manifest that does not parse) reads no commit of its own: the watch waits on
    the commit it found, so the backoff holds until a new one lands."""
    (repo.root / "services" / "web.yaml").write_text("kind: [")
    repo.commit("broken")
    loop, lines = watch(repo, FakeEngine())
    loop.stop = CountingStop()
    for _ in range(3):
        loop.one_pass()
    loop._rest()
    assert loop.stop.waits == [1.0] * 4
    repo.service("web", image="v1", healthCheck=CHECK)
    repo.commit("fixed")
    loop.stop.waits.clear()
    loop._rest()
    assert loop.stop.waits == [1.0]


def test_an_unsigned_commit_is_refused_once_per_commit_without_backing_off(repo, webhook, tmp_path):
    import json

    allowed = tmp_path / "allowed_signers"
    allowed.write_text("")   # nobody: every commit is refused
    policy = tmp_path / "policy.yaml"
    policy.write_text(json.dumps({"apiVersion": "gitdeploy/v1", "kind": "Policy",
                                  "signatures": {"required": True, "allowedSigners": str(allowed)}}))
    engine = FakeEngine()
    loop, lines = watch(repo, engine, webhooks=(webhook.url,), policy_file=str(policy))
    for _ in range(3):
        loop.one_pass()
    refusals = [line for line in lines if "is not signed" in line]
    assert len(refusals) == 1 and loop.failed_passes == 0
    assert engine.replicas == {}, "nothing of it was deployed"
    (posted,) = [d["error"]["message"] for d in webhook.bodies]
    assert posted.endswith("is not signed; only commits signed by a trusted key deploy here") and posted in refusals[0]
