"""Rendered routing per protocol, and exposed paths: the gateway route and the gateway
AuthorizationPolicy admit exactly the same request paths, for each match type (through the
real helm; the matchers follow Envoy and Istio, see helpers/pathmatch.py)."""

from __future__ import annotations

import pytest

from helpers.meshrender import crd_violations, istio_crdset, one, render_catalog
from helpers.pathmatch import authz_admits, route_admits, uri_matches
from test_protocols import catalog_text

pytestmark = pytest.mark.integration

MIXED = """\
cart:
  ports:
    - {name: grpc, port: 9090, protocol: GRPC}
    - {name: http-metrics, port: 8080, protocol: HTTP}
    - {name: tcp-raw, port: 7000, protocol: TCP}
    - {name: tls, port: 8443, protocol: TLS}
  versions: {v1: {}, v2: {}}
  weights: {v1: 90, v2: 10}
  routes: [{name: beta, match: {path: {prefix: /shop.Cart/}}, version: v2}]
  faults: [{name: chaos, match: {headers: {x-chaos: {exact: "1"}}}, abort: {percent: 50, grpcStatus: UNAVAILABLE}}]
  calls: [redis]
redis:
  ports: [{name: redis, port: 6379, protocol: REDIS}]
  versions: {v6: {}, v7: {}}
  weights: {v6: 80, v7: 20}
db:
  ports: [{name: tls-db, port: 5432, protocol: TLS}]
noretry:
  ports: [{name: http, port: 80}]
  retries: {attempts: 0}
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, helm, helm_env):
    return render_catalog(catalog_text(MIXED), tmp_path_factory.mktemp("mixed"), helm, helm_env)


def _dests(rule):
    return [(r["destination"]["port"]["number"], r["destination"].get("subset"), r.get("weight")) for r in rule["route"]]


def test_tcp_service_gets_weighted_tcp_rules_and_nothing_http(mixed):
    docs = mixed["dev"]
    vs = one(docs, "VirtualService", "redis")["spec"]
    assert set(vs) == {"hosts", "tcp"}
    assert vs["tcp"] == [{"route": [
        {"destination": {"host": "redis.shop-dev.svc.cluster.local", "port": {"number": 6379}, "subset": "v6"},
         "weight": 80},
        {"destination": {"host": "redis.shop-dev.svc.cluster.local", "port": {"number": 6379}, "subset": "v7"},
         "weight": 20}]}]
    dr = one(docs, "DestinationRule", "redis")["spec"]["trafficPolicy"]
    assert "loadBalancer" not in dr  # the inherited header affinity is HTTP-only
    assert not [d for d in docs if d["kind"] == "EnvoyFilter" and d["metadata"]["name"] == "redis-ratelimit"]


def test_tls_service_gets_tls_rules_by_sni(mixed):
    vs = one(mixed["dev"], "VirtualService", "db")["spec"]
    assert set(vs) == {"hosts", "tls"}
    assert vs["tls"] == [{"match": [{"sniHosts": ["db.shop-dev.svc.cluster.local"]}],
                          "route": [{"destination": {"host": "db.shop-dev.svc.cluster.local",
                                                     "port": {"number": 5432}}}]}]


def test_mixed_service_gets_each_ports_rules_with_match_port(mixed):
    vs = one(mixed["dev"], "VirtualService", "cart")["spec"]
    assert [r["match"] for r in vs["tcp"]] == [[{"port": 7000}]]
    assert _dests(vs["tcp"][0]) == [(7000, "v1", 90), (7000, "v2", 10)]
    assert [r["match"] for r in vs["tls"]] == [[{"port": 8443, "sniHosts": ["cart.shop-dev.svc.cluster.local"]}]]
    http = vs["http"]
    for rule in http:  # every http rule names its port, and routes to that port (IST0112)
        ports = {m["port"] for m in rule["match"]}
        assert len(ports) == 1 and {d[0] for d in _dests(rule)} == ports
    by_port = {}
    for rule in http:
        by_port.setdefault(rule["match"][0]["port"], []).append(rule["name"])
    # the gRPC abort only on the GRPC port; A/B and default on both HTTP ports
    assert by_port == {9090: ["chaos", "beta", "default"], 8080: ["beta", "default"]}
    chaos = http[0]
    assert chaos["fault"]["abort"] == {"grpcStatus": "UNAVAILABLE", "percentage": {"value": 50}}
    retry_on = chaos["retries"]["retryOn"].split(",")
    assert {"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"} <= set(retry_on)
    assert len(retry_on) == len(set(retry_on)) and "5xx" not in retry_on
    assert http[1]["match"] == [{"port": 9090, "uri": {"prefix": "/shop.Cart/"}}]


def test_faults_and_grpc_abort_stay_out_of_production(mixed):
    vs = one(mixed["prod"], "VirtualService", "cart")["spec"]
    assert not [r for r in vs["http"] if "fault" in r]


def test_disabled_retries_render_exactly_attempts_zero(mixed):
    vs = one(mixed["dev"], "VirtualService", "noretry")["spec"]
    assert [r["retries"] for r in vs["http"]] == [{"attempts": 0}]


# --- exposed paths: route and gateway AuthorizationPolicy admit the same requests ------------

SAMPLES = [
    "/", "/login", "/login/", "/login/x", "/loginx", "/login?next=/x", "/Login", "/logout", "/logout/",
    "/productpage", "/productpage?u=1", "/static", "/static/", "/static/app.js", "/staticX", "/static?v=2",
    "/api", "/api/", "/api/v1", "/apix", "/api?x=1", "/p", "/p/", "/p/x", "/px", "/q", "//login",
    "/static%2Fapp.js", "/v1/users/42", "/v1/users/42/", "/v2/users/x", "/health",
]
HEADERS = [{}, {"end-user": "jason"}]

CASES = {
    "exact": ("[{exact: /login}, {exact: /logout}, {exact: /productpage}]",
              {"/login", "/login?next=/x", "/logout", "/productpage", "/productpage?u=1"}),
    # a bare string is a prefix on whole segments (a trailing "/" is ignored): not /staticX,
    # not /static%2Fapp.js (no separator after the segment), and /api/ admits /api
    "prefix": ("[/static, /api/]",
               {"/static", "/static/", "/static/app.js", "/static?v=2", "/api", "/api/", "/api/v1", "/api?x=1"}),
    "prefix-p": ("[{prefix: /p}, {exact: /q}]", {"/p", "/p/", "/p/x", "/px", "/productpage", "/productpage?u=1", "/q"}),
    "regex": ("[{regex: '/v[0-9]+/users/[0-9]+'}]", {"/v1/users/42"}),
}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory, helm, helm_env):
    out = {}
    for name, (paths, _) in CASES.items():
        services = f"""\
web:
  ports: [{{name: http, port: 9080}}]
  versions: {{v1: {{}}, v2: {{}}}}
  weights: {{v1: 100, v2: 0}}
  routes:
    - {{name: jason, match: {{headers: {{end-user: {{exact: jason}}}}}}, version: v2}}
    - {{name: beta-api, match: {{path: {{prefix: /api/v}}, headers: {{x-beta: {{exact: "1"}}}}}}, version: v2}}
  expose: {{host: web, paths: {paths}}}
"""
        docs = render_catalog(catalog_text(services), tmp_path_factory.mktemp(name), helm, helm_env)["dev"]
        out[name] = (one(docs, "VirtualService", "web-ingress"), one(docs, "AuthorizationPolicy",
                                                                           "allow-gateway-to-web"))
    return out


@pytest.mark.parametrize("case", ["exact", "prefix", "prefix-p"])
def test_route_and_gateway_authz_admit_the_same_paths(case, exposed):
    vs, ap = exposed[case]
    expected = CASES[case][1]
    for path in SAMPLES:
        authz = authz_admits(ap, path)
        assert authz == (path in expected), f"{case}: AuthorizationPolicy on {path!r}: {authz}"
        for headers in HEADERS + [{"x-beta": "1"}]:
            assert route_admits(vs, path, headers) == authz, f"{case}: route on {path!r} with {headers}"
    assert "annotations" not in ap["metadata"]


def test_regex_path_route_is_exact_and_authz_says_it_does_not_restrict(exposed):
    """AuthorizationPolicy has no regex: the policy admits every path from the gateway, says
    so in an annotation, and the route alone decides (it never admits more than the regex)."""
    vs, ap = exposed["regex"]
    for path in SAMPLES:
        assert route_admits(vs, path) == (path in CASES["regex"][1]), path
        assert authz_admits(ap, path)
    assert "paths" not in ap["spec"]["rules"][0]["to"][0]["operation"]
    assert "regex" in ap["metadata"]["annotations"]["chartgen.io/paths"]


def test_ab_rules_never_widen_the_exposed_paths(exposed):
    """The path-limited A/B rule survives only under an exposed prefix that contains it."""
    vs, _ = exposed["prefix"]
    beta = [r for r in vs["spec"]["http"] if r["name"] == "beta-api"]
    assert beta and beta[0]["match"] == [{"headers": {"x-beta": {"exact": "1"}}, "uri": {"prefix": "/api/v"}}]
    vs, _ = exposed["exact"]
    assert not [r for r in vs["spec"]["http"] if r["name"] == "beta-api"]


def test_prefix_matcher_is_istio_string_prefix():
    """Istio translates a user VirtualService prefix to Envoy's plain prefix (not path-separated)."""
    assert uri_matches({"prefix": "/api"}, "/apix") and uri_matches({"prefix": "/api"}, "/api/x")
    assert not uri_matches({"prefix": "/api/"}, "/api")
    assert uri_matches({"exact": "/login"}, "/login?x=1") and not uri_matches({"exact": "/login"}, "/login/")


# --- lint: port names against declared protocols ------------------------------------------------

PORT_NAMES = {  # service: (port name, protocol, expected lint codes)
    "grpc-as-http": ("http", "GRPC", {"CG120"}),          # Istio would speak HTTP/1.1 to a gRPC server
    "grpc-as-grpcweb": ("grpc-web", "GRPC", {"CG120"}),
    "http-as-grpc": ("grpc", "HTTP", {"CG120"}),          # HTTP/2 to an HTTP/1.1 server
    "tls-as-http": ("http-db", "TLS", {"CG120"}),         # TLS bytes parsed as HTTP
    "http-as-tcp": ("tcp", "HTTP", {"CG120"}),            # http rules would not apply
    "redis-as-tcp": ("tcp-cache", "REDIS", {"CG121"}),
    "tls-as-https": ("https", "TLS", {"CG121"}),
    "grpc-as-http2": ("http2", "GRPC", {"CG121"}),
    "redis-ok": ("redis", "REDIS", set()),
    "grpc-ok": ("grpc-api", "GRPC", set()),
    "tls-ok": ("tls-db", "TLS", set()),
    "unnamed": ("web", "GRPC", {"IST0118"}),
}


def test_port_names_that_disagree_with_the_protocol(tmp_path):
    from chartgen.analyzer import Project, analyze, render
    from chartgen.catalog.validate import parse_catalog

    services = "".join(f"{key}:\n  ports: [{{name: {name}, port: 7000, protocol: {proto}}}]\n"
                       for key, (name, proto, _) in PORT_NAMES.items())
    text = catalog_text(services)
    catalog, smap = parse_catalog(text, "catalog.yaml")
    project = Project.from_catalog(catalog, tmp_path, source_map=smap)
    findings = analyze(project, render(project, ["dev"])["dev"])
    got = {key: set() for key in PORT_NAMES}
    lines = text.splitlines()
    for f in findings:
        got[f.name].add(f.code)
        assert f.file == "catalog.yaml" and f"name: {PORT_NAMES[f.name][0]}," in lines[f.line - 1], f.format()
    assert got == {key: codes for key, (_, _, codes) in PORT_NAMES.items()}, [f.format() for f in findings]
    by_name = {f.name: f for f in findings}
    assert by_name["grpc-as-http"].level == "error" and "HTTP/1" in by_name["grpc-as-http"].message
    assert by_name["redis-as-tcp"].level == "warning"


def test_rendered_objects_are_admitted_by_the_istio_crds(mixed, exposed, upstream_charts):
    """tcp and tls routes, match.port, gRPC aborts, {attempts: 0}, exact/prefix/regex paths and
    their AuthorizationPolicies pass Istio 1.30.3's CRD schemas and CEL rules."""
    crds = istio_crdset(upstream_charts)
    for env, docs in mixed.items():
        checked, violations = crd_violations(crds, docs)
        assert checked > 15 and violations == [], (env, violations)
    for case, objs in exposed.items():
        checked, violations = crd_violations(crds, list(objs))
        assert checked == 2 and violations == [], (case, violations)


def test_the_chart_classifies_each_protocol_as_the_catalog_does(tmp_path, helm, helm_env):
    """The chart's port classification (templates/_ports.tpl) and catalog.protocol_class are
    written twice (Go and Python): every protocol lands in the rules of the same kind."""
    from chartgen.catalog.model import PROTOCOLS, protocol_class

    ports = "\n".join(f"    - {{name: {p.lower()}-port, port: {8000 + i}, protocol: {p}}}" for i, p in enumerate(PROTOCOLS))
    docs = render_catalog(catalog_text(f"every:\n  ports:\n{ports}\n"), tmp_path, helm, helm_env)["dev"]
    vs = one(docs, "VirtualService", "every")["spec"]
    rendered = {}
    for kind in ("http", "tls", "tcp"):
        for rule in vs.get(kind, []):
            for match in rule.get("match", []):
                rendered.setdefault(match["port"], set()).add(kind)
    assert rendered == {8000 + i: {protocol_class(p)} for i, p in enumerate(PROTOCOLS)}
