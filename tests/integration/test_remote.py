"""A remote engine, reached as the docker CLI reaches it: DOCKER_HOST=ssh://, --host/-H, --context, and the
docker CLI's current context. The "remote" host is a real sshd on loopback (a throwaway host key and client
key, its own config), in front of this machine's engine."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import containers, gitdeploy


@pytest.fixture
def ssh_home(tmp_path):
    """(HOME for the client, its ssh:// address): sshd runs until the test ends."""
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\n"
                      f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
                      "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                      "SetEnv PATH=/usr/local/bin:/usr/bin:/bin\n")
    Path("/run/sshd").mkdir(exist_ok=True)   # sshd's privilege separation folder
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    client = tmp_path / "ssh_config"
    client.write_text(f"Host 127.0.0.1\n  IdentityFile {keys / 'client'}\n  StrictHostKeyChecking no\n"
                      "  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n")
    # ssh reads the config of the user's passwd home, whatever HOME says: an `ssh` first on PATH adds -F, as a
    # user's own ~/.ssh/config would.
    wrapper = home / "bin" / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec /usr/bin/ssh -F {client} \"$@\"\n")
    wrapper.chmod(0o755)
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    for _ in range(50):
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield home, f"ssh://{user}@127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def test_an_engine_over_ssh_by_docker_host_host_flag_and_context(api, project, repo, ssh_home):
    home, address = ssh_home
    repo.service("web")
    repo.commit()
    path = f"{home / 'bin'}:{os.environ['PATH']}"
    env = {"HOME": str(home), "DOCKER_HOST": address, "XDG_CACHE_HOME": str(home / "cache"), "PATH": path}
    done = gitdeploy("sync", "--repo", str(repo.root), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(containers(api, project, "web")) == 1

    # --host/-H, as the docker CLI takes it, wins over DOCKER_HOST.
    no_host = {k: v for k, v in env.items() if k != "DOCKER_HOST"} | {"DOCKER_HOST": "unix:///nonexistent"}
    shown = subprocess.run([*gitdeploy_argv(), "-H", address, "status", "--repo", str(repo.root)],
                           env=os.environ | no_host, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "Synced" in shown.stdout, shown.stdout + shown.stderr

    # A docker context: by --context, by DOCKER_CONTEXT, and as the docker CLI's current context.
    config = home / "docker"
    contexts = {"HOME": str(home), "DOCKER_CONFIG": str(config), "XDG_CACHE_HOME": str(home / "cache"), "PATH": path}
    environment = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"} | contexts
    subprocess.run(["docker", "context", "create", "far", "--docker", f"host={address}"], env=environment,
                   check=True, capture_output=True)
    for extra_env, flags in (({}, ["--context", "far"]), ({"DOCKER_CONTEXT": "far"}, [])):
        ran = subprocess.run([*gitdeploy_argv(), *flags, "diff", "--repo", str(repo.root)],
                             env=environment | extra_env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0 and "In sync" in ran.stdout, ran.stdout + ran.stderr
    subprocess.run(["docker", "context", "use", "far"], env=environment, check=True, capture_output=True)
    ran = subprocess.run([*gitdeploy_argv(), "ps", "--repo", str(repo.root)], env=environment,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and f"{project}_web-1-" in ran.stdout, ran.stdout + ran.stderr


def gitdeploy_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "gitdeploy"]
