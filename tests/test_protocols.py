"""Protocol-aware routing: TCP / TLS / Redis / MySQL / Mongo ports get tcp or tls rules and none
of the HTTP-only features, gRPC gets status-code retries, gRPC aborts and gRPC error alerts,
mixed services get per-port rules; disabled retries render as exactly {attempts: 0}."""

from __future__ import annotations

import textwrap

import pytest

from chartgen.base.errors import CatalogError
from chartgen.catalog.mesh import env_views, resolve_service
from chartgen.releases.observability import slo_alert_rules
from helpers.slo import service_alerts
from chartgen.catalog.validate import parse_catalog
from chartgen.chart.values import chart_values

BASE = """\
apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: shop, domain: shop.local}
defaults:
  timeout: 10s
  retries: {attempts: 2, perTryTimeout: 2s}
  sessionAffinity: {header: x-user}
  rateLimit: {requests: 100}
  slo: {errorRatio: 0.01, p99Latency: 500ms}
environments:
  dev: {mtls: PERMISSIVE, chaos: true, gateway: {https: false}}
  prod: {production: true, gateway: {https: true, credentialName: shop-tls}}
services:
"""


def catalog_text(services: str) -> str:
    return BASE + textwrap.indent(textwrap.dedent(services), "  ")


def problems(services: str) -> list[str]:
    with pytest.raises(CatalogError) as exc:
        parse_catalog(catalog_text(services), "catalog.yaml")
    return [p.format() for p in exc.value.problems]


def values_of(services: str, env: str = "dev") -> dict:
    catalog, _ = parse_catalog(catalog_text(services), "catalog.yaml")
    view = next(v for v in env_views(catalog) if v.name == env)
    return chart_values(catalog, view)["services"]


REDIS = """\
redis:
  ports: [{name: redis, port: 6379, protocol: REDIS}]
"""


# --- validation: HTTP-only settings on a service without an HTTP port --------------------------


@pytest.mark.parametrize("setting, path", [
    ("timeout: 5s", "services.redis.timeout"),
    ("retries: {attempts: 1}", "services.redis.retries"),
    ("mirror: {version: v1}", "services.redis.mirror"),
    ("rateLimit: {requests: 10}", "services.redis.rateLimit"),
    ("sessionAffinity: {cookie: {name: c}}", "services.redis.sessionAffinity"),
    ("slo: {p99Latency: 1s}", "services.redis.slo.p99Latency"),
    ("expose: {paths: [/]}", "services.redis.expose"),
    ("routes: [{name: ab, match: {headers: {x: {exact: a}}}, version: v1}]", "services.redis.routes"),
    ("faults: [{name: f, delay: {percent: 1, fixedDelay: 1s}}]", "services.redis.faults"),
])
def test_http_only_setting_on_a_tcp_service_is_a_located_error(setting, path):
    found = problems(REDIS + f"  versions: {{v1: {{}}}}\n  {setting}\n")
    assert len(found) == 1, found
    assert f": error: {path}: " in found[0] and found[0].endswith("[http-only]")
    assert "no HTTP, HTTP2 or GRPC port (ports: 6379/REDIS)" in found[0]
    assert found[0].startswith("catalog.yaml:") and found[0].split(":")[1] != "0"


def test_http_only_setting_in_an_environment_override_is_located_there():
    text = catalog_text(REDIS).replace("dev: {mtls: PERMISSIVE, chaos: true, gateway: {https: false}}",
                                       "dev: {mtls: PERMISSIVE, chaos: true, gateway: {https: false}, "
                                       "services: {redis: {timeout: 3s}}}")
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "catalog.yaml")
    assert [p.path for p in exc.value.problems] == ["environments.dev.services.redis.timeout"]


def test_inherited_http_defaults_are_not_applied_to_a_tcp_service():
    """defaults carry timeout, retries, header affinity, a rate limit and a p99 SLO: the Redis
    service validates and keeps only what TCP has (the error-ratio SLO)."""
    svc = values_of(REDIS + "  sessionAffinity: {sourceIp: true}\n")["redis"]
    assert svc["timeout"] == ""
    assert svc["rateLimit"]["enabled"] is False
    assert svc["loadBalancer"] == {"consistentHash": {"useSourceIp": True}}
    catalog, _ = parse_catalog(catalog_text(REDIS), "catalog.yaml")
    slo = resolve_service(catalog, "redis", "dev").spec.slo
    assert (slo.errorRatio, slo.p99Latency) == (0.01, None)
    assert values_of(REDIS)["redis"]["loadBalancer"] == {}


def test_mixed_service_keeps_http_settings():
    svc = values_of("""\
cart:
  ports: [{name: grpc, port: 9090, protocol: GRPC}, {name: tcp-raw, port: 7000, protocol: TCP}]
""")["cart"]
    assert svc["timeout"] == "10s" and svc["rateLimit"]["enabled"] is True


def test_grpc_abort_needs_a_grpc_port():
    found = problems("""\
web:
  ports: [{name: http, port: 8080}]
  faults: [{name: f, abort: {percent: 5, grpcStatus: UNAVAILABLE}}]
""")
    assert len(found) == 1 and "services.web.faults[0].abort.grpcStatus" in found[0] and "[grpc-abort]" in found[0]


@pytest.mark.parametrize("abort, message", [
    ("{percent: 5, grpcStatus: UNAVAILABLE, httpStatus: 503}", "expected exactly one of httpStatus, grpcStatus, got both"),
    ("{percent: 5}", "expected exactly one of httpStatus, grpcStatus, got none"),
    ("{percent: 5, grpcStatus: unavailable}", "expected one of"),
])
def test_abort_status_shapes(abort, message):
    found = problems(f"""\
cart:
  ports: [{{name: grpc, port: 9090, protocol: GRPC}}]
  faults: [{{name: f, abort: {abort}}}]
""")
    assert len(found) == 1 and message in found[0] and "services.cart.faults[0].abort" in found[0], found


# --- values: gRPC retries, disabled retries ---------------------------------------------------


def test_grpc_service_retries_on_grpc_status_codes():
    svc = values_of("cart:\n  ports: [{name: grpc, port: 9090, protocol: GRPC}]\n")["cart"]
    assert svc["retries"]["retryOn"].split(",") == [
        "connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes",
        "deadline-exceeded", "internal", "resource-exhausted"]
    web = values_of("web:\n  ports: [{name: http, port: 8080}]\n")["web"]
    assert web["retries"]["retryOn"] == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"


@pytest.mark.parametrize("retries", ["", "  retries: {attempts: 3, perTryTimeout: 2s}\n"])
def test_default_retry_on_is_istios_and_never_retries_a_request_the_service_answered(retries):
    """A POST that reached the service and got a 5xx (or a reset after it was sent) must not be
    sent again unless the catalog asks: Istio's default conditions, with or without retries."""
    web = values_of("web:\n  ports: [{name: http, port: 8080}]\n" + retries)["web"]
    tokens = web["retries"]["retryOn"].split(",")
    assert tokens == ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"]
    assert not {"5xx", "reset", "gateway-error", "retriable-4xx"} & set(tokens)


def test_a_catalog_that_asks_for_5xx_gets_it():
    web = values_of("web:\n  ports: [{name: http, port: 8080}]\n"
                    "  retries: {attempts: 2, retryOn: '5xx,reset'}\n")["web"]
    assert web["retries"]["retryOn"] == "5xx,reset"


def test_grpc_service_adds_grpc_codes_to_retry_on_from_defaults():
    catalog, _ = parse_catalog(catalog_text("cart:\n  ports: [{name: grpc, port: 9090, protocol: GRPC}]\n"
                                            "web:\n  ports: [{name: http, port: 8080}]\n").replace(
        "retries: {attempts: 2, perTryTimeout: 2s}", "retries: {attempts: 2, perTryTimeout: 2s, retryOn: 5xx}"),
        "catalog.yaml")
    services = chart_values(catalog, env_views(catalog)[0])["services"]
    assert services["cart"]["retries"]["retryOn"] == "5xx,cancelled,deadline-exceeded,internal,resource-exhausted,unavailable"
    assert services["web"]["retries"]["retryOn"] == "5xx"


def test_explicit_retry_on_is_kept_for_grpc():
    svc = values_of("cart:\n  ports: [{name: grpc, port: 9090, protocol: GRPC}]\n"
                    "  retries: {attempts: 1, retryOn: unavailable}\n")["cart"]
    assert svc["retries"]["retryOn"] == "unavailable"


# --- alerts on the right metrics --------------------------------------------------------------


def test_alert_metrics_follow_the_protocol():
    catalog, _ = parse_catalog(catalog_text(REDIS + """\
cart:
  ports: [{name: grpc, port: 9090, protocol: GRPC}]
web:
  ports: [{name: http, port: 8080}]
"""), "catalog.yaml")
    view = next(v for v in env_views(catalog) if v.name == "dev")
    alerts = service_alerts(slo_alert_rules(catalog, view))
    rules = {f"{svc}:{alert}": expr for (svc, alert), expr in alerts.items()}
    assert set(rules) == {"redis:ServiceHighErrorRatio", "cart:ServiceHighErrorRatio", "cart:ServiceHighLatencyP99",
                          "web:ServiceHighErrorRatio", "web:ServiceHighLatencyP99"}  # no TCP latency alert
    redis, cart, web = (rules[f"{s}:ServiceHighErrorRatio"] for s in ("redis", "cart", "web"))
    assert "istio_tcp_connections_closed_total" in redis and 'response_flags!="-"' in redis
    assert "istio_requests_total" not in redis
    assert 'request_protocol="grpc",grpc_response_status!="0"' in cart
    assert 'response_code=~"5.."' in web and "grpc" not in web


# --- exposed paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("path, message", [
    ("/api*", "expected an HTTP path starting with '/', without '*'"),
    ("'/a/{id}'", "without '*', '{', '}'"),
    ("/a?x=1", "'?', '#' or spaces"),
    ("api", "starting with '/'"),
    ("{exact: /a*}", "without '*'"),
    ("{regex: '(?<=/a)b'}", "expected an RE2 regular expression, got '(?<=/a)b': invalid perl operator"),
    ("{regex: '(a)\\1'}", "expected an RE2 regular expression"),
    (f"{{regex: '/{'a' * 1030}'}}", "at most 1024 characters"),
    ('{regex: "/a\\nb"}', "without control characters"),
    ("{exact: /a, prefix: /b}", "expected exactly one of exact, prefix, regex, got exact, prefix"),
])
def test_exposed_path_refusals_are_located(path, message):
    found = problems(f"web:\n  ports: [{{name: http, port: 8080}}]\n  expose: {{paths: [/ok, {path}]}}\n")
    assert len(found) == 1 and message in found[0], found
    assert ": error: services.web.expose.paths[1]" in found[0], found


def test_exposed_paths_values_keep_bare_prefixes():
    """A bare string (a prefix on whole segments) stays bare, its trailing "/" dropped; a plain
    string prefix stays a {prefix: …} match, so the chart can tell the two apart."""
    svc = values_of("web:\n  ports: [{name: http, port: 8080}]\n"
                    "  expose: {paths: [/api, /docs/, /, {prefix: /static/}, {exact: /login}, {regex: '/v[0-9]+/.*'}]}\n")["web"]
    assert svc["expose"]["paths"] == ["/api", "/docs", "/", {"prefix": "/static/"}, {"exact": "/login"},
                                      {"regex": "/v[0-9]+/.*"}]


def test_same_path_claimed_twice_by_kind():
    found = problems("""\
a:
  ports: [{name: http, port: 8080}]
  expose: {host: www, paths: [{exact: /login}]}
b:
  ports: [{name: http, port: 8080}]
  expose: {host: www, paths: [/login, {exact: /login}]}
""")
    assert [f for f in found if "[unique-route]" in f] and all("services.b.expose.paths[1]" in f for f in found), found
    assert any("/login (exact)" in f for f in found)


def test_exposing_on_a_tcp_gateway_port_is_refused():
    text = catalog_text("web:\n  ports: [{name: http, port: 8080}]\n  expose: {paths: [/], gatewayPort: 9000}\n").replace(
        "gateway: {https: false}}", "gateway: {https: false, extraPorts: [{name: tcp-raw, port: 9000, protocol: TCP}]}}")
    with pytest.raises(CatalogError) as exc:
        parse_catalog(text, "catalog.yaml")
    found = [p.format() for p in exc.value.problems]
    assert any("services.web.expose.gatewayPort: gateway port 9000 is TCP in environment 'dev'" in f for f in found), found
