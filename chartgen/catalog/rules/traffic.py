"""Traffic policies: versions, canaries, A/B routes, faults and retries."""

from __future__ import annotations

from functools import partial

from ...base import naming
from ..model import Match
from .context import hint
from .registry import SERVICE, Hit, check, rule

_rule = partial(rule, section="Traffic", scope=SERVICE)
_WEB = "services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
_VERSIONS = _WEB + "    versions: {v1: {}, v2: {}}\n"


@_rule("lb-exclusive", "loadBalancer and sessionAffinity (a consistent hash) are not both set",
       fail=_WEB + "    loadBalancer: ROUND_ROBIN\n    sessionAffinity: {header: x-user}\n",
       ok=_WEB + "    sessionAffinity: {header: x-user}\n")
def lb_exclusive(ctx, layer, key, svc):
    if svc.spec.loadBalancer is not None and svc.spec.sessionAffinity is not None:
        yield Hit(layer.loc(key, "sessionAffinity"), "sessionAffinity (consistent hash) and loadBalancer exclude each other")


@_rule("retry-budget", "retries.attempts × retries.perTryTimeout fit in the timeout",
       fail=_WEB + "    timeout: 2s\n    retries: {attempts: 3, perTryTimeout: 1s}\n",
       ok=_WEB + "    timeout: 3s\n    retries: {attempts: 3, perTryTimeout: 1s}\n")
def retry_budget(ctx, layer, key, svc):
    s = svc.spec
    if not (s.timeout and s.retries and s.retries.perTryTimeout and s.retries.attempts):
        return
    if s.retries.attempts * naming.duration_ms(s.retries.perTryTimeout) > naming.duration_ms(s.timeout):
        yield Hit(layer.loc(key, "retries"), f"expected attempts × perTryTimeout ≤ timeout, got {s.retries.attempts} × "
                  f"{s.retries.perTryTimeout} > {s.timeout}")


@_rule("unknown-version", "Every version named (weights, canary, routes, mirror) is one of the service's versions",
       fail=_VERSIONS + "    weights: {v1: 90, v3: 10}\n",
       ok=_VERSIONS + "    weights: {v1: 90, v2: 10}\n")
def unknown_version(ctx, layer, key, svc):
    s = svc.spec
    versions = set(s.versions or {})
    named = [(("weights", v), v, True) for v in s.weights or {}]
    if s.canary:
        named += [(("canary", f), getattr(s.canary, f), False) for f in ("stable", "candidate")]
    named += [(("routes", i, "version"), r.version, False) for i, r in enumerate(s.routes or [])]
    if s.mirror:
        named.append((("mirror", "version"), s.mirror.version, False))
    for where, v, is_key in named:
        if v not in versions:
            yield Hit(layer.loc(key, *where), f"unknown version '{v}'{hint(v, versions)}", key=is_key)


@_rule("canary-weights", "A service's version weights sum to 100",
       fail=_VERSIONS + "    weights: {v1: 90, v2: 20}\n",
       ok=_VERSIONS + "    weights: {v1: 80, v2: 20}\n")
def canary_weights(ctx, layer, key, svc):
    if svc.spec.weights:
        total = sum(svc.spec.weights.values())
        if total != 100:
            yield Hit(layer.loc(key, "weights"), f"expected weights that sum to 100, got {total}")


@_rule("canary-steps", "A canary's steps rise and end at 100, and its candidate is not its stable version",
       fail=_VERSIONS + "    canary: {stable: v1, candidate: v2, steps: [10, 50, 90]}\n",
       ok=_VERSIONS + "    canary: {stable: v1, candidate: v2, steps: [10, 50, 100]}\n")
def canary_steps(ctx, layer, key, svc):
    canary = svc.spec.canary
    if not canary:
        return
    steps = canary.steps
    if any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] != 100:
        yield Hit(layer.loc(key, "canary", "steps"), f"expected steps that rise and end at 100, got {steps}")
    if canary.stable == canary.candidate:
        yield Hit(layer.loc(key, "canary", "candidate"), "expected a candidate other than the stable version")


@_rule("route-shadowed", "Every A/B route can be reached: no earlier route (or, with chaos, catch-all fault) "
       "matches all its requests, and none matches every request",
       fail=_VERSIONS + "    routes:\n      - {name: beta, version: v2, match: {headers: {x-beta: {exact: '1'}}}}\n"
            "      - {name: beta-ios, version: v2, match: {headers: {x-beta: {exact: '1'}, x-os: {exact: ios}}}}\n",
       ok=_VERSIONS + "    routes:\n      - {name: beta-ios, version: v2, match: {headers: {x-beta: {exact: '1'}, "
          "x-os: {exact: ios}}}}\n      - {name: beta, version: v2, match: {headers: {x-beta: {exact: '1'}}}}\n")
def route_shadowed(ctx, layer, key, svc):
    routes = svc.spec.routes or []
    for j, later in enumerate(routes):
        earlier = next((r for r in routes[:j] if covers(r.match, later.match)), None)
        if earlier is not None:
            yield Hit(layer.loc(key, "routes", j), f"rule '{later.name}' is unreachable: rule '{earlier.name}' "
                      "before it matches every request it matches")
    for i, r in enumerate(routes):
        if is_catch_all(r.match):
            yield Hit(layer.loc(key, "routes", i, "match"),
                      f"rule '{r.name}' matches every request, so the default route is unreachable")


@check("route-shadowed", SERVICE)
def fault_shadows_routes(ctx, layer, key, svc):
    s = svc.spec
    if layer.view is None or not layer.view.env.chaos or not s.routes:
        return
    for i, f in enumerate(s.faults or []):
        if f.match is None or is_catch_all(f.match):
            yield Hit(layer.loc(key, "faults", i),
                      f"fault '{f.name}' matches every request in environment '{layer.env_name}', so the A/B "
                      "routes after it are unreachable there; give it a match (e.g. a header)")


@_rule("cookie-conflict", "A match does not have both a cookie condition and a 'cookie' header condition",
       fail=_VERSIONS + "    routes:\n      - name: beta\n        version: v2\n"
            "        match: {cookie: {name: beta, value: '1'}, headers: {cookie: {prefix: a}}}\n",
       ok=_VERSIONS + "    routes:\n      - name: beta\n        version: v2\n        match: {cookie: {name: beta, value: '1'}}\n")
def cookie_conflict(ctx, layer, key, svc):
    for field in ("routes", "faults"):
        for i, item in enumerate(getattr(svc.spec, field) or []):
            if item.match is not None and item.match.cookie is not None and "cookie" in item.match.headers:
                yield Hit(layer.loc(key, field, i, "match"), "a cookie condition and a 'cookie' header condition "
                          "exclude each other (both match the Cookie header)")


@_rule("faults-without-chaos", "An environment that sets faults for a service has chaos on",
       fail="environments:\n  dev:\n    gateway: {https: false}\n    services:\n"
            "      web: {faults: [{name: slow, delay: {fixedDelay: 1s, percent: 10}}]}\n",
       ok="environments:\n  dev:\n    gateway: {https: false}\n    chaos: true\n    services:\n"
          "      web: {faults: [{name: slow, delay: {fixedDelay: 1s, percent: 10}}]}\n")
def faults_without_chaos(ctx, layer, key, svc):
    if not layer.enabled(svc) or not svc.spec.faults:
        return
    override = layer.view.env.services.get(key)
    if override is not None and override.faults and not layer.view.env.chaos:
        yield Hit(("environments", layer.env_name, "services", key, "faults"),
                  f"faults are set but environments.{layer.env_name}.chaos is false, so they would never apply")


def _matches_everything(cond) -> bool:
    return (cond.prefix is not None and cond.prefix in ("", "/")) or (cond.regex is not None and cond.regex in (".*", "^.*$"))


def is_catch_all(m: Match) -> bool:
    """No condition, or only conditions that every request meets (path prefix "/")."""
    return (not m.headers and m.cookie is None
            and (m.path is None or _matches_everything(m.path)) and not m.queryParams)


def _string_covers(a, b) -> bool:
    """Does string condition ``a`` accept every value that ``b`` accepts?"""
    if a.exact is not None:
        return b.exact == a.exact
    if a.prefix is not None:
        return (b.exact is not None and b.exact.startswith(a.prefix)) or (b.prefix is not None and b.prefix.startswith(a.prefix))
    return b.regex == a.regex


def _conditions_cover(a: dict, b: dict) -> bool:
    return all(name in b and _string_covers(cond, b[name]) for name, cond in a.items())


def covers(a: Match, b: Match) -> bool:
    """True when every request matching ``b`` also matches ``a`` (so a shadows b)."""
    if not _conditions_cover(a.headers, b.headers) or not _conditions_cover(a.queryParams, b.queryParams):
        return False
    if a.cookie is not None and a.cookie != b.cookie:
        return False
    return a.path is None or (b.path is not None and _string_covers(a.path, b.path))


# The ports Istio's proxy takes in every pod it joins ("Ports used by Istio": admin, outbound,
# debug, inbound, HBONE, merged metrics, health, DNS, Envoy's metrics): an application cannot
# listen there.
ISTIO_POD_PORTS = (15000, 15001, 15004, 15006, 15008, 15020, 15021, 15053, 15090)


@_rule("istio-pod-port", "A pod port (targetPort, metrics.port) is not one that Istio's proxy takes in the pod",
       fail=_WEB + "    metrics: {port: 15020}\n", ok=_WEB + "    metrics: {port: 9102}\n")
def istio_pod_port(ctx, layer, key, svc):
    taken = ", ".join(str(p) for p in ISTIO_POD_PORTS)
    for i, p in enumerate(svc.spec.ports or []):
        if p.targetPort in ISTIO_POD_PORTS:
            yield Hit(layer.loc(key, "ports", i, "targetPort"),
                      f"expected a pod port the application can listen on, got {p.targetPort} (Istio's proxy takes {taken})")
    m = svc.spec.metrics
    if m is not None and m.port in ISTIO_POD_PORTS:
        yield Hit(layer.loc(key, "metrics", "port"),
                  f"expected the application's own metrics port, got {m.port} (Istio's proxy takes {taken}; its "
                  "merged metrics on 15020 are admitted already)")
