"""What a service's ports and its environment's data plane can carry: HTTP-only settings,
gRPC aborts, and what the Gateway API (ambient, or a Gateway API ingress) can express."""

from __future__ import annotations

import re
from functools import partial

from ..model import TLS_PROTOCOLS, Match, path_match
from ..mesh import HTTP_ONLY, has_http_port, http_only_setting
from .registry import SERVICE, Hit, rule

_rule = partial(rule, section="Protocols and data planes", scope=SERVICE)
_TCP = "services:\n  db:\n    ports: [{name: tcp, port: 5432, protocol: TCP}]\n"
_AMBIENT = "environments:\n  dev: {gateway: {https: false}, dataPlane: ambient}\n"
_WHAT = {"sessionAffinity": "header, cookie and query-parameter affinity are HTTP-only",
         "slo": "a p99 latency SLO is HTTP-only (Istio records no latency for TCP)"}


def _layers(ctx, layer, key) -> list[tuple[tuple, object]]:
    """The catalog layers that set this service's own settings: the service, and its
    environment's override (inherited defaults are simply not applied, see chartgen.catalog.mesh)."""
    out = [(("services", key), ctx.catalog.services[key])]
    if layer.view is not None and key in layer.view.env.services:
        out.append((("environments", layer.view.name, "services", key), layer.view.env.services[key]))
    return out


def _ports(svc) -> str:
    return ", ".join(f"{p.port}/{p.protocol}" for p in svc.spec.ports or [])


@_rule("http-only", "HTTP-only settings (timeouts, retries, faults, routes, mirror, rate limits, header affinity, "
       "latency SLOs, expose) are set only on a service with an HTTP, HTTP2 or GRPC port",
       fail=_TCP + "    timeout: 5s\n", ok=_TCP + "    connectionPool: {tcp: {maxConnections: 100}}\n")
def http_only(ctx, layer, key, svc):
    if has_http_port(svc.spec.ports):
        return
    ports = _ports(svc)
    for loc, own in _layers(ctx, layer, key):
        for name in (*HTTP_ONLY, "sessionAffinity", "slo", "expose"):
            value = getattr(own, name, None)
            if name == "expose" and value is not None:
                yield Hit(loc + (name,), f"expose routes HTTP through the gateway, but service '{key}' has no "
                          f"HTTP, HTTP2 or GRPC port (ports: {ports})")
            elif name in own.model_fields_set and http_only_setting(name, value):
                sub = ("p99Latency",) if name == "slo" else ()
                yield Hit(loc + (name,) + sub, f"{_WHAT.get(name, f'{name} is HTTP-only')}, but service '{key}' has "
                          f"no HTTP, HTTP2 or GRPC port (ports: {ports})")


@_rule("grpc-abort", "A fault that aborts with a gRPC status is set only on a service with a GRPC port",
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
            "    faults: [{name: down, abort: {grpcStatus: UNAVAILABLE, percent: 10}}]\n",
       ok="services:\n  web:\n    ports: [{name: grpc, port: 8080, protocol: GRPC}]\n"
          "    faults: [{name: down, abort: {grpcStatus: UNAVAILABLE, percent: 10}}]\n")
def grpc_abort(ctx, layer, key, svc):
    if not has_http_port(svc.spec.ports) or svc.has_grpc:
        return
    for loc, own in _layers(ctx, layer, key):
        for i, f in enumerate(own.faults or []):
            if f.abort is not None and f.abort.grpcStatus is not None:
                yield Hit(loc + ("faults", i, "abort", "grpcStatus"),
                          f"a gRPC abort needs a GRPC port, but service '{key}' has none (ports: {_ports(svc)})")


def _routed(layer, svc) -> str | None:
    """Why this service is routed through the Gateway API in this layer, or None."""
    return layer.view.gateway_api_routed(svc) if layer.enabled(svc) else None


def _where(layer, why: str) -> str:
    return (f"the ambient data plane of environment '{layer.env_name}'" if why == "ambient"
            else f"the Gateway API ingress of environment '{layer.env_name}'")


@_rule("data-plane-feature", "A setting the Gateway API cannot express (faults, retries; in ambient a per-service "
       "rate limit or a TLS version split) is not asked of a service it routes: refused, never dropped",
       fail=_AMBIENT + "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    retries: {attempts: 2}\n",
       ok=_AMBIENT + "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    timeout: 5s\n")
def data_plane_feature(ctx, layer, key, svc):
    why = _routed(layer, svc)
    if not why:
        return
    s, where, ambient = svc.spec, _where(layer, why), why == "ambient"
    if s.faults and layer.view.chaos:
        yield Hit(layer.loc(key, "faults"), f"fault injection is not available with {where}: the Gateway API has no "
                  "fault filter (turn chaos off there, or use the sidecar data plane and ingressApi: istio)")
    if s.retries is not None:
        yield Hit(layer.loc(key, "retries"), f"retries are not available with {where}: Gateway API HTTPRoutes "
                  "(standard channel) have no retry policy, so the mesh default would apply instead")
    if ambient and s.rateLimit is not None:
        yield Hit(layer.loc(key, "rateLimit"), f"a per-service local rate limit is not available with {where}: a "
                  "waypoint's filter applies to every service that uses it")
    if ambient and s.weights and any(p.protocol in TLS_PROTOCOLS for p in s.ports or []):
        yield Hit(layer.loc(key, "weights"), f"a version split of a TLS port (routed by SNI) is not available with "
                  f"{where}: no Gateway API route splits TLS passthrough inside the mesh")


@_rule("route-precedence", "Under the Gateway API (which orders rules by match specificity, not position) the "
       "catalog's first-match order of routes still holds",
       fail=_AMBIENT + "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    versions: {v1: {}, v2: {}}\n"
            "    routes:\n      - {name: beta, version: v2, match: {headers: {x-beta: {exact: '1'}}}}\n"
            "      - {name: api, version: v1, match: {path: {exact: /api}}}\n",
       ok=_AMBIENT + "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    versions: {v1: {}, v2: {}}\n"
          "    routes:\n      - {name: api, version: v1, match: {path: {exact: /api}}}\n"
          "      - {name: beta, version: v2, match: {headers: {x-beta: {exact: '1'}}}}\n")
def route_precedence(ctx, layer, key, svc):
    why = _routed(layer, svc)
    if not why:
        return
    yield from _precedence(layer, key, svc, ingress=why != "ambient")
    if why == "ambient" and svc.spec.expose is not None and layer.view.ingress_api == "gatewayApi":
        yield from _precedence(layer, key, svc, ingress=True)


def _precedence(layer, key, svc, ingress: bool):
    """Gateway API routes are ordered by match specificity (path type, path length, then
    header and query counts), not by position: the catalog's first-match order must agree."""
    s = svc.spec
    rules = [(i, r.name, r.match) for i, r in enumerate(s.routes or [])] + [(None, "default", None)]
    paths = [path_match(p) for p in s.expose.paths] if ingress and s.expose else [None]
    keyed = [(i, name, min(gateway_api_rank(m, p) for p in paths)) for i, name, m in rules]
    part = f"{'ingress' if ingress else 'mesh'} routes of environment '{layer.env_name}'"
    for j, (jdx, jname, jkey) in enumerate(keyed):
        earlier = next(((idx, iname) for idx, iname, ikey in keyed[:j] if jkey < ikey), None)
        if earlier is not None:
            idx, iname = earlier
            yield Hit(layer.loc(key, "routes", idx if jdx is None else jdx),
                      f"in the Gateway API {part}, rule '{jname}' would be matched before rule '{iname}' "
                      "(HTTPRoute rules are ordered by path type and length, then by the number of header and "
                      "query conditions); reorder the rules or make them more specific")


def gateway_api_rank(m: Match | None, exposed: tuple[str, str] | None = None) -> tuple:
    """The order Istio gives a rule converted from an HTTPRoute (lower first): exact paths,
    then prefixes, then regexes, each longer first, then more headers, then more query
    parameters. A plain string prefix other than "/" becomes a regex in the Gateway API (a
    PathPrefix matches whole segments only); a segment prefix is a PathPrefix, which Istio
    ranks as a prefix of its length without the trailing "/" (pilot/pkg/config/kube/gateway
    conversion.go createURIMatch, sortHTTPRoutes). ``exposed``: the (kind, value) of the
    exposed path an ingress rule is combined with (the chart narrows a rule's own prefix that
    covers an exposed segment prefix to that prefix)."""
    path = m.path if m is not None else None
    if path is not None:
        kind, value = (("exact", path.exact) if path.exact is not None
                       else ("prefix", path.prefix) if path.prefix is not None else ("regex", path.regex))
        if kind == "prefix" and exposed and exposed[0] == "pathPrefix" and exposed[1].startswith(value):
            kind, value = exposed
    else:
        kind, value = exposed or ("prefix", "/")
    if kind == "exact":
        rank, length = 3, len(value)
    elif kind == "pathPrefix":
        rank, length = 2, len(value)
    elif kind == "prefix" and value == "/":
        rank, length = 2, 1
    elif kind == "prefix":
        rank, length = 1, len(gateway_api_prefix_regex(value))
    else:
        rank, length = 1, len(value)
    headers = len(m.headers) + (m.cookie is not None) if m is not None else 0
    queries = len(m.queryParams) if m is not None else 0
    return (-rank, -length, -headers, -queries)


def gateway_api_prefix_regex(prefix: str) -> str:
    """A string prefix as the full-match RE2 regex the chart renders for the Gateway API
    (the chart quotes with Go's regexp.QuoteMeta; this is the same quoting)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", prefix) + ".*"
