"""JSON Schema validation with located, actionable messages.

Messages are built from the structured fields of each jsonschema error
(validator, path, validator_value), never from its English text. A subschema
may carry an `x-hint` that is appended to its message.
"""
from __future__ import annotations

import difflib
import json
import os
import re
from functools import cache
from typing import Any

from gitdeploy.core.defaults import schema_folder
from gitdeploy.errors import Problem
from gitdeploy.manifests.yamldoc import Document

SERVICE_SCHEMA = "service.v1.schema.json"
PROJECT_SCHEMA = "project.v1.schema.json"
VOLUME_SCHEMA = "volume.v1.schema.json"
JOB_SCHEMA = "job.v1.schema.json"


@cache
def load_schema(name: str) -> dict:
    with open(os.path.join(schema_folder(), name), encoding="utf-8") as text:
        schema = json.load(text)
    return _with_shared(schema) if "x-shares" in schema else schema


def _with_shared(own: dict) -> dict:
    """A schema that shares fields with another (`x-shares`: the Job shares the Service's metadata and
    most of its spec), merged: one statement of each shared field, so the two kinds never drift apart."""
    import copy

    shares = own["x-shares"]
    base = copy.deepcopy(load_schema(shares["schema"]))
    spec = base["properties"]["spec"]
    spec["properties"] = {key: spec["properties"][key] for key in shares["spec"]} | own["properties"]["spec"]["properties"]
    spec["description"] = own["properties"]["spec"]["description"]
    base["properties"]["kind"] = own["properties"]["kind"]
    return base | {key: own[key] for key in ("$id", "title", "description")}


@cache
def _validator(name: str):
    from jsonschema import Draft202012Validator, validators

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return validators.extend(Draft202012Validator, {"pattern": _whole_string_pattern})(schema)


def _whole_string_pattern(validator, pattern: str, instance, schema):
    """`pattern`, with `$` meaning the end of the string.

    In Python's `re` (which jsonschema uses) `$` also matches before a final
    newline, so "web\n" would pass `^[a-z]+$`; the schemas are written for the
    whole string, as a reader expects.
    """
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _anchored(pattern).search(instance):
        yield ValidationError(f"does not match {pattern!r}")


@cache
def _anchored(pattern: str) -> re.Pattern:
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def schema_problems(doc: Document, schema_name: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in _validator(schema_name).iter_errors(doc.body):
        problems.extend(p for p in _problems_of(doc, error, load_schema(schema_name)) if p not in problems)
    return problems


def dotted(path: list[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "document"


def did_you_mean(word: str, choices: list[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    match = lowered.get(word.lower()) or next(iter(difflib.get_close_matches(word, choices, n=1, cutoff=0.6)), None)
    return f"; did you mean '{match}'?" if match else ""


def _problems_of(doc: Document, error, root: dict) -> list[Problem]:
    path = list(error.absolute_path)
    where = dotted(path)
    validator, expected, instance = error.validator, error.validator_value, error.instance
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    suffix = f"; {hint}" if hint else ""
    if _secret(path) and not isinstance(instance, (dict, list)) and "propertyNames" not in error.schema_path:
        instance = _Hidden(instance)   # an env value may be a secret: say what it is, never what it says

    if "propertyNames" in error.schema_path:
        return [doc.problem(path + [instance], f"{dotted(path + [instance])}: invalid key{suffix}", at_key=True)]
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        found = []
        for key in instance:
            if key not in allowed:
                guess = did_you_mean(str(key), allowed) or _one_level_off(root, path, str(key)) or \
                    f"; allowed here: {', '.join(allowed)}"
                found.append(doc.problem(path + [key], f"{dotted(path + [key])}: unknown key{guess}", at_key=True))
        return found
    if validator == "required":
        return [
            doc.problem(path, f"{where}: missing required key '{key}'")
            for key in expected if key not in instance
        ]
    if validator == "type":
        kinds = " or ".join(_TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        message = f"{where}: expected {kinds}, got {_describe(instance)}"
        instead = _compose_form(path, error.instance)
        if instead:
            return [doc.problem(path, f"{message}; {instead}")]
    elif validator == "const":
        message = f"{where}: expected '{expected}', got {_describe(instance)}"
    elif validator == "enum":
        choices = [str(c) for c in expected]
        message = f"{where}: {_describe(instance)} is not one of {', '.join(choices)}{did_you_mean(str(instance), choices)}"
    elif validator == "pattern":
        message = f"{where}: {_describe(instance)} is not valid"
    elif validator == "minimum":
        message = f"{where}: {instance} is less than the minimum {expected}"
    elif validator == "maximum":
        message = f"{where}: {instance} is more than the maximum {expected}"
    elif validator in ("minItems", "minLength", "minProperties"):
        message = f"{where}: must not be empty"
    elif validator == "oneOf" and not all("required" in choice for choice in expected):
        # A value of one of several types (env: a string, a number, a boolean, or {secret: NAME}).
        return [doc.problem(path, f"{where}: expected {hint or 'another kind of value'}, got {_describe(instance)}")]
    elif validator == "oneOf" and not isinstance(instance, dict):
        return []   # not even a mapping: its type error says so, with what to write
    elif validator == "oneOf":
        given = sorted(k for s in expected for k in s.get("required", ()) if k in instance)
        message = f"{where}: {'has ' + ' and '.join(given) if given else 'has none of them'}"
    else:  # a keyword our schemas do not use yet; still located, still reported
        message = f"{where}: {error.message}"
    return [doc.problem(path, message + suffix)]


def _one_level_off(root: dict, path: list[Any], key: str) -> str:
    """`; did you mean spec.healthCheck?` for a key written one level too high or too low."""
    here = ".".join(str(p) for p in path if not isinstance(p, int))
    found = [where for where in _property_paths(root) if where.rsplit(".", 1)[-1] == key]
    near = [where for where in found if where.count(".") in (here.count(".") + (1 if here else 0) - 1,
                                                             here.count(".") + (1 if here else 0) + 1)]
    return f"; did you mean {near[0]}?" if near else ""


def _property_paths(schema: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, sub in (schema.get("properties") or {}).items():
        where = f"{prefix}{key}"
        paths.append(where)
        if isinstance(sub, dict):
            nested = sub.get("items") if sub.get("type") == "array" else sub
            if isinstance(nested, dict):
                paths += _property_paths(nested, where + ".")
    return paths


def _compose_form(path: list[Any], value: Any) -> str:
    """What to write instead of a docker-compose spelling (ports "8090:80", a command string, env as a list,
    a volume "data:/path"), or ""."""
    import shlex

    where = [p for p in path if not isinstance(p, int)]
    if where == ["spec", "ports"] and isinstance(value, (str, int)):
        parts = str(value).split("/")[0].split(":")
        protocol = f", protocol: {str(value).split('/')[1]}" if "/" in str(value) else ""
        if len(parts) == 1:
            return f"write {{containerPort: {parts[0]}{protocol}}}"
        host_ip = f", hostIP: {':'.join(parts[:-2])}" if len(parts) > 2 else ""
        return f"write {{containerPort: {parts[-1]}, hostPort: {parts[-2]}{host_ip}{protocol}}}"
    if where == ["spec", "command"] and isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        return "write a list: [" + ", ".join(json.dumps(w) for w in words) + "]"
    if where == ["spec", "env"] and isinstance(value, list):
        names = [str(item).split("=", 1)[0] for item in value if isinstance(item, str)]
        return "write a mapping: {" + ", ".join(f"{n}: ..." for n in names[:5]) + "} (NAME: value)"
    if where == ["spec", "volumes"] and isinstance(value, str) and ":" in value:
        source, target, *mode = value.split(":")
        read_only = ", readOnly: true" if mode and "ro" in mode[0].split(",") else ""
        if source.startswith("/"):
            return f"write {{hostPath: {source}, path: {target}{read_only}}}"
        if source.startswith((".", "~")):
            return f"write {{hostPath: /absolute/path/of/{source.lstrip('./~')}, path: {target}{read_only}}} (a " \
                   "hostPath is absolute: it is on the engine's host, not in the repository)"
        return f"write {{volume: {source}, path: {target}{read_only}}} (and declare it in a `kind: Volume`)"
    return ""


_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string",
    "integer": "an integer", "number": "a number", "boolean": "true or false",
}


def _secret(path: list[Any]) -> bool:
    return len(path) >= 2 and path[0] == "spec" and path[1] == "env"


class _Hidden:
    """A value whose content must not appear in a message."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return "the value given"


def _describe(value: Any) -> str:
    if isinstance(value, _Hidden):
        hidden = value.value
        if hidden is None:
            return _describe(hidden)
        return _TYPE_WORDS["boolean" if isinstance(hidden, bool) else "string" if isinstance(hidden, str) else "number"]
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value[:60]}'" + ("..." if len(value) > 60 else "")
    return str(value)
