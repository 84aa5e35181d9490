"""The two rich consoles. Colour and markup only when the stream is a terminal."""
from __future__ import annotations

import sys
from functools import cache


@cache
def stdout():
    from rich.console import Console

    # Off a TTY rich would wrap at 80 columns; CI logs are wider than that.
    return Console(file=sys.stdout, highlight=False, soft_wrap=True,
                   width=None if sys.stdout.isatty() else 200)


@cache
def stderr():
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True,
                   width=None if sys.stderr.isatty() else 200)
