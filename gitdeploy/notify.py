"""Webhook notifications: POST the sync result as JSON to each URL. Never fails a sync.

`tell` is the one place that decides whether a run is worth a webhook; `sync`
and `watch` both call it with the run's JSON document.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Callable

from gitdeploy import __version__
from gitdeploy.core.redact import redact, split_credentials
from gitdeploy.core.results import RunOutcome


def tell(urls, document: dict, warn: Callable[[str], None]) -> None:
    """POSTs `document` to every URL if the run is news: it did something, or failed."""
    if urls and worth_telling(document):
        notify(list(urls), document, warn)


def notify(urls: list[str], document: dict, warn: Callable[[str], None]) -> None:
    from gitdeploy.output.jsonout import dumps

    body = dumps(document).encode()
    for url in urls:
        try:
            address, authorization = split_credentials(url)
            headers = {"Content-Type": "application/json", "User-Agent": f"gitdeploy/{__version__}"}
            if authorization:
                headers["Authorization"] = authorization
            request = urllib.request.Request(address, data=body, method="POST", headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            warn(redact(f"webhook {url} failed: {getattr(exc, 'reason', exc)}"))


def worth_telling(document: dict) -> bool:
    """After a sync that did something or failed; a no-op is not news."""
    if "error" in document:
        return True
    return "result" in document and RunOutcome(document["result"]) is not RunOutcome.NOOP
