"""Parsing YAML with positions, and finding the position of a path in it.

Every problem names file:line:column, so every key and value keeps where it
was written. A file is composed with libyaml (ruamel.yaml.clib, five times
faster than ruamel's own parser) into nodes, which carry their line, column
and the scalar's text as written, and the values are built from those nodes by
ruamel's safe constructor (YAML 1.2, as the round-trip loader resolves them).
ruamel's round-trip loader, whose maps keep positions in `.lc`, reads what that
path will not: a `%YAML` directive (its version changes how values resolve),
YAML libyaml refuses, a tag the safe constructor cannot build, a duplicate key.
So each error reads as it always did. libyaml also reads a few files ruamel's
scanner refused although YAML allows them (a tab before a comment, `...`
twice): they load, values and positions from the same parse.

A manifest comes from a repository someone else may write, so before anything
is built from it, one pass over the parser's events (cheap, not recursive)
enforces limits: file size, nesting depth, and the number of nodes once
aliases are expanded (a "billion laughs" document is a few hundred bytes).
That pass runs on the same parser as the load: libyaml, or ruamel's own for
what is read round-trip.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from gitdeploy.errors import Problem


MAX_FILE_BYTES = 1024 * 1024    # a manifest is a few KB; this is generous
MAX_DEPTH = 64                   # nesting of mappings and lists
MAX_NODES = 100_000              # nodes in a file with every alias expanded


@dataclass(frozen=True)
class Document:
    file: str
    index: int          # position in a multi-document file, from 0
    line: int           # 1-based line where the document starts
    body: Any           # the values: dicts, lists, scalars (round-trip: ruamel's CommentedMap and kin)
    lines: tuple[str, ...] = ()   # the file's text, to read a scalar as written
    node: Any = field(default=None, compare=False, repr=False)   # the composed node (libyaml path), or None
    # An environment's overlay merged into this document (manifests/overlays.py): what it sets is located there.
    overlay: "Document | None" = field(default=None, compare=False, repr=False)

    def _set_by_overlay(self, path: list[Any], at_key: bool = False) -> bool:
        """Whether the overlay wrote what is at `path`: a value it replaced (not a mapping both of them fill),
        or a key it added. Problems of the document as a whole, or of a merged mapping, point at the base."""
        if self.overlay is None or not path:
            return False
        node = self.overlay.body
        for step in path:
            if isinstance(node, dict) and step in node:
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                node = node[step]
            else:
                return False
        return at_key or not isinstance(node, dict)

    def written(self, path: list[Any]) -> str | None:
        """The text of the plain scalar at `path` exactly as written (`1.10`, `0x1F`), or None.

        YAML turns `1.10` into the number 1.1; an env value must reach the
        container as the characters the user wrote.
        """
        if self._set_by_overlay(path):
            return self.overlay.written(path)
        if self.node is not None:
            found = _node_at(self.node, path)
            return found.value if isinstance(found, _scalar_node()) and not found.style else None   # plain: None or ""
        line, column = position(self.body, path, at_key=False, default=(0, 0))
        if not line or line > len(self.lines):
            return None
        match = _WRITTEN.match(self.lines[line - 1], column - 1)
        if match is None:
            return None
        if match.group("alias"):    # *name: the text written after &name
            anchored = re.compile(r"&%s\s+(?:![^\s]*\s+)?" % re.escape(match.group("alias")))
            for text in self.lines:
                found = anchored.search(text)
                if found:
                    value = _PLAIN_SCALAR.match(text, found.end())
                    return value.group(0) if value else None
            return None
        return match.group("value")

    def problem(self, path: Iterable[Any], message: str, *, at_key: bool = False) -> Problem:
        if self._set_by_overlay(list(path), at_key):
            return self.overlay.problem(path, message, at_key=at_key)
        if self.node is not None:
            line, column = node_position(self.node, list(path), at_key=at_key, default=(self.line, 1))
        else:
            line, column = position(self.body, list(path), at_key=at_key, default=(self.line, 1))
        return Problem(self.file, line, column, message)


# What the YAML parser's words usually mean in a manifest, and what to write instead.
_YAML_HINTS = (
    ("'\\t'", "indent with spaces, not tabs"),
    ("mapping values are not allowed", "a value holding ': ' must be quoted (\"a: b\"), or a key is indented "
                                        "wrongly; nest with two spaces"),
    ("expected <block end>", "a line is indented more or less than its neighbours; line up keys of one mapping"),
    ("could not find expected ':'", "a key needs ': ' after it (key: value)"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("expected ',' or ']'", "a [list] is not closed with ]"),
    ("expected ',' or '}'", "a {mapping} is not closed with }"),
    ("found undefined alias", "*name refers to an &name anchor that is not defined above it"),
)


def _yaml_hint(what: str) -> str:
    return next((f"; {hint}" for words, hint in _YAML_HINTS if words in what), "")


def parse(file: str, data: bytes) -> tuple[list[Document], list[Problem]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from ruamel.yaml.constructor import DuplicateKeyError

    if len(data) > MAX_FILE_BYTES:
        return [], [Problem(file, 1, 1, f"the file is {len(data)} bytes; a manifest may be at most "
                                        f"{MAX_FILE_BYTES} bytes (split it into several files)")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [Problem(file, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    lines = tuple(text.splitlines())
    if not _VERSION_DIRECTIVE.search(text):
        fast = YAML(typ="safe", pure=False)   # libyaml's parser where installed (else still quicker than round-trip)
        try:
            starts, problem = _scan(fast, text)
            if problem is not None:
                return [], [Problem(file, problem[0], problem[1], problem[2])]
            documents = []
            for index, node in enumerate(fast.compose_all(text)):
                body = fast.constructor.construct_document(node) if node is not None else None
                if body is not None:
                    documents.append(Document(file, index, node.start_mark.line + 1, body, lines, node))
            return documents, []
        except YAMLError:
            pass   # read round-trip below, for the same errors and hints as ever
    yaml = YAML(typ="rt")
    documents: list[Document] = []
    try:
        starts, problem = _scan(yaml, text)
        if problem is not None:
            return [], [Problem(file, problem[0], problem[1], problem[2])]
        for index, body in enumerate(yaml.load_all(text)):
            if body is None:
                continue  # an empty document, e.g. a trailing '---'
            line = body.lc.line + 1 if hasattr(body, "lc") else starts[index]
            documents.append(Document(file, index, line, body, lines))
    except DuplicateKeyError as exc:
        # ruamel's own message quotes both values; a value may be a secret.
        mark, first = exc.problem_mark, exc.context_mark
        key = _DUPLICATE_KEY.search(str(exc.problem or ""))
        what = f"key '{key.group(1)}'" if key else "a key"
        return documents, [Problem(file, mark.line + 1, mark.column + 1,
                                   f"YAML: {what} appears twice in one mapping (first at line {first.line + 1}); "
                                   "keep one")]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return documents, [Problem(file, line, column, f"YAML syntax error: {what}{_yaml_hint(what)}")]
    except YAMLError as exc:
        return documents, [Problem(file, 1, 1, f"YAML error: {exc}")]
    return documents, []


def _scan(yaml, text: str) -> tuple[list[int], tuple[int, int, str] | None]:
    """One pass over the parser's events: the 1-based line where each document's
    content starts, and the first limit exceeded as (line, column, message)."""
    from ruamel.yaml.events import (AliasEvent, CollectionEndEvent, CollectionStartEvent, DocumentStartEvent,
                                    NodeEvent)

    starts: list[int] = []
    sizes: dict[str, int] = {}          # anchor -> nodes it stands for, expanded
    open_: list[tuple[str | None, int]] = []   # collections being read: (anchor, nodes so far)
    total = 0
    for event in yaml.parse(text):
        mark = event.start_mark
        where = (mark.line + 1, mark.column + 1)
        if isinstance(event, DocumentStartEvent):
            starts.append(0)
            continue
        if isinstance(event, NodeEvent) and starts and not starts[-1]:
            starts[-1] = mark.line + 1
        if isinstance(event, CollectionStartEvent):
            open_.append((event.anchor, 1))
            if len(open_) > MAX_DEPTH:
                return starts, (*where, f"nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(event, CollectionEndEvent):
            anchor, count = open_.pop()
        elif isinstance(event, AliasEvent):
            anchor, count = None, sizes.get(event.anchor, 1)
        elif isinstance(event, NodeEvent):   # a scalar
            anchor, count = event.anchor, 1
        else:
            continue
        if anchor:
            sizes[anchor] = count
        if open_:
            open_[-1] = (open_[-1][0], open_[-1][1] + count)
        else:
            total += count
        if total + sum(n for _, n in open_) > MAX_NODES:
            return starts, (*where, f"more than {MAX_NODES} values once aliases (*name) are expanded; "
                                    "write the values out instead of nesting aliases")
    return starts, None


_VERSION_DIRECTIVE = re.compile(r"^%YAML", re.MULTILINE)
_DUPLICATE_KEY = re.compile(r'found duplicate key "([^"]*)"')
# A plain scalar as written: up to a comment, a flow separator or the end of the line.
_PLAIN_SCALAR = re.compile(r"[^\s#,\]}&*!][^#,\]}]*?(?=\s*(?:#|,|\]|\}|$))")
# ... after an optional anchor (&name) and tag (!!float), or an alias (*name).
_WRITTEN = re.compile(r"\*(?P<alias>[^\s,\]}]+)|(?:&[^\s]+\s+)?(?:![^\s]*\s+)?(?P<value>%s)"
                      % _PLAIN_SCALAR.pattern)


def node_position(node: Any, path: list[Any], *, at_key: bool, default: tuple[int, int]) -> tuple[int, int]:
    """As `position`, from a composed node: (line, column) of the value at `path`, or of its key if `at_key`."""
    found = default
    for depth, step in enumerate(path):
        entry = _entry(node, step)
        if entry is None:
            break
        key, node = entry
        mark = (key if (at_key and depth == len(path) - 1 and key is not None) else node).start_mark
        found = (mark.line + 1, mark.column + 1)
    return found


def _node_at(node: Any, path: list[Any]) -> Any:
    for step in path:
        entry = _entry(node, step)
        if entry is None:
            return None
        node = entry[1]
    return node


def _entry(node: Any, step: Any) -> tuple[Any, Any] | None:
    """(key node or None, value node) one step down from a mapping or sequence node; None if not there."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        # The last of equal keys wins, as in the built value; keys compare as written ("1" for 1).
        return next(((k, v) for k, v in reversed(node.value) if getattr(k, "value", None) == str(step)), None)
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return None, node.value[step]
    return None


def _scalar_node() -> type:
    from ruamel.yaml.nodes import ScalarNode

    return ScalarNode


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
