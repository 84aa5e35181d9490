"""Secret files on this machine: only ever in memory, in a folder closed to others, removed when unused."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdeploy.core.model import SecretFile, ServiceSpec
from gitdeploy.engine.secret_files import ROOT_ENV, SecretFiles, file_system_of
from gitdeploy.errors import SecretError

SHM = Path("/dev/shm")
needs_shm = pytest.mark.skipif(file_system_of(SHM) != "tmpfs", reason="no tmpfs at /dev/shm")
SPEC = ServiceSpec("web", "a", secrets=(SecretFile("db", "db.age", mode=0o400), SecretFile("api", "app.sops.yaml")))


@pytest.fixture
def in_memory(tmp_path, monkeypatch):
    folder = SHM / f"gitdeploy-unit-{os.getpid()}-{tmp_path.name}"
    monkeypatch.setenv(ROOT_ENV, str(folder))
    yield folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@needs_shm
def test_files_are_written_whole_with_their_mode_and_forgotten_when_unused(in_memory):
    files = SecretFiles()
    folder = files.folder("shop", "web", SPEC.template_hash())
    assert files.missing(folder, SPEC)
    files.write(folder, SPEC, {"db": b"pw", "api": b"key"})
    assert not files.missing(folder, SPEC) and files.read(folder, "db") == b"pw"
    assert sorted(p.name for p in folder.iterdir()) == ["api", "db"]        # no temporary file left
    assert (folder / "db").stat().st_mode & 0o777 == 0o400 and (folder / "api").stat().st_mode & 0o777 == 0o444
    assert in_memory.stat().st_mode & 0o777 == 0o700 and folder.stat().st_mode & 0o777 == 0o700
    files.remove_unused("shop", {folder.name})
    assert folder.is_dir()
    files.remove_unused("shop", set())
    assert not (in_memory / "shop").exists() and files.has_project("shop") is False


def test_a_folder_on_disk_is_refused(tmp_path, monkeypatch):
    if file_system_of(tmp_path) in ("tmpfs", "ramfs"):
        pytest.skip("the temporary folder is in memory here")
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "secrets"))
    with pytest.raises(SecretError, match="not in memory; refusing to write secrets to disk"):
        SecretFiles().root
    assert not (tmp_path / "secrets").exists()


@needs_shm
@pytest.mark.parametrize("prepare", ["a link", "open to others"])
def test_a_root_someone_else_could_have_prepared_is_refused(in_memory, prepare):
    if prepare == "a link":
        in_memory.symlink_to(SHM)
    else:
        in_memory.mkdir(mode=0o755)
        in_memory.chmod(0o755)
    with pytest.raises(SecretError, match="is not a folder of this user's that only it can read"):
        SecretFiles().root
    if in_memory.is_symlink():
        in_memory.unlink()


def test_a_missing_file_says_how_to_restore_it(tmp_path):
    with pytest.raises(SecretError, match="run sync again to restore it"):
        SecretFiles(tmp_path).read(tmp_path / "shop" / "web-abc", "db")
