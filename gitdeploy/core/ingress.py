"""The engine's ingress: which ready replicas serve which host and path, as Caddy's JSON configuration. Pure.

The configuration is derived, every time, from what runs on the engine (the
replicas' template labels, of every project), never kept in a file that could
drift: engine/ingress.py lists the replicas, `routes` groups the ready ones, and
`caddy_config` writes what Caddy loads. A replica serves when it runs, passed its
checks in its rollout (not `-pending`), is not being taken out (`-draining`) and
the engine does not call it unhealthy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from gitdeploy.core.labels import DRAINING
from gitdeploy.core.model import HealthCheck, IngressRoute, IngressSettings, TlsMode, canonical_json
from gitdeploy.core.units import format_duration

DATA_PATH = "/data"      # certificates and Caddy's own CA, in a named volume that is never removed
CONFIG_PATH = "/etc/caddy/gitdeploy.json"


@dataclass(frozen=True, slots=True)
class Backend:
    """One replica that may serve a route: from the engine's listing."""

    project: str
    service: str
    name: str
    route: IngressRoute
    address: str                     # on its project network; "" when it has none
    health: HealthCheck | None = None
    serving: bool = True             # running, confirmed, not draining, not unhealthy


@dataclass(frozen=True, slots=True)
class Route:
    project: str
    service: str
    host: str
    path: str
    tls: TlsMode
    upstreams: tuple[str, ...]       # "address:port", sorted
    health: HealthCheck | None = None

    @property
    def url(self) -> str:
        scheme = "http" if self.tls is TlsMode.NONE else "https"
        return f"{scheme}://{self.host}{self.path}"


def routes(backends: list[Backend]) -> tuple[Route, ...]:
    """One route per host and path of each service, with the addresses of its serving replicas (a service
    in the middle of a rollout may have replicas of two revisions: both serve)."""
    found: dict[tuple[str, str, str, str], Route] = {}
    for backend in backends:
        route = backend.route
        for host in route.hosts:
            key = (backend.project, backend.service, host, route.path)
            known = found.get(key)
            upstreams = set(known.upstreams) if known else set()
            if backend.serving and backend.address:
                upstreams.add(f"{backend.address}:{route.port}")
            found[key] = Route(backend.project, backend.service, host, route.path, route.tls,
                               tuple(sorted(upstreams)), backend.health or (known.health if known else None))
    return tuple(sorted(found.values(), key=lambda r: (r.host, r.path, r.project, r.service)))


@dataclass(frozen=True, slots=True)
class ShownRoute:
    """A route as `diff` and `status` show it: `https://shop.example.com/ -> web (2 ready)`."""

    url: str
    service: str
    ready: int

    def __str__(self) -> str:
        return f"{self.url} -> {self.service} ({self.ready} ready)"


@dataclass(frozen=True, slots=True)
class IngressInfo:
    """What `status` says of the engine's ingress."""

    image: str
    running: bool
    ports: str                                   # "127.0.0.1:80/443"
    certificates: tuple[tuple[str, str], ...]    # (host name, expiry as ISO date), by host


def shown_routes(project: str, declared: list[tuple[str, IngressRoute]], running: tuple[Route, ...]) -> tuple[ShownRoute, ...]:
    """The project's routes, as declared ((service, route)) with the replicas ready for each now."""
    ready = {(r.service, r.host, r.path): len(r.upstreams) for r in running if r.project == project}
    shown = []
    for service, route in declared:
        scheme = "http" if route.tls is TlsMode.NONE else "https"
        shown += [ShownRoute(f"{scheme}://{host}{route.path}", service, ready.get((service, host, route.path), 0))
                  for host in route.hosts]
    return tuple(sorted(shown, key=lambda r: (r.url, r.service)))


def clashes(ours: list[tuple[str, str, IngressRoute]], others: tuple[Route, ...]) -> list[str]:
    """Routes a project is about to declare ((project, service, route)) that another project's service holds."""
    taken = {(r.host, _prefix(r.path)): r for r in others}
    modes = {(r.host, r.tls): r for r in others}
    problems = []
    for project, service, route in ours:
        for host in route.hosts:
            other = taken.get((host, _prefix(route.path)))
            if other is not None and other.project != project:
                problems.append(f"service {service}: {host}{route.path if route.path != '/' else ''} is routed to "
                                f"service {other.service} of project {other.project}")
            # One certificate per host name: Caddy refuses two TLS modes for one host.
            mode = next((r for (h, tls), r in modes.items() if h == host and tls is not route.tls
                         and r.project != project), None)
            if mode is not None:
                problems.append(f"service {service}: {host} has tls: {mode.tls.value} for service {mode.service} of "
                                f"project {mode.project}; one host name has one TLS mode")
    return problems


def caddy_config(found: tuple[Route, ...], settings: IngressSettings) -> dict:
    """Caddy's configuration: an HTTPS server for the hosts with TLS, an HTTP one for those without (and the
    redirects to HTTPS), the longest path first, 404 for anything else; certificates by ACME or Caddy's CA."""
    secure = [r for r in found if r.tls is not TlsMode.NONE]
    plain = [r for r in found if r.tls is TlsMode.NONE]
    https_port = f":{settings.https}" if settings.https not in (0, 443) else ""
    redirects = [{"match": [{"host": sorted({r.host for r in secure})}],
                  "handle": [{"handler": "static_response", "status_code": 308,
                              "headers": {"Location": [f"https://{{http.request.host}}{https_port}{{http.request.uri}}"]}}],
                  "terminal": True}] if secure else []
    servers = {
        "https": {"listen": [":443"], "routes": _routes(secure), "logs": {"default_logger_name": "access"},
                  "automatic_https": {"disable_redirects": True}},
        "http": {"listen": [":80"], "routes": _routes(plain) + redirects + [_not_found()],
                 "logs": {"default_logger_name": "access"}, "automatic_https": {"disable": True}},
    }
    servers["https"]["routes"].append(_not_found())
    policies = []
    for issuer, hosts in ((TlsMode.INTERNAL, [r.host for r in secure if r.tls is TlsMode.INTERNAL]),
                          (TlsMode.ACME, [r.host for r in secure if r.tls is TlsMode.ACME])):
        if hosts:
            module = {"module": "internal"} if issuer is TlsMode.INTERNAL else \
                {"module": "acme"} | ({"email": settings.acme_email} if settings.acme_email else {})
            policies.append({"subjects": sorted(set(hosts)), "issuers": [module]})
    return {
        "admin": {"listen": "localhost:2019"},
        "storage": {"module": "file_system", "root": DATA_PATH},
        "logging": {"logs": {
            "default": {"level": "WARN", "exclude": ["http.log.access.access"]},
            "access": {"writer": {"output": "stdout"}, "encoder": {"format": "json"},
                       "include": ["http.log.access.access"]}}},
        "apps": {
            "http": {"http_port": 80, "https_port": 443, "servers": servers},
            "tls": {"automation": {"policies": policies}} if policies else {},
            "pki": {"certificate_authorities": {"local": {"install_trust": False}}},
        },
    }


def config_text(found: tuple[Route, ...], settings: IngressSettings) -> str:
    return canonical_json(caddy_config(found, settings))


def configured_routes(text: str) -> str:
    """The routes part of a configuration as loaded, for comparing with what it should be ("" if unreadable)."""
    try:
        return canonical_json(json.loads(text)["apps"]["http"])
    except (ValueError, KeyError, TypeError):
        return ""


def _routes(found: list[Route]) -> list[dict]:
    # An exact host before any wildcard; then the longest path prefix first.
    ordered = sorted(found, key=lambda r: (r.host.startswith("*"), -len(_prefix(r.path)), r.host))
    return [_route(r) for r in ordered]


def _route(route: Route) -> dict:
    match: dict = {"host": [route.host]}
    prefix = _prefix(route.path)
    if prefix != "/":
        match["path"] = [prefix, f"{prefix}/*"]
    if not route.upstreams:   # declared, nothing ready: the ingress says so rather than hanging
        return {"match": [match], "handle": [{"handler": "static_response", "status_code": 503}], "terminal": True}
    proxy = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": u} for u in route.upstreams],
        # A request whose replica fails to answer (it just stopped) is tried on another for a while.
        "load_balancing": {"selection_policy": {"policy": "round_robin"}, "try_duration": "5s",
                           "try_interval": "100ms"},
        "health_checks": {"passive": {"fail_duration": "2s", "max_fails": 1}} | _active(route.health),
    }
    return {"match": [match], "handle": [proxy], "terminal": True}


def _active(check: HealthCheck | None) -> dict:
    """The service's own http check, run by Caddy too: a replica that stops answering leaves the rotation
    within one interval, and comes back when it passes again."""
    if check is None or check.http_port is None:
        return {}
    return {"active": {"path": check.http_path, "port": check.http_port,
                       "interval": format_duration(check.interval), "timeout": format_duration(check.timeout),
                       "expect_status": check.http_status}}


def _not_found() -> dict:
    return {"handle": [{"handler": "static_response", "status_code": 404, "body": "no route\n"}], "terminal": True}


def _prefix(path: str) -> str:
    return path.rstrip("/") or "/"
