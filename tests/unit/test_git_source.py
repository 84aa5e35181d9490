"""Reading committed manifests from real Git repositories (git, no engine)."""
from __future__ import annotations

import pytest

from gitdeploy.errors import SourceError
from gitdeploy.source.git import read_tree
from tests.manifest_repo import ManifestRepo, git


@pytest.fixture
def repo(tmp_path):
    r = ManifestRepo(tmp_path / "deploy", "shop")
    r.service("web")
    r.commit("first")
    return r


def names(tree):
    return [f.path for f in tree.files]


def test_reads_the_committed_state_and_warns_about_uncommitted_edits(repo):
    first = git(repo.root, "rev-parse", "HEAD")
    repo.service("api")  # written, not committed
    tree = read_tree(str(repo.root))
    assert tree.revision.commit == first and tree.revision.ref == "main"
    assert names(tree) == ["gitdeploy.yaml", "services/web.yaml"]
    assert tree.revision.warnings == (f"uncommitted changes in the working tree are ignored: deploying the committed state of {first[:12]}",)


def test_subfolder_of_a_working_tree_becomes_the_path(tmp_path):
    r = ManifestRepo(tmp_path / "mono", "shop", subdir="deploy/prod")
    r.service("web")
    (r.root / "ci.yaml").write_text("not: a manifest\n")
    (r.dir / ".github").mkdir()
    (r.dir / ".github" / "ci.yml").write_text("hidden folders are skipped\n")
    r.commit()
    tree = read_tree(str(r.dir))
    assert tree.revision.root == "deploy/prod"
    assert names(tree) == ["deploy/prod/gitdeploy.yaml", "deploy/prod/services/web.yaml"]
    assert names(read_tree(str(r.root), path="deploy/prod")) == names(tree)


def test_pinned_ref_tag_and_sha(repo):
    first = git(repo.root, "rev-parse", "HEAD")
    git(repo.root, "tag", "v1")
    repo.service("api")
    second = repo.commit("second")
    assert read_tree(str(repo.root)).revision.commit == second
    assert read_tree(str(repo.root), ref="v1").revision.commit == first
    assert read_tree(str(repo.root), ref=first[:10]).revision.commit == first
    assert len(read_tree(str(repo.root), ref="v1").files) == 2


def test_bare_repo_and_file_url_with_incremental_fetch(repo, tmp_path):
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo.root), str(bare))
    assert read_tree(str(bare)).revision.commit == git(repo.root, "rev-parse", "HEAD")

    cache = tmp_path / "cache"
    url = f"file://{bare}"
    assert read_tree(url, cache_dir=cache).revision.ref == "main"
    repo.service("api")
    new = repo.commit("second")
    git(repo.root, "push", "-q", str(bare), "main")
    mirrors = list(cache.glob("*/HEAD"))
    assert len(mirrors) == 1  # cached once, fetched afterwards: not cloned again
    assert read_tree(url, cache_dir=cache).revision.commit == new
    assert list(cache.glob("*/HEAD")) == mirrors


@pytest.mark.parametrize("kwargs, message", [
    ({"ref": "nope"}, "ref 'nope' not found in {root}"),
    ({"path": "missing"}, "path 'missing' does not exist at commit"),
    ({"path": "../.."}, "--path '../..' points outside the repository"),
])
def test_bad_ref_and_path(repo, kwargs, message):
    with pytest.raises(SourceError, match=message.format(root=repo.root)):
        read_tree(str(repo.root), **kwargs)


def test_not_a_repo_empty_repo_and_bad_url(tmp_path):
    with pytest.raises(SourceError, match="is not inside a Git repository"):
        read_tree(str(tmp_path))
    with pytest.raises(SourceError, match="no such directory"):
        read_tree(str(tmp_path / "nowhere"))
    git(tmp_path, "init", "-q", "empty")
    with pytest.raises(SourceError, match="has no commits yet"):
        read_tree(str(tmp_path / "empty"))
    with pytest.raises(SourceError, match="cannot fetch file:///nonexistent/repo.git"):
        read_tree("file:///nonexistent/repo.git", cache_dir=tmp_path / "cache")


def test_a_remote_whose_default_branch_does_not_exist_says_so(repo, tmp_path):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "trunk", str(bare))
    git(repo.root, "push", "-q", str(bare), "main")
    with pytest.raises(SourceError, match=r"the default branch of .* \(refs/heads/trunk\) does not exist") as caught:
        read_tree(f"file://{bare}", cache_dir=tmp_path / "cache")
    assert caught.value.hint == "give --ref, e.g. --ref main (branches: main)"


def test_a_commit_declaring_no_service_is_refused_unless_allowed(repo, tmp_path, monkeypatch):
    from gitdeploy import operations

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo.remove("web")
    repo.commit("all gone")
    for attempt in (1, 2):   # the second time from the cache: still refused
        with pytest.raises(SourceError, match="no Service or Job manifests under the repository root"):
            operations.read_desired(operations.Source(str(repo.root)))
    _, desired = operations.read_desired(operations.Source(str(repo.root)), allow_empty=True)
    assert desired.services == () and desired.project == "shop"
