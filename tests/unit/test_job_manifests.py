"""Job documents and `dependsOn`: what loads, and the exact errors `validate` gives."""
from __future__ import annotations

import pytest

from gitdeploy.manifests import load_desired
from tests.unit.test_manifests import PROJECT, problems, service, tree

MIGRATE = """\
apiVersion: gitdeploy/v1
kind: Job
metadata: {name: migrate}
spec:
  image: shop/api:1.4.2
  command: ["/app/migrate", "--to-latest"]
  env: {DB: db}
  dependsOn: [db]
  timeout: 5m
  retries: 1
"""


def job(name: str, depends_on: str) -> str:
    return f"apiVersion: gitdeploy/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  image: m\n  dependsOn: {depends_on}\n"


def test_the_issue_example_loads():
    desired = load_desired(tree(PROJECT, ("db.yaml", service("db")), ("migrate.yaml", MIGRATE),
                                ("api.yaml", service("api", "image: a\ndependsOn: [db, migrate]"))))
    (migrate,) = desired.jobs
    assert (migrate.name, migrate.run.image, migrate.run.command, migrate.depends_on) == (
        "migrate", "shop/api:1.4.2", ("/app/migrate", "--to-latest"), ("db",))
    assert (migrate.timeout, migrate.retries, migrate.run.restart, migrate.run.replicas) == (300.0, 1, "no", 1)
    assert desired.service("api").depends_on == ("db", "migrate")
    assert [s.name for s in desired.services] == ["api", "db"]


def test_depends_on_and_timeout_are_not_part_of_the_template():
    plain = load_desired(tree(PROJECT, ("db.yaml", service("db")), ("api.yaml", service("api"))))
    ordered = load_desired(tree(PROJECT, ("db.yaml", service("db")), ("api.yaml", service("api", "image: shop/web:1\ndependsOn: [db]"))))
    assert plain.service("api").template_hash() == ordered.service("api").template_hash()


@pytest.mark.parametrize("files, expected", [
    ([("api.yaml", service("api", "image: a\ndependsOn: [dbb]")), ("db.yaml", service("db"))],
     ["api.yaml:7:15: spec.dependsOn[0]: no Service or Job 'dbb' in this project; did you mean 'db'?"]),
    ([("api.yaml", service("api", "image: a\ndependsOn: [api]"))],
     ["api.yaml:7:15: spec.dependsOn[0]: api depends on itself; remove it"]),
    ([("api.yaml", service("api", "image: a\ndependsOn: [migrate]")), ("migrate.yaml", job("migrate", "[db]")),
      ("db.yaml", service("db", "image: d\ndependsOn: [api]"))],
     ["api.yaml:7:15: spec.dependsOn: api, db, migrate wait for each other in a cycle: api → migrate (api.yaml:7), "
      "db → api (db.yaml:7), migrate → db (migrate.yaml:6); remove one of these dependencies"]),
    ([("a.yaml", service("web")), ("b.yaml", job("web", "[]"))],
     ["b.yaml:3:18: metadata.name: service 'web' is already declared at a.yaml:4:9; service and job names must "
      "be unique in a project"]),
    ([("m.yaml", MIGRATE.replace("dependsOn: [db]", "ports: [{containerPort: 80}]")), ("db.yaml", service("db"))],
     ["m.yaml:8:3: spec.ports: unknown key; allowed here: command, dependsOn, devices, env, files, image, init, "
      "resources, retries, secrets, securityContext, timeout, volumes"]),
    ([("m.yaml", MIGRATE.replace("5m", "25h")), ("db.yaml", service("db"))], ["m.yaml:9:12: spec.timeout: at most 24h"]),
])
def test_exact_messages(files, expected):
    assert problems(*files) == expected
