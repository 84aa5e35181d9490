"""Field-level differences between two canonical replica templates.

Paths use the manifest's own spelling (`image`, `env.GREETING`,
`resources.memory`) so that a diff line points at what the user wrote.
Environment values are never shown, only that a key changed: they will carry
secrets.
"""
from __future__ import annotations

from dataclasses import dataclass

# Lists compared as a whole: a changed command is one change, not "item 2 changed".
_ATOMIC = ("command", "ports")
_HIDDEN_VALUES = ("env",)


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: object
    new: object
    kind: str = "changed"   # changed | added | removed

    def describe(self) -> str:
        if self.path.split(".")[0] in _HIDDEN_VALUES:
            return f"{self.path} {self.kind}"
        if self.kind == "added":
            return f"{self.path} added: {_show(self.new)}"
        if self.kind == "removed":
            return f"{self.path} removed (was {_show(self.old)})"
        return f"{self.path} {_show(self.old)} → {_show(self.new)}"


def _show(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_changes(old: dict, new: dict) -> tuple[FieldChange, ...]:
    """Every declared field that differs, sorted by path."""
    from deepdiff import DeepDiff  # imported here: only an update needs it

    found: dict[str, FieldChange] = {}
    diff = DeepDiff(old, new, view="tree", verbose_level=2)
    for report_type, levels in diff.items():
        for level in levels:
            path = [str(p) for p in level.path(output_format="list")]
            if path and path[0] in _ATOMIC:
                key = path[0]
                found[key] = FieldChange(key, old.get(key), new.get(key))
                continue
            key = ".".join(path)
            if report_type.endswith("_added"):
                found[key] = FieldChange(key, None, level.t2, "added")
            elif report_type.endswith("_removed"):
                found[key] = FieldChange(key, level.t1, None, "removed")
            else:
                found[key] = FieldChange(key, level.t1, level.t2)
    return tuple(found[k] for k in sorted(found))
