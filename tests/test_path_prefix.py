"""Which request paths each spelling of an exposed path admits at the ingress, rendered by the
real helm in both ingress APIs and both data planes: the VirtualService and the gateway's
AuthorizationPolicy (Istio ingress), the HTTPRoute and the AuthorizationPolicy (Gateway API
with sidecars), the HTTPRoute alone (ambient: the gateway's allow is L4). Every spelling
admits exactly its paths, probed just inside and just outside each match.

- ``/static`` and ``/static/`` (a bare string): a prefix on whole path segments, the Gateway
  API's PathPrefix (Bookinfo's own gateway uses PathPrefix /static);
- ``{prefix: /static}``: a plain string prefix, as an Istio VirtualService's ``prefix``;
- ``{exact: /static}``: that path only."""

from __future__ import annotations

import pytest

from chartgen.catalog.validate import parse_catalog
from helpers.meshrender import render_catalog
from helpers.pathmatch import authz_admits
from helpers.routemodel import Objects, Request, gateway_api_ingress, istio_ingress

pytestmark = pytest.mark.integration

PROBES = ("/static", "/static/", "/static/x", "/staticx", "/static-old/x", "/stati", "/", "/other")
SEGMENT = {"/static", "/static/", "/static/x", "/other"}
SPELLINGS = {
    "seg": ("/static", SEGMENT),
    "segslash": ("/static/", SEGMENT),
    "segslashes": ("/static//", SEGMENT),
    "raw": ("{prefix: /static}", {"/static", "/static/", "/static/x", "/staticx", "/static-old/x", "/other"}),
    "rawslash": ("{prefix: /static/}", {"/static/", "/static/x", "/other"}),
    "exact": ("{exact: /static}", {"/static", "/other"}),
}

CATALOG = """apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: paths, domain: paths.example}
environments:
  istio: {gateway: {https: false}}
  gwapi: {ingressApi: gatewayApi, gateway: {https: false}}
  ambient: {dataPlane: ambient, ingressApi: gatewayApi, gateway: {https: false}}
services:
"""
for _name, (_path, _) in SPELLINGS.items():
    _item = _path if _path.startswith("{") else f"'{_path}'"
    CATALOG += (f"  {_name}:\n    ports: [{{name: http, port: 8080, protocol: HTTP}}]\n"
                f"    expose: {{host: {_name}, paths: [/other, {_item}]}}\n")


@pytest.fixture(scope="module")
def renders(tmp_path_factory, helm, helm_env):
    return render_catalog(CATALOG, tmp_path_factory.mktemp("paths"), helm, helm_env)


def _selectors(env):
    catalog, _ = parse_catalog(CATALOG, "catalog.yaml")
    from chartgen.catalog.mesh import env_views

    view = next(v for v in env_views(catalog) if v.name == env)
    return {s.fqdn(view.namespace): s.selector for s in view.enabled.values()}


def _policy(docs, name):
    return next(d for d in docs if d["kind"] == "AuthorizationPolicy" and d["metadata"]["name"] == f"allow-gateway-to-{name}")


@pytest.mark.parametrize("name", sorted(SPELLINGS))
@pytest.mark.parametrize("env", ["istio", "gwapi", "ambient"])
def test_each_spelling_admits_exactly_its_paths(renders, env, name):
    docs = renders[env]
    objs = Objects(docs, _selectors(env))
    host = f"{name}.{env}.paths.example"
    principal = "cluster.local/ns/istio-ingress/sa/" + ("istio-ingress" if env == "istio" else "paths-gateway-istio")
    expected = SPELLINGS[name][1]
    policy = _policy(docs, name)
    for probe in PROBES:
        req = Request(host, probe, 80)
        if env == "istio":
            admitted = istio_ingress(objs, req, principal)[0] == "route"
        else:
            routed = gateway_api_ingress(objs, req)[0] == "route"
            # with sidecars the destination enforces the gateway's AuthorizationPolicy paths too;
            # in ambient it is L4 (no paths): the route alone decides
            admitted = routed and (env == "ambient" or authz_admits(policy, probe))
            if env == "gwapi":
                assert routed == authz_admits(policy, probe), (name, probe)  # the policy admits what the route does
        assert admitted == (probe in expected), (env, name, probe)
    assert istio_or_route_other(objs, env, host, principal)


def istio_or_route_other(objs, env, host, principal) -> bool:
    """The second exposed path (/other) is still routed: the combination keeps both."""
    req = Request(host, "/other/y", 80)
    return (istio_ingress(objs, req, principal) if env == "istio" else gateway_api_ingress(objs, req))[0] == "route"


def test_the_gateway_api_spelling_is_bookinfos(renders):
    """Bookinfo's samples/bookinfo/gateway-api/bookinfo-gateway.yaml writes PathPrefix /static."""
    route = next(d for d in renders["gwapi"] if d["kind"] == "HTTPRoute" and d["metadata"]["name"] == "seg-ingress")
    paths = [m["path"] for r in route["spec"]["rules"] for m in r["matches"]]
    assert {"type": "PathPrefix", "value": "/static"} in paths
    slash = next(d for d in renders["gwapi"] if d["kind"] == "HTTPRoute" and d["metadata"]["name"] == "segslash-ingress")
    assert {"type": "PathPrefix", "value": "/static"} in [m["path"] for r in slash["spec"]["rules"] for m in r["matches"]]
    vs = next(d for d in renders["istio"] if d["kind"] == "VirtualService" and d["metadata"]["name"] == "seg-ingress")
    assert [m["uri"] for m in vs["spec"]["http"][-1]["match"]][-2:] == [{"exact": "/static"}, {"prefix": "/static/"}]
    assert _policy(renders["istio"], "seg")["spec"]["rules"][0]["to"][0]["operation"]["paths"] == [
        "/other", "/other/*", "/static", "/static/*"]


RULES_CATALOG = """apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: rules, domain: rules.example}
environments:
  istio: {gateway: {https: false}}
  gwapi: {ingressApi: gatewayApi, gateway: {https: false}}
services:
  web:
    ports: [{name: http, port: 8080, protocol: HTTP}]
    versions: {v1: {}, v2: {}}
    weights: {v1: 100}
    routes:                     # in the order Istio gives the HTTPRoute rules (route-precedence)
      - {name: inside, version: v2, match: {path: {exact: /static/app.js}, headers: {x-b: {exact: '1'}}}}
      - {name: outside, version: v2, match: {path: {exact: /staticx}, headers: {x-c: {exact: '1'}}}}
      - {name: wide, version: v2, match: {path: {prefix: /st}, headers: {x-a: {exact: '1'}}}}
    expose: {host: web, paths: [/static]}
"""


@pytest.fixture(scope="module")
def rule_renders(tmp_path_factory, helm, helm_env):
    return render_catalog(RULES_CATALOG, tmp_path_factory.mktemp("rules"), helm, helm_env)


def test_a_rules_own_path_is_cut_to_the_exposed_segment_prefix(rule_renders):
    """A rule's prefix that covers the exposed /static narrows to it (both forms), a path inside
    stays, a path outside (/staticx) drops the rule from the ingress; both APIs agree."""
    vs = next(d for d in rule_renders["istio"] if d["kind"] == "VirtualService" and d["metadata"]["name"] == "web-ingress")
    rules = {r["name"]: [m["uri"] for m in r["match"]] for r in vs["spec"]["http"]}
    assert rules == {"inside": [{"exact": "/static/app.js"}], "wide": [{"exact": "/static"}, {"prefix": "/static/"}],
                     "default": [{"exact": "/static"}, {"prefix": "/static/"}]}
    route = next(d for d in rule_renders["gwapi"] if d["kind"] == "HTTPRoute" and d["metadata"]["name"] == "web-ingress")
    paths = {r["name"]: [m["path"] for m in r["matches"]] for r in route["spec"]["rules"]}
    assert paths == {"inside": [{"type": "Exact", "value": "/static/app.js"}],
                     "wide": [{"type": "PathPrefix", "value": "/static"}],
                     "default": [{"type": "PathPrefix", "value": "/static"}]}
    assert _both_apis_route_alike(rule_renders) == {"v1", "v2"}


def _both_apis_route_alike(rule_renders) -> set:
    """The versions the requests reached; each request routed alike by both ingress APIs."""
    objs_i = Objects(rule_renders["istio"], {"web.rules-istio.svc.cluster.local": {"app": "web"}})
    objs_g = Objects(rule_renders["gwapi"], {"web.rules-gwapi.svc.cluster.local": {"app": "web"}})
    principal = "cluster.local/ns/istio-ingress/sa/istio-ingress"
    seen = set()
    for path in ("/static", "/static/x", "/static/app.js", "/staticx", "/st"):
        for headers in ((), (("x-a", "1"),), (("x-b", "1"),), (("x-c", "1"),)):
            a = istio_ingress(objs_i, Request("web.istio.rules.example", path, 80, headers), principal)
            b = gateway_api_ingress(objs_g, Request("web.gwapi.rules.example", path, 80, headers))
            inside = path.startswith("/static") and path != "/staticx"
            assert (a[0], b[0]) == (("route", "route") if inside else ("unserved", "unserved")), (path, headers)
            if inside:
                version = {dict(labels).get("version") for labels, _ in a[1]}
                assert version == {dict(labels).get("version") for labels, _ in b[1]}, (path, headers)
                seen |= version
    return seen
