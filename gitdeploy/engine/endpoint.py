"""Which Docker engine to talk to, decided as the docker CLI decides it.

In order: `--host/-H`; `--context NAME`; DOCKER_HOST; DOCKER_CONTEXT; the
`currentContext` of the docker CLI's config.json (in DOCKER_CONFIG, default
~/.docker); else the local socket. A context named `default` means DOCKER_HOST
or the local socket. A context's endpoint is read from the CLI's context store
(`contexts/meta/<sha256 of the name>/meta.json`); its TLS files, when it has
some, are handed to the SDK as DOCKER_CERT_PATH with DOCKER_TLS_VERIFY.
An `ssh://` engine is reached through the `ssh` command (the remote end runs
`docker system dial-stdio`), so the user's ssh config, agent and known hosts apply.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from gitdeploy.errors import GitDeployError


class ContextNotFound(GitDeployError):
    pass


def choose(host: str | None, context: str | None) -> dict[str, str]:
    """The environment variables that point the SDK at the chosen engine ({} to keep the environment's)."""
    if host:
        return {"DOCKER_HOST": host}
    if context is None and os.environ.get("DOCKER_HOST"):
        return {}
    name = context or os.environ.get("DOCKER_CONTEXT") or _current_context()
    if not name or name == "default":
        return {}
    return _endpoint_of(name)


def _config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _current_context() -> str:
    try:
        return str(json.loads((_config_dir() / "config.json").read_text()).get("currentContext") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _endpoint_of(name: str) -> dict[str, str]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = _config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        host = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        known = sorted(_context_names())
        raise ContextNotFound(f"no docker context '{name}' in {_config_dir() / 'contexts'}",
                              hint=f"known contexts: {', '.join(known) or 'none'} (docker context ls)") from None
    chosen = {"DOCKER_HOST": str(host)}
    tls = _config_dir() / "contexts" / "tls" / digest / "docker"
    if (tls / "ca.pem").exists():
        chosen |= {"DOCKER_CERT_PATH": str(tls), "DOCKER_TLS_VERIFY": "1"}
    return chosen


def _context_names() -> list[str]:
    names = []
    for meta in (_config_dir() / "contexts" / "meta").glob("*/meta.json"):
        try:
            names.append(str(json.loads(meta.read_text())["Name"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return names
