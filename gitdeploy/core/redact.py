"""Credentials and terminal escapes out of text: userinfo in URLs, secret-looking query parameters,
control characters. Pure.

A repository or webhook URL may carry a token (`https://user:token@host/…`,
`…?access_token=…`). Whatever gitdeploy prints, writes as JSON, posts to a
webhook or records in the history passes through `redact` first; the token is
replaced by `***`, the rest stays readable.
"""
from __future__ import annotations

import base64
import re
import urllib.parse

# scheme://userinfo@  (userinfo may hold ':' and '@'; it ends at the last '@' before the path)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s]+)@")
_SECRET_PARAMS = ("token", "access_token", "private_token", "key", "api_key", "apikey", "secret", "password",
                  "passwd", "sig", "signature", "auth", "code", "client_secret", "x-amz-signature",
                  "x-goog-signature", "credential", "x-amz-credential", "x-amz-security-token")
_QUERY_SECRET = re.compile(r"(?P<name>[?&;#](?:%s)=)[^&;#\s'\"]+" % "|".join(map(re.escape, _SECRET_PARAMS)),
                           re.IGNORECASE)

MASK = "***"


def redact(text: str) -> str:
    """`text` with URL credentials masked: https://***@host/..., ?token=***."""
    if "@" not in text and "=" not in text:
        return text     # the common case, fast
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['name']}{MASK}", text)


def split_credentials(url: str) -> tuple[str, str | None]:
    """A URL with `user:password@` as the URL without them and a Basic Authorization header value
    (None when it has none), so credentials travel in a header instead of being stored or shown.
    Raises ValueError for a URL whose port is not a number."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port is not None else "")
    userinfo = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return (urllib.parse.urlunsplit(parts._replace(netloc=netloc)),
            "Basic " + base64.b64encode(userinfo.encode()).decode())


def printable(text: str) -> str:
    """`text` redacted, with control characters (but newline and tab) written as `\\xNN` instead of sent."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", redact(text))


# Control characters that change what a terminal shows: C0 but tab and newline, DEL, C1.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def redact_all(value):
    """Every string inside a JSON-like value (dicts, lists), redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_all(k): redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(v) for v in value]
    return value
