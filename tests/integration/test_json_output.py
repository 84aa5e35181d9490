"""Every command's --output json validates against schemas/output.v1.schema.json (real runs)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.integration.conftest import gitdeploy

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "output.v1.schema.json").read_text())


def check(document: dict, kind: str) -> None:
    Draft202012Validator.check_schema(SCHEMA)
    Draft202012Validator(SCHEMA).validate(document)     # one of the documented kinds
    specific = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{kind}"}
    errors = [e.message for e in Draft202012Validator(specific).iter_errors(document)]
    assert errors == [], errors


def run(*args, code=0):
    result = gitdeploy(*args, "--output", "json")
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_every_command_prints_one_valid_document(api, project, repo):
    r = str(repo.root)
    repo.service("web", replicas=2, env={"A": "1"})
    repo.commit()
    check(run("validate", "--repo", r), "validate")
    check(run("diff", "--repo", r, code=2), "diff")
    check(run("sync", "--repo", r, "--dry-run"), "sync")
    check(run("sync", "--repo", r), "sync")
    check(run("sync", "--repo", r), "sync")                     # noop
    repo.service("web", replicas=2, env={"A": "2"})
    repo.commit("change")
    check(run("sync", "--repo", r), "sync")
    check(run("status", "--repo", r), "status")
    check(run("history", "--repo", r), "history")
    check(run("rollback", "web", "--repo", r), "sync")
    check(run("rollback", "web", "--clear", "--repo", r), "rollbackClear")
    check(run("unlock", "--yes", "--repo", r), "unlock")
    check(run("ps", "--repo", r), "ps")
    check(run("down", "--yes", "--repo", r), "down")
    check(run("diff", "--repo", r, "--ref", "nope", code=1), "error")
    repo.service("web", replicass=2)
    repo.commit("typo")
    document = run("validate", "--repo", r, code=1)
    check(document, "error")
    assert document["error"]["problems"][0]["message"].startswith("spec.replicass: unknown key")


@pytest.mark.parametrize("name", ["service.v1.schema.json", "project.v1.schema.json", "output.v1.schema.json"])
def test_schemas_are_valid_draft_2020_12(name):
    Draft202012Validator.check_schema(json.loads((Path(__file__).resolve().parents[2] / "schemas" / name).read_text()))


def test_appended_json_is_one_document_a_line_and_progress_lines_are_stamped(api, project, repo, tmp_path):
    """As cron runs it: `sync -o json >> gitdeploy.jsonl 2>> gitdeploy.log`."""
    import re
    import subprocess
    import sys

    repo.service("web")
    repo.commit()
    log, documents = tmp_path / "gitdeploy.log", tmp_path / "gitdeploy.jsonl"
    for output in ("json", "jsonl"):
        with documents.open("a") as out, log.open("a") as err:
            subprocess.run([sys.executable, "-m", "gitdeploy", "sync", "--repo", str(repo.root), "-o", output],
                           stdout=out, stderr=err, check=True, timeout=120)
    lines = documents.read_text().splitlines()
    assert [json.loads(line)["result"] for line in lines] == ["applied", "noop"]
    started = [line for line in log.read_text().splitlines() if "started" in line]
    assert started and all(re.match(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d {project} web: started ", line)
                           for line in started), started
