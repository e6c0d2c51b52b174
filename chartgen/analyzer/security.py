"""chartgen's own security rules (CG1xx): zero-trust defaults that istioctl does not check."""

from __future__ import annotations

from ..catalog.rules.production import PRODUCTION_GUARDS
from .context import Context
from ..lifecycle.workspace import Doc

BUILTIN_PROVIDERS = {"envoy", "prometheus", "stackdriver"}  # in Istio's default meshConfig
ROOT_NAMESPACE = "istio-system"


def check_security(ctx: Context) -> None:
    namespaces = ctx.workload_namespaces()
    if ctx.production:
        # each production check yields to the environment's opt-in for the catalog rule it
        # mirrors (the same key that lets validate accept the setting)
        for catalog_rule, check in _PRODUCTION_CHECKS:
            if not getattr(ctx.view.env, PRODUCTION_GUARDS[catalog_rule]):
                check(ctx)
    _deny_by_default(ctx, namespaces)
    _no_open_allow(ctx)
    _sidecars(ctx)
    _network_default_deny(ctx, namespaces)
    _telemetry_providers(ctx)


def _or_set(catalog_rule: str) -> str:
    return f"(or set {PRODUCTION_GUARDS[catalog_rule]})"


def _registry_only_egress(ctx: Context) -> None:
    for sc in ctx.kind("Sidecar"):
        mode = (sc.spec.get("outboundTrafficPolicy") or {}).get("mode")
        if mode == "ALLOW_ANY":
            ctx.add(sc, "CG109", "outboundTrafficPolicy ALLOW_ANY lets workloads reach any host in production; use "
                                 "REGISTRY_ONLY " + _or_set("production-egress"))


def _https_jwks(ctx: Context) -> None:
    for ra in ctx.kind("RequestAuthentication"):
        for i, rule in enumerate(ra.spec.get("jwtRules") or []):
            uri = str((rule or {}).get("jwksUri", ""))
            if uri.lower().startswith("http://"):
                ctx.add(ra, "CG110", f"jwtRules[{i}].jwksUri {uri} is plain HTTP: the signing keys can be replaced "
                                     "in transit; use https:// " + _or_set("production-jwks"))


def _no_wildcard_hosts(ctx: Context) -> None:
    for se in ctx.kind("ServiceEntry"):
        wild = [h for h in se.spec.get("hosts") or [] if str(h).startswith("*")]
        if wild:
            ctx.add(se, "CG111", f"hosts {', '.join(map(str, wild))} open egress to whole domains in production "
                                 + _or_set("production-wildcard-host"))


def _selectorless(doc: Doc) -> bool:
    sel = doc.spec.get("selector") or {}
    return not (sel.get("matchLabels") if isinstance(sel, dict) else sel) and not doc.spec.get("targetRef") \
        and not doc.spec.get("targetRefs")


def _namespace_wide(pas: list[Doc], namespace: str) -> Doc | None:
    """The first selector-less PeerAuthentication of ``namespace``."""
    return next((p for p in pas if p.namespace == namespace and _selectorless(p)), None)


def _mode(pa: Doc | None) -> str | None:
    return (pa.spec.get("mtls") or {}).get("mode") if pa is not None else None


def _strict_mtls(ctx: Context) -> None:
    namespaces = ctx.workload_namespaces()
    pas = ctx.kind("PeerAuthentication")
    mesh_mode = _mode(_namespace_wide(pas, ROOT_NAMESPACE)) or "PERMISSIVE"
    for ns in namespaces:
        _namespace_strict_mtls(ctx, _namespace_wide(pas, ns), ns, mesh_mode)
    _no_weak_mtls_modes(ctx, pas, namespaces)


def _namespace_strict_mtls(ctx: Context, own: Doc | None, ns: str, mesh_mode: str) -> None:
    """The effective mode of a namespace: its namespace-wide PeerAuthentication, else the mesh's."""
    mode = _mode(own) or "UNSET"
    effective = mesh_mode if mode in ("UNSET", "") else mode
    if effective != "STRICT":
        where = f"PeerAuthentication {ns}/{own.name}" if own is not None and mode != "UNSET" \
            else "no namespace-wide PeerAuthentication"
        ctx.add_at("Namespace", "", ns, "CG101", f"mTLS is {effective} ({where}); production requires STRICT",
                   own.source if own is not None else ctx.template("peerauthentication.yaml"))


def _no_weak_mtls_modes(ctx: Context, pas: list[Doc], namespaces: list[str]) -> None:
    for p in pas:
        modes = {str((p.spec.get("mtls") or {}).get("mode") or "")}
        modes |= {str((v or {}).get("mode") or "") for v in (p.spec.get("portLevelMtls") or {}).values()}
        weak = sorted(modes & {"PERMISSIVE", "DISABLE"})
        if weak and not (_selectorless(p) and p.namespace in namespaces):  # those are reported above
            ctx.add(p, "CG101", f"mTLS mode {', '.join(weak)} in a production environment; use STRICT")


def _deny_by_default(ctx: Context, namespaces: list[str]) -> None:
    have = {p.namespace for p in ctx.kind("AuthorizationPolicy") if not p.spec}
    for ns in namespaces:
        if ns not in have:
            ctx.add_at("Namespace", "", ns, "CG102", "no deny-by-default AuthorizationPolicy (an empty spec) in a "
                       "namespace with workloads", ctx.template("authorizationpolicy.yaml"))


def _no_open_allow(ctx: Context) -> None:
    for ap in ctx.kind("AuthorizationPolicy"):
        if not ap.spec or (ap.spec.get("action") or "ALLOW") != "ALLOW":
            continue
        for i, rule in enumerate(ap.spec.get("rules") or []):
            rule = rule or {}
            froms = rule.get("from") or []
            if not froms:
                ctx.add(ap, "CG103", f"rules[{i}] allows every source (no 'from')")
                continue
            for j, frm in enumerate(froms):
                source = (frm or {}).get("source") or {}
                if not source:
                    ctx.add(ap, "CG103", f"rules[{i}].from[{j}] has an empty source, which matches every caller")
                    continue
                for key in ("principals", "namespaces", "requestPrincipals"):
                    wild = [str(v) for v in source.get(key) or [] if "*" in str(v)]
                    if wild:
                        ctx.add(ap, "CG103", f"rules[{i}].from[{j}].source.{key} has a wildcard: {', '.join(wild)}")


def _no_faults(ctx: Context) -> None:
    for vs in ctx.kind("VirtualService"):
        for i, rule in enumerate(vs.spec.get("http") or []):
            if isinstance(rule, dict) and rule.get("fault"):
                name = f" ({rule['name']})" if rule.get("name") else ""
                ctx.add(vs, "CG104", f"http[{i}]{name} injects faults in a production environment")


def _tls_only_gateway(ctx: Context) -> None:
    for gw in ctx.kind("Gateway"):
        servers = [s for s in gw.spec.get("servers") or [] if isinstance(s, dict)]
        redirect = False
        for s in servers:
            port = s.get("port") or {}
            protocol = str(port.get("protocol", "")).upper()
            tls = s.get("tls") or {}
            if protocol in ("HTTPS", "TLS"):
                continue
            if tls.get("httpsRedirect"):
                redirect = True
                continue
            ctx.add(gw, "CG105", f"server port {port.get('number')} ({protocol or 'no protocol'}) serves plaintext in "
                                 "production; use HTTPS or tls.httpsRedirect")
        if servers and not redirect:
            ctx.add(gw, "CG105", "no HTTP server with tls.httpsRedirect: plain HTTP clients get no redirect to HTTPS")


def _sidecars(ctx: Context) -> None:
    by_ns: dict[str, list] = {}
    for sc in ctx.kind("Sidecar"):
        by_ns.setdefault(sc.namespace, []).append(sc)
    ambient = {ns.name for ns in ctx.kind("Namespace")
               if (ns.meta.get("labels") or {}).get("istio.io/dataplane-mode") == "ambient"}
    for svc in sorted(ctx.services.values(), key=lambda s: (s.namespace, s.name)):
        if svc.namespace in ambient:  # no sidecars there: nothing to scope
            continue
        covered = False
        for sc in by_ns.get(svc.namespace, ()):
            labels = (sc.spec.get("workloadSelector") or {}).get("labels") or {}
            if all(svc.selector.get(k) == v for k, v in labels.items()):
                covered = True
                break
        if not covered:
            ctx.add_at("Service", svc.namespace, svc.name, "CG106", "no Sidecar resource selects this workload, so its "
                       "proxy receives the configuration of the whole mesh", ctx.template("sidecar.yaml"))


def _denies(policy: Doc, direction: str) -> bool:
    spec = policy.spec
    selector = spec.get("podSelector")
    if selector is None or any((selector or {}).values()):
        return False
    types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
    return direction.capitalize() in types and not spec.get(direction)


def _network_default_deny(ctx: Context, namespaces: list[str]) -> None:
    nps = ctx.kind("NetworkPolicy")
    for ns in namespaces:
        mine = [n for n in nps if n.namespace == ns]
        missing = [d for d in ("ingress", "egress") if not any(_denies(n, d) for n in mine)]
        if missing:
            ctx.add_at("Namespace", "", ns, "CG107", f"no default-deny NetworkPolicy for {' and '.join(missing)} "
                       "(podSelector: {} with no rules)", ctx.template("networkpolicy.yaml"))


def _telemetry_providers(ctx: Context) -> None:
    if ctx.r.istiod_values is None:
        return
    mesh_config = ctx.r.istiod_values.get("meshConfig") or {}
    defined = {str(p.get("name")) for p in mesh_config.get("extensionProviders") or [] if isinstance(p, dict)}
    defined |= BUILTIN_PROVIDERS
    for t in ctx.kind("Telemetry"):
        for section in ("tracing", "accessLogging", "metrics"):
            for entry in t.spec.get(section) or []:
                for p in (entry or {}).get("providers") or []:
                    name = str((p or {}).get("name"))
                    if name not in defined:
                        ctx.add(t, "CG108", f"{section} provider {name!r} is not in the istiod "
                                            "meshConfig.extensionProviders")


# the production checks, each under the catalog rule whose opt-in (PRODUCTION_GUARDS) it honours
_PRODUCTION_CHECKS = (
    ("production-mtls", _strict_mtls),
    ("chaos-in-production", _no_faults),
    ("production-http", _tls_only_gateway),
    ("production-egress", _registry_only_egress),
    ("production-jwks", _https_jwks),
    ("production-wildcard-host", _no_wildcard_hosts),
)
