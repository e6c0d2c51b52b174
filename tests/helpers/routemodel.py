"""A small model of how Istio routes one HTTP request, over rendered objects, for both APIs:

- Istio's own: a Gateway's servers (port, hosts, HTTPS redirect), VirtualServices (rules in
  order, first match wins; string prefixes), DestinationRule subsets, and the ingress
  AuthorizationPolicies' paths (a sidecar denies what they do not allow);
- the Gateway API, as Istio implements it: a Gateway's listeners, HTTPRoutes attached to a
  listener or (GAMMA) to a Service, each match as its own rule, ordered by Istio's
  precedence (exact path, then prefix, then regex, longer first, then more headers, then
  more query parameters; stable), PathPrefix on whole segments, and the CRDs' defaults
  (no matches: PathPrefix "/"; header and query match type Exact).

A request ends as ``("route", backends, mirror, timeout)``, ``("redirect",)`` or
``("unserved",)``; a backend is the set of pod labels it selects and its weight, so a
subset of the sidecar render and a per-version Service of the ambient render compare equal
when they pick the same pods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    host: str
    path: str
    port: int = 80
    headers: tuple = ()  # (lowercase name, value)
    query: tuple = ()

    @property
    def header_map(self) -> dict:
        return dict(self.headers)

    @property
    def query_map(self) -> dict:
        return dict(self.query)


UNSERVED = ("unserved",)
REDIRECT = ("redirect",)


def _labels_key(labels: dict) -> frozenset:
    return frozenset((str(k), str(v)) for k, v in labels.items())


@dataclass
class Objects:
    docs: list
    selectors: dict = field(default_factory=dict)  # service fqdn -> pod selector (the catalog's)

    def kind(self, kind: str, group: str | None = None) -> list[dict]:
        out = [d for d in self.docs if d.get("kind") == kind]
        if group is not None:
            out = [d for d in out if str(d.get("apiVersion", "")).startswith(group + "/")]
        return out


def _ns(doc: dict) -> str:
    return doc["metadata"].get("namespace", "")


def _fqdn(host: str, ns: str) -> str:
    return host if "." in host else f"{host}.{ns}.svc.cluster.local"


# --- string matching -----------------------------------------------------------------------------


def _istio_string(cond: dict, value: str | None) -> bool:
    if value is None:
        return False
    if "exact" in cond:
        return value == cond["exact"]
    if "prefix" in cond:
        return value.startswith(cond["prefix"])
    return re.fullmatch(cond["regex"], value) is not None


def _gateway_string(cond: dict, value: str | None) -> bool:
    if value is None:
        return False
    if cond.get("type", "Exact") == "Exact":
        return value == cond["value"]
    return re.fullmatch(cond["value"], value) is not None


def _path_prefix(prefix: str, path: str) -> bool:
    base = prefix.rstrip("/")
    return base == "" or path == base or path.startswith(base + "/")


# --- Istio API ------------------------------------------------------------------------------------


def _istio_match(m: dict, req: Request) -> bool:
    if "port" in m and int(m["port"]) != req.port:
        return False
    if "uri" in m and not _istio_string(m["uri"], req.path):
        return False
    headers = req.header_map
    if any(not _istio_string(c, headers.get(n)) for n, c in (m.get("headers") or {}).items()):
        return False
    query = req.query_map
    return all(_istio_string(c, query.get(n)) for n, c in (m.get("queryParams") or {}).items())


def _subset_labels(objs: Objects, host: str, subset: str | None) -> frozenset:
    labels = dict(objs.selectors[host])
    if subset is not None:
        dr = next(d for d in objs.kind("DestinationRule") if _fqdn(d["spec"]["host"], _ns(d)) == host)
        labels.update(next(s for s in dr["spec"]["subsets"] if s["name"] == subset)["labels"])
    return _labels_key(labels)


def _istio_outcome(objs: Objects, rule: dict, vs_ns: str) -> tuple:
    backends = frozenset(
        (_subset_labels(objs, _fqdn(r["destination"]["host"], vs_ns), r["destination"].get("subset")),
         int(r.get("weight", 100)))
        for r in rule["route"])
    mirror = None
    if rule.get("mirror"):
        m = rule["mirror"]
        mirror = (_subset_labels(objs, _fqdn(m["host"], vs_ns), m.get("subset")),
                  float(rule.get("mirrorPercentage", {}).get("value", 100)))
    return ("route", backends, mirror, rule.get("timeout"))


def _istio_rules(rules: list, req: Request):
    for rule in rules:
        matches = rule.get("match") or [{}]
        if any(_istio_match(m, req) for m in matches):
            return rule
    return None


def istio_mesh(objs: Objects, host_fqdn: str, req: Request) -> tuple:
    """A request from a sidecar to the service ``host_fqdn``."""
    for vs in objs.kind("VirtualService"):
        if vs["spec"].get("gateways"):
            continue
        if host_fqdn in (_fqdn(h, _ns(vs)) for h in vs["spec"].get("hosts", [])):
            rule = _istio_rules(vs["spec"].get("http") or [], req)
            return _istio_outcome(objs, rule, _ns(vs)) if rule else UNSERVED
    return ("route", frozenset({(_labels_key(objs.selectors[host_fqdn]), 100)}), None, None)


def _authz_path(pattern: str, path: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def _sidecar_admits(objs: Objects, outcome: tuple, gateway_principal: str, req: Request) -> bool:
    """The destination sidecar's ALLOW policies for the gateway's principal admit the path."""
    return all(any(_allows(ap, dict(labels), gateway_principal, req) for ap in objs.kind("AuthorizationPolicy"))
               for labels, _ in outcome[1])


def _allows(ap: dict, pod: dict, principal: str, req: Request) -> bool:
    """An ALLOW policy selecting ``pod`` has a rule for ``principal`` that covers the path."""
    sel = (ap["spec"].get("selector") or {}).get("matchLabels")
    if ap["spec"].get("action", "ALLOW") != "ALLOW" or not sel or any(pod.get(k) != v for k, v in sel.items()):
        return False
    for rule in ap["spec"].get("rules") or []:
        principals = [p for f in rule.get("from") or [] for p in f["source"].get("principals") or []]
        if principal not in principals:
            continue
        paths = [p for t in rule.get("to") or [] for p in t["operation"].get("paths") or []]
        if not paths or any(_authz_path(p, req.path) for p in paths):
            return True
    return False


def istio_ingress(objs: Objects, req: Request, gateway_principal: str) -> tuple:
    """A request arriving at the Istio ingress Gateway (port, Host header, path)."""
    for gw in objs.kind("Gateway", "networking.istio.io"):
        for server in gw["spec"]["servers"]:
            if int(server["port"]["number"]) != req.port or req.host not in server["hosts"]:
                continue
            if (server.get("tls") or {}).get("httpsRedirect"):
                return REDIRECT
            ref = f"{_ns(gw)}/{gw['metadata']['name']}"
            for vs in objs.kind("VirtualService"):
                if ref in (vs["spec"].get("gateways") or []) and req.host in vs["spec"]["hosts"]:
                    rule = _istio_rules(vs["spec"].get("http") or [], req)
                    if rule is None:
                        return UNSERVED
                    outcome = _istio_outcome(objs, rule, _ns(vs))
                    return outcome if _sidecar_admits(objs, outcome, gateway_principal, req) else UNSERVED
            return UNSERVED
    return UNSERVED


# --- Gateway API ----------------------------------------------------------------------------------


def _gateway_match(m: dict, req: Request) -> bool:
    path = m.get("path") or {"type": "PathPrefix", "value": "/"}
    kind = path.get("type", "PathPrefix")
    if kind == "PathPrefix" and not _path_prefix(path["value"], req.path):
        return False
    if kind == "Exact" and req.path != path["value"]:
        return False
    if kind == "RegularExpression" and re.fullmatch(path["value"], req.path) is None:
        return False
    headers = req.header_map
    if any(not _gateway_string(h, headers.get(h["name"].lower())) for h in m.get("headers") or []):
        return False
    query = req.query_map
    return all(_gateway_string(q, query.get(q["name"])) for q in m.get("queryParams") or [])


def _precedence(m: dict) -> tuple:
    path = m.get("path") or {"type": "PathPrefix", "value": "/"}
    rank = {"Exact": 3, "PathPrefix": 2, "RegularExpression": 1}[path.get("type", "PathPrefix")]
    return (-rank, -len(path["value"]), -(1 if m.get("method") else 0), -len(m.get("headers") or []),
            -len(m.get("queryParams") or []))


def _gateway_rules(routes: list[dict], req: Request):
    entries = []
    for route in routes:
        for rule in route["spec"].get("rules") or []:
            for m in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                entries.append((m, rule, route))
    entries.sort(key=lambda e: _precedence(e[0]))  # stable: Istio's sort.SliceStable
    for m, rule, route in entries:
        if _gateway_match(m, req):
            return rule, route
    return None, None


def _backend_labels(objs: Objects, ref: dict, ns: str) -> frozenset:
    ns = ref.get("namespace") or ns
    for svc in objs.kind("Service"):
        if svc["metadata"]["name"] == ref["name"] and _ns(svc) == ns:
            return _labels_key(svc["spec"]["selector"])
    return _labels_key(objs.selectors[f"{ref['name']}.{ns}.svc.cluster.local"])


def _gateway_outcome(objs: Objects, rule: dict, ns: str) -> tuple:
    for f in rule.get("filters") or []:
        if f["type"] == "RequestRedirect":
            return REDIRECT
    refs = rule.get("backendRefs") or []
    total = sum(int(r.get("weight", 1)) for r in refs)
    backends = frozenset((_backend_labels(objs, r, ns), round(100 * int(r.get("weight", 1)) / total)) for r in refs
                         if int(r.get("weight", 1)))
    mirror = None
    for f in rule.get("filters") or []:
        if f["type"] == "RequestMirror":
            rm = f["requestMirror"]
            pct = float(rm["percent"]) if "percent" in rm else (
                100.0 * rm["fraction"]["numerator"] / rm["fraction"].get("denominator", 100) if "fraction" in rm else 100.0)
            mirror = (_backend_labels(objs, rm["backendRef"], ns), pct)
    return ("route", backends, mirror, (rule.get("timeouts") or {}).get("request"))


def gateway_api_mesh(objs: Objects, host_fqdn: str, req: Request) -> tuple:
    """A request to the Service ``host_fqdn`` in the ambient data plane: GAMMA routes whose
    parent is that Service, applied by its waypoint; none: straight to the Service."""
    name, ns = host_fqdn.split(".")[:2]
    routes = [r for r in objs.kind("HTTPRoute") if any(
        p.get("kind") == "Service" and p.get("group", "") == "" and p["name"] == name
        and (p.get("namespace") or _ns(r)) == ns and int(p.get("port", req.port)) == req.port
        for p in r["spec"].get("parentRefs") or [])]
    if not routes:
        return ("route", frozenset({(_labels_key(objs.selectors[host_fqdn]), 100)}), None, None)
    rule, route = _gateway_rules(routes, req)
    return _gateway_outcome(objs, rule, _ns(route)) if rule else UNSERVED


def gateway_api_ingress(objs: Objects, req: Request) -> tuple:
    """A request arriving at the Gateway API Gateway (class istio)."""
    for gw in objs.kind("Gateway", "gateway.networking.k8s.io"):
        if gw["spec"].get("gatewayClassName") != "istio":
            continue
        for listener in gw["spec"]["listeners"]:
            if int(listener["port"]) != req.port:
                continue
            routes = [r for r in objs.kind("HTTPRoute") if req.host in (r["spec"].get("hostnames") or [req.host])
                      and any(p.get("kind", "Gateway") == "Gateway" and p["name"] == gw["metadata"]["name"]
                              and (p.get("namespace") or _ns(r)) == _ns(gw)
                              and p.get("sectionName", listener["name"]) == listener["name"]
                              for p in r["spec"].get("parentRefs") or [])]
            rule, route = _gateway_rules(routes, req)
            return _gateway_outcome(objs, rule, _ns(route)) if rule else UNSERVED
    return UNSERVED


# --- TCP: a connection to a port, split by weight --------------------------------------------------


def istio_tcp(objs: Objects, host_fqdn: str, port: int) -> tuple:
    for vs in objs.kind("VirtualService"):
        if vs["spec"].get("gateways") or host_fqdn not in (_fqdn(h, _ns(vs)) for h in vs["spec"].get("hosts", [])):
            continue
        for rule in vs["spec"].get("tcp") or []:
            if all(int(m.get("port", port)) == port for m in rule.get("match") or [{}]):
                return _istio_outcome(objs, rule, _ns(vs))[:2]
    return ("route", frozenset({(_labels_key(objs.selectors[host_fqdn]), 100)}))


def gateway_api_tcp(objs: Objects, host_fqdn: str, port: int) -> tuple:
    name, ns = host_fqdn.split(".")[:2]
    for route in objs.kind("TCPRoute"):
        if any(p.get("kind") == "Service" and p["name"] == name and (p.get("namespace") or _ns(route)) == ns
               and int(p.get("port", port)) == port for p in route["spec"].get("parentRefs") or []):
            return _gateway_outcome(objs, route["spec"]["rules"][0], _ns(route))[:2]
    return ("route", frozenset({(_labels_key(objs.selectors[host_fqdn]), 100)}))
