"""`gitdeploy render`: the manifests as the loader sees them, back as YAML, each value's origin beside it.

What an environment deploys is the base manifests with its overlay applied;
this prints that result (YAML `validate` accepts) with `# FILE:LINE` after each
value: the base manifest or the overlay that set it. Secrets are references in
manifests (a name and a source file), never values, so nothing secret prints.
"""
from __future__ import annotations

import io
from typing import Any

from gitdeploy.manifests.yamldoc import Document

KIND_ORDER = {"Volume": 0, "Job": 1, "Service": 2}
# Values that reach the container as the text written (manifests/build.py: `1.10` stays "1.10"): printed so.
AS_WRITTEN = (("spec", "env"), ("metadata", "labels"), ("spec", "driverOpts"))


def rendered(documents: list[Document], header: str) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 4096   # a long value stays on its line, with its origin after it
    out = io.StringIO()
    out.write(f"# {header}\n")
    ordered = sorted(documents, key=lambda d: (KIND_ORDER.get(d.body.get("kind"), 3),
                                               str((d.body.get("metadata") or {}).get("name"))))
    for doc in ordered:
        out.write("---\n")
        yaml.dump(_commented(doc, doc.body, []), out)
    return out.getvalue()


def _commented(doc: Document, value: Any, path: list) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            if tuple(path) in AS_WRITTEN and not isinstance(item, (str, dict, list)):
                item = doc.written([*path, key]) or str(item)
            mapping[key] = _commented(doc, item, [*path, key])
            if not isinstance(item, (dict, list)):
                mapping.yaml_add_eol_comment(_origin(doc, [*path, key]), key)
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq()
        for index, item in enumerate(value):
            sequence.append(_commented(doc, item, [*path, index]))
            if not isinstance(item, (dict, list)):
                sequence.yaml_add_eol_comment(_origin(doc, [*path, index]), index)
        return sequence
    return value


def _origin(doc: Document, path: list) -> str:
    where = doc.problem(path, "")
    return f"# {where.file}:{where.line}"
