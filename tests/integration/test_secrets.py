"""Secrets on a real engine: files encrypted by the real `age` tool and a SOPS file written by the real `sops`,
delivered to replicas in memory, and found nowhere else."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gitdeploy.engine.secret_files import file_system_of
from tests.integration.conftest import containers, gitdeploy
from tests.integration.test_volumes import run_in, the_replica

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sops" / "helm-secrets" / "tests" / "assets"
SOPS_KEY, SOPS_FILE = FIXTURES / "age" / "key.txt", FIXTURES / "values" / "sops" / "secrets.age.yaml"
PASSWORD, TLS_KEY, API_KEY = "correct horse battery staple", "-----BEGIN KEY-----\nMIIE\n", "global_age"
STOP_FIRST = {"update": {"order": "stop-first", "monitor": "1s"}}


def seal(recipient: str, plaintext: str, armor: bool = False) -> bytes:
    return subprocess.run(["age", "-r", recipient] + (["-a"] if armor else []), input=plaintext.encode(),
                          capture_output=True, check=True).stdout


@pytest.fixture
def secret_env(project):
    """Where this test's secret files go (a tmpfs folder of its own), and the age key, as a user sets them."""
    folder = Path(f"/dev/shm/gitdeploy-test-{project}")
    yield {"GITDEPLOY_SECRETS_DIR": str(folder), "GITDEPLOY_AGE_KEY_FILE": str(SOPS_KEY)}
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def recipient() -> str:
    return subprocess.run(["age-keygen", "-y", str(SOPS_KEY)], capture_output=True, text=True, check=True).stdout.strip()


def with_secrets(repo, recipient: str, password: str = PASSWORD, **spec) -> None:
    secrets = repo.dir / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "db-password.age").write_bytes(seal(recipient, password))
    (secrets / "tls.key.age").write_bytes(seal(recipient, TLS_KEY, armor=True))
    shutil.copy(SOPS_FILE, secrets / "app.sops.yaml")
    repo.service("web", secrets=[
        {"name": "db-password", "source": "secrets/db-password.age"},
        {"name": "api-key", "source": "secrets/app.sops.yaml", "key": "global_secret"},
        {"name": "tls-key", "source": "secrets/tls.key.age", "path": "/etc/tls/key.pem", "mode": "0400",
         "uid": 101, "gid": 101},
    ], env={"DB_PASSWORD": {"secret": "db-password"}}, **STOP_FIRST, **spec)


def test_secrets_reach_replicas_as_files_in_memory_and_nowhere_else(api, project, repo, secret_env, recipient):
    with_secrets(repo, recipient)
    repo.commit("secrets")
    outputs = [gitdeploy("diff", "--repo", str(repo.root), env=secret_env),
               gitdeploy("sync", "--repo", str(repo.root), "-o", "json", env=secret_env)]
    assert outputs[-1].returncode == 0, outputs[-1].stderr
    replica = the_replica(api, project)
    assert run_in(api, replica["Id"], "cat", "/run/secrets/db-password") == PASSWORD
    assert run_in(api, replica["Id"], "cat", "/run/secrets/api-key") == API_KEY
    assert run_in(api, replica["Id"], "cat", "/etc/tls/key.pem") == TLS_KEY.strip()
    assert run_in(api, replica["Id"], "ls", "-ln", "/etc/tls/key.pem").split()[:4] == ["-r--------", "1", "101", "101"]
    assert run_in(api, replica["Id"], "ls", "-ln", "/run/secrets/api-key").split()[0] == "-r--r--r--"
    assert run_in(api, replica["Id"], "sh", "-c", "echo $DB_PASSWORD") == PASSWORD   # asked for in env
    assert "Read-only file system" in run_in(api, replica["Id"], "sh", "-c", "echo x > /run/secrets/api-key 2>&1")

    inspected = api.inspect_container(replica["Id"])
    shown = json.dumps({k: v for k, v in inspected.items() if k != "Config"}) + json.dumps(
        {k: v for k, v in inspected["Config"].items() if k != "Env"})
    for plaintext in (PASSWORD, API_KEY, "MIIE"):
        assert plaintext not in shown                                   # labels (the template) included
    mounts = [m["Source"] for m in inspected["Mounts"] if m["Type"] == "bind"]
    assert len(mounts) == 3 and all(file_system_of(Path(m)) == "tmpfs" for m in mounts)
    # Nothing under the engine's data root holds a secret's file: not the container's folder, not its layer.
    on_disk = [Path("/var/lib/docker/containers") / replica["Id"], Path(inspected["GraphDriver"]["Data"]["UpperDir"])]
    found = subprocess.run(["grep", "-rl", "-e", API_KEY, "-e", "MIIE", *map(str, on_disk)], capture_output=True)
    assert found.stdout == b""

    outputs += [gitdeploy(command, "--repo", str(repo.root), "-o", output, "-v", env=secret_env)
                for command in ("status", "history", "diff") for output in ("text", "json")]
    for output in outputs:
        for plaintext in (PASSWORD, API_KEY, "MIIE"):
            assert plaintext not in output.stdout + output.stderr


def test_a_changed_secret_rolls_out_a_re_encrypted_one_does_not_and_rollback_brings_the_old_one(
        api, project, repo, secret_env, recipient):
    with_secrets(repo, recipient)
    repo.commit("v1")
    assert gitdeploy("sync", "--repo", str(repo.root), env=secret_env).returncode == 0
    first = the_replica(api, project)["Id"]

    with_secrets(repo, recipient)                                       # the same content, encrypted again
    repo.commit("re-encrypted")
    assert gitdeploy("diff", "--repo", str(repo.root), env=secret_env).returncode == 0
    assert gitdeploy("sync", "--repo", str(repo.root), env=secret_env).returncode == 0
    assert the_replica(api, project)["Id"] == first

    with_secrets(repo, recipient, password="a new password")
    repo.commit("new password")
    diff = gitdeploy("diff", "--repo", str(repo.root), env=secret_env)
    assert diff.returncode == 2 and "secret db-password changed" in diff.stdout
    assert "a new password" not in diff.stdout and PASSWORD not in diff.stdout
    assert gitdeploy("sync", "--repo", str(repo.root), env=secret_env).returncode == 0
    assert run_in(api, the_replica(api, project)["Id"], "cat", "/run/secrets/db-password") == "a new password"
    folders = list(Path(secret_env["GITDEPLOY_SECRETS_DIR"], project).iterdir())
    assert len(folders) == 1                                            # the old revision's files are gone

    rolled = gitdeploy("rollback", "web", "--repo", str(repo.root), env=secret_env)
    assert rolled.returncode == 0, rolled.stderr
    replica = the_replica(api, project)["Id"]                           # its secret read from the old commit
    assert run_in(api, replica, "cat", "/run/secrets/db-password") == PASSWORD
    assert run_in(api, replica, "sh", "-c", "echo $DB_PASSWORD") == PASSWORD


def test_after_a_reboot_the_next_sync_restores_the_files(api, project, repo, secret_env, recipient):
    with_secrets(repo, recipient)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root), env=secret_env).returncode == 0
    root = Path(secret_env["GITDEPLOY_SECRETS_DIR"])
    shutil.rmtree(root / project)                  # memory emptied, as by a reboot, while the replica runs
    assert gitdeploy("sync", "--repo", str(repo.root), env=secret_env).returncode == 0
    assert (root / project).is_dir()               # restored though nothing else had to change

    shutil.rmtree(root / project)
    api.stop(the_replica(api, project)["Id"], timeout=1)
    with pytest.raises(Exception, match="bind source path does not exist"):
        api.start(the_replica(api, project)["Id"])  # what the engine does at boot: the replica cannot start
    synced = gitdeploy("sync", "--repo", str(repo.root), env=secret_env)
    assert synced.returncode == 0, synced.stderr
    replica = the_replica(api, project)
    assert replica["State"] == "running"
    assert run_in(api, replica["Id"], "cat", "/run/secrets/db-password") == PASSWORD


@pytest.mark.parametrize("spoil, message", [
    ("wrong key", "cannot decrypt secret db-password (secrets/db-password.age): none of the keys"),
    ("no key", "cannot decrypt secret db-password (secrets/db-password.age): no age key found"),
    ("tampered", "secret api-key (secrets/app.sops.yaml) was changed after it was encrypted"),
])
def test_a_secret_that_cannot_be_opened_stops_the_sync_before_any_change(
        api, project, repo, secret_env, recipient, tmp_path, spoil, message):
    with_secrets(repo, recipient)
    env = dict(secret_env)
    if spoil == "wrong key":
        subprocess.run(["age-keygen", "-o", str(tmp_path / "other.txt")], check=True, capture_output=True)
        env["GITDEPLOY_AGE_KEY_FILE"] = str(tmp_path / "other.txt")
    elif spoil == "no key":
        env = {"GITDEPLOY_SECRETS_DIR": env["GITDEPLOY_SECRETS_DIR"], "GITDEPLOY_AGE_KEY_FILE": "",
               "SOPS_AGE_KEY_FILE": "", "SOPS_AGE_KEY": "", "XDG_CONFIG_HOME": str(tmp_path)}
    else:
        sops = repo.dir / "secrets" / "app.sops.yaml"
        sops.write_text(sops.read_text().replace("global_secret: ENC", "added: by hand\nglobal_secret: ENC"))
    repo.commit()
    synced = gitdeploy("sync", "--repo", str(repo.root), env=env)
    assert synced.returncode == 1 and message in synced.stderr, synced.stderr
    assert containers(api, project) == []
