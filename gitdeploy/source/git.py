"""Reading the committed manifests of a repository at a ref.

`--repo` may be a working tree, a subfolder of one (which then becomes the
manifest path), a bare repository, or a URL. URLs are mirrored once into a
cache folder and fetched incrementally afterwards. Only committed content is
read, straight from Git's object store: nothing is checked out.

Two steps, because the second is often unnecessary: `resolve` turns the
options into a commit with a few cheap `git` calls; `read_files` reads that
commit's manifests with GitPython, and is skipped when the validated result for
that commit is already cached (manifests/cache.py).

Reading a repository someone else controls runs no program it configures:
every `git` call gets `SAFE_CONFIG` (no fsmonitor, no hooks, no `ext::`/`fd::`
transports) and no prompt, and the check for uncommitted edits compares blob
hashes in Python instead of running `git status` (which would run the
repository's fsmonitor, filters and hooks). Credentials in a URL never reach
the disk: the mirror is cloned from the URL without them, and they are handed
to git for each fetch in its environment.

Replacement objects (`refs/replace/`, `git replace`) are switched off for every
git process of gitdeploy (GIT_NO_REPLACE_OBJECTS, set by `resolve`): a pushed
replace ref would otherwise swap the tree of a signed commit for another one
while its signature still checks out (source/signatures.py).

Known limit: a local repository whose own `.git/config` someone else can write
may declare a partial clone (`extensions.partialClone`) whose lazy fetch runs
its `uploadpack` program; git 2.45's GIT_NO_LAZY_FETCH would close it.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import subprocess
import urllib.parse
from pathlib import Path

from gitdeploy.core.redact import redact, split_credentials
from gitdeploy.errors import SourceError
from gitdeploy.core.revision import MANIFEST_SUFFIXES, MAX_DATA_FILE, Revision, SourceFile, SourceTree

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
    # For this process and every git it starts (GitPython's too): what is read is what is committed.
    os.environ["GIT_NO_REPLACE_OBJECTS"] = "1"
    if ref is not None and (not ref or ref.startswith("-")):
        raise SourceError(f"--ref '{ref}' is not a ref", hint="give a branch, tag or commit")
    transport = _TRANSPORT.match(repo)
    if transport and transport.group(1).lower() not in ("http", "https", "ssh", "git", "file"):
        raise SourceError(f"--repo uses git's '{transport.group(1)}::' transport, which runs a program; "
                          "gitdeploy refuses it", hint="give a local path or an https://, ssh:// or file:// URL")
    if is_url(repo):
        location, shown = _mirror(repo, cache_dir or default_cache_dir()), _without_credentials(repo)
    else:
        location, shown = Path(repo).expanduser(), repo
        if not location.is_dir():
            raise SourceError(f"--repo {repo}: no such directory", hint="give a local path to a Git repository, or a URL")

    answer = _git(location, "rev-parse", "--is-bare-repository", "--show-prefix", "--show-cdup",
                  f"{ref or 'HEAD'}^{{commit}}", "--")
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
    lines = answer.stdout.splitlines() + [""] * 4
    bare = lines[0]
    # --show-cdup prints no line at all in a bare repository.
    prefix, cdup, commit = (lines[1], "", lines[2]) if bare == "true" else (lines[1], lines[2], lines[3])

    root = posixpath.normpath(posixpath.join(prefix, path or "")).strip("/")
    root = "" if root == "." else root
    if root.startswith(".."):
        raise SourceError(f"--path '{path}' points outside the repository")

    warnings = []
    if bare != "true":
        if _uncommitted_manifests(location / cdup, commit, root):
            warnings.append(f"uncommitted changes in {root or 'the working tree'} are ignored: "
                            f"deploying the committed state of {commit[:12]}")
    if ref is None:
        branch = _git(location, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip()
        shown_ref = branch or commit[:12]
    else:
        shown_ref = ref
    return Revision(commit=commit, ref=shown_ref, root=root, location=str(location), warnings=tuple(warnings))


def read_files(revision: Revision) -> tuple[SourceFile, ...]:
    """Every file under the revision's root (manifests, and files they may reference), read from the object store.

    Hidden folders are skipped; a file that is no manifest is read only up to
    MAX_DATA_FILE bytes, and a symbolic link only if it is no manifest (then skipped).
    """
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
        if item.type != "blob":
            continue
        relative = item.path[len(root):].lstrip("/") if root else item.path
        if any(part.startswith(".") for part in relative.split("/")):
            continue  # .github/ and other hidden folders hold YAML that is not ours
        manifest = item.name.endswith(MANIFEST_SUFFIXES)
        if item.mode == _SYMLINK_MODE:
            if manifest:
                raise SourceError(f"{item.path} is a symbolic link", hint="commit the manifest itself, not a link to it")
            continue
        if not manifest and item.size > MAX_DATA_FILE:
            continue
        files.append(SourceFile(item.path, item.data_stream.read()))
    return tuple(sorted(files, key=lambda f: f.path))


def read_file_at(revision: Revision, commit: str, path: str) -> bytes | None:
    """One file of the revision's repository as committed at `commit` (an earlier revision's), or None
    when that commit or file is not there (a rewritten history, a moved file)."""
    import git
    import gitdb.exc

    repo = git.Repo(revision.location, search_parent_directories=True)
    try:
        item = repo.commit(commit).tree / path
    except (KeyError, ValueError, gitdb.exc.BadName, gitdb.exc.BadObject):
        return None
    return item.data_stream.read() if item.type == "blob" and item.mode != _SYMLINK_MODE else None


# Options for every git call: whatever the repository's own config says, run none of its programs.
SAFE_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never",
               "-c", "protocol.fd.allow=never", "-c", "core.askPass=", "-c", "credential.interactive=false")
_TRANSPORT = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")


def _git(location: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *SAFE_CONFIG, "-C", str(location), *args], capture_output=True, text=True,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})})
    except FileNotFoundError:
        raise SourceError("git is not installed", hint="install it (apt-get install git)") from None


def _uncommitted_manifests(top: Path, commit: str, root: str) -> bool:
    """Whether a manifest under `root` in the working tree differs from `commit`: by blob hash, in Python."""
    listed = _git(top, "ls-tree", "-r", "-z", commit, "--", root or ".")
    committed = {}
    for entry in listed.stdout.split("\0"):
        if "\t" in entry:
            meta, path = entry.split("\t", 1)
            committed[path] = meta.split()[2]
    base = top / root if root else top
    found = {}
    for file in base.rglob("*"):
        relative = file.relative_to(top).as_posix()
        inside = file.relative_to(base).as_posix()
        if file.suffix in MANIFEST_SUFFIXES and file.is_file() and not file.is_symlink() \
                and not any(part.startswith(".") for part in inside.split("/")):
            data = file.read_bytes()
            found[relative] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    wanted = {p: h for p, h in committed.items() if p.endswith(MANIFEST_SUFFIXES)
              and not any(part.startswith(".") for part in (p[len(root):].lstrip("/") if root else p).split("/"))}
    return found != wanted


def _mirror(url: str, cache_dir: Path) -> Path:
    """A bare mirror of `url` in the cache, cloned once and then fetched."""
    from filelock import FileLock

    clean, env = _credentials_apart(url)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16]
    with FileLock(str(target) + ".lock"):
        if (target / "HEAD").exists():
            # A mirror made by an older gitdeploy may hold the URL with its credentials: rewrite it.
            _git(target, "config", "remote.origin.url", clean)
            done = _git(target, "fetch", "--prune", "--quiet", "origin", env=env)
        else:
            done = _git(cache_dir, "clone", "--mirror", "--quiet", "--", clean, str(target), env=env)
        if done.returncode != 0:
            reasons = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            raise SourceError(
                f"cannot fetch {_without_credentials(url)}: {redact(reasons[-1]) if reasons else 'git failed'}",
                hint="check the URL and your access to it",
            )
    return target


def _credentials_apart(url: str) -> tuple[str, dict[str, str]]:
    """The URL without `user:token@`, and the environment that gives git the credentials for one run.

    Only http(s) carries credentials this way (a Basic Authorization header);
    for ssh the user name stays in the URL and keys authenticate.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return url, {}
    try:
        clean, authorization = split_credentials(url)
    except ValueError:
        raise SourceError(f"--repo {_without_credentials(url)} is not a valid URL (its port is not a number)") from None
    if authorization is None:
        return url, {}
    return clean, {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                   "GIT_CONFIG_VALUE_0": f"Authorization: {authorization}"}


def _without_credentials(url: str) -> str:
    return redact(url)
