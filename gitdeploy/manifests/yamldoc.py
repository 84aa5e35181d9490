"""Parsing YAML with positions, and finding the position of a path in it.

ruamel.yaml's round-trip loader keeps line and column of every key and value;
that is what lets every problem name file:line:column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from gitdeploy.errors import Problem


@dataclass(frozen=True)
class Document:
    file: str
    index: int          # position in a multi-document file, from 0
    line: int           # 1-based line where the document starts
    body: Any           # ruamel CommentedMap (or whatever the YAML held)

    def problem(self, path: Iterable[Any], message: str, *, at_key: bool = False) -> Problem:
        line, column = position(self.body, list(path), at_key=at_key, default=(self.line, 1))
        return Problem(self.file, line, column, message)


def parse(file: str, data: bytes) -> tuple[list[Document], list[Problem]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    documents: list[Document] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [Problem(file, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    try:
        for index, body in enumerate(yaml.load_all(text)):
            if body is None:
                continue  # an empty document, e.g. a trailing '---'
            line = body.lc.line + 1 if hasattr(body, "lc") else 1
            documents.append(Document(file, index, line, body))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return documents, [Problem(file, line, column, f"YAML syntax error: {what}")]
    except YAMLError as exc:
        return documents, [Problem(file, 1, 1, f"YAML error: {exc}")]
    return documents, []


def position(node: Any, path: list[Any], *, at_key: bool, default: tuple[int, int]) -> tuple[int, int]:
    """1-based (line, column) of the value at `path`, or of its key if `at_key`.

    Walks as deep as the path exists; a path into something missing gives the
    position of its deepest existing parent.
    """
    found = default
    for depth, step in enumerate(path):
        lc = getattr(node, "lc", None)
        last = depth == len(path) - 1
        try:
            if isinstance(node, dict) and step in node:
                if lc is not None:
                    line, col = lc.key(step) if (at_key and last) else lc.value(step)
                    found = (line + 1, col + 1)
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                if lc is not None:
                    line, col = lc.item(step)
                    found = (line + 1, col + 1)
                node = node[step]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return found
