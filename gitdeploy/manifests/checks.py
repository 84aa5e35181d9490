"""Checks the schema cannot express: units, replica/port rules, uniqueness.

They run only on documents that passed the schema, so shapes are known here.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re

from gitdeploy.core.defaults import default
from gitdeploy.core.order import cycles
from gitdeploy.core.redact import CONTROL
from gitdeploy.core.model import EngineKind, HealthCheck, UpdateOrder, UpdatePolicy
from gitdeploy.core.units import format_duration, parse_cpus, parse_duration, parse_memory
from gitdeploy.errors import Problem
from gitdeploy.manifests.build import holds_host_ports
from gitdeploy.manifests.schema import did_you_mean, dotted
from gitdeploy.manifests.yamldoc import Document


MAX_STOP_GRACE_PERIOD = 3600.0   # seconds
# Control characters (C0, DEL, C1) other than tab: they would reach terminals, CI logs and the engine.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")    # newline too


def document_problems(doc: Document, engine: EngineKind = EngineKind.DOCKER) -> list[Problem]:
    spec = doc.body["spec"]
    problems: list[Problem] = _control_characters(doc, doc.body, [])
    resources = spec.get("resources") or {}
    reserved = resources.get("reservations") or {}
    for where, values in ((["spec", "resources"], resources), (["spec", "resources", "reservations"], reserved)):
        for key, parse in (("memory", parse_memory), ("cpus", parse_cpus)):
            if key in values:
                try:
                    parse(values[key])
                except ValueError as exc:
                    problems.append(doc.problem([*where, key], f"{'.'.join(where)}.{key}: {exc}"))
    replicas = spec.get("replicas", default("replicas"))
    seen: dict[tuple[int, str], int] = {}
    for index, port in enumerate(spec.get("ports") or []):
        key = (port["containerPort"], port.get("protocol", default("ports.protocol")))
        if key in seen:
            problems.append(doc.problem(
                ["spec", "ports", index, "containerPort"],
                f"spec.ports[{index}].containerPort: {key[0]}/{key[1]} is already listed as spec.ports[{seen[key]}]",
            ))
        seen[key] = index
        if "hostPort" in port and replicas > 1 and engine is EngineKind.DOCKER:
            problems.append(doc.problem(
                ["spec", "ports", index, "hostPort"],
                f"spec.ports[{index}].hostPort: a fixed hostPort can serve only one replica, but replicas is {replicas}; "
                "remove hostPort (the engine then picks a free host port per replica) or set replicas: 1",
            ))
    problems += _host_network_problems(doc, spec, replicas)
    problems += _ingress_problems(doc, spec)
    problems += _timing_problems(doc, spec, engine)
    if "stopGracePeriod" in spec and parse_duration(spec["stopGracePeriod"]) > MAX_STOP_GRACE_PERIOD:
        problems.append(doc.problem(["spec", "stopGracePeriod"], "spec.stopGracePeriod: at most 1h"))
    problems += _host_ip_problems(doc, spec)
    problems += _mount_problems(doc, spec)
    problems += _secret_problems(doc, spec)
    return problems


def _secret_problems(doc: Document, spec) -> list[Problem]:
    """Secret names unique, env naming declared ones, and every delivered file (config or secret) at a path
    of its own."""
    from gitdeploy.core.model import SecretFile

    problems, names = [], {}
    for index, secret in enumerate(spec.get("secrets") or []):
        if secret["name"] in names:
            problems.append(doc.problem(["spec", "secrets", index, "name"],
                                        f"spec.secrets[{index}].name: {secret['name']} is already "
                                        f"spec.secrets[{names[secret['name']]}]; give each secret its own name"))
        names.setdefault(secret["name"], index)
    for var, value in (spec.get("env") or {}).items():
        if isinstance(value, dict) and value["secret"] not in names:
            known = sorted(names)
            guess = did_you_mean(value["secret"], known) or (
                f"; declared secrets: {', '.join(known)}" if known else "; declare it in spec.secrets")
            problems.append(doc.problem(["spec", "env", var, "secret"],
                                        f"spec.env.{var}.secret: no secret '{value['secret']}' in spec.secrets{guess}"))
    taken = {posixpath.normpath(m["path"]): f"spec.volumes[{i}]" for i, m in enumerate(spec.get("volumes") or [])}
    for field in ("files", "secrets"):
        for index, entry in enumerate(spec.get(field) or []):
            if field == "secrets" and names[entry["name"]] != index:
                continue   # a second secret of one name: said above
            path = posixpath.normpath(entry.get("path") or SecretFile.default_path(entry["name"]))
            if path in taken:
                problems.append(doc.problem(["spec", field, index] + (["path"] if "path" in entry else []),
                                            f"spec.{field}[{index}]: {path} is already taken by {taken[path]}; "
                                            "give each file a path of its own"))
            taken.setdefault(path, f"spec.{field}[{index}]")
    return problems


def _mount_problems(doc: Document, spec) -> list[Problem]:
    problems, seen = [], {}
    for index, mount in enumerate(spec.get("volumes") or []):
        path = posixpath.normpath(mount["path"])
        if path in seen:
            problems.append(doc.problem(["spec", "volumes", index, "path"],
                                        f"spec.volumes[{index}].path: {path} is already mounted by "
                                        f"spec.volumes[{seen[path]}]; mount each path once"))
        seen[path] = index
        size = (mount.get("tmpfs") or {}).get("size")
        if size is not None:
            try:
                parse_memory(size)
            except ValueError as exc:
                problems.append(doc.problem(["spec", "volumes", index, "tmpfs", "size"],
                                            f"spec.volumes[{index}].tmpfs.size: {exc}"))
    return problems


def volume_problems(doc: Document) -> list[Problem]:
    """A Volume document's rules beyond its schema: `name` belongs with `external`, and only there."""
    spec = doc.body.get("spec") or {}
    problems = _control_characters(doc, doc.body, [])
    if spec.get("external") and "name" not in spec:
        problems.append(doc.problem(["spec", "external"], "spec.external: an external volume needs spec.name, "
                                                          "the engine volume's name (docker volume ls)"))
    if "name" in spec and not spec.get("external"):
        problems.append(doc.problem(["spec", "name"], "spec.name: only an external volume has its own engine name; "
                                                      "add external: true, or remove name (gitdeploy names it "
                                                      "PROJECT_NAME)"))
    if spec.get("external") and ({"driver", "driverOpts"} & set(spec)):
        problems.append(doc.problem(["spec", "external"], "spec.external: an external volume is used as it is; "
                                                          "remove driver and driverOpts"))
    return problems


def shared_volume_warnings(services: list[Document], engine: EngineKind = EngineKind.DOCKER) -> list[str]:
    """A volume mounted start-first is written by two revisions at once during an update."""
    warnings = []
    for doc in services:
        spec = doc.body["spec"]
        named = [m["volume"] for m in spec.get("volumes") or [] if "volume" in m and not m.get("readOnly")]
        order = UpdatePolicy.from_canonical(spec.get("update") or {},
                                            fixed_host_port=holds_host_ports(spec, engine)).order
        if named and order is UpdateOrder.START_FIRST:
            warnings.append(f"{doc.file}:{doc.line}: service {doc.body['metadata']['name']} mounts volume "
                            f"{named[0]} with update.order start-first, so during an update two revisions write "
                            "it at once; a database wants order: stop-first")
    return warnings

def _control_characters(doc: Document, node, path: list) -> list[Problem]:
    """Every string (key or value) free of control characters; tab is fine, and newline inside a command.

    The message names the place and the character's code, never the value (it may be a secret).
    """
    found: list[Problem] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and _CONTROL.search(key):
                found.append(doc.problem(path + [key], f"{dotted(path)}: a key contains a control character "
                                                       f"(U+{ord(_CONTROL.search(key).group()):04X}); remove it",
                                         at_key=True))
            else:
                found += _control_characters(doc, value, path + [key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _control_characters(doc, value, path + [index])
    elif isinstance(node, str):
        pattern = CONTROL if path[:2] == ["spec", "command"] else _CONTROL
        bad = pattern.search(node)
        if bad:
            found.append(doc.problem(path, f"{dotted(path)}: contains a control character (U+{ord(bad.group()):04X}); "
                                           "remove it (tabs are allowed)"))
    return found


def _host_ip_problems(doc: Document, spec) -> list[Problem]:
    problems = []
    for index, port in enumerate(spec.get("ports") or []):
        if "hostIP" not in port:
            continue
        try:
            ipaddress.ip_address(port["hostIP"])
        except ValueError:
            problems.append(doc.problem(
                ["spec", "ports", index, "hostIP"],
                f"spec.ports[{index}].hostIP: '{port['hostIP'][:60]}' is not an IP address; write an address such "
                "as 127.0.0.1 or ::1, or leave hostIP out to publish on all interfaces"))
    return problems


def _overlap(a: str, b: str) -> bool:
    """Whether binding one host port on addresses `a` and `b` ("" = all interfaces) collides."""
    if a == "" or b == "":
        return True
    first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if first.version != second.version:
        return False
    return first == second or first.is_unspecified or second.is_unspecified


def _ingress_problems(doc: Document, spec) -> list[Problem]:
    """The ingress sends traffic to one containerPort (a declared one, or the one named) on the project network."""
    ingress = spec.get("ingress")
    if ingress is None:
        return []
    if spec.get("hostNetwork"):
        return [doc.problem(["spec", "hostNetwork"], "spec.hostNetwork: a replica on the host's network has no "
                                                     "address on the project network for the ingress; remove one")]
    problems = [doc.problem(["spec", "ingress", "hosts", i], f"spec.ingress.hosts[{i}]: a certificate from Let's "
                            f"Encrypt for {host} needs a DNS challenge, which gitdeploy does not configure; use "
                            "tls: internal or none, or name the hosts")
                for i, host in enumerate(ingress.get("hosts") or []) if host.startswith("*")
                and ingress.get("tls", "acme") == "acme"]
    ports = spec.get("ports") or []
    if "port" in ingress:
        return problems
    if not ports:
        return problems + [doc.problem(["spec", "ingress"], "spec.ingress: say which port the replicas listen on: "
                                                            "ingress.port, or ports: [{containerPort: N}]")]
    if len(ports) > 1:
        return problems + [doc.problem(["spec", "ingress"], f"spec.ingress: {len(ports)} ports are declared; say "
                                                            "which one receives the traffic with ingress.port")]
    return problems


def _host_network_problems(doc: Document, spec, replicas: int) -> list[Problem]:
    """A replica on the host's network binds the host's ports itself: one at a time, and no `ports`."""
    if not spec.get("hostNetwork"):
        return []
    problems = []
    if spec.get("ports"):
        problems.append(doc.problem(["spec", "ports"], "spec.ports: with hostNetwork the replica listens on the "
                                                       "host's own ports; remove ports"))
    if replicas > 1:
        problems.append(doc.problem(["spec", "hostNetwork"], f"spec.hostNetwork: replicas on the host's network "
                                                             f"would share its ports, but replicas is {replicas}; "
                                                             "set replicas: 1"))
    if (spec.get("update") or {}).get("order") == UpdateOrder.START_FIRST.value:
        problems.append(doc.problem(["spec", "update", "order"], "spec.update.order: start-first runs a new "
                                    "replica beside the old one on the same host ports; use order: stop-first"))
    return problems


def _timing_problems(doc: Document, spec, engine: EngineKind) -> list[Problem]:
    """Lints of health-check and update timings that would make a rollout meaningless or impossible."""
    problems: list[Problem] = []
    update = spec.get("update") or {}
    # The typed values, defaults filled, by the same conversion the builder uses.
    policy = UpdatePolicy.from_canonical(update)
    check = HealthCheck.from_canonical(spec["healthCheck"]) if spec.get("healthCheck") else None
    monitor = policy.monitor
    start_period = check.start_period if check else 0.0
    if check:
        interval, timeout = check.interval, check.timeout
        if timeout > interval:
            problems.append(doc.problem(
                ["spec", "healthCheck", "timeout"],
                f"spec.healthCheck.timeout: {format_duration(timeout)} is longer than the interval "
                f"({format_duration(interval)}); checks would overlap. Make timeout at most the interval"))
        if monitor < interval:
            problems.append(doc.problem(
                ["spec", "update", "monitor"] if "monitor" in update else ["spec", "healthCheck", "interval"],
                f"spec.update.monitor: {format_duration(monitor)} is shorter than one health-check interval "
                f"({format_duration(interval)}), so a new replica could count as ready before a second check; "
                f"set monitor to at least {format_duration(interval)}"))
    deadline = policy.progress_deadline
    if deadline < monitor + start_period:
        problems.append(doc.problem(
            ["spec", "update", "progressDeadline"] if "progressDeadline" in update else ["spec", "update"],
            f"spec.update.progressDeadline: {format_duration(deadline)} leaves no time for a replica to start "
            f"and be monitored ({format_duration(monitor + start_period)}); make it longer"))
    fixed = [i for i, p in enumerate(spec.get("ports") or []) if holds_host_ports({"ports": [p]}, engine)]
    if "order" in update and policy.order is UpdateOrder.START_FIRST and fixed:
        problems.append(doc.problem(
            ["spec", "update", "order"],
            f"spec.update.order: start-first runs a new replica beside the old one, but spec.ports[{fixed[0]}] "
            "has a fixed hostPort that two replicas cannot share; use order: stop-first or remove hostPort"))
    return problems


MAX_JOB_TIMEOUT = 24 * 3600.0   # seconds


def job_problems(doc: Document) -> list[Problem]:
    """A Job's rules beyond its schema (and the Service's checks it shares)."""
    timeout = doc.body["spec"].get("timeout")
    if timeout is not None and parse_duration(timeout) > MAX_JOB_TIMEOUT:
        return [doc.problem(["spec", "timeout"], "spec.timeout: at most 24h")]
    if timeout is not None and parse_duration(timeout) <= 0:
        return [doc.problem(["spec", "timeout"], "spec.timeout: must be more than 0s")]
    return []


def dependency_problems(docs: list[Document]) -> list[Problem]:
    """`dependsOn` names a Service or Job of the project, not its own, and no two wait for each other."""
    problems: list[Problem] = []
    names = {doc.body["metadata"]["name"]: doc for doc in docs}
    edges: dict[str, list[tuple[str, Problem]]] = {}   # name -> (dependency, where it is written)
    for doc in docs:
        name = doc.body["metadata"]["name"]
        for index, dependency in enumerate(doc.body["spec"].get("dependsOn") or []):
            where, at = ["spec", "dependsOn", index], f"spec.dependsOn[{index}]"
            if dependency == name:
                problems.append(doc.problem(where, f"{at}: {name} depends on itself; remove it"))
            elif dependency not in names:
                guess = did_you_mean(dependency, sorted(names)) or f"; this project has: {', '.join(sorted(names))}"
                problems.append(doc.problem(where, f"{at}: no Service or Job '{dependency}' in this project{guess}"))
            elif names[name] is doc:
                edges.setdefault(name, []).append((dependency, doc.problem(where, "")))
    for members in cycles({name: [d for d, _ in found] for name, found in edges.items()}):
        written = [(name, dependency, where) for name in members for dependency, where in edges[name]
                   if dependency in members]
        first = written[0][2]
        problems.append(Problem(first.file, first.line, first.column, (
            f"spec.dependsOn: {', '.join(members)} wait for each other in a cycle: "
            + ", ".join(f"{name} → {dep} ({at.file}:{at.line})" for name, dep, at in written)
            + "; remove one of these dependencies")))
    return problems


def project_problems(docs: list[Document], volumes: list[Document] = (), ingress_ports: tuple[int, ...] = ()) -> list[Problem]:
    """Across all files: unique service, job and volume names and fixed host ports; volumes that exist;
    no two routes of the ingress on one host and path, and no service on the ingress's host ports."""
    problems: list[Problem] = _volume_references(docs, volumes) + _route_clashes(docs)
    names: dict[str, Document] = {}
    host_ports: dict[tuple[str, int, str], tuple[Document, int]] = {}
    for doc in docs:
        name = doc.body["metadata"]["name"]
        if name in names:
            first = names[name].problem(["metadata", "name"], "")
            kind = names[name].body["kind"].lower()
            problems.append(doc.problem(
                ["metadata", "name"],
                f"metadata.name: {kind} '{name}' is already declared at {first.file}:{first.line}:{first.column}; "
                "service and job names must be unique in a project",
            ))
        else:
            names[name] = doc
        for index, port in enumerate(doc.body["spec"].get("ports") or []):
            if "hostPort" not in port or _bad_address(port.get("hostIP", "")):
                continue
            if port["hostPort"] in ingress_ports and port.get("protocol", "tcp") == "tcp":
                problems.append(doc.problem(["spec", "ports", index, "hostPort"],
                                            f"spec.ports[{index}].hostPort: {port['hostPort']} is the ingress's "
                                            "(gitdeploy.yaml ingress.http/https); pick another, or route this "
                                            "service through the ingress"))
            key = (port.get("hostIP", ""), port["hostPort"], port.get("protocol", default("ports.protocol")))
            other = next(((d, i) for (ip, number, proto), (d, i) in host_ports.items()
                          if (number, proto) == key[1:] and _overlap(ip, key[0])), None)
            if other is not None:
                other_doc, other_index = other
                at = other_doc.problem(["spec", "ports", other_index, "hostPort"], "")
                problems.append(doc.problem(
                    ["spec", "ports", index, "hostPort"],
                    f"spec.ports[{index}].hostPort: {key[1]}/{key[2]} is also published by service "
                    f"'{other_doc.body['metadata']['name']}' ({at.file}:{at.line}:{at.column}); pick another host port",
                ))
            else:
                host_ports[key] = (doc, index)
    return problems


def _route_clashes(docs: list[Document]) -> list[Problem]:
    """Two services of the project claiming one host and path of the ingress."""
    problems, claimed, modes = [], {}, {}
    for doc in docs:
        ingress = doc.body["spec"].get("ingress") if doc.body.get("kind") == "Service" else None
        for index, host in enumerate((ingress or {}).get("hosts") or ()):
            key = (host, (ingress.get("path") or "/").rstrip("/") or "/")
            other = claimed.setdefault(key, doc)
            if other is not doc:
                problems.append(doc.problem(["spec", "ingress", "hosts", index],
                                            f"spec.ingress.hosts[{index}]: {host}{key[1] if key[1] != '/' else ''} is "
                                            f"also routed to service '{other.body['metadata']['name']}'; give one of "
                                            "them another host or path"))
                continue
            tls = ingress.get("tls", "acme")
            first = modes.setdefault(host, (tls, doc))
            if first[0] != tls:
                problems.append(doc.problem(["spec", "ingress", "hosts", index],
                                            f"spec.ingress.hosts[{index}]: {host} has tls: {first[0]} for service "
                                            f"'{first[1].body['metadata']['name']}'; one host name has one TLS mode"))
    return problems


def _volume_references(services: list[Document], volumes: list[Document]) -> list[Problem]:
    problems, declared = [], {}
    for doc in volumes:
        name = doc.body["metadata"]["name"]
        if name in declared:
            first = declared[name].problem(["metadata", "name"], "")
            problems.append(doc.problem(["metadata", "name"], f"metadata.name: volume '{name}' is already declared "
                                                              f"at {first.file}:{first.line}:{first.column}"))
        declared.setdefault(name, doc)
    for doc in services:
        for index, mount in enumerate(doc.body["spec"].get("volumes") or []):
            if "volume" in mount and mount["volume"] not in declared:
                known = sorted(declared)
                guess = did_you_mean(mount["volume"], known) or (
                    f"; declared volumes: {', '.join(known)}" if known else "; declare it in a `kind: Volume` document")
                problems.append(doc.problem(["spec", "volumes", index, "volume"],
                                            f"spec.volumes[{index}].volume: no Volume '{mount['volume']}' in this "
                                            f"project{guess}"))
    return problems


def _bad_address(address: str) -> bool:
    try:
        return bool(address) and not ipaddress.ip_address(address)
    except ValueError:
        return True
