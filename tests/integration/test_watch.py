"""Unattended use: `gitdeploy watch` against a remote, webhooks. Real engine, real git remote."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.integration.conftest import containers, gitdeploy, ids
from tests.manifest_repo import git


def until(condition, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def running_images(api, project):
    return sorted(c["Image"] for c in containers(api, project, "web") if c["State"] == "running")


class Remote:
    """A bare repository that the user's clone pushes to, watched over file://."""

    def __init__(self, repo, tmp_path):
        self.repo, self.bare = repo, tmp_path / "origin.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.bare))

    def push(self, **service):
        self.repo.service("web", **service)
        self.repo.commit()
        git(self.repo.root, "push", "-q", str(self.bare), "main")


def start_watch(remote, tmp_path, *args):
    log = open(tmp_path / "watch.log", "w")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "gitdeploy", "watch", "--repo", f"file://{remote.bare}",
                                "--interval", "1s", *args], stdout=subprocess.DEVNULL, stderr=log, env=env)
    return process, tmp_path / "watch.log"


def test_watch_follows_the_remote_heals_drift_and_stops_cleanly(api, project, repo, tmp_path):
    remote = Remote(repo, tmp_path)
    remote.push(replicas=1)
    watcher, log = start_watch(remote, tmp_path)
    try:
        until(lambda: len(running_images(api, project)) == 1, what="first deploy")
        remote.push(replicas=2)
        until(lambda: len(running_images(api, project)) == 2, what="the new commit")

        victim = ids(api, project, "web")[0]
        api.remove_container(victim, force=True)
        until(lambda: len(running_images(api, project)) == 2 and victim not in ids(api, project, "web"),
              what="healing the removed replica")
        until(lambda: " noop in " in log.read_text(), what="a pass with nothing to do")
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=60)
    lines = log.read_text().splitlines()
    assert code == 0, lines
    assert lines[-1] == "stopped"
    assert any(" applied in " in line for line in lines) and any(" noop in " in line for line in lines)


def test_a_newer_commit_preempts_a_rollout_stuck_waiting_for_health(api, project, repo, tmp_path):
    remote = Remote(repo, tmp_path)
    remote.push(image="gitdeploy-test/app:v1")
    watcher, log = start_watch(remote, tmp_path)
    try:
        until(lambda: running_images(api, project) == ["gitdeploy-test/app:v1"], what="v1")
        # v3 never passes this check but is allowed to try for ten minutes: stuck.
        stuck = {"http": {"port": 80, "path": "/healthz"}, "interval": "1s", "retries": 1000}
        remote.push(image="gitdeploy-test/app:v3", healthCheck=stuck, update={"progressDeadline": "10m"})
        until(lambda: "gitdeploy-test/app:v3" in running_images(api, project), what="the stuck rollout")
        remote.push(image="gitdeploy-test/app:v2")
        until(lambda: running_images(api, project) == ["gitdeploy-test/app:v2"], timeout=90, what="the fix")
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=60)
    assert "landed while it waited" in log.read_text()


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhooks_hear_about_changes_and_a_dead_one_fails_nothing(api, project, repo):
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.received = []
    try:
        repo.service("web")
        repo.commit()
        url = f"http://127.0.0.1:{server.server_port}/hook"
        result = gitdeploy("sync", "--repo", str(repo.root), "--notify-webhook", url,
                           "--notify-webhook", "http://127.0.0.1:9/nobody-listens")
        assert result.returncode == 0, result.stderr
        assert "webhook http://127.0.0.1:9/nobody-listens failed" in result.stderr
        (event,) = Hook.received
        assert (event["project"], event["result"]) == (project, "applied")
        assert event["services"][0]["outcome"] == "applied"

        assert gitdeploy("sync", "--repo", str(repo.root), "--notify-webhook", url).returncode == 0
        assert len(Hook.received) == 1   # a no-op is not news
    finally:
        server.shutdown()
