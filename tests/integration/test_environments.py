"""Staging and production from one repository, side by side on one engine (docs/environments.md)."""
from __future__ import annotations

import json

from tests.integration.conftest import containers, gitdeploy, remove_project


def environments(repo, project: str) -> None:
    (repo.root / "gitdeploy.yaml").write_text(
        f"project: {project}\nenvironments:\n  staging: {{}}\n  prod: {{project: {project}-live}}\n")
    repo.service("web", replicas=1)
    repo.service("api")
    overlays = repo.root / "environments"
    (overlays / "prod").mkdir(parents=True)
    (overlays / "staging").mkdir(parents=True)
    (overlays / "prod" / "web.yaml").write_text(
        "kind: Service\nmetadata: {name: web}\nspec:\n  replicas: 2\n  image: gitdeploy-test/app:v2\n")
    (overlays / "staging" / "api.yaml").write_text("kind: Service\nmetadata: {name: api}\ndelete: true\n")


def test_staging_and_prod_converge_and_prune_only_their_own(api, project, repo, tmp_path):
    environments(repo, project)
    repo.commit("two environments")
    staging, prod = f"{project}-staging", f"{project}-live"
    try:
        missing = gitdeploy("sync", "--repo", str(repo.root))
        assert missing.returncode == 1 and "choose one with --env NAME" in missing.stderr
        for env in ("staging", "prod"):
            done = gitdeploy("sync", "--repo", str(repo.root), "--env", env)
            assert done.returncode == 0, done.stdout + done.stderr
        assert [c["Image"] for c in containers(api, staging)] == ["gitdeploy-test/app:v1"]   # web only: api deleted
        assert sorted((c["Labels"]["io.gitdeploy.service"], c["Image"]) for c in containers(api, prod)) == [
            ("api", "gitdeploy-test/app:v1"), ("web", "gitdeploy-test/app:v2"), ("web", "gitdeploy-test/app:v2")]
        # Staging drops web: its own project prunes it; prod does not notice.
        (repo.root / "environments" / "staging" / "web.yaml").write_text(
            "kind: Service\nmetadata: {name: web}\ndelete: true\n")
        (repo.root / "environments" / "staging" / "api.yaml").unlink()
        repo.commit("staging: api only")
        done = gitdeploy("sync", "--repo", str(repo.root), "--env", "staging", "-o", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert [c["Labels"]["io.gitdeploy.service"] for c in containers(api, staging)] == ["api"]
        assert len(containers(api, prod)) == 3
        assert gitdeploy("diff", "--repo", str(repo.root), "--env", "prod").returncode == 0
        status = json.loads(gitdeploy("status", "--repo", str(repo.root), "--env", "prod", "-o", "json").stdout)
        assert status["project"] == prod
    finally:
        remove_project(api, staging)
        remove_project(api, prod)


def test_render_round_trips_through_validate(repo, project, tmp_path):
    environments(repo, project)
    repo.commit("two environments")
    rendered = gitdeploy("render", "--repo", str(repo.root), "--env", "prod")
    assert rendered.returncode == 0, rendered.stderr
    assert "replicas: 2 # environments/prod/web.yaml:4" in rendered.stdout.replace("  #", " #")
    assert "image: gitdeploy-test/app:v2 # environments/prod/web.yaml:5" in rendered.stdout.replace("  #", " #")
    copy = tmp_path / "rendered"
    copy.mkdir()
    (copy / "gitdeploy.yaml").write_text(f"project: {project}-copy\n")
    (copy / "all.yaml").write_text(rendered.stdout)
    import subprocess

    for step in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "r"]):
        subprocess.run(["git", *step], cwd=copy, check=True)
    valid = gitdeploy("validate", "--repo", str(copy), "-o", "json")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert sorted(s["name"] for s in json.loads(valid.stdout)["services"]) == ["api", "web"]
