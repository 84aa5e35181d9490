"""Reading the committed manifests of a repository at a ref.

`--repo` may be a working tree, a subfolder of one (which then becomes the
manifest path), a bare repository, or a URL. URLs are mirrored once into a
cache folder and fetched incrementally afterwards. Only committed content is
read, straight from Git's object store: nothing is checked out.

Two steps, because the second is often unnecessary: `resolve` turns the
options into a commit with a few cheap `git` calls; `read_files` reads that
commit's manifests with GitPython, and is skipped when the validated result for
that commit is already cached (manifests/cache.py).
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import subprocess
from pathlib import Path

from gitdeploy.errors import SourceError
from gitdeploy.core.revision import Revision, SourceFile, SourceTree

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
    revision = resolve(repo, ref, path, cache_dir)
    return SourceTree(revision, read_files(revision))


def resolve(repo: str, ref: str | None = None, path: str | None = None,
            cache_dir: Path | None = None) -> Revision:
    if ref is not None and (not ref or ref.startswith("-")):
        raise SourceError(f"--ref '{ref}' is not a ref", hint="give a branch, tag or commit")
    if is_url(repo):
        location, shown = _mirror(repo, cache_dir or default_cache_dir()), _without_credentials(repo)
    else:
        location, shown = Path(repo).expanduser(), repo
        if not location.is_dir():
            raise SourceError(f"--repo {repo}: no such directory", hint="give a local path to a Git repository, or a URL")

    answer = _git(location, "rev-parse", "--is-bare-repository", "--show-prefix", f"{ref or 'HEAD'}^{{commit}}", "--")
    if answer.returncode != 0:
        if "not a git repository" in answer.stderr:
            raise SourceError(f"{repo} is not inside a Git repository",
                              hint="run `git init` and commit your manifests there, or pass --repo")
        if ref is None:
            branches = _git(location, "for-each-ref", "--count=5", "--format=%(refname:short)", "refs/heads").stdout.split()
            if branches:
                head = _git(location, "symbolic-ref", "-q", "HEAD").stdout.strip() or "HEAD"
                raise SourceError(f"the default branch of {shown} ({head}) does not exist",
                                  hint=f"give --ref, e.g. --ref {branches[0]} (branches: {', '.join(branches)})")
            raise SourceError(f"{shown} has no commits yet", hint="commit your manifests first, then run again")
        raise SourceError(f"ref '{ref}' not found in {shown}",
                          hint="give a branch, tag or commit that exists there (git branch -a, git tag)")
    bare, prefix, commit = (answer.stdout.splitlines() + ["", "", ""])[:3]

    root = posixpath.normpath(posixpath.join(prefix, path or "")).strip("/")
    root = "" if root == "." else root
    if root.startswith(".."):
        raise SourceError(f"--path '{path}' points outside the repository")

    warnings = []
    if bare != "true":
        dirty = _git(location, "status", "--porcelain", "--untracked-files=normal", "--", f":/{root}")
        if dirty.stdout.strip():
            warnings.append(f"uncommitted changes in {root or 'the working tree'} are ignored: "
                            f"deploying the committed state of {commit[:12]}")
    if ref is None:
        branch = _git(location, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip()
        shown_ref = branch or commit[:12]
    else:
        shown_ref = ref
    return Revision(commit=commit, ref=shown_ref, root=root, location=str(location), warnings=tuple(warnings))


def read_files(revision: Revision) -> tuple[SourceFile, ...]:
    """Every manifest under the revision's root, read from the object store."""
    import git

    commit = git.Repo(revision.location, search_parent_directories=True).commit(revision.commit)
    root = revision.root
    try:
        tree = commit.tree / root if root else commit.tree
    except KeyError:
        raise SourceError(
            f"path '{root}' does not exist at commit {revision.short_commit}",
            hint="check --path (and that the folder is committed)",
        ) from None
    if tree.type != "tree":
        raise SourceError(f"path '{root}' is a file at commit {revision.short_commit}; --path takes a folder")

    files = []
    for item in tree.traverse():
        if item.type != "blob" or not item.name.endswith(MANIFEST_SUFFIXES):
            continue
        relative = item.path[len(root):].lstrip("/") if root else item.path
        if any(part.startswith(".") for part in relative.split("/")):
            continue  # .github/ and other hidden folders hold YAML that is not ours
        if item.mode == _SYMLINK_MODE:
            raise SourceError(f"{item.path} is a symbolic link", hint="commit the manifest itself, not a link to it")
        files.append(SourceFile(item.path, item.data_stream.read()))
    return tuple(sorted(files, key=lambda f: f.path))


def _git(location: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(location), *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise SourceError("git is not installed", hint="install it (apt-get install git)") from None


def _mirror(url: str, cache_dir: Path) -> Path:
    """A bare mirror of `url` in the cache, cloned once and then fetched."""
    import git
    from filelock import FileLock

    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16]
    with FileLock(str(target) + ".lock"):
        try:
            if (target / "HEAD").exists():
                git.Repo(target).git.fetch("--prune", "--quiet", "origin")
            else:
                git.Repo.clone_from(url, target, mirror=True, quiet=True)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().splitlines()
            raise SourceError(
                f"cannot fetch {_without_credentials(url)}: {detail[-1] if detail else exc}",
                hint="check the URL and your access to it",
            ) from None
    return target


def _without_credentials(url: str) -> str:
    return re.sub(r"://[^/@]+@", "://", url)
