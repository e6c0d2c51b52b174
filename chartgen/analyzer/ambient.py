"""The ambient data plane's traps, on the rendered objects (what Istio silently ignores or
fails closed on when a namespace runs ztunnel instead of sidecars):

- CG130: an AuthorizationPolicy with HTTP attributes that no waypoint enforces (a
  selector policy is enforced by ztunnel, which cannot see HTTP: Istio turns an ALLOW
  into a deny-all), or that targets a Service without a waypoint;
- CG131: a VirtualService or GAMMA route (HTTP, gRPC, TCP) for a service that no waypoint
  serves;
- CG132: a Sidecar in an ambient namespace (it does not apply);
- CG133: a namespace both sidecar-injected and ambient;
- CG134: a waypoint that no namespace or service uses.
"""

from __future__ import annotations

from .context import Context
from ..lifecycle.workspace import Doc

AMBIENT = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
WAYPOINT_CLASS = "istio-waypoint"
GATEWAY_API = "gateway.networking.k8s.io"
L7_OPERATION_KEYS = ("paths", "notPaths", "methods", "notMethods", "hosts", "notHosts")
L7_SOURCE_KEYS = ("requestPrincipals", "notRequestPrincipals")
L7_CONDITION_PREFIXES = ("request.", "experimental.envoy.filters.")


def _labels(doc: Doc) -> dict:
    labels = doc.meta.get("labels")
    return labels if isinstance(labels, dict) else {}


def _ambient_namespaces(ctx: Context) -> dict[str, str]:
    """Ambient namespaces of the render → their namespace-wide waypoint ("" for none)."""
    out = {}
    for ns in ctx.kind("Namespace"):
        labels = _labels(ns)
        if labels.get(AMBIENT) == "ambient":
            waypoint = labels.get(USE_WAYPOINT, "")
            out[ns.name] = "" if waypoint == "none" else str(waypoint)
    return out


def _waypoints(ctx: Context) -> set[tuple[str, str]]:
    return {(gw.namespace, gw.name) for gw in ctx.kind("Gateway")
            if gw.api.startswith(GATEWAY_API + "/") and gw.spec.get("gatewayClassName") == WAYPOINT_CLASS}


def _service_waypoint(ctx: Context, ambient: dict[str, str], waypoints, ns: str, name: str) -> str:
    """The waypoint serving Service ``ns/name`` ("" for none): its own label, else its namespace's."""
    for svc in ctx.kind("Service"):
        if svc.namespace == ns and svc.name == name and USE_WAYPOINT in _labels(svc):
            own = str(_labels(svc)[USE_WAYPOINT])
            return "" if own == "none" or (ns, own) not in waypoints else own
    wp = ambient.get(ns, "")
    return wp if (ns, wp) in waypoints else ""


def _l7_attributes(spec: dict) -> list[str]:
    found = []
    for rule in spec.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        for src in rule.get("from") or []:
            source = (src or {}).get("source") or {}
            found += [k for k in L7_SOURCE_KEYS if source.get(k)]
        for to in rule.get("to") or []:
            op = (to or {}).get("operation") or {}
            found += [k for k in L7_OPERATION_KEYS if op.get(k)]
        for cond in rule.get("when") or []:
            key = str((cond or {}).get("key", ""))
            if key.startswith(L7_CONDITION_PREFIXES):
                found.append(key)
    return sorted(set(found))


def check_ambient(ctx: Context) -> None:
    ambient = _ambient_namespaces(ctx)
    waypoints = _waypoints(ctx)
    _namespaces(ctx)
    if not ambient:
        return
    _authorization(ctx, ambient, waypoints)
    _routes(ctx, ambient, waypoints)
    for sc in ctx.kind("Sidecar"):
        if sc.namespace in ambient:
            ctx.add(sc, "CG132", f"namespace {sc.namespace!r} runs the ambient data plane: a Sidecar does not apply there")
    _unused_waypoints(ctx, ambient, waypoints)


def _namespaces(ctx: Context) -> None:
    for ns in ctx.kind("Namespace"):
        labels = _labels(ns)
        injected = [k for k in ("istio-injection", "istio.io/rev") if k in labels
                    and not (k == "istio-injection" and labels[k] == "disabled")]
        if labels.get(AMBIENT) == "ambient" and injected:
            ctx.add(ns, "CG133", f"namespace is both ambient ({AMBIENT}: ambient) and sidecar-injected "
                                 f"({', '.join(injected)}); pick one data plane")


def _authorization(ctx: Context, ambient: dict[str, str], waypoints) -> None:
    for ap in ctx.kind("AuthorizationPolicy"):
        if ap.namespace not in ambient:
            continue
        l7 = _l7_attributes(ap.spec)
        refs = [r for r in ap.spec.get("targetRefs") or [] if isinstance(r, dict)]
        if not refs:
            if l7:
                ctx.add(ap, "CG130", f"HTTP attributes ({', '.join(l7)}) in a policy that ztunnel enforces: ztunnel "
                                     "cannot see them (an ALLOW becomes a deny). Attach it to a waypoint with "
                                     "targetRefs, or keep it L4")
            continue
        for ref in refs:
            kind, name = ref.get("kind"), str(ref.get("name", ""))
            if kind == "Gateway" and ref.get("group") == GATEWAY_API:
                if (ap.namespace, name) not in waypoints and not any(
                        gw.namespace == ap.namespace and gw.name == name for gw in ctx.kind("Gateway")):
                    ctx.add(ap, "CG130", f"targetRefs names the Gateway {name!r}, which is not rendered: no waypoint "
                                         "enforces this policy")
            elif kind == "Service" and not ref.get("group"):
                if not _service_waypoint(ctx, ambient, waypoints, ap.namespace, name):
                    ctx.add(ap, "CG130", f"targetRefs names the Service {name!r}, which no waypoint serves: the "
                                         "policy is enforced nowhere")


def _routes(ctx: Context, ambient: dict[str, str], waypoints) -> None:
    for vs in ctx.kind("VirtualService"):
        if vs.namespace in ambient and not vs.spec.get("gateways"):
            for host in vs.spec.get("hosts") or []:
                svc = ctx.services.get(str(host))
                ns, name = (svc.namespace, svc.name) if svc else (vs.namespace, str(host).split(".")[0])
                if not _service_waypoint(ctx, ambient, waypoints, ns, name):
                    ctx.add(vs, "CG131", f"VirtualService for {host!r} in an ambient namespace, and no waypoint serves "
                                         "it: its routing, retries and faults apply nowhere")
    for route in ctx.kind("HTTPRoute") + ctx.kind("GRPCRoute") + ctx.kind("TCPRoute"):
        for ref in route.spec.get("parentRefs") or []:
            if not isinstance(ref, dict) or ref.get("kind") != "Service" or ref.get("group", "") != "":
                continue
            ns = str(ref.get("namespace") or route.namespace)
            if ns in ambient and not _service_waypoint(ctx, ambient, waypoints, ns, str(ref.get("name", ""))):
                ctx.add(route, "CG131", f"route for the Service {ref.get('name')!r}, which no waypoint serves: in "
                                        "the ambient data plane it applies nowhere")


def _unused_waypoints(ctx: Context, ambient: dict[str, str], waypoints) -> None:
    used = {(ns, wp) for ns, wp in ambient.items() if wp}
    for svc in ctx.kind("Service") + ctx.kind("ServiceEntry"):
        wp = _labels(svc).get(USE_WAYPOINT)
        if wp:
            used.add((svc.namespace, str(wp)))
    for gw in ctx.kind("Gateway"):
        if (gw.namespace, gw.name) in waypoints and (gw.namespace, gw.name) not in used:
            ctx.add(gw, "CG134", f"no namespace or service uses waypoint {gw.name!r} ({USE_WAYPOINT}): it runs "
                                 "for nothing")
