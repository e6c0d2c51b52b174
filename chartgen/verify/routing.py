"""Where a request goes: VirtualService and Gateway API routes (pure).

Sources:
- VirtualService: the first ``http`` rule whose ``match`` list has a matching entry (no
  ``match``: every request) decides; its ``route`` splits by ``weight``; a destination's
  ``subset`` names a DestinationRule subset whose ``labels`` select the pods; ``uri.prefix`` is
  a plain string prefix, ``uri.regex`` an RE2 full match:
  https://istio.io/latest/docs/reference/config/networking/virtual-service/ (HTTPRoute,
  HTTPMatchRequest, RouteDestination) and
  https://istio.io/latest/docs/reference/config/networking/destination-rule/#Subset;
- Gateway API HTTPRoute: ``PathPrefix`` matches whole path elements ("the paths /abc, /abc/ and
  /abc/def would all match the prefix /abc, but the path /abcd would not"), ``Exact`` the whole
  path; among the rules of every route attached to a parent the most specific match wins
  (exact path, then the longest prefix, then a method, then the most header matches, then the
  most query matches, then the oldest route, then the route's rule order):
  https://gateway-api.sigs.k8s.io/reference/spec/#httproutematch and #httproutespec (v1.5.1);
  a route whose ``parentRefs`` names a Service is a GAMMA route, applied by the Service's
  waypoint (ambient) or the callers' sidecars: https://gateway-api.sigs.k8s.io/mesh/ and
  https://istio.io/latest/docs/ambient/usage/l7-features/;
- a Gateway listener admits a route whose ``hostnames`` intersect its ``hostname``, whose
  ``sectionName``/``port`` (if set) name the listener, from a namespace its ``allowedRoutes``
  admit: https://gateway-api.sigs.k8s.io/reference/spec/#listener.
The Gateway API conformance cases (conformance/tests/httproute-*.yaml, v1.5.1) are ported in
tests/data/verify/httproute.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .selectors import host_match, label_selector
from .world import Obj, World


@dataclass(frozen=True)
class HttpRequest:
    host: str
    path: str = "/"
    method: str = "GET"
    headers: tuple = ()  # (lower-case name, value)
    port: int = 0


@dataclass(frozen=True)
class Backend:
    service: str  # the Service name the request reaches
    namespace: str
    selector: tuple  # pod labels it selects, sorted pairs
    weight: float  # fraction of the requests
    port: int
    subset: str = ""


@dataclass(frozen=True)
class Routed:
    backends: tuple  # Backend, ...; empty: no route (the gateway answers 404)
    deciding: tuple  # object references


@lru_cache(maxsize=1024)
def _regex(pattern: str):
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _full(pattern: str, value: str) -> bool:
    rx = _regex(pattern)
    return bool(rx is not None and rx.fullmatch(value))


def path_prefix(prefix: str, path: str) -> bool:
    """Gateway API ``PathPrefix``: element-wise (a trailing ``/`` of the prefix is ignored)."""
    path = path.split("?", 1)[0]
    prefix = prefix.rstrip("/")
    if not prefix:
        return True
    return path == prefix or path.startswith(prefix + "/")


def string_match(m: dict, value: str | None) -> bool:
    """Istio's StringMatch (exact, prefix: a string prefix, regex: an RE2 full match)."""
    if value is None:
        return False
    if "exact" in m:
        return value == str(m["exact"])
    if "prefix" in m:
        return value.startswith(str(m["prefix"]))
    if "regex" in m:
        return _full(str(m["regex"]), value)
    return True


def vs_match(match: dict, req: HttpRequest) -> bool:
    path = req.path.split("?", 1)[0]
    if "uri" in match and not string_match(match["uri"] or {}, path):
        return False
    if "method" in match and not string_match(match["method"] or {}, req.method):
        return False
    if match.get("port") and int(match["port"]) != req.port:
        return False
    headers = dict(req.headers)
    for name, m in (match.get("headers") or {}).items():
        if not string_match(m or {}, headers.get(str(name).lower())):
            return False
    for name, m in (match.get("withoutHeaders") or {}).items():
        if string_match(m or {}, headers.get(str(name).lower())):
            return False
    return True


def fqdn(host: str, ns: str) -> str:
    return host if "." in host or "*" in host else f"{host}.{ns}.svc.cluster.local"


def _exported(obj: Obj, ns: str) -> bool:
    export = obj.spec.get("exportTo")
    if not export:
        return True
    return any(e == "*" or e == ns or (e == "." and obj.namespace == ns) for e in export)


def virtual_services(world: World, host: str, from_ns: str, gateway: str | None) -> list[Obj]:
    """The VirtualServices for ``host`` seen from ``from_ns`` (``gateway``: "<ns>/<name>" of an
    ingress gateway; None: the mesh); cached per world."""
    key = ("vs", host, from_ns, gateway)
    if key not in world._cache:
        world._cache[key] = _virtual_services(world, host, from_ns, gateway)
    return world._cache[key]


def _host_index(world: World, kind: str, hosts_of) -> tuple[dict, list]:
    """(exact host -> objects, objects with a wildcard host) of ``kind``, built once per world."""
    key = ("hosts", kind)
    if key not in world._cache:
        exact: dict = {}
        wild: list = []
        for o in world.kind(kind):
            for h in hosts_of(o):
                if "*" in h:
                    wild.append(o)
                else:
                    exact.setdefault(h, []).append(o)
        world._cache[key] = (exact, wild)
    return world._cache[key]


def _vs_hosts(vs: Obj) -> list[str]:
    return [fqdn(str(h), vs.namespace) for h in vs.spec.get("hosts") or []]


def _virtual_services(world: World, host: str, from_ns: str, gateway: str | None) -> list[Obj]:
    exact, wild = _host_index(world, "VirtualService", _vs_hosts)
    out = []
    for vs in dict.fromkeys(exact.get(host, []) + wild):
        gws = [str(g) for g in vs.spec.get("gateways") or []]
        if gateway is None:
            if gws and "mesh" not in gws:
                continue
            if not _exported(vs, from_ns):
                continue
        else:
            names = {g if "/" in g else f"{vs.namespace}/{g}" for g in gws}
            if gateway not in names:
                continue
        if any(host_match(h, host) for h in _vs_hosts(vs)):
            out.append(vs)
    return sorted(out, key=lambda v: (v.namespace, v.name))


def _subset_labels(world: World, host: str, subset: str, from_ns: str) -> tuple[dict | None, str]:
    exact, _ = _host_index(world, "DestinationRule", lambda dr: [fqdn(str(dr.spec.get("host", "")), dr.namespace)])
    for dr in exact.get(host, []):
        if not _exported(dr, from_ns):
            continue
        for s in dr.spec.get("subsets") or []:
            if isinstance(s, dict) and s.get("name") == subset:
                return {str(k): str(v) for k, v in (s.get("labels") or {}).items()}, dr.ref
    return None, ""


def _service_of_host(world: World, host: str, services: dict) -> tuple[str, str, dict] | None:
    """(name, namespace, selector) of the Service behind an in-cluster host."""
    parts = host.split(".")
    if len(parts) < 2:
        return None
    name, ns = parts[0], parts[1]
    if (ns, name) in services:
        return name, ns, services[(ns, name)]
    return None


def route_virtual_service(world: World, vss: list[Obj], req: HttpRequest, from_ns: str, services: dict,
                          l4: bool = False) -> Routed | None:
    """The backends of the first matching rule of the first VirtualService (None: no VS).
    ``l4``: a TCP/TLS connection, routed by the ``tcp`` and ``tls`` rules (first whose
    ``match`` port, if any, is the connection's)."""
    if not vss:
        return None
    vs = vss[0]
    if l4:
        return _route_l4(world, vs, req, from_ns, services)
    for rule in vs.spec.get("http") or []:
        matches = rule.get("match") or [{}]
        if not any(vs_match(m or {}, req) for m in matches):
            continue
        if rule.get("redirect") or rule.get("directResponse"):
            return Routed((), (vs.ref,))
        return Routed(_destinations(world, rule.get("route") or [], vs, from_ns, services), (vs.ref,))
    return Routed((), (vs.ref,))


def _route_l4(world: World, vs: Obj, req: HttpRequest, from_ns: str, services: dict) -> Routed | None:
    rules = (vs.spec.get("tls") or []) + (vs.spec.get("tcp") or [])
    for rule in rules:
        ports = [int(m.get("port")) for m in rule.get("match") or [] if isinstance(m, dict) and m.get("port")]
        if not ports or req.port in ports:
            return Routed(_destinations(world, rule.get("route") or [], vs, from_ns, services), (vs.ref,))
    return Routed((), (vs.ref,)) if rules else None


def _destinations(world: World, route: list, vs: Obj, from_ns: str, services: dict) -> tuple:
    total = sum(int(d.get("weight", 0) or 0) for d in route) or 0
    out = []
    for d in route:
        dest = d.get("destination") or {}
        host = fqdn(str(dest.get("host", "")), vs.namespace)
        weight = (int(d.get("weight", 0) or 0) / total) if total else (1.0 if len(route) == 1 else 0.0)
        if weight <= 0:
            continue
        svc = _service_of_host(world, host, services)
        if svc is None:
            out.append(Backend(host, "", (), weight, int((dest.get("port") or {}).get("number") or 0)))
            continue
        name, ns, selector = svc
        labels = dict(selector)
        subset = str(dest.get("subset") or "")
        if subset:
            extra, _ = _subset_labels(world, host, subset, from_ns)
            if extra is None:  # an unknown subset: Envoy has no cluster for it (503)
                continue
            labels.update(extra)
        out.append(Backend(name, ns, tuple(sorted(labels.items())), weight,
                           int((dest.get("port") or {}).get("number") or 0), subset))
    return tuple(out)


# --- the Gateway API ------------------------------------------------------------------------------

def _path_ok(pm: dict, path: str) -> bool:
    kind, value = str(pm.get("type") or "PathPrefix"), str(pm.get("value") or "/")
    if kind == "Exact":
        return path == value
    if kind == "PathPrefix":
        return path_prefix(value, path)
    return _full(value, path)  # RegularExpression (Istio: an RE2 full match)


def _headers_ok(wanted: list, headers: dict) -> bool:
    for h in wanted:
        got = headers.get(str(h.get("name", "")).lower())
        if got is None:
            return False
        if str(h.get("type") or "Exact") == "RegularExpression":
            if not _full(str(h.get("value", "")), got):
                return False
        elif got != str(h.get("value", "")):
            return False
    return True


def _http_route_match(match: dict, req: HttpRequest) -> bool:
    path, _, query_text = req.path.partition("?")
    if not _path_ok(match.get("path") or {"type": "PathPrefix", "value": "/"}, path):
        return False
    if match.get("method") and str(match["method"]) != req.method:
        return False
    if not _headers_ok(match.get("headers") or [], dict(req.headers)):
        return False
    query = dict(q.split("=", 1) for q in query_text.split("&") if "=" in q)
    return all(query.get(str(q.get("name", ""))) == str(q.get("value", "")) for q in match.get("queryParams") or [])


def _precedence(match: dict, route: Obj, rule_index: int) -> tuple:
    pm = match.get("path") or {"type": "PathPrefix", "value": "/"}
    kind = str(pm.get("type") or "PathPrefix")
    rank = {"Exact": 0, "PathPrefix": 1}.get(kind, 2)
    return (rank, -len(str(pm.get("value") or "")), 0 if match.get("method") else 1,
            -len(match.get("headers") or []), -len(match.get("queryParams") or []),
            route.namespace, route.name, rule_index)


def select_http_rule(routes: list[Obj], req: HttpRequest):
    """The (route, rule) the Gateway API precedence picks for ``req`` among ``routes`` (all
    attached to one parent, hostnames already checked), or None."""
    best = None
    for route in routes:
        for i, rule in enumerate(route.spec.get("rules") or []):
            for m in rule.get("matches") or [{}]:
                if _http_route_match(m or {}, req):
                    key = _precedence(m or {}, route, i)
                    if best is None or key < best[0]:
                        best = (key, route, rule)
    return (best[1], best[2]) if best else None


def _hostnames_match(route: Obj, host: str) -> bool:
    names = [str(h) for h in route.spec.get("hostnames") or []]
    return not names or any(host_match(n, host) for n in names)


def gateway_routes(world: World, gateway: Obj, listener: dict, host: str) -> list[Obj]:
    """HTTPRoutes attached to ``listener`` of ``gateway`` whose hostnames cover ``host``."""
    allowed = ((listener.get("allowedRoutes") or {}).get("namespaces") or {})
    out = []
    for r in world.kind("HTTPRoute"):
        for ref in r.spec.get("parentRefs") or []:
            if not isinstance(ref, dict) or ref.get("kind", "Gateway") != "Gateway":
                continue
            if str(ref.get("name")) != gateway.name or str(ref.get("namespace") or r.namespace) != gateway.namespace:
                continue
            if ref.get("sectionName") and ref["sectionName"] != listener.get("name"):
                continue
            if ref.get("port") and int(ref["port"]) != int(listener.get("port", 0)):
                continue
            if not _namespace_allowed(world, allowed, gateway.namespace, r.namespace):
                continue
            lh = listener.get("hostname")
            if lh and not host_match(str(lh), host):
                continue
            if _hostnames_match(r, host):
                out.append(r)
                break
    return out


def _namespace_allowed(world: World, allowed: dict, gw_ns: str, route_ns: str) -> bool:
    frm = str(allowed.get("from") or "Same")
    if frm == "All":
        return True
    if frm == "Same":
        return route_ns == gw_ns
    return label_selector(allowed.get("selector") or {}, world.ns_labels(route_ns))


def mesh_routes(world: World, service: str, namespace: str, port: int) -> list[Obj]:
    """GAMMA routes: HTTPRoutes whose parentRefs name the Service (and its port, if set)."""
    out = []
    for r in world.kind("HTTPRoute"):
        for ref in r.spec.get("parentRefs") or []:
            if isinstance(ref, dict) and ref.get("kind") == "Service" and str(ref.get("group") or "") == "" \
                    and str(ref.get("name")) == service and str(ref.get("namespace") or r.namespace) == namespace \
                    and (not ref.get("port") or int(ref["port"]) == port):
                out.append(r)
                break
    return out


def route_http_routes(routes: list[Obj], req: HttpRequest, services: dict) -> Routed | None:
    """The backends the chosen rule sends ``req`` to (None: no route applies)."""
    if not routes:
        return None
    chosen = select_http_rule(routes, req)
    if chosen is None:
        return Routed((), tuple(r.ref for r in routes))
    route, rule = chosen
    filters = [str((f or {}).get("type")) for f in rule.get("filters") or []]
    if "RequestRedirect" in filters:
        return Routed((), (route.ref,))
    refs = [b for b in rule.get("backendRefs") or [] if isinstance(b, dict)]
    total = sum(int(b.get("weight", 1)) for b in refs)
    out = []
    for b in refs:
        w = int(b.get("weight", 1))
        if w <= 0 or not total:
            continue
        ns = str(b.get("namespace") or route.namespace)
        name = str(b.get("name"))
        selector = services.get((ns, name))
        if selector is None:
            continue  # an unresolved backend: the request fails (500)
        out.append(Backend(name, ns, tuple(sorted(selector.items())), w / total, int(b.get("port") or 0)))
    return Routed(tuple(out), (route.ref,))
