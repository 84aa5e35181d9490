"""Manifests → desired state, and the exact error messages users see. No engine, no git."""
from __future__ import annotations

import textwrap

import pytest

from gitdeploy.errors import ManifestError, SourceError
from gitdeploy.manifests import load_desired
from gitdeploy.core.revision import Revision, SourceFile, SourceTree

PROJECT = ("gitdeploy.yaml", "project: shop\n")


def tree(*files: tuple[str, str], root: str = "") -> SourceTree:
    prefix = f"{root}/" if root else ""
    return SourceTree(Revision("ab" * 20, "main", root, "."),
                      tuple(SourceFile(prefix + name, textwrap.dedent(text).encode()) for name, text in files))


def service(name: str = "web", spec: str = "image: shop/web:1") -> str:
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ")
    return f"apiVersion: gitdeploy/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n{body}\n"


def problems(*files: tuple[str, str]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(PROJECT, *files))
    return [str(p) for p in caught.value.problems]


def test_the_issue_example_loads_with_defaults_filled():
    # The issue's example pairs replicas: 3 with hostPort: 8080, which the same
    # issue asks us to reject (see test_exact_messages); here without hostPort.
    desired = load_desired(tree(PROJECT, ("web.yaml", """\
        apiVersion: gitdeploy/v1
        kind: Service
        metadata:
          name: web            # DNS label, unique per project
          labels: {tier: front}
        spec:
          image: shop/web:1.4.2
          replicas: 3          # default 1, 0 allowed
          command: ["/bin/httpd", "-f", "-p", "80"]
          env: {GREETING: hello}
          ports: [{containerPort: 80, protocol: tcp}]
          resources: {cpus: 0.5, memory: 128Mi}
          restart: unless-stopped
        """)))
    (web,) = desired.services
    assert (desired.project, desired.commit) == ("shop", "ab" * 20)
    assert (web.name, web.image, web.replicas, web.command) == ("web", "shop/web:1.4.2", 3, ("/bin/httpd", "-f", "-p", "80"))
    assert web.env == (("GREETING", "hello"),) and web.labels == (("tier", "front"),)
    assert (web.cpus, web.memory, web.restart, web.init, web.stop_grace_period) == (0.5, 128 * 2**20, "unless-stopped", True, 10.0)
    assert web.source == "web.yaml:1"


def test_defaults_written_out_or_left_out_hash_the_same():
    terse = load_desired(tree(PROJECT, ("a.yaml", service(spec="""
        image: shop/web:1
        ports: [{containerPort: 80}]
        env: {PORT: 8080}
        resources: {memory: 134217728}
    """)))).services[0]
    verbose = load_desired(tree(PROJECT, ("a.yaml", service(spec="""
        image: shop/web:1
        replicas: 1
        restart: unless-stopped
        init: true
        stopGracePeriod: 10000ms
        ports: [{containerPort: 80, protocol: tcp}]
        env: {PORT: "8080"}
        resources: {memory: 128Mi}
    """)))).services[0]
    assert terse.template_hash() == verbose.template_hash()


def test_multi_document_files_and_subfolders():
    desired = load_desired(tree(PROJECT, ("apps/all.yml", service("web") + "---\n" + service("api") + "---\n")))
    assert [s.name for s in desired.services] == ["api", "web"]


def test_all_problems_reported_at_once_with_locations():
    assert problems(
        ("web.yaml", service("Web_1", """
            image: shop/web:1
            replicass: 3
            restart: sometimes
        """)),
        ("api.yaml", service("api", "image: shop/api:1\nresources: {memory: 128MB, cpus: half}")),
    ) == [
        "api.yaml:7:23: spec.resources.memory: memory '128MB' is not a size; write a number with a unit Ki, Mi, Gi "
        "(powers of 1024) or k, M, G (powers of 1000), for example 128Mi",
        "api.yaml:7:36: spec.resources.cpus: cpus 'half' is not a CPU amount; write a number of CPUs such as 0.5 or 2, "
        "or millicores such as 500m",
        "web.yaml:4:9: metadata.name: 'Web_1' is not valid; use a DNS label: lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters",
        "web.yaml:7:3: spec.replicass: unknown key; did you mean 'replicas'?",
        "web.yaml:8:12: spec.restart: 'sometimes' is not one of no, always, unless-stopped, on-failure",
    ]


@pytest.mark.parametrize("spec, message", [
    ("image: a\nreplicas: three", "web.yaml:7:13: spec.replicas: expected an integer, got 'three'"),
    ("image: a\nreplicas: -1", "web.yaml:7:13: spec.replicas: -1 is less than the minimum 0"),
    ("image: a\nPorts: []", "web.yaml:7:3: spec.Ports: unknown key; did you mean 'ports'?"),
    ("image: a\nmounts: []", "web.yaml:7:3: spec.mounts: unknown key; allowed here: command, dependsOn, devices, endpointMode, env, "
                             "files, healthCheck, hostNetwork, image, ingress, init, placement, ports, replicas, resources, restart, secrets, "
                             "securityContext, stopGracePeriod, update, volumes"),
    ("replicas: 1", "web.yaml:6:3: spec: missing required key 'image'"),
    ("image: a\nports: [{containerPort: 80, hostport: 8080}]",
     "web.yaml:7:31: spec.ports[0].hostport: unknown key; did you mean 'hostPort'?"),
    ("image: a\nports: [{containerPort: 70000}]", "web.yaml:7:27: spec.ports[0].containerPort: 70000 is more than the maximum 65535"),
    ("image: a\nreplicas: 2\nports: [{containerPort: 80, hostPort: 8080}]",
     "web.yaml:8:41: spec.ports[0].hostPort: a fixed hostPort can serve only one replica, but replicas is 2; "
     "remove hostPort (the engine then picks a free host port per replica) or set replicas: 1"),
    ("image: a\nenv: {1BAD: x}", "web.yaml:7:9: spec.env.1BAD: invalid key; an environment variable name is letters, "
                                 "digits and '_', not starting with a digit"),
    ("image: a\ncommand: []", "web.yaml:7:12: spec.command: must not be empty"),
    ("image: a\nstopGracePeriod: 10", "web.yaml:7:20: spec.stopGracePeriod: expected a string, got 10; "
                                      "write a duration such as 500ms, 10s or 2m"),
    ("image: a\nstopGracePeriod: soon", "web.yaml:7:20: spec.stopGracePeriod: 'soon' is not valid; write a duration "
                                        "such as 500ms, 10s or 2m"),
    ("image: a\nresources: {memory: 1Mi}", "web.yaml:7:23: spec.resources.memory: memory '1Mi' is below the engine's minimum of 6Mi"),
])
def test_exact_messages(spec, message):
    assert problems(("web.yaml", service(spec=spec))) == [message]


def test_document_level_problems():
    assert problems(("a.yaml", "apiVersion: gitdeploy/v1\nkind: Deployment\nmetadata: {name: x}\n")) == [
        "a.yaml:2:7: kind: unknown kind 'Deployment'; gitdeploy/v1 knows: Service, Job, Volume"]
    assert problems(("a.yaml", "- just\n- a list\n")) == [
        "a.yaml:1:1: a manifest must be a mapping with apiVersion, kind, metadata and spec"]
    assert problems(("a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {image: a}\n")) == [
        "a.yaml:1:13: apiVersion: expected 'gitdeploy/v1', got 'v1'"]


def test_yaml_syntax_error_is_located():
    assert problems(("bad.yaml", "spec:\n  image: [unclosed\n")) == [
        "bad.yaml:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>'; a [list] is not closed with ]"]
    assert problems(("dup.yaml", "a: 1\na: 2\n")) == ["dup.yaml:2:1: YAML: key 'a' appears twice in one mapping (first at line 1); keep one"]


def test_names_and_host_ports_unique_across_files():
    assert problems(
        ("a.yaml", service("web", "image: a\nports: [{containerPort: 80, hostPort: 8080}]")),
        ("b.yaml", service("web", "image: b")),
        ("c.yaml", service("api", "image: c\nports: [{containerPort: 81, hostPort: 8080}]")),
    ) == [
        "b.yaml:4:9: metadata.name: service 'web' is already declared at a.yaml:4:9; service and job names must be unique in a project",
        "c.yaml:7:41: spec.ports[0].hostPort: 8080/tcp is also published by service 'web' (a.yaml:7:41); pick another host port",
    ]


def test_project_file_problems():
    with pytest.raises(SourceError, match="no gitdeploy.yaml in deploy at commit abababababab"):
        load_desired(tree(("web.yaml", service()), root="deploy"))
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(("gitdeploy.yaml", "project: Shop\nenv: prod\n"), ("web.yaml", service())))
    assert [str(p) for p in caught.value.problems] == [
        "gitdeploy.yaml:1:10: project: 'Shop' is not valid; use lowercase letters, digits and '-', at most 40 characters",
        "gitdeploy.yaml:2:1: env: unknown key; allowed here: engine, environments, ingress, project",
    ]


def test_an_empty_project_is_refused_rather_than_pruning_everything():
    with pytest.raises(SourceError, match="no Service or Job manifests under the repository root"):
        load_desired(tree(PROJECT, ("empty.yaml", "# nothing yet\n")))


def test_health_check_and_update_policy_load_with_defaults():
    desired = load_desired(tree(PROJECT, ("web.yaml", service(spec="""
        image: a
        healthCheck: {http: {port: 80, path: /healthz}, interval: 1s, timeout: 500ms}
        update: {parallelism: 2, monitor: 2s}
    """)), ("db.yaml", service("db", "image: b\nports: [{containerPort: 5432, hostPort: 5432}]"))))
    db, web = desired.services
    assert (web.health.kind, web.health.http_port, web.health.http_path, web.health.http_status) == ("http", 80, "/healthz", 200)
    assert (web.health.interval, web.health.timeout, web.health.retries, web.health.start_period) == (1.0, 0.5, 3, 0.0)
    assert (web.update.parallelism, web.update.order, web.update.monitor, web.update.progress_deadline) == (2, "start-first", 2.0, 120.0)
    assert db.health is None and db.update.order == "stop-first"  # a fixed hostPort cannot be shared


def test_update_policy_is_not_part_of_the_template():
    plain = load_desired(tree(PROJECT, ("web.yaml", service(spec="image: a")))).services[0]
    tuned = load_desired(tree(PROJECT, ("web.yaml", service(spec="image: a\nupdate: {parallelism: 3}")))).services[0]
    checked = load_desired(tree(PROJECT, ("web.yaml", service(spec="image: a\nhealthCheck: {tcp: {port: 80}}")))).services[0]
    assert plain.template_hash() == tuned.template_hash() != checked.template_hash()


@pytest.mark.parametrize("spec, message", [
    ("image: a\nhealthCheck: {exec: [\"true\"], http: {port: 80}}", "web.yaml:7:16: spec.healthCheck: has exec and http; "
                                                                "give exactly one of exec, http or tcp"),
    ("image: a\nhealthCheck: {interval: 1s}", "web.yaml:7:16: spec.healthCheck: has none of them; give exactly one of exec, "
                                              "http or tcp"),
    ("image: a\nhealthCheck: {tcp: {port: 80}, interval: 2s}\nupdate: {monitor: 1s}",
     "web.yaml:8:21: spec.update.monitor: 1s is shorter than one health-check interval (2s), so a new replica could "
     "count as ready before a second check; set monitor to at least 2s"),
    ("image: a\nhealthCheck: {tcp: {port: 80}, interval: 1s, timeout: 2s}",
     "web.yaml:7:57: spec.healthCheck.timeout: 2s is longer than the interval (1s); checks would overlap. "
     "Make timeout at most the interval"),
    ("image: a\nports: [{containerPort: 80, hostPort: 8080}]\nupdate: {order: start-first}",
     "web.yaml:8:19: spec.update.order: start-first runs a new replica beside the old one, but spec.ports[0] has a "
     "fixed hostPort that two replicas cannot share; use order: stop-first or remove hostPort"),
    ("image: a\nupdate: {progressDeadline: 1s}", "web.yaml:7:30: spec.update.progressDeadline: 1s leaves no time for a "
                                                 "replica to start and be monitored (5s); make it longer"),
])
def test_rollout_lints(spec, message):
    assert problems(("web.yaml", service(spec=spec))) == [message]


@pytest.mark.parametrize("spec, message", [
    ('image: a\nports: ["8090:80"]',
     "web.yaml:7:11: spec.ports[0]: expected a mapping, got '8090:80'; write {containerPort: 80, hostPort: 8090}"),
    ('image: a\nports: ["127.0.0.1:8090:80/udp"]',
     "web.yaml:7:11: spec.ports[0]: expected a mapping, got '127.0.0.1:8090:80/udp'; write {containerPort: 80, "
     "hostPort: 8090, hostIP: 127.0.0.1, protocol: udp}"),
    ('image: a\ncommand: /bin/httpd -f -p "80"',
     'web.yaml:7:12: spec.command: expected a list, got \'/bin/httpd -f -p "80"\'; write a list: '
     '["/bin/httpd", "-f", "-p", "80"]'),
    ('image: a\nenv: ["A=1", "PASSWORD=hunter2"]',        # the values are never repeated: they may be secrets
     "web.yaml:7:8: spec.env: expected a mapping, got a list; write a mapping: {A: ..., PASSWORD: ...} (NAME: value)"),
    ('image: a\nvolumes: ["data:/var/lib/x"]',
     "web.yaml:7:13: spec.volumes[0]: expected a mapping, got 'data:/var/lib/x'; write {volume: data, path: "
     "/var/lib/x} (and declare it in a `kind: Volume`)"),
    ('image: a\nvolumes: ["./conf:/etc/x:ro"]',
     "web.yaml:7:13: spec.volumes[0]: expected a mapping, got './conf:/etc/x:ro'; write {hostPath: "
     "/absolute/path/of/conf, path: /etc/x, readOnly: true} (a hostPath is absolute: it is on the engine's host, "
     "not in the repository)"),
    ("image: a\ninterval: 1s", "web.yaml:7:3: spec.interval: unknown key; did you mean spec.healthCheck.interval?"),
    ("image: a\nhealthCheck: {exec: [x], update: {}}",
     "web.yaml:7:28: spec.healthCheck.update: unknown key; did you mean spec.update?"),
])
def test_what_compose_users_write_gets_the_right_form(spec, message):
    assert problems(("web.yaml", service(spec=spec))) == [message]


def test_a_key_one_level_too_high_and_a_tab():
    assert problems(("web.yaml", service(spec="image: a") + "healthCheck: {exec: [x]}\n")) == [
        "web.yaml:7:1: healthCheck: unknown key; did you mean spec.healthCheck?"]
    assert problems(("web.yaml", "spec:\n\timage: a\n")) == [
        "web.yaml:2:1: YAML syntax error: found character '\\t' that cannot start any token; indent with spaces, "
        "not tabs"]
