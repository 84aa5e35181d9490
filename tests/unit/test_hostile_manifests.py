"""Manifests written by someone careless or hostile (issue 10): one located error, no value echoed,
no crash and no runaway. Each table holds several variants of one class of input."""
from __future__ import annotations

import time

import pytest

from gitdeploy.manifests import load_desired
from gitdeploy.manifests.yamldoc import MAX_FILE_BYTES, parse
from tests.unit.test_manifests import PROJECT, problems, service, tree

SECRET = "hunter2-s3cr3t"


# (id, spec, words the one problem must contain)
SECRET_CASES = [
    ("duplicate env key", f"image: a\nenv:\n  TOKEN: {SECRET}\n  TOKEN: {SECRET}x", ["'TOKEN' appears twice"]),
    ("duplicate label key", f"image: a\nenv: {{A: {SECRET}, A: x{SECRET}}}", ["'A' appears twice"]),
    ("env as a string", f"image: a\nenv: PASSWORD={SECRET}", ["spec.env: expected a mapping, got a string"]),
    ("env value a list", f"image: a\nenv: {{A: [{SECRET}]}}", ["spec.env.A: expected", "got a list"]),
    ("env value a mapping", f"image: a\nenv: {{A: {{x: {SECRET}}}}}", ["spec.env.A: expected", "got a mapping"]),
    ("NUL in an env value", f'image: a\nenv: {{A: "{SECRET}\\0"}}', ["spec.env.A: contains a control character (U+0000)"]),
    ("ESC in an env value", f'image: a\nenv: {{A: "\\e]0;{SECRET}\\a"}}', ["(U+001B)"]),
    ("C1 CSI in an env value", f'image: a\nenv: {{A: "\\x9b31m{SECRET}"}}', ["(U+009B)"]),
    ("DEL in an env value", f'image: a\nenv: {{A: "{SECRET}\\x7f"}}', ["(U+007F)"]),
    ("newline in an env value", f'image: a\nenv: {{A: "{SECRET}\\nB=1"}}', ["(U+000A)"]),
]


@pytest.mark.parametrize("spec, words", [c[1:] for c in SECRET_CASES], ids=[c[0] for c in SECRET_CASES])
def test_errors_name_keys_and_positions_never_values(spec, words):
    found = problems(("web.yaml", service(spec=spec)))
    assert len(found) == 1 and found[0].startswith("web.yaml:"), found
    assert all(word in found[0] for word in words), found
    assert SECRET not in found[0]


@pytest.mark.parametrize("spec", ['image: a\nenv: {A: "tab\\there"}', 'image: a\ncommand: [sh, -c, "a\\nb"]'])
def test_tabs_and_newlines_in_a_command_are_fine(spec):
    assert load_desired(tree(PROJECT, ("web.yaml", service(spec=spec)))).services


# (id, a value that must not pass, where the problem is)
PATTERN_CASES = [
    ("name", 'image: a', "web\n", "metadata.name"),
    ("image", 'image: "a\\n"', None, "spec.image"),
    ("env key", 'image: a\nenv: {"A\\n": x}', None, "spec.env"),
    ("duration", 'image: a\nstopGracePeriod: "5s\\n"', None, "spec.stopGracePeriod"),
    ("http path", 'image: a\nhealthCheck: {http: {port: 80, path: "/\\n"}}', None, "spec.healthCheck.http.path"),
]


@pytest.mark.parametrize("spec, name, where", [c[1:] for c in PATTERN_CASES], ids=[c[0] for c in PATTERN_CASES])
def test_a_trailing_newline_does_not_slip_past_a_pattern(spec, name, where):
    text = service(spec=spec) if name is None else service(spec=spec).replace("name: web", 'name: "web\\n"')
    found = problems(("web.yaml", text))
    assert any(where in p for p in found), found


def test_a_project_name_with_a_trailing_newline_is_refused():
    with pytest.raises(Exception, match="1 problem"):
        load_desired(tree(("gitdeploy.yaml", 'project: "shop\\n"\n'), ("web.yaml", service())))


# (id, spec, problem contains)
RANGE_CASES = [
    ("cpus infinite", "image: a\nresources: {cpus: .inf}", "between 0.01 and 1024"),
    ("cpus not a number", "image: a\nresources: {cpus: .nan}", "between 0.01 and 1024"),
    ("cpus too small to limit", "image: a\nresources: {cpus: 0.001}", "between 0.01 and 1024"),
    ("cpus absurd", "image: a\nresources: {cpus: 5000}", "between 0.01 and 1024"),
    ("replicas absurd", "image: a\nreplicas: 1000000000", "more than the maximum 1000"),
    ("grace period over an hour", "image: a\nstopGracePeriod: 2h", "spec.stopGracePeriod: at most 1h"),
    ("non-ASCII http path", "image: a\nhealthCheck: {http: {port: 80, path: /é}}", "percent-encode"),
    ("hostIP a name", "image: a\nports: [{containerPort: 80, hostPort: 80, hostIP: localhost}]",
     "'localhost' is not an IP address; write an address such as 127.0.0.1"),
    ("hostIP a typo", "image: a\nports: [{containerPort: 80, hostPort: 80, hostIP: 127.0.0.1.1}]", "not an IP address"),
    ("hostIP with a space", "image: a\nports: [{containerPort: 80, hostPort: 80, hostIP: ' 127.0.0.1'}]",
     "not an IP address"),
]


@pytest.mark.parametrize("spec, message", [c[1:] for c in RANGE_CASES], ids=[c[0] for c in RANGE_CASES])
def test_out_of_range_values_are_refused_at_validation(spec, message):
    found = problems(("web.yaml", service(spec=spec)))
    assert len(found) == 1 and message in found[0], found


# (id, host address of web, of api, overlap?)
OVERLAP_CASES = [
    ("same address", "127.0.0.1", "127.0.0.1", True),
    ("all interfaces and one address", None, "127.0.0.1", True),
    ("0.0.0.0 and one address", "0.0.0.0", "127.0.0.1", True),
    (":: and an IPv6 address", "::", "::1", True),
    ("all interfaces and IPv6", None, "::1", True),
    ("two addresses", "127.0.0.1", "127.0.0.2", False),
    ("0.0.0.0 and IPv6", "0.0.0.0", "::1", False),
]


@pytest.mark.parametrize("first, second, overlap", [c[1:] for c in OVERLAP_CASES], ids=[c[0] for c in OVERLAP_CASES])
def test_one_host_port_on_overlapping_addresses(first, second, overlap):
    def port(ip):
        return f"image: a\nports: [{{containerPort: 80, hostPort: 8080{', hostIP: ' + repr(ip) if ip else ''}}}]"

    files = (PROJECT, ("a.yaml", service("web", port(first))), ("b.yaml", service("api", port(second))))
    if overlap:
        with pytest.raises(Exception) as caught:
            load_desired(tree(*files))
        assert "8080/tcp is also published by service" in str(caught.value.problems[0])
    else:
        assert len(load_desired(tree(*files)).services) == 2


@pytest.mark.parametrize("written", ["1.10", "0x1F", "1e3", "010", "True", "+1", "0o17", ".5", "1_000"])
def test_env_and_label_values_reach_the_container_as_written(written):
    spec = f"image: a\nenv: {{V: {written}}}\n"
    text = service(spec=spec).replace("  name: web\n", f"  name: web\n  labels: {{v: {written}}}\n")
    desired = load_desired(tree(PROJECT, ("web.yaml", text)))
    assert dict(desired.services[0].env) == {"V": written}
    assert dict(desired.services[0].labels) == {"v": written}


def test_anchors_aliases_and_tags_do_not_leak_into_values():
    spec = "image: a\nenv:\n  A: &v 1.10\n  B: *v\n  C: !!float 1.10\n  D: &w !!int 0x1F\n  E: *w\n"
    desired = load_desired(tree(PROJECT, ("web.yaml", service(spec=spec))))
    assert dict(desired.services[0].env) == {"A": "1.10", "B": "1.10", "C": "1.10", "D": "0x1F", "E": "0x1F"}


def nested_aliases(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, message", [
    (nested_aliases(9), "once aliases (*name) are expanded"),
    (nested_aliases(7), "once aliases (*name) are expanded"),
    ("[" * 10000 + "]" * 10000, "nested more than 64 levels deep"),
    ("{a: " * 200 + "1" + "}" * 200, "nested more than 64 levels deep"),
    ("x: " + "y" * (MAX_FILE_BYTES + 1), "a manifest may be at most"),
])
def test_runaway_documents_stop_with_a_located_error_fast(text, message):
    started = time.process_time()
    documents, found = parse("bomb.yaml", text.encode())
    assert time.process_time() - started < 1.0
    assert documents == [] and len(found) == 1 and message in found[0].message


def test_a_scalar_document_in_the_middle_of_a_file_is_reported_at_its_line():
    text = service() + "---\n\n\njust a string\n"
    found = problems(("web.yaml", text))
    assert found == ["web.yaml:10:1: a manifest must be a mapping with apiVersion, kind, metadata and spec"]
