"""What a compose user reaches for on day two, on a real engine: `ps` and `down`."""
from __future__ import annotations

import json
import re

from tests.integration.conftest import containers, gitdeploy


def deploy(repo):
    repo.service("db", volumes=[{"volume": "data", "path": "/data"}])
    repo.job("migrate", command=["sh", "-c", "echo migrated"], dependsOn=["db"])
    repo.service("web", ports=[{"containerPort": 80}], dependsOn=["migrate"])
    (repo.dir / "volumes.yaml").write_text("apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: data}\n")
    repo.commit()
    done = gitdeploy("sync", "--repo", str(repo.root))
    assert done.returncode == 0, done.stdout + done.stderr


def test_ps_lists_every_container_with_revision_state_and_ports(api, project, repo):
    deploy(repo)
    shown = gitdeploy("ps", "--repo", str(repo.root))
    assert shown.returncode == 0, shown.stderr
    web = next(line for line in shown.stdout.splitlines() if line.startswith(f"{project}_web-1-"))
    assert re.search(r"\bweb\s+1\s+Up \S+ \w+.*0\.0\.0\.0:\d+->80/tcp", web), web
    assert any(line.startswith(f"{project}_migrate-run-") and "migrate (job)" in line and "Exited (0)" in line
               for line in shown.stdout.splitlines())
    only = json.loads(gitdeploy("ps", "web", "--repo", str(repo.root), "-o", "json").stdout)["containers"]
    assert [(c["service"], c["kind"], c["revision"], c["state"]) for c in only] == [("web", "replica", 1, "running")]
    assert re.fullmatch(r"0\.0\.0\.0:\d+->80/tcp", only[0]["ports"][0])
    unknown = gitdeploy("ps", "wbe", "--repo", str(repo.root))
    assert unknown.returncode == 1 and "did you mean 'web'?" in unknown.stderr


def test_down_removes_the_project_and_keeps_volumes_and_history_unless_asked(api, project, repo):
    deploy(repo)
    refused = gitdeploy("down", "--repo", str(repo.root))            # no terminal, no --yes
    assert refused.returncode == 1 and "add --yes" in refused.stderr and len(containers(api, project)) == 3
    gone = gitdeploy("down", "--yes", "--repo", str(repo.root))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "removed 3 containers, the network; kept its volumes and history" in gone.stdout
    assert containers(api, project) == []
    assert api.networks(names=[f"gitdeploy_{project}"]) == []
    volumes = api.volumes(filters={"label": f"io.gitdeploy.project={project}"})["Volumes"]
    assert f"{project}_data" in {v["Name"] for v in volumes}
    assert json.loads(gitdeploy("history", "--repo", str(repo.root), "-o", "json").stdout)["events"]
    # Back up, then down with everything.
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    everything = json.loads(gitdeploy("down", "--yes", "--volumes", "--history", "--repo", str(repo.root),
                                      "-o", "json").stdout)
    assert everything["removedVolumes"] == [f"{project}_data"] and everything["removedHistoryRecords"] >= 3
    assert api.volumes(filters={"label": f"io.gitdeploy.project={project}"})["Volumes"] in (None, [])


def test_restart_is_a_health_gated_rolling_restart_without_downtime(api, project, repo):
    from tests.sampling import HealthSampler

    check = {"exec": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"], "interval": "1s",
             "timeout": "1s", "retries": 2}
    repo.service("web", replicas=2, healthCheck=check)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    before = {c["Id"]: api.inspect_container(c["Id"])["State"]["StartedAt"] for c in containers(api, project)}
    with HealthSampler.of_service(project, "web") as sampler:
        done = gitdeploy("restart", "web", "--repo", str(repo.root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Restarted web: 2 replicas restarted, 1 at a time; all ready." in done.stdout
    after = {c["Id"]: api.inspect_container(c["Id"])["State"]["StartedAt"] for c in containers(api, project)}
    assert set(after) == set(before) and all(after[i] > before[i] for i in before)   # same containers, started again
    assert min(sampler.samples) >= 1, sampler.samples                               # one batch at a time
    assert gitdeploy("diff", "--repo", str(repo.root)).returncode == 0              # nothing to sync after it


def test_exec_runs_a_command_in_a_replica_and_returns_its_exit_code(api, project, repo):
    repo.service("web", replicas=2)
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    ran = gitdeploy("exec", "web", "--replica", "2", "--repo", str(repo.root), "--", "sh", "-c",
                    "hostname; echo oops >&2; exit 3")
    assert (ran.returncode, ran.stdout, ran.stderr) == (3, "web-2\n", "oops\n")
    missing = gitdeploy("exec", "web", "--replica", "5", "--repo", str(repo.root), "--", "true")
    assert missing.returncode == 1 and "running slots: 1, 2" in missing.stderr


def test_exec_on_a_terminal_is_interactive(api, project, repo):
    """Under a pseudo-terminal (`script`), the command gets a TTY of its own, as `docker compose exec` gives."""
    import subprocess
    import sys

    repo.service("web")
    repo.commit()
    assert gitdeploy("sync", "--repo", str(repo.root)).returncode == 0
    line = f"{sys.executable} -m gitdeploy exec web --repo {repo.root} -- sh -c 'tty; exit 4'"
    ran = subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert "/dev/pts/" in ran.stdout


def test_validate_and_diff_warn_about_an_image_the_engine_lacks(api, project, repo):
    repo.service("web", image="gitdeploy-test/app:no-such-tag")
    repo.commit()
    for command, code in (("validate", 0), ("diff", 2)):
        shown = gitdeploy(command, "--repo", str(repo.root))
        assert shown.returncode == code, shown.stdout + shown.stderr
        assert "warning: image gitdeploy-test/app:no-such-tag is not on the " in shown.stderr
    as_json = json.loads(gitdeploy("diff", "--repo", str(repo.root), "-o", "json").stdout)
    assert any("no-such-tag is not on the engine" in w for w in as_json["warnings"])
