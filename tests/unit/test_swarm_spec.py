"""Manifests for a Swarm: what each engine refuses (located), and the service definitions Swarm is given.

The lab this project tests on has no IPVS, so the routing mesh and VIP addresses,
the defaults users get on ordinary hosts, are checked here, on the definitions.
"""
from __future__ import annotations

import copy

import pytest

from gitdeploy.core.model import EngineKind
from gitdeploy.engine import swarm_spec as S
from gitdeploy.errors import ManifestError
from gitdeploy.manifests import load_desired
from tests.unit.test_manifests import service, tree

SWARM = ("gitdeploy.yaml", "project: shop\nengine: swarm\n")
DOCKER = ("gitdeploy.yaml", "project: shop\n")


def load(project_file, spec: str, engine: EngineKind | None = None):
    return load_desired(tree(project_file, ("web.yaml", service(spec=spec))), engine=engine)


def problems(project_file, spec: str, engine: EngineKind | None = None) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(project_file, spec, engine)
    return [str(p) for p in caught.value.problems]


def test_the_engine_comes_from_the_project_file_and_the_command_line_overrides_it():
    assert load(SWARM, "image: a").engine is EngineKind.SWARM
    assert load(DOCKER, "image: a").engine is EngineKind.DOCKER
    assert load(DOCKER, "image: a", EngineKind.SWARM).engine is EngineKind.SWARM
    environments = ("gitdeploy.yaml", "project: shop\nenvironments:\n  prod: {engine: swarm}\n  dev: {}\n")
    assert load_desired(tree(environments, ("web.yaml", service())), env="prod").engine is EngineKind.SWARM
    assert load_desired(tree(environments, ("web.yaml", service())), env="dev").engine is EngineKind.DOCKER


@pytest.mark.parametrize("spec, expected", [
    ("image: a\nplacement: {constraints: [node.role==worker]}",
     "web.yaml:7:14: spec.placement: places replicas on a Swarm's nodes; only a Swarm does this; remove it, or deploy "
     "with `engine: swarm` in gitdeploy.yaml (or --engine swarm)"),
    ("image: a\nendpointMode: dnsrr", "web.yaml:7:17: spec.endpointMode: only a Swarm does this; remove it, or deploy "
                                      "with `engine: swarm` in gitdeploy.yaml (or --engine swarm)"),
    ("image: a\nports: [{containerPort: 80, hostPort: 8080, mode: ingress}]",
     "web.yaml:7:53: spec.ports[0].mode: ingress is Swarm's routing mesh; a single engine publishes on its own host: "
     "remove mode (or write mode: host)"),
])
def test_swarm_fields_are_errors_on_a_single_engine(spec, expected):
    assert problems(DOCKER, spec) == [expected]


@pytest.mark.parametrize("spec, expected", [
    ("image: a\nhealthCheck: {http: {port: 80}}", "spec.healthCheck.http: gitdeploy probes http checks itself"),
    ("image: a\nports: [{containerPort: 80, hostPort: 80, hostIP: 127.0.0.1}]", "spec.ports[0].hostIP: a Swarm"),
    ("image: a\nendpointMode: dnsrr\nports: [{containerPort: 80, hostPort: 80}]", "write mode: host"),
    ("image: a\nenv: {TOKEN: {secret: token}}\nsecrets: [{name: token, source: t.age}]", "spec.env.TOKEN: on a Swarm"),
    ("image: a\nhostNetwork: true\nupdate: {order: stop-first}", "spec.hostNetwork: Swarm services"),
    ("image: a\nsecurityContext: {privileged: true}", "spec.securityContext.privileged: Swarm services cannot"),
])
def test_what_a_swarm_cannot_do_is_a_located_error(spec, expected):
    found = problems(SWARM, spec)
    assert any(expected in p for p in found), found


def test_a_fixed_port_on_the_routing_mesh_serves_many_replicas_and_updates_start_first():
    (web,) = load(SWARM, "image: a\nreplicas: 3\nports: [{containerPort: 80, hostPort: 8080}]").services
    assert web.replicas == 3 and web.update.order.value == "start-first"
    (host,) = load(SWARM, "image: a\nreplicas: 3\nports: [{containerPort: 80, hostPort: 8080, mode: host}]").services
    assert host.update.order.value == "stop-first"   # one per node: a new one cannot start beside the old
    assert "a fixed hostPort can serve only one replica" in problems(
        DOCKER, "image: a\nreplicas: 3\nports: [{containerPort: 80, hostPort: 8080}]")[0]


def test_new_fields_left_out_keep_the_template_hash():
    # A replica deployed before these fields existed must not look changed.
    (web,) = load(DOCKER, "image: a\nports: [{containerPort: 80}]").services
    assert "placement" not in web.template() and "endpointMode" not in web.template()
    assert "mode" not in web.template()["ports"][0]


SPEC = """\
image: shop/web:2
replicas: 3
command: [httpd, -f]
env: {GREETING: hi}
ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 9081, mode: host}]
resources: {cpus: 0.5, memory: 64Mi}
restart: on-failure
stopGracePeriod: 2s
healthCheck: {exec: [nc, -z, 127.0.0.1, "80"], interval: 1s, retries: 2}
placement:
  constraints: [node.labels.zone==a]
  preferences: [{spread: node.labels.rack}]
  maxReplicasPerNode: 1
update: {parallelism: 2, monitor: 3s, failureAction: rollback}
"""


def definition(spec: str = SPEC, job: bool = False) -> dict:
    (web,) = load(SWARM, spec).services
    return S.service_definition("shop", "c" * 40, web, "gitdeploy_shop", job=job)


def test_a_service_becomes_a_swarm_service_with_the_routing_mesh_and_a_virtual_ip_by_default():
    found = definition()
    task, container = found["TaskTemplate"], found["TaskTemplate"]["ContainerSpec"]
    assert found["Name"] == "shop_web" and found["Mode"] == {"Replicated": {"Replicas": 3}}
    assert found["EndpointSpec"] == {"Mode": "vip", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress", "PublishedPort": 8080},
        {"Protocol": "tcp", "TargetPort": 81, "PublishMode": "host", "PublishedPort": 9081}]}
    assert (container["Image"], container["Args"], container["Env"]) == ("shop/web:2", ["httpd", "-f"], ["GREETING=hi"])
    assert container["Healthcheck"] == {"Test": ["CMD", "nc", "-z", "127.0.0.1", "80"], "Interval": 10**9,
                                        "Timeout": 10**9, "Retries": 2, "StartPeriod": 0}
    assert container["StopGracePeriod"] == 2 * 10**9
    assert container["Labels"]["io.gitdeploy.template-hash"] == found["Labels"]["io.gitdeploy.template-hash"]
    assert task["Resources"] == {"Limits": {"NanoCPUs": 5 * 10**8, "MemoryBytes": 64 * 2**20}}
    assert task["RestartPolicy"]["Condition"] == "on-failure"
    assert task["Placement"] == {"Constraints": ["node.labels.zone==a"],
                                 "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.rack"}}],
                                 "MaxReplicas": 1}
    assert task["Networks"] == [{"Target": "gitdeploy_shop", "Aliases": ["web"]}]
    assert found["UpdateConfig"] == {"Parallelism": 2, "Delay": 0, "FailureAction": "rollback",
                                     "Monitor": 3 * 10**9, "MaxFailureRatio": 0, "Order": "stop-first"}   # a host-mode port
    assert found["RollbackConfig"]["FailureAction"] == "pause"


def test_dnsrr_and_host_ports_for_hosts_without_ipvs():
    found = definition("image: a\nendpointMode: dnsrr\nports: [{containerPort: 80, hostPort: 8080, mode: host}]")
    assert found["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "tcp", "TargetPort": 80, "PublishMode": "host", "PublishedPort": 8080}]}


def test_a_job_is_a_replicated_job_that_never_restarts():
    found = definition("image: a", job=True)
    assert found["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert found["TaskTemplate"]["RestartPolicy"]["Condition"] == "none" and "UpdateConfig" not in found


def test_config_files_are_named_by_their_content():
    from dataclasses import replace
    from gitdeploy.core.model import ConfigFile

    (web,) = load(SWARM, "image: a").services
    one = replace(web, files=(ConfigFile("/etc/a.conf", b"one"),))
    two = replace(web, files=(ConfigFile("/etc/a.conf", b"two"),))
    assert S.config_name("shop", one, 0) != S.config_name("shop", two, 0)
    assert S.config_name("shop", one, 0) == S.config_name("shop", replace(one, replicas=5), 0)
    reference = S.service_definition("shop", "c", one, "n", ids={S.config_name("shop", one, 0): "id1"})
    assert reference["TaskTemplate"]["ContainerSpec"]["Configs"] == [
        {"File": {"Name": "/etc/a.conf", "UID": "0", "GID": "0", "Mode": 0o444},
         "ConfigName": S.config_name("shop", one, 0), "ConfigID": "id1"}]


def test_drift_names_the_first_field_changed_by_hand_and_ignores_what_the_engine_fills_in():
    posted = definition()
    live = copy.deepcopy(posted)
    live["TaskTemplate"]["ForceUpdate"] = 0                     # filled in by the engine
    live["TaskTemplate"]["ContainerSpec"]["Isolation"] = "default"
    live["Mode"]["Replicated"]["Replicas"] = 5                  # the count is the planner's (it sees the tasks)
    assert S.drift(posted, live) == ""
    live["TaskTemplate"]["ContainerSpec"]["Env"].append("DEBUG=1")
    assert S.drift(posted, live) == "TaskTemplate.ContainerSpec.Env"
    live = copy.deepcopy(posted)
    live["TaskTemplate"]["ContainerSpec"]["Image"] = "shop/web:evil"
    assert S.drift(posted, live) == "TaskTemplate.ContainerSpec.Image"   # the path, never the value
    live = copy.deepcopy(posted)
    del live["TaskTemplate"]["Placement"]["Constraints"]
    assert S.drift(posted, live) == "TaskTemplate.Placement.Constraints"


def test_a_constraint_added_by_hand_where_the_manifest_has_none_is_drift():
    posted = definition("image: a")
    live = copy.deepcopy(posted)
    live["TaskTemplate"]["Placement"] = {"Constraints": ["node.role==manager"], "Platforms": [{"OS": "linux"}]}
    assert S.drift(posted, live) == "TaskTemplate.Placement.Constraints"
    live = copy.deepcopy(posted)
    live["TaskTemplate"]["ContainerSpec"]["User"] = "root"
    assert S.drift(posted, live) == "TaskTemplate.ContainerSpec.User"
    live = copy.deepcopy(posted)
    live["TaskTemplate"]["Placement"] = {"Platforms": [{"OS": "linux"}]}   # filled in by the engine
    live["TaskTemplate"]["Runtime"] = "container"
    assert S.drift(posted, live) == ""


LONG = ("gitdeploy.yaml", "project: " + "p" * 40 + "\nengine: swarm\n")


@pytest.mark.parametrize("files, expected", [
    ((LONG, ("web.yaml", service("web-frontend-x1-y2-z3-w4", "image: a"))),
     "metadata.name: on a Swarm this service is named " + "p" * 40 + "_web-frontend-x1-y2-z3-w4, 65 characters, "
     "over Swarm's 63"),
    ((SWARM, ("web.yaml", service(spec="image: a\nendpointMode: dnsrr\nports: [{containerPort: 80}]"))),
     "spec.ports[0]: with endpointMode: dnsrr there is no routing mesh"),
    ((SWARM, ("web.yaml", service()), ("v.yaml", "apiVersion: gitdeploy/v1\nkind: Volume\nmetadata: {name: data}\n"
                                                  "spec: {driver: nfs}\n")),
     "spec.driver: on a Swarm each node makes its own copy"),
])
def test_names_too_long_for_swarm_dnsrr_ports_and_volume_drivers_are_located_errors(files, expected):
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(*files))
    found = [str(p) for p in caught.value.problems]
    assert any(expected in p for p in found), found


def test_names_that_fit_are_fine_and_a_single_engine_has_no_such_limit():
    assert load_desired(tree(LONG, ("web.yaml", service("web-frontend-x1-y2-z3", "image: a")))).services
    assert load_desired(tree(("gitdeploy.yaml", "project: " + "p" * 40 + "\n"),
                             ("web.yaml", service("web-frontend-x1-y2-z3-w4", "image: a")))).services


def test_reservations_reach_a_swarm_and_only_memory_a_single_engine():
    found = definition("image: a\nresources: {cpus: 1, memory: 64Mi, reservations: {cpus: 250m, memory: 32Mi}}")
    assert found["TaskTemplate"]["Resources"] == {"Limits": {"NanoCPUs": 10**9, "MemoryBytes": 64 * 2**20},
                                                  "Reservations": {"NanoCPUs": 25 * 10**7, "MemoryBytes": 32 * 2**20}}
    (web,) = load(DOCKER, "image: a\nresources: {reservations: {memory: 32Mi}}").services
    assert web.reserved_memory == 32 * 2**20 and web.template()["resources"]["reservations"]["memory"] == "32Mi"
    assert "spec.resources.reservations.cpus: a single engine does not reserve CPUs" in problems(
        DOCKER, "image: a\nresources: {reservations: {cpus: 1}}")[0]
    assert "reservations" not in load(DOCKER, "image: a\nresources: {memory: 32Mi}").services[0].template()["resources"]
