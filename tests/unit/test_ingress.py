"""The ingress's configuration, derived from what runs: routes, readiness, TLS, clashes; and its manifest checks."""
from __future__ import annotations

import pytest

from gitdeploy.core.ingress import Backend, caddy_config, clashes, routes, shown_routes
from gitdeploy.core.model import HealthCheck, IngressRoute, IngressSettings, TlsMode
from gitdeploy.errors import ManifestError
from gitdeploy.manifests import load_desired
from tests.unit.test_manifests import PROJECT, service, tree

WEB = IngressRoute(("shop.test", "www.shop.test"), "/", 8080, TlsMode.INTERNAL)
API = IngressRoute(("shop.test",), "/api", 9000, TlsMode.INTERNAL)


def backend(name: str, route: IngressRoute = WEB, address: str = "10.0.0.2", serving: bool = True,
            service_name: str = "web", project: str = "shop", health: HealthCheck | None = None) -> Backend:
    return Backend(project, service_name, name, route, address, health, serving)


def test_only_serving_replicas_receive_requests_and_a_route_without_any_answers_503():
    found = routes([backend("shop_web-1-abc"), backend("shop_web-2-abc-pending", address="10.0.0.3", serving=False),
                    backend("shop_web-3-old-draining", address="10.0.0.4", serving=False)])
    assert {r.host: r.upstreams for r in found} == {"shop.test": ("10.0.0.2:8080",), "www.shop.test": ("10.0.0.2:8080",)}
    empty = routes([backend("shop_web-1-abc", serving=False)])
    handler = caddy_config(empty, IngressSettings())["apps"]["http"]["servers"]["https"]["routes"][0]["handle"][0]
    assert handler == {"handler": "static_response", "status_code": 503}


def test_the_longest_path_wins_and_unknown_hosts_get_404():
    config = caddy_config(routes([backend("w"), backend("a", API, "10.0.0.9", service_name="api")]), IngressSettings())
    https = config["apps"]["http"]["servers"]["https"]["routes"]
    assert https[0]["match"] == [{"host": ["shop.test"], "path": ["/api", "/api/*"]}]
    assert https[0]["handle"][0]["upstreams"] == [{"dial": "10.0.0.9:9000"}]
    assert https[-1]["handle"][0]["status_code"] == 404
    http = config["apps"]["http"]["servers"]["http"]["routes"]
    assert http[0]["handle"][0]["status_code"] == 308 and http[-1]["handle"][0]["status_code"] == 404


@pytest.mark.parametrize("tls, policy", [
    (TlsMode.INTERNAL, [{"subjects": ["shop.test", "www.shop.test"], "issuers": [{"module": "internal"}]}]),
    (TlsMode.ACME, [{"subjects": ["shop.test", "www.shop.test"], "issuers": [{"module": "acme", "email": "ops@x.test"}]}]),
    (TlsMode.NONE, None),
])
def test_certificates_come_from_acme_caddys_own_ca_or_not_at_all(tls, policy):
    route = IngressRoute(WEB.hosts, "/", 8080, tls)
    config = caddy_config(routes([backend("w", route)]), IngressSettings(acme_email="ops@x.test"))
    assert (config["apps"]["tls"] or {}).get("automation", {}).get("policies") == policy
    plain = config["apps"]["http"]["servers"]["http"]["routes"]
    assert (plain[0]["handle"][0]["handler"] == "reverse_proxy") is (tls is TlsMode.NONE)


def test_a_redirect_to_https_keeps_a_non_standard_port():
    config = caddy_config(routes([backend("w")]), IngressSettings(https=8443))
    redirect = config["apps"]["http"]["servers"]["http"]["routes"][0]["handle"][0]
    assert redirect["headers"]["Location"] == ["https://{http.request.host}:8443{http.request.uri}"]


def test_an_http_check_is_run_by_the_ingress_too():
    check = HealthCheck(http_port=8080, http_path="/healthz", interval=2.0)
    proxy = caddy_config(routes([backend("w", health=check)]), IngressSettings())["apps"]["http"]["servers"]["https"][
        "routes"][0]["handle"][0]
    assert proxy["health_checks"]["active"] == {"path": "/healthz", "port": 8080, "interval": "2s",
                                                "timeout": "2s", "expect_status": 200}


def test_a_host_and_path_another_project_holds_is_named():
    others = routes([backend("w", project="blog", service_name="front")])
    assert clashes([("shop", "web", WEB)], others) == [
        "service web: shop.test is routed to service front of project blog",
        "service web: www.shop.test is routed to service front of project blog"]
    assert clashes([("blog", "front", WEB)], others) == []          # its own routes
    assert clashes([("shop", "api", API)], others) == []            # another path


def test_routes_are_shown_with_how_many_replicas_are_ready():
    shown = shown_routes("shop", [("web", WEB)], routes([backend("a"), backend("b", address="10.0.0.3")]))
    assert [str(r) for r in shown] == ["https://shop.test/ -> web (2 ready)", "https://www.shop.test/ -> web (2 ready)"]


def problems(spec: str, project: str = PROJECT[1]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(("gitdeploy.yaml", project), ("web.yaml", service(spec=spec))))
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("spec, expected", [
    ("image: a\ningress: {hosts: [shop.test]}", "spec.ingress: say which port the replicas listen on"),
    ("image: a\nports: [{containerPort: 80}, {containerPort: 81}]\ningress: {hosts: [shop.test]}",
     "spec.ingress: 2 ports are declared; say which one receives the traffic with ingress.port"),
    ("image: a\nports: [{containerPort: 80}]\ningress: {hosts: [Shop_Test]}", "spec.ingress.hosts[0]"),
    ("image: a\nports: [{containerPort: 80}]\ningress: {hosts: [a.test], path: api}", "spec.ingress.path"),
])
def test_ingress_manifest_problems_are_located(spec, expected):
    assert any(expected in p for p in problems(spec)), problems(spec)


def test_a_service_on_the_ingress_port_and_two_services_on_one_route_are_refused():
    found = problems("image: a\nports: [{containerPort: 80, hostPort: 8443}]\ningress: {hosts: [a.test], port: 80}",
                     "project: shop\ningress: {https: 8443}\n")
    assert any("8443 is the ingress's" in p for p in found), found
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(PROJECT, ("a.yaml", service("a", "image: a\ningress: {hosts: [x.test], port: 80}")),
                          ("b.yaml", service("b", "image: a\ningress: {hosts: [x.test], port: 80}"))))
    assert "x.test is also routed to service 'a'" in str(caught.value.problems[0])


def test_the_port_defaults_to_the_only_one_declared_and_swarm_refuses_the_ingress():
    (web,) = load_desired(tree(PROJECT, ("web.yaml", service(spec="image: a\nports: [{containerPort: 8080}]\n"
                                                                   "ingress: {hosts: [a.test]}")))).services
    assert web.ingress == IngressRoute(("a.test",), "/", 8080, TlsMode.ACME)
    found = problems("image: a\nports: [{containerPort: 80}]\ningress: {hosts: [a.test]}", "project: shop\nengine: swarm\n")
    assert any("spec.ingress: gitdeploy's ingress runs on a single engine for now" in p for p in found), found


def test_a_replica_left_draining_by_an_interrupted_run_is_replaced():
    from gitdeploy.core.model import DesiredState, ServiceSpec
    from gitdeploy.core.observed import ObservedReplica, ObservedState
    from gitdeploy.core.plan import plan

    spec = ServiceSpec("web", "a", ingress=WEB)
    left = ObservedReplica("id1", "shop_web-1-abcdef0-draining", "web", 1, spec.template_hash(), spec.template_json(),
                           "c", "a", "running")
    found = plan(DesiredState("shop", "c", (spec,)), ObservedState("shop", (left,)))
    (web,) = found.services
    assert web.action.value == "repair" and [s.reason for s in web.steps] == [
        "taken out of the ingress by an interrupted run", "replaces one taken out of the ingress"]


def test_one_host_has_one_tls_mode_and_a_wildcard_needs_no_acme():
    others = routes([backend("w", IngressRoute(("shop.test",), "/admin", 80, TlsMode.ACME), project="blog")])
    assert clashes([("shop", "web", WEB)], others) == [
        "service web: shop.test has tls: acme for service web of project blog; one host name has one TLS mode"]
    with pytest.raises(ManifestError) as caught:
        load_desired(tree(PROJECT, ("a.yaml", service("a", "image: a\ningress: {hosts: [x.test], port: 80}")),
                          ("b.yaml", service("b", "image: a\ningress: {hosts: [x.test], path: /b, port: 80, "
                                                  "tls: none}"))))
    assert "x.test has tls: acme for service 'a'; one host name has one TLS mode" in str(caught.value.problems[0])
    assert any("needs a DNS challenge" in p for p in problems(
        "image: a\ningress: {hosts: ['*.shop.test'], port: 80}"))
    assert load_desired(tree(PROJECT, ("a.yaml", service("a", "image: a\ningress: {hosts: ['*.shop.test'], port: 80, "
                                                              "tls: internal}")))).services


def test_exact_hosts_go_before_wildcards_whatever_their_paths():
    wild = IngressRoute(("*.shop.test",), "/api/v1", 80, TlsMode.INTERNAL)
    found = routes([backend("w"), backend("x", wild, "10.0.0.7", service_name="catchall", project="other")])
    https = caddy_config(found, IngressSettings())["apps"]["http"]["servers"]["https"]["routes"]
    assert [r["match"][0]["host"][0] for r in https[:-1]] == ["shop.test", "www.shop.test", "*.shop.test"]
