"""Field-level differences between two canonical replica templates.

Paths use the manifest's own spelling (`image`, `env.GREETING`,
`resources.memory`) so that a diff line points at what the user wrote.
Environment values are never shown, only that a key changed: they will carry
secrets. Of a secret, only that it was added, removed or changed is said
(`secret db-password changed`): not even its digest.
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
        if self.path.startswith("files."):
            return _describe_file(self)
        if self.path.startswith("secrets."):
            return f"secret {self.path.removeprefix('secrets.')} {self.kind}"
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

    found: dict[str, FieldChange] = {c.path: c for c in _file_changes(old.get("files"), new.get("files"))}
    found |= {c.path: c for c in _secret_changes(old.get("secrets"), new.get("secrets"))}
    old, new = ({k: v for k, v in t.items() if k not in ("files", "secrets")} for t in (old, new))
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


def _listed_changes(field: str, key: str, old, new, shown) -> list[FieldChange]:
    """A list of entries compared by `key` (files by path, secrets by name): added, removed, or changed,
    each change showing `shown(entry)` of both sides."""
    before = {e.get(key): e for e in old or () if isinstance(e, dict)}
    after = {e.get(key): e for e in new or () if isinstance(e, dict)}
    changes = []
    for name in sorted(set(before) | set(after), key=str):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        kind = "added" if was is None else "removed" if now is None else "changed"
        changes.append(FieldChange(f"{field}.{name}", shown(was), shown(now), kind))
    return changes


def _file_changes(old, new) -> list[FieldChange]:
    """Config files compared by path: added, removed, or their content (or mode) changed."""
    return _listed_changes("files", "path", old, new, _text)


def _secret_changes(old, new) -> list[FieldChange]:
    """Secrets compared by name; what they hold (even its digest) is not part of the change."""
    return _listed_changes("secrets", "name", old, new, lambda entry: None)


def _text(entry: dict | None) -> str | None:
    if entry is None:
        return None
    body = entry.get("content") if "content" in entry else f"(binary, {len(entry.get('contentBase64', ''))} base64 characters)"
    return f"mode {entry.get('mode')}\n{body}"


def _describe_file(change: FieldChange) -> str:
    """`files./etc/app.yaml changed`, then the changed lines of the file, as a unified diff without context."""
    import difflib

    if change.kind != "changed":
        return f"{change.path} {change.kind}"
    lines = difflib.unified_diff(str(change.old).splitlines(), str(change.new).splitlines(), lineterm="", n=0)
    shown = [line for line in lines if not line.startswith(("---", "+++", "@@"))]
    return "\n".join([f"{change.path} changed:"] + [f"  {line}" for line in shown[:40]] +
                     ([f"  ... {len(shown) - 40} more lines"] if len(shown) > 40 else []))
