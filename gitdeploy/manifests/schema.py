"""JSON Schema validation with located, actionable messages.

Messages are built from the structured fields of each jsonschema error
(validator, path, validator_value), never from its English text. A subschema
may carry an `x-hint` that is appended to its message.
"""
from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from gitdeploy.errors import Problem
from gitdeploy.manifests.yamldoc import Document

SERVICE_SCHEMA = "service.v1.schema.json"
PROJECT_SCHEMA = "project.v1.schema.json"


@cache
def load_schema(name: str) -> dict:
    return json.loads(resources.files("gitdeploy.schemas").joinpath(name).read_text())


@cache
def _validator(name: str):
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_problems(doc: Document, schema_name: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in _validator(schema_name).iter_errors(doc.body):
        problems.extend(_problems_of(doc, error))
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


def _problems_of(doc: Document, error) -> list[Problem]:
    path = list(error.absolute_path)
    where = dotted(path)
    validator, expected, instance = error.validator, error.validator_value, error.instance
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    suffix = f"; {hint}" if hint else ""

    if "propertyNames" in error.schema_path:
        return [doc.problem(path + [instance], f"{dotted(path + [instance])}: invalid key{suffix}", at_key=True)]
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        found = []
        for key in instance:
            if key not in allowed:
                guess = did_you_mean(str(key), allowed) or f"; allowed here: {', '.join(allowed)}"
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
    elif validator == "oneOf":
        given = sorted(k for s in expected for k in s.get("required", ()) if k in instance)
        message = f"{where}: {'has ' + ' and '.join(given) if given else 'has none of them'}"
    else:  # a keyword our schemas do not use yet; still located, still reported
        message = f"{where}: {error.message}"
    return [doc.problem(path, message + suffix)]


_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string",
    "integer": "an integer", "number": "a number", "boolean": "true or false",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)
