"""Environments: the base manifests with an environment's overlay applied (pure, from files in memory)."""
from __future__ import annotations

import pytest

from gitdeploy.errors import ManifestError, SourceError
from gitdeploy.manifests import load_desired
from tests.unit.test_manifests import service, tree

PROJECT = ("gitdeploy.yaml", "project: shop\nenvironments:\n  staging: {}\n  prod: {project: shop}\n")
API = ("services/api.yaml", service("api", """\
    image: shop/api:1.0
    replicas: 1
    env: {LOG: debug, COLOR: blue}
    ports: [{containerPort: 80}]
    """))
DB = ("services/db.yaml", service("db", "image: postgres:16"))


def desired(env: str, *overlay: tuple[str, str], base=(API, DB)):
    return load_desired(tree(PROJECT, *base, *overlay), env=env)


def overlay(env: str, name: str, text: str) -> tuple[str, str]:
    return f"environments/{env}/{name}", text


def test_each_environment_is_its_own_project_and_ignores_the_others_overlays():
    prod_only = overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: api}\nspec: {replicas: 3}\n")
    staging = desired("staging", prod_only)
    prod = desired("prod", prod_only)
    assert (staging.project, prod.project) == ("shop-staging", "shop")
    assert (staging.service("api").replicas, prod.service("api").replicas) == (1, 3)


# (id, the overlay of api for prod, what prod's api then is)
CASES = [
    ("a scalar replaces", "metadata: {name: api}\nspec: {image: shop/api:1.1}", lambda s: s.image == "shop/api:1.1"),
    ("maps merge deeply", "metadata: {name: api}\nspec: {env: {LOG: info}}", lambda s: dict(s.env) == {"LOG": "info", "COLOR": "blue"}),
    ("null removes a key", "metadata: {name: api}\nspec: {env: {COLOR: null}}", lambda s: dict(s.env) == {"LOG": "debug"}),
    ("lists replace", "metadata: {name: api}\nspec: {ports: [{containerPort: 8080}]}", lambda s: [p.container_port for p in s.ports] == [8080]),
    ("metadata merges too", "metadata: {name: api, labels: {tier: front}}", lambda s: dict(s.labels) == {"tier": "front"}),
]


@pytest.mark.parametrize("change, holds", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_overlay_gives_only_what_differs(change, holds):
    text = "kind: Service\n" + change + "\n"
    assert holds(desired("prod", overlay("prod", "api.yaml", text)).service("api"))


def test_delete_removes_and_a_new_object_is_added():
    prod = desired("prod", overlay("prod", "changes.yaml", "kind: Service\nmetadata: {name: db}\ndelete: true\n---\n"
                                   + service("cache", "image: redis:7")))
    assert [s.name for s in prod.services] == ["api", "cache"]


def test_a_command_without_env_lists_them_and_an_unknown_one_gets_a_did_you_mean():
    with pytest.raises(SourceError, match=r"declares environments \(prod, staging\): choose one with --env NAME"):
        load_desired(tree(PROJECT, API))
    with pytest.raises(SourceError, match="--env prd: no such environment; did you mean 'prod'"):
        load_desired(tree(PROJECT, API), env="prd")
    with pytest.raises(SourceError, match="--env prod: gitdeploy.yaml declares no environments"):
        load_desired(tree(("gitdeploy.yaml", "project: shop\n"), API), env="prod")


def test_errors_in_the_merged_result_point_to_the_file_that_set_the_value():
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: api}\nspec:\n  replicas: -1\n"
                                                    "  imagePullPolicy: Always\n"))
    assert [str(p) for p in caught.value.problems] == [
        "environments/prod/api.yaml:4:13: spec.replicas: -1 is less than the minimum 0",
        "environments/prod/api.yaml:5:3: spec.imagePullPolicy: unknown key; allowed here: command, dependsOn, "
        "devices, endpointMode, env, files, healthCheck, hostNetwork, image, ingress, init, placement, ports, replicas, resources, restart, secrets, "
        "securityContext, stopGracePeriod, update, volumes",
    ]
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: api}\nspec: {replica: 2}\n"))
    assert "did you mean 'replicas'?" in str(caught.value.problems[0])
    assert str(caught.value.problems[0]).startswith("environments/prod/api.yaml:3:")


def test_an_overlay_must_name_its_object_once_and_delete_only_what_exists():
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("prod", "a.yaml", "kind: Service\nspec: {replicas: 2}\n"),
                overlay("prod", "b.yaml", "kind: Service\nmetadata: {name: api}\nspec: {replicas: 2}\n---\n"
                                          "kind: Service\nmetadata: {name: api}\nspec: {replicas: 3}\n---\n"
                                          "kind: Service\nmetadata: {name: ghost}\ndelete: true\n"))
    messages = [p.message for p in caught.value.problems]
    assert any("names its object with kind and metadata.name" in m for m in messages), messages
    assert any("Service api is overlaid twice in environment prod" in m for m in messages), messages
    assert any("there is no Service ghost in the base manifests to delete" in m for m in messages), messages


def test_two_environments_on_one_project_and_a_misnamed_folder_are_refused():
    shared = ("gitdeploy.yaml", "project: shop\nenvironments:\n  staging: {}\n  prod: {project: shop-staging}\n")
    with pytest.raises(SourceError, match="environments prod and staging are the same project shop-staging"):
        load_desired(tree(shared, API), env="prod")
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("production", "api.yaml", "kind: Service\nmetadata: {name: api}\n"))
    assert [str(p) for p in caught.value.problems] == [
        "environments/production/api.yaml:1:1: environments/production/ is not a declared environment; "
        "gitdeploy.yaml declares: prod, staging"]


def test_a_mistyped_overlay_gets_a_did_you_mean_and_a_base_problem_is_located_in_the_base():
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: apii}\nspec: {replicas: 2}\n"))
    assert "there is no Service apii in the base manifests to overlay; did you mean 'api'?" in \
        str(caught.value.problems[0])
    no_image = ("services/api.yaml", service("api", "replicas: 1"))
    with pytest.raises(ManifestError) as caught:
        desired("prod", overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: api}\nspec: {replicas: 2}\n"),
                base=(no_image,))
    assert str(caught.value.problems[0]).startswith("services/api.yaml:"), caught.value.problems


def test_null_where_the_base_has_no_such_map_is_no_value():
    prod = desired("prod", overlay("prod", "api.yaml", "kind: Service\nmetadata: {name: api}\n"
                                                       "spec: {resources: {cpus: null, memory: 64Mi}}\n"))
    assert prod.service("api").memory == 64 * 1024 * 1024 and prod.service("api").cpus is None
