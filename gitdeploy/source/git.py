"""Reading the committed manifests of a repository at a ref, with GitPython.

`--repo` may be a working tree, a subfolder of one (which then becomes the
manifest path), a bare repository, or a URL. URLs are mirrored once into a
cache folder and fetched incrementally afterwards. Only committed content is
read, straight from Git's object store: nothing is checked out.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
from pathlib import Path

from gitdeploy.errors import SourceError
from gitdeploy.source.tree import SourceFile, SourceTree

MANIFEST_SUFFIXES = (".yaml", ".yml")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@host:org/repo.git
_SYMLINK_MODE = 0o120000


def is_url(repo: str) -> bool:
    return "://" in repo or bool(_SCP_LIKE.match(repo))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitdeploy" / "repos"


def read_tree(repo: str, ref: str | None = None, path: str | None = None,
              cache_dir: Path | None = None) -> SourceTree:
    import git

    warnings: list[str] = []
    if is_url(repo):
        handle, prefix = _mirror(repo, cache_dir or default_cache_dir()), ""
        shown = _without_credentials(repo)
    else:
        handle, prefix = _open_local(repo)
        shown = repo
    if not handle.head.is_valid() and ref is None:
        raise SourceError(f"{shown} has no commits yet", hint="commit your manifests first, then run again")
    try:
        commit = handle.commit(ref or "HEAD")
    except (git.BadName, git.BadObject, ValueError):
        raise SourceError(
            f"ref '{ref}' not found in {shown}",
            hint="give a branch, tag or commit that exists there (git branch -a, git tag)",
        ) from None

    root = posixpath.normpath(posixpath.join(prefix, path or "")).strip("/")
    root = "" if root == "." else root
    if root.startswith(".."):
        raise SourceError(f"--path '{path}' points outside the repository")
    try:
        tree = commit.tree / root if root else commit.tree
    except KeyError:
        raise SourceError(
            f"path '{root}' does not exist at commit {commit.hexsha[:12]} of {shown}",
            hint="check --path (and that the folder is committed)",
        ) from None
    if tree.type != "tree":
        raise SourceError(f"path '{root}' is a file at commit {commit.hexsha[:12]}; --path takes a folder")

    files = []
    for item in tree.traverse():
        if item.type != "blob" or not item.name.endswith(MANIFEST_SUFFIXES):
            continue
        relative = item.path[len(root):].lstrip("/") if root else item.path
        if any(part.startswith(".") for part in relative.split("/")):
            continue  # .github/ and other hidden folders hold YAML that is not ours
        if item.mode == _SYMLINK_MODE:
            warnings.append(f"{item.path}: symbolic link skipped; commit the manifest itself")
            continue
        files.append(SourceFile(item.path, item.data_stream.read()))

    if not handle.bare and handle.is_dirty(untracked_files=True, path=root or None):
        warnings.append(
            f"uncommitted changes in {root or 'the working tree'} are ignored: "
            f"deploying the committed state of {commit.hexsha[:12]}"
        )
    return SourceTree(
        commit=commit.hexsha,
        ref=ref or _head_name(handle),
        root=root,
        files=tuple(sorted(files, key=lambda f: f.path)),
        warnings=tuple(warnings),
    )


def _open_local(repo: str):
    import git

    location = Path(repo).expanduser()
    if not location.is_dir():
        raise SourceError(f"--repo {repo}: no such directory", hint="give a local path to a Git repository, or a URL")
    try:
        handle = git.Repo(location, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise SourceError(
            f"{repo} is not inside a Git repository",
            hint="run `git init` and commit your manifests there, or pass --repo",
        ) from None
    if handle.bare:
        return handle, ""
    prefix = os.path.relpath(location.resolve(), Path(handle.working_tree_dir).resolve())
    return handle, "" if prefix == "." else prefix.replace(os.sep, "/")


def _mirror(url: str, cache_dir: Path):
    """A bare mirror of `url` in the cache, cloned once and then fetched."""
    import git
    from filelock import FileLock

    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16]
    with FileLock(str(target) + ".lock"):
        try:
            if (target / "HEAD").exists():
                handle = git.Repo(target)
                handle.git.fetch("--prune", "--quiet", "origin")
            else:
                handle = git.Repo.clone_from(url, target, mirror=True, quiet=True)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().splitlines()
            raise SourceError(
                f"cannot fetch {_without_credentials(url)}: {detail[-1] if detail else exc}",
                hint="check the URL and your access to it",
            ) from None
    return handle


def _head_name(handle) -> str:
    try:
        return handle.active_branch.name
    except TypeError:  # detached HEAD
        return handle.head.commit.hexsha[:12]


def _without_credentials(url: str) -> str:
    return re.sub(r"://[^/@]+@", "://", url)
