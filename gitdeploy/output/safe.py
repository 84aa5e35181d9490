"""Text on its way to a terminal or a CI log: credentials masked, control characters made visible.

Strings from manifests, container logs, health-check output and engine errors
may carry ANSI/OSC escape sequences (colour, window titles, hyperlinks, even
clipboard writes). Everything gitdeploy prints passes through `shown` (text for
rich markup) or `plain` (text for a bare print): a control character is written
as `\\x1b`, never sent. Newlines and tabs stay, so logs keep their shape.
"""
from __future__ import annotations

from gitdeploy.core.redact import printable


def plain(text: object) -> str:
    """`text` with credentials masked and control characters (but newline and tab) escaped."""
    return printable(str(text))


def shown(text: object) -> str:
    """`plain(text)`, escaped for rich markup too."""
    from rich.markup import escape

    return escape(plain(text))
