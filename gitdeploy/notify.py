"""Webhook notifications: POST the sync result as JSON to each URL. Never fails a sync."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Callable

from gitdeploy import __version__


def notify(urls: list[str], document: dict, warn: Callable[[str], None]) -> None:
    body = json.dumps(document).encode()
    for url in urls:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"gitdeploy/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            warn(f"webhook {url} failed: {getattr(exc, 'reason', exc)}")


def worth_telling(document: dict) -> bool:
    """After a sync that did something or failed; a no-op is not news."""
    return document.get("result", "noop") != "noop" or "error" in document
