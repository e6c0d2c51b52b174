"""The catalog's intent: per environment, the flows that must be allowed (pure: from the
resolved ``Mesh`` view only, never from the rendered objects, so the model cannot share a
misunderstanding of the chart).

- each ``calls`` edge, on each port of the callee, with that port's protocol (from every
  version's pods of the caller);
- the ingress gateway to each exposed path: probe paths just inside each match must be
  routed, probe paths just outside must not (the catalog's paths as
  ``chartgen.catalog.model.path_match`` reads them: a bare string is a prefix on whole path
  segments, ``{prefix: …}`` a plain string prefix); with the version split the catalog asks for;
- an external service through its ServiceEntry (and, where its ``redirectTo`` service runs, that
  service on the redirect port);
- Prometheus to the merged metrics port 15020 of every sidecar pod, and the kubelet's probes.
Everything else is denied: ``model.verify`` enumerates it by equivalence classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..catalog.model import HTTP_PROTOCOLS, path_match
from ..catalog.mesh import EnvView, ResolvedService

REPRESENTATIVE_EXTERNAL = "verify-probe"  # the label that replaces a leading '*' of a host


@dataclass(frozen=True)
class Intended:
    kind: str  # call | ingress | external | redirect
    source: str  # a service key, or "gateway"
    target: str  # a service key, or an external service key
    port: int
    protocol: str
    path: str | None = None  # ingress: the probe path
    allowed: bool = True  # ingress probes outside an exposed path: False
    split: tuple | None = None  # ((version, percent), ...) the catalog asks for; None: any
    origin: tuple = ()  # the catalog path the flow comes from
    host: str = ""
    token: bool = True  # ingress: the request carries a valid JWT where the gateway asks for one


def _split(svc: ResolvedService) -> tuple | None:
    w = svc.spec.weights
    if not w:
        return None
    total = sum(w.values()) or 1
    return tuple(sorted((v, round(100 * p / total, 3)) for v, p in w.items() if p))


def _probe_paths(kind: str, value: str) -> tuple[list[str], list[str]]:
    """(paths just inside, paths just outside) a catalog path match."""
    if kind == "pathPrefix":  # whole segments: /static admits /static, /static/ and /static/x
        return [value, value + "/", value + "/x"], [value + "x", value + "-old/x", value[:-1] or "/x"]
    if kind == "exact":
        return [value], [value + "x", value + "/x", value[:-1] or "/x"]
    if kind == "prefix":
        inside = [value, value.rstrip("/") + "/x", value + "x"]
        outside = [] if value == "/" else [value[:-1] or "/", "/" + value.strip("/")[::-1] + "-outside"]
        return inside, [o for o in outside if not o.startswith(value)]
    return _regex_probes(value)


def _regex_probes(pattern: str) -> tuple[list[str], list[str]]:
    """A regex's probes: a literal prefix of it (inside when it matches), and paths outside."""
    literal = re.match(r"[A-Za-z0-9/_\-]*", pattern).group(0)
    inside = [p for p in (literal, literal + "x", literal.rstrip("/") + "/x") if p and re.fullmatch(pattern, p)]
    outside = [p for p in ("/", "/verify-outside", literal + "/../x" if literal else "/x")
               if not re.fullmatch(pattern, p)]
    return inside, outside


def exposed_paths(svc: ResolvedService) -> list[tuple[int, str, str]]:
    """(index, kind, value) of each exposed path: ``catalog.path_match`` (a bare string is a prefix
    on whole path segments, ``pathPrefix``; ``{prefix: …}`` a plain string prefix)."""
    return [(i, *path_match(p)) for i, p in enumerate(svc.spec.expose.paths if svc.spec.expose else [])]


def admitted(svc: ResolvedService, path: str) -> bool:
    """Does the catalog expose ``path`` of ``svc`` (any of its exposed paths)?"""
    for _, kind, value in exposed_paths(svc):
        if (kind == "exact" and path == value) or (kind == "prefix" and path.startswith(value)) or (
                kind == "regex" and re.fullmatch(value, path)) or (
                kind == "pathPrefix" and (path == value or path.startswith(value + "/"))):
            return True
    return False


def gateway_port(view: EnvView, svc: ResolvedService) -> int:
    e = svc.spec.expose
    if e is not None and e.gatewayPort:
        return e.gatewayPort
    return 443 if view.env.gateway.https else 80


def external_host(pattern: str) -> str:
    return pattern.replace("*", REPRESENTATIVE_EXTERNAL, 1) if pattern.startswith("*") else pattern


def intended_flows(view: EnvView) -> list[Intended]:
    out: list[Intended] = []
    services = view.enabled
    splits = {key: _split(svc) for key, svc in services.items()}
    externals = view.catalog.externalServices or {}
    for key, svc in sorted(services.items()):
        for ci, callee in enumerate(svc.spec.calls or []):
            origin = ("services", key, "calls", ci)
            if callee in services:
                for p in services[callee].spec.ports:
                    out.append(Intended("call", key, callee, p.port, p.protocol, split=splits[callee], origin=origin))
            elif callee in externals:
                out += _external(view, key, callee, origin)
        out += _ingress(view, key, svc)
    return out


def _external(view: EnvView, key: str, ext_key: str, origin: tuple) -> list[Intended]:
    ext = view.catalog.externalServices[ext_key]
    redirected = view.redirect_active(ext_key)  # "in environments that run <service>, AWS goes there"
    out = [Intended("external", key, ext_key, p.port, p.protocol, allowed=not redirected, origin=origin,
                    host=external_host(str(ext.hosts[0]))) for p in ext.ports]
    if redirected:
        target = ext.redirectTo.service
        port = ext.redirectTo.port or view.enabled[target].spec.ports[0].port
        proto = next((p.protocol for p in view.enabled[target].spec.ports if p.port == port), "HTTP")
        out.append(Intended("redirect", key, target, port, proto, origin=origin, host=ext_key))  # host: the external it stands for
    return out


def _ingress(view: EnvView, key: str, svc: ResolvedService) -> list[Intended]:
    if svc.spec.expose is None:
        return []
    host = view.external_host(svc)
    http = next((p for p in svc.spec.ports if p.protocol in HTTP_PROTOCOLS), svc.spec.ports[0])
    out = []
    for i, kind, value in exposed_paths(svc):
        inside, outside = _probe_paths(kind, value)
        origin = ("services", key, "expose", "paths", i)
        for path in inside:
            out.append(Intended("ingress", "gateway", key, http.port, http.protocol, path, True, _split(svc), origin,
                                host))
        for path in outside:
            if not admitted(svc, path):
                out.append(Intended("ingress", "gateway", key, http.port, http.protocol, path, False, None, origin,
                                    host))
        if view.env.gateway.jwt is not None and inside:  # without a token: refused
            out.append(Intended("ingress", "gateway", key, http.port, http.protocol, inside[0], False, None,
                                ("environments", view.name, "gateway", "jwt"), host, token=False))
    return out
