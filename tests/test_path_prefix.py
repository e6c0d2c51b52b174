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

from chartgen.validate import parse_catalog
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
    from chartgen.mesh import env_views

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
