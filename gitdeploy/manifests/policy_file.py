"""Reading the host's policy file (docs/policy.md) into a `core.policy.Policy`.

The file is the operator's, on the host: `--policy FILE`, GITDEPLOY_POLICY, or
/etc/gitdeploy/policy.yaml when it exists. A file that cannot be read or does
not follow schemas/policy.v1.schema.json stops the command with located
problems: a broken policy never falls back to "no policy".
"""
from __future__ import annotations

import os

from gitdeploy.core.policy import BUILT_IN, Policy, PortRange, SignaturePolicy
from gitdeploy.errors import GitDeployError, PolicyFileError, Problem

DEFAULT_PATH = "/etc/gitdeploy/policy.yaml"
POLICY_SCHEMA = "policy.v1.schema.json"


def policy_path(given: str | None) -> str | None:
    """The policy file to read: the one given (--policy or GITDEPLOY_POLICY), else the default unless it
    surely does not exist. A default that cannot be looked at (a folder this user may not enter, a link to
    nowhere) is read anyway, so that it fails loudly: a policy is never skipped because it was unreadable."""
    if given:
        return given
    try:
        os.stat(DEFAULT_PATH)
    except FileNotFoundError:
        return DEFAULT_PATH if os.path.lexists(DEFAULT_PATH) else None
    except OSError:
        return DEFAULT_PATH
    return DEFAULT_PATH


def load_policy(given: str | None) -> Policy:
    path = policy_path(given)
    if path is None:
        return BUILT_IN
    from gitdeploy.manifests.schema import schema_problems
    from gitdeploy.manifests.yamldoc import parse

    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise GitDeployError(f"cannot read the policy file {path}: {exc.strerror or exc}",
                             hint="give a readable file with --policy or GITDEPLOY_POLICY (docs/policy.md)") from None
    documents, problems = parse(path, data)
    if not problems and len(documents) != 1:
        problems = [Problem(path, 1, 1, "a policy file holds exactly one YAML document")]
    if problems:
        raise PolicyFileError(problems, path)
    (doc,) = documents
    problems = schema_problems(doc, POLICY_SCHEMA)
    if problems:
        raise PolicyFileError(problems, path)
    allow, signatures = doc.body.get("allow") or {}, doc.body.get("signatures") or {}
    ranges = []
    for index, text in enumerate(allow.get("hostPorts") or ()):
        low, _, high = str(text).partition("-")
        port_range = PortRange(int(low), int(high or low))
        if not 1 <= port_range.low <= port_range.high <= 65535:
            problems.append(doc.problem(["allow", "hostPorts", index], f"allow.hostPorts[{index}]: {text} is not a "
                                        "port range; write LOW-HIGH with 1 <= LOW <= HIGH <= 65535"))
        ranges.append(port_range)
    if problems:
        raise PolicyFileError(problems, path)
    policy = Policy(
        source=path,
        privileged=_optional_bool(allow, "privileged"),
        host_network=_optional_bool(allow, "hostNetwork"),
        capabilities=frozenset(allow["capabilities"]) if "capabilities" in allow else None,
        devices=tuple(allow["devices"]) if "devices" in allow else None,
        host_paths=tuple(allow["hostPaths"]) if "hostPaths" in allow else None,
        images=tuple(str(p) for p in allow["images"]) if "images" in allow else None,
        host_ports=tuple(ranges) if "hostPorts" in allow else None,
        signatures=SignaturePolicy(bool(signatures.get("required", False)), str(signatures.get("allowedSigners", "")),
                                   str(signatures.get("gpgKeyring", ""))),
    )
    return policy


def _optional_bool(mapping: dict, key: str) -> bool | None:
    return bool(mapping[key]) if key in mapping else None
