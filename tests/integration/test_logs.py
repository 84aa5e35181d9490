"""`gitdeploy logs` on a real engine: every replica's output, prefixed by replica, as compose users expect."""
from __future__ import annotations

import json

from tests.integration.conftest import gitdeploy


def test_logs_of_every_replica_prefixed_by_replica(api, project, repo):
    repo.service("web", replicas=2, command=["sh", "-c", "echo hello from $(hostname); printf 'bell\\a\\n';"
                                                         " exec httpd -f -p 80 -h /www"])
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    shown = gitdeploy("logs", "web", "--repo", str(repo.root))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "web-1 | hello from web-1" in lines and "web-2 | hello from web-2" in lines
    assert "web-1 | bell\\x07" in lines                       # a control character is shown, not sent
    as_json = [json.loads(line) for line in gitdeploy("logs", "web", "-n", "1", "--repo", str(repo.root), "-o",
                                                      "json").stdout.splitlines()]
    assert [(d["replica"], d["line"]) for d in as_json] == [("web-1", "bell\x07"), ("web-2", "bell\x07")]
    unknown = gitdeploy("logs", "wbe", "--repo", str(repo.root))
    assert unknown.returncode == 1 and "did you mean 'web'?" in unknown.stderr
