"""Start order and one-shot jobs on a real engine: db → migrate job → api, a migration that runs once per
version, a failing one that holds the api, and prune taking dependents first."""
from __future__ import annotations

import json
import time
from pathlib import Path

from tests.integration.conftest import containers, gitdeploy
from tests.integration.test_secrets import PASSWORD, recipient, seal, secret_env  # noqa: F401 (fixtures)
from tests.integration.test_volumes import run_in

MIGRATE = ["sh", "-c", "echo migrating the schema; sleep 1; echo migrated"]


def three_tier(repo, api_image="gitdeploy-test/app:v1", job_image="gitdeploy-test/app:v1", command=MIGRATE,
               api_env=None):
    repo.service("db")
    repo.job("migrate", job_image, command=command, dependsOn=["db"], timeout="1m")
    repo.service("api", api_image, dependsOn=["db", "migrate"], env=api_env or {})


def started(api, container: dict) -> tuple[float, float]:
    """(started, finished) of a container, seconds since the epoch, from the engine's own record."""
    from datetime import datetime

    state = api.inspect_container(container["Id"])["State"]

    def seconds(stamp: str) -> float:
        if stamp.startswith("0001"):
            return float("inf")
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")

    return seconds(state["StartedAt"]), seconds(state["FinishedAt"])


def sync(repo, *extra):
    return gitdeploy("sync", "--repo", str(repo.root), *extra)


def test_three_tier_converges_in_order_and_the_job_runs_once_per_version(api, project, repo):
    three_tier(repo)
    repo.commit()
    done = sync(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    (db,), (run,), (api_replica,) = (containers(api, project, n) for n in ("db", "migrate", "api"))
    db_start, _ = started(api, db)
    run_start, run_end = started(api, run)
    api_start, _ = started(api, api_replica)
    # db is ready (running through its 1 s monitor) before the job starts; the job has exited before api starts.
    assert db_start + 1 <= run_start < run_end <= api_start
    assert run["State"] == "exited" and run["Status"].startswith("Exited (0)")

    status = json.loads(gitdeploy("status", "--repo", str(repo.root), "-o", "json").stdout)
    (job,) = status["jobs"]
    assert (job["lastRun"], job["exitCode"], job["revision"], job["sync"]) == ("succeeded", 0, 1, "Synced")
    assert job["duration"] >= 1
    logs = gitdeploy("logs", "migrate", "--repo", str(repo.root))
    assert logs.stdout.splitlines() == ["migrate | migrating the schema", "migrate | migrated"]

    # Only the api changes: the job is not run again.
    three_tier(repo, api_image="gitdeploy-test/app:v2")
    repo.commit()
    assert sync(repo).returncode == 0
    assert [c["Id"] for c in containers(api, project, "migrate")] == [run["Id"]]

    # The job's image changes (and the api's): the job runs first, then the api.
    three_tier(repo, api_image="gitdeploy-test/app:v1", job_image="gitdeploy-test/app:v2")
    repo.commit()
    diff = gitdeploy("diff", "--repo", str(repo.root))
    assert diff.returncode == 2
    assert "run job migrate: image changed" in diff.stdout and "Order: migrate → api" in diff.stdout
    assert sync(repo).returncode == 0
    (second,), (api_replica,) = containers(api, project, "migrate"), containers(api, project, "api")
    assert second["Id"] != run["Id"] and second["Image"] == "gitdeploy-test/app:v2"
    assert started(api, second)[1] <= started(api, api_replica)[0]
    history = json.loads(gitdeploy("history", "migrate", "--repo", str(repo.root), "-o", "json").stdout)
    assert [(e["revision"], e["event"], e["exitCode"]) for e in history["events"]] == [
        (1, "succeeded", 0), (2, "succeeded", 0)]


def test_a_failing_job_holds_the_api_and_exits_1_with_its_output(api, project, repo):
    three_tier(repo)
    repo.commit()
    assert sync(repo).returncode == 0
    (api_before,) = containers(api, project, "api")
    three_tier(repo, command=["sh", "-c", "echo relation users does not exist >&2; exit 3"], api_env={"V": "2"})
    repo.commit()
    failed = sync(repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "migrate run failed:" in failed.stdout and "exited with code 3" in failed.stdout
    assert "relation users does not exist" in failed.stdout
    assert "api update blocked by migrate: not changed in this run" in failed.stdout
    assert [c["Id"] for c in containers(api, project, "api")] == [api_before["Id"]]
    (run,) = containers(api, project, "migrate")

    # Unattended again: the failed run is remembered, not repeated; the api stays held.
    again = json.loads(sync(repo, "-o", "json").stdout)
    assert again["result"] == "failed"
    assert {u["name"]: (u["outcome"], u["blockedBy"]) for u in again["services"] + again["jobs"]} == {
        "api": ("blocked", "migrate"), "db": ("unchanged", None), "migrate": ("failed", None)}
    assert [c["Id"] for c in containers(api, project, "migrate")] == [run["Id"]]


def test_a_cycle_is_refused_at_validate(api, project, repo):
    repo.service("db", dependsOn=["api"])
    repo.service("api", dependsOn=["db"])
    repo.commit()
    refused = gitdeploy("validate", "--repo", str(repo.root))
    assert refused.returncode == 1
    assert "spec.dependsOn: api, db wait for each other in a cycle: api → db (services/api.yaml:" in refused.stderr


def test_prune_removes_dependents_before_their_dependencies(api, project, repo):
    three_tier(repo)
    repo.service("other")
    repo.commit()
    assert sync(repo).returncode == 0
    for name in ("db", "migrate", "api"):
        repo.remove(name)
    repo.commit()
    since = int(time.time())
    assert sync(repo).returncode == 0
    events = api.events(since=since, until=int(time.time()) + 1, decode=True,
                        filters={"type": "container", "event": "destroy", "label": f"io.gitdeploy.project={project}"})
    gone = [e["Actor"]["Attributes"]["io.gitdeploy.service"] for e in events]
    assert gone == ["api", "migrate", "db"]
    assert [c["Labels"]["io.gitdeploy.service"] for c in containers(api, project)] == ["other"]


def test_a_job_gets_its_config_file_secret_and_volume_like_a_service(api, project, repo, secret_env, recipient):
    """A migration reads its config from Git, its password from an age file, and writes to a volume the
    service then reads: `files`, `secrets` and `volumes` work as on a Service."""
    (repo.dir / "secrets").mkdir()
    (repo.dir / "secrets" / "db-password.age").write_bytes(seal(recipient, PASSWORD))
    (repo.dir / "migrate.conf").write_text("target: 42\n")
    (repo.dir / "volumes.yaml").write_text("apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: data}\n")
    repo.job("migrate", command=["sh", "-c", "cat /etc/migrate.conf; wc -c < /run/secrets/db-password; "
                                             "echo $DB_PASSWORD | wc -c; echo done > /data/migrated"],
             files=[{"path": "/etc/migrate.conf", "source": "migrate.conf"}],
             secrets=[{"name": "db-password", "source": "secrets/db-password.age"}],
             env={"DB_PASSWORD": {"secret": "db-password"}},
             volumes=[{"volume": "data", "path": "/data"}])
    repo.service("db", volumes=[{"volume": "data", "path": "/data", "readOnly": True}], dependsOn=["migrate"])
    repo.commit()
    done = gitdeploy("sync", "--repo", str(repo.root), env=secret_env)
    assert done.returncode == 0, done.stdout + done.stderr
    logs = gitdeploy("logs", "migrate", "--repo", str(repo.root)).stdout.splitlines()
    assert logs == ["migrate | target: 42", f"migrate | {len(PASSWORD)}", f"migrate | {len(PASSWORD) + 1}"]
    (db,) = containers(api, project, "db")
    assert run_in(api, db["Id"], "cat", "/data/migrated") == "done"
    # The secret was handed over in memory for the run only: nothing of it is left after the sync.
    assert not list(Path(secret_env["GITDEPLOY_SECRETS_DIR"]).rglob("db-password"))
