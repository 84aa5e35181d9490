"""Repositories someone else controls (issue 10, findings 4, 8 and 21): reading one runs none of its
programs, and a URL's credentials never reach the disk or the screen. Real git, on loopback."""
from __future__ import annotations

import base64
import functools
import subprocess
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from gitdeploy.errors import SourceError
from gitdeploy.source.git import read_tree, resolve
from tests.manifest_repo import ManifestRepo, git

TOKEN = "ghp_s3cr3tT0ken"


@pytest.fixture
def repo(tmp_path) -> ManifestRepo:
    r = ManifestRepo(tmp_path / "deploy", "shop")
    r.service("web")
    r.commit("first")
    return r


def booby_trap(repo: ManifestRepo, marker: Path) -> None:
    """Every way a repository's config or hooks could make `git` run a program on our behalf."""
    git(repo.root, "config", "core.fsmonitor", f"touch {marker}.fsmonitor; false")
    git(repo.root, "config", "filter.trap.clean", f"touch {marker}.filter; cat")
    git(repo.root, "config", "core.hooksPath", str(repo.root / "hooks"))
    (repo.root / ".gitattributes").write_text("*.yaml filter=trap\n")
    hooks = repo.root / "hooks"
    hooks.mkdir()
    for name in ("post-index-change", "post-checkout", "pre-auto-gc", "reference-transaction"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}.{name}\n")
        (hooks / name).chmod(0o755)
    git(repo.root, "update-index", "--really-refresh")   # the index is stale, so status would refresh it


def test_reading_a_repository_runs_none_of_its_programs(repo, tmp_path):
    marker = tmp_path / "ran"
    booby_trap(repo, marker)
    for leftover in tmp_path.glob("ran.*"):
        leftover.unlink()              # set-up itself may have run one
    (repo.dir / "services" / "web.yaml").write_text((repo.dir / "services" / "web.yaml").read_text() + "\n")
    tree = read_tree(str(repo.root))
    assert list(tmp_path.glob("ran.*")) == []
    assert tree.revision.warnings and "uncommitted changes" in tree.revision.warnings[0]


def test_a_clean_working_tree_gives_no_warning_and_a_subfolder_works(repo):
    assert resolve(str(repo.root)).warnings == ()
    assert resolve(str(repo.root / "services")).root == "services"


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/gitdeploy-pwned", "fd::17", "EXT::sh"])
def test_transports_that_run_programs_are_refused_by_name(url, tmp_path):
    with pytest.raises(SourceError, match=r"transport, which runs a program"):
        read_tree(url, cache_dir=tmp_path / "cache")
    assert not Path("/tmp/gitdeploy-pwned").exists()


@pytest.fixture
def http_repo(repo, tmp_path):
    """The repository served over http on loopback (git's dumb protocol), behind Basic auth."""
    bare = tmp_path / "served" / "shop.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.root), str(bare))
    git(bare, "update-server-info")
    expected = "Basic " + base64.b64encode(f"deploy:{TOKEN}".encode()).decode()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path / "served")))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/shop.git"
    server.shutdown()


def test_a_url_with_a_token_is_cloned_and_fetched_without_writing_the_token(http_repo, tmp_path):
    cache = tmp_path / "cache"
    url = http_repo.replace("http://", f"http://deploy:{TOKEN}@")
    assert read_tree(url, cache_dir=cache).files
    assert read_tree(url, cache_dir=cache).files           # the second time: a fetch
    written = subprocess.run(["grep", "-rl", TOKEN, str(cache)], capture_output=True, text=True).stdout
    assert written == ""


def test_a_failing_fetch_says_why_in_words_without_the_token(http_repo, tmp_path):
    url = http_repo.replace("http://", "http://deploy:wrong-" + TOKEN + "@")
    with pytest.raises(SourceError) as caught:
        read_tree(url, cache_dir=tmp_path / "cache")
    message = caught.value.message
    assert TOKEN not in message and "http://***@127.0.0.1" in message
    reason = message.split(": ", 1)[1]
    assert len(reason.strip("'\" ")) > 10, message    # a sentence, not a lone quote
