"""Mesh semantics, with the codes of ``istioctl analyze`` (offline: the cluster is the
rendered objects plus the catalog as the service registry)."""

from __future__ import annotations

import re
from itertools import combinations

from ..catalog.model import protocol_class
from .context import Context, fqdn, host_match, hosts_overlap, scopes_overlap, visible_in
from ..lifecycle.workspace import GATEWAY_CHART_DEFAULT_PORTS, Doc

PORT_NAME = re.compile(r"^(grpc-web|grpc|http|http2|https|mongo|mysql|redis|tcp|tls|udp)(-.*)?$")
RELATIVE_OPS = {"INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE"}
MATCH_KEYS_BESIDES_URI = ("headers", "queryParams", "sourceLabels", "withoutHeaders", "gateways", "method", "scheme",
                          "port", "authority", "sourceNamespace")


def check_mesh(ctx: Context) -> None:
    _virtual_services(ctx)
    _destination_rules(ctx)
    _gateways(ctx)
    _namespaces(ctx)
    _envoy_filters(ctx)
    _telemetry(ctx)
    _authorization(ctx)
    _port_names(ctx)


# --- VirtualService -------------------------------------------------------------------------------


def _gateway_ref(ref: str, vs_ns: str) -> tuple[str, str]:
    return tuple(ref.split("/", 1)) if "/" in ref else (vs_ns, ref)  # type: ignore[return-value]


def _server_hosts(server: dict, vs_ns: str, gw_ns: str) -> list[str]:
    """The hosts of a Gateway server that a VirtualService in ``vs_ns`` may bind to."""
    out = []
    for h in server.get("hosts") or []:
        ns, _, host = str(h).rpartition("/")
        if ns in ("", "*", vs_ns) or (ns == "." and gw_ns == vs_ns):
            out.append(host)
    return out


def _destinations(rule: dict, http: bool) -> list[dict]:
    out = [r.get("destination") for r in rule.get("route") or [] if isinstance(r, dict)]
    if http:
        if isinstance(rule.get("mirror"), dict):
            out.append(rule["mirror"])
        out += [m.get("destination") for m in rule.get("mirrors") or [] if isinstance(m, dict)]
    return [d for d in out if isinstance(d, dict) and d.get("host")]


def _subset_index(ctx: Context) -> tuple[dict[str, set[str]], list[tuple[str, set[str]]]]:
    """Subset names by DestinationRule host: exact hosts in a dict, wildcard hosts in a list
    (built once per environment: a thousand services have a thousand DestinationRules)."""
    index = getattr(ctx, "_subset_index", None)
    if index is None:
        exact: dict[str, set[str]] = {}
        wild: list[tuple[str, set[str]]] = []
        for dr in ctx.kind("DestinationRule"):
            host = fqdn(dr.spec.get("host", ""), dr.namespace)
            names = {str(s.get("name")) for s in dr.spec.get("subsets") or [] if isinstance(s, dict)}
            if "*" in host:
                wild.append((host, names))
            else:
                exact.setdefault(host, set()).update(names)
        index = ctx._subset_index = (exact, wild)
    return index


def _subsets(ctx: Context, host: str) -> set[str]:
    exact, wild = _subset_index(ctx)
    out = set(exact.get(host, ()))
    for pattern, names in wild:
        if host_match(pattern, host):
            out |= names
    return out


def _is_catch_all(match: dict) -> bool:
    if not match:
        return True
    uri = match.get("uri") or {}
    catch = uri.get("prefix") == "/" or uri.get("regex") in ("*", ".*")
    return catch and not any(match.get(k) for k in MATCH_KEYS_BESIDES_URI)


def _virtual_services(ctx: Context) -> None:
    gateways = {(g.namespace, g.name): g for g in ctx.kind("Gateway")}
    exposed_by: dict[tuple[int, str], list[str]] = {}
    mesh_hosts: dict[str, list[Doc]] = {}
    for vs in ctx.kind("VirtualService"):
        hosts = [str(h) for h in vs.spec.get("hosts") or []]
        refs = [str(g) for g in vs.spec.get("gateways") or []]
        if not refs or "mesh" in refs:
            for h in hosts:
                mesh_hosts.setdefault(fqdn(h, vs.namespace), []).append(vs)
        for ref in refs:
            if ref != "mesh":
                _gateway_binding(ctx, vs, ref, hosts, gateways, exposed_by)
        for proto in ("http", "tcp", "tls"):
            for i, rule in enumerate(vs.spec.get(proto) or []):
                if isinstance(rule, dict):
                    for dest in _destinations(rule, proto == "http"):
                        _destination(ctx, vs, dest, f"{proto}[{i}]")
        _unreachable_rules(ctx, vs)
    _mesh_host_conflicts(ctx, mesh_hosts)


def _gateway_binding(ctx: Context, vs: Doc, ref: str, hosts: list[str], gateways: dict,
                     exposed_by: dict[tuple[int, str], list[str]]) -> None:
    """IST0101 for a gateway that does not exist, IST0132 for each host it does not expose
    (the hosts a gateway exposes to a namespace are collected once in ``exposed_by``)."""
    ns = vs.namespace
    gw = gateways.get(_gateway_ref(ref, ns))
    if gw is None:
        ctx.add(vs, "IST0101", f"Referenced gateway not found: {ref!r}")
        return
    exposed = exposed_by.get((id(gw), ns))
    if exposed is None:
        exposed = exposed_by[(id(gw), ns)] = [h for s in gw.spec.get("servers") or []
                                              for h in _server_hosts(s, ns, gw.namespace)]
    for h in hosts:
        if not any(hosts_overlap(e, h) for e in exposed):
            ctx.add(vs, "IST0132", f"host {h!r} is not exposed by gateway {ref!r}")


def _mesh_host_conflicts(ctx: Context, mesh_hosts: dict[str, list[Doc]]) -> None:
    """IST0109: two VirtualServices route the same host for the mesh where both are visible."""
    for host, owners in sorted(mesh_hosts.items()):
        for a, b in combinations(owners, 2):
            if scopes_overlap(visible_in(a.spec.get("exportTo"), a.namespace), visible_in(b.spec.get("exportTo"), b.namespace)):
                for this, other in ((a, b), (b, a)):
                    ctx.add(this, "IST0109", f"host {host!r} is also routed for the mesh by VirtualService "
                                             f"{other.namespace}/{other.name}")


def _destination(ctx: Context, vs: Doc, dest: dict, where: str) -> None:
    host = fqdn(dest["host"], vs.namespace)
    if not ctx.known_host(host, vs.namespace):
        ctx.add(vs, "IST0101", f"{where}: referenced host not found: {host!r}")
        return
    subset = dest.get("subset")
    if subset and str(subset) not in _subsets(ctx, host):
        ctx.add(vs, "IST0101", f"{where}: referenced subset {subset!r} of host {host!r} is not defined by a DestinationRule")
    svc = ctx.services.get(host)
    port = (dest.get("port") or {}).get("number") if isinstance(dest.get("port"), dict) else None
    if svc is not None and len(svc.ports) > 1 and not port:
        ctx.add(vs, "IST0112", f"{where}: destination {host!r} has {len(svc.ports)} ports; set destination.port")


def _unreachable_rules(ctx: Context, vs: Doc) -> None:
    seen: list[tuple[str, dict]] = []
    catch_all: str | None = None
    for i, rule in enumerate(vs.spec.get("http") or []):
        if not isinstance(rule, dict):
            continue
        label = f"http[{i}]" + (f" ({rule['name']})" if rule.get("name") else "")
        if catch_all is not None:
            ctx.add(vs, "IST0130", f"rule {label} is unreachable: rule {catch_all} before it matches every request")
            continue
        matches = [m for m in rule.get("match") or [] if isinstance(m, dict)] or []
        _repeated_matches(ctx, vs, label, matches, seen)
        if not matches or any(_is_catch_all(m) for m in matches):
            catch_all = label
        seen += [(label, m) for m in matches]


def _repeated_matches(ctx: Context, vs: Doc, label: str, matches: list[dict], seen: list[tuple[str, dict]]) -> None:
    """IST0130 when every match of a rule repeats an earlier rule's, else IST0131 per repeated match."""
    dups = [(j, prev) for j, m in enumerate(matches) for prev, pm in seen if pm == m]
    if matches and len({j for j, _ in dups}) == len(matches):
        ctx.add(vs, "IST0130", f"rule {label} is unreachable: every match repeats an earlier rule "
                               f"({', '.join(sorted({p for _, p in dups}))})")
    else:
        for j, prev in dups:
            ctx.add(vs, "IST0131", f"rule {label} match[{j}] is ineffective: rule {prev} has the same match")


# --- DestinationRule ------------------------------------------------------------------------------


def _destination_rules(ctx: Context) -> None:
    for dr in ctx.kind("DestinationRule"):
        host = fqdn(dr.spec.get("host", ""), dr.namespace)
        if not ctx.known_host(host):
            ctx.add(dr, "IST0174", f"host {host!r} is neither a service of the catalog nor a ServiceEntry host")
            continue
        svc = ctx.services.get(host)
        if svc is None:
            continue
        pods = [{**svc.selector, **labels} for labels in svc.versions.values()] or [dict(svc.selector)]
        for s in dr.spec.get("subsets") or []:
            labels = (s or {}).get("labels") or {}
            if not any(all(p.get(k) == v for k, v in labels.items()) for p in pods):
                known = ", ".join(sorted(svc.versions)) or "none"
                ctx.add(dr, "IST0173", f"subset {s.get('name')!r} (labels {labels}) selects no version of service "
                                       f"{svc.key!r} in the catalog (versions: {known})")


# --- Gateway --------------------------------------------------------------------------------------


def _gateway_workload_labels(ctx: Context) -> dict:
    release = ctx.view.catalog.istio.gatewayRelease
    labels = {"app": release, "istio": release[len("istio-"):] if release.startswith("istio-") else release}
    extra = (ctx.r.gateway_values or {}).get("labels")
    if isinstance(extra, dict):
        labels.update({str(k): str(v) for k, v in extra.items()})
    return labels


def _gateway_service_ports(ctx: Context) -> list[int]:
    service = (ctx.r.gateway_values or {}).get("service") or {}
    ports = service.get("ports") if isinstance(service, dict) else None
    if not ports:
        return list(GATEWAY_CHART_DEFAULT_PORTS)
    return [int(p["port"]) for p in ports if isinstance(p, dict) and str(p.get("port", "")).isdigit()]


def _host_part(h) -> str:
    return str(h).rpartition("/")[2]


def _gateways(ctx: Context) -> None:
    gws = ctx.kind("Gateway")
    workload = _gateway_workload_labels(ctx)
    ports = _gateway_service_ports(ctx) if ctx.r.gateway_values is not None else None
    for gw in gws:
        selector = gw.spec.get("selector") or {}
        ours = bool(selector) and all(workload.get(k) == str(v) for k, v in selector.items())
        if selector and not ours:
            ctx.add(gw, "IST0101", f"selector {selector} matches no gateway workload (the {ctx.view.catalog.istio.gatewayRelease} "
                                   f"pods carry {workload})")
            continue
        servers = [s for s in gw.spec.get("servers") or [] if isinstance(s, dict)]
        _gateway_credentials(ctx, gw, servers)
        if ports is not None:
            _gateway_ports(ctx, gw, servers, ports)
    for a, b in combinations(gws, 2):
        if (a.spec.get("selector") or {}) == (b.spec.get("selector") or {}):
            _gateway_conflicts(ctx, a, b)


def _gateway_credentials(ctx: Context, gw: Doc, servers: list[dict]) -> None:
    """IST0161: a server's TLS secret must live in the gateway workload's namespace."""
    creds = sorted({str((s.get("tls") or {}).get("credentialName")) for s in servers
                    if (s.get("tls") or {}).get("credentialName")})
    if creds and gw.namespace != ctx.r.gateway_namespace:
        ctx.add(gw, "IST0161", f"credential {', '.join(creds)} must be a secret in the gateway workload namespace "
                               f"{ctx.r.gateway_namespace!r}, but the Gateway is in {gw.namespace!r}")


def _gateway_ports(ctx: Context, gw: Doc, servers: list[dict], ports: list[int]) -> None:
    """IST0162: a server port the gateway Service does not open."""
    for s in servers:
        number = (s.get("port") or {}).get("number")
        if number is not None and int(number) not in ports:
            ctx.add(gw, "IST0162", f"server port {number} is not a port of the gateway Service "
                                   f"(service.ports of {ctx.view.catalog.istio.gatewayRelease}: "
                                   f"{', '.join(map(str, sorted(ports)))})")


def _gateway_conflicts(ctx: Context, a: Doc, b: Doc) -> None:
    """IST0145: two Gateways on the same selector serve overlapping hosts on one port."""
    for sa in a.spec.get("servers") or []:
        for sb in b.spec.get("servers") or []:
            pa, pb = (sa.get("port") or {}).get("number"), (sb.get("port") or {}).get("number")
            if pa is None or pa != pb:
                continue
            common = sorted({_host_part(x) for x in sa.get("hosts") or [] for y in sb.get("hosts") or []
                             if hosts_overlap(_host_part(x), _host_part(y))})
            if common:
                for this, other in ((a, b), (b, a)):
                    ctx.add(this, "IST0145", f"port {pa} host(s) {', '.join(common)} conflict with Gateway "
                                             f"{other.namespace}/{other.name} on the same selector")


# --- namespaces, EnvoyFilter, Telemetry, AuthorizationPolicy, ports ------------------------------------------------


def _namespaces(ctx: Context) -> None:
    for ns in ctx.kind("Namespace"):
        labels = ns.meta.get("labels") or {}
        if "istio-injection" in labels and "istio.io/rev" in labels:
            ctx.add(ns, "IST0123", f"both istio-injection={labels['istio-injection']} and "
                                   f"istio.io/rev={labels['istio.io/rev']} are set; keep one")


def _envoy_filters(ctx: Context) -> None:
    for ef in ctx.kind("EnvoyFilter"):
        if ef.spec.get("priority"):
            continue
        ops = sorted({str((p.get("patch") or {}).get("operation")) for p in ef.spec.get("configPatches") or []
                      if isinstance(p, dict)} & RELATIVE_OPS)
        if ops:
            ctx.add(ef, "IST0151", f"relative patch operation {', '.join(ops)} without a priority; set spec.priority "
                                   "so that the filter order is defined")


def _telemetry(ctx: Context) -> None:
    by_ns: dict[str, list[Doc]] = {}
    for t in ctx.kind("Telemetry"):
        if not (t.spec.get("selector") or t.spec.get("targetRef") or t.spec.get("targetRefs")):
            by_ns.setdefault(t.namespace, []).append(t)
    for ns, docs in by_ns.items():
        if len(docs) > 1:
            names = ", ".join(sorted(d.name for d in docs))
            for d in docs:
                ctx.add(d, "IST0160", f"namespace {ns!r} has {len(docs)} Telemetry resources without a selector ({names})")


def _principal_namespace(principal: str) -> str | None:
    m = re.search(r"(?:^|/)ns/([^/]+)/sa/", principal)
    return m.group(1) if m else None


def _authorization(ctx: Context) -> None:
    known = ctx.r.known_namespaces
    for ap in ctx.kind("AuthorizationPolicy"):
        for i, rule in enumerate(ap.spec.get("rules") or []):
            for j, frm in enumerate((rule or {}).get("from") or []):
                source = (frm or {}).get("source") or {}
                refs = [(str(n), str(n)) for key in ("namespaces", "notNamespaces") for n in source.get(key) or []]
                refs += [(_principal_namespace(str(p)), str(p)) for key in ("principals", "notPrincipals")
                         for p in source.get(key) or []]
                for ns, text in refs:
                    if ns and "*" not in ns and ns not in known:
                        ctx.add(ap, "IST0101", f"rules[{i}].from[{j}]: referenced namespace not found: {ns!r} ({text})")


# What Istio makes of a port by its name (when the Service sets no appProtocol): the kind of
# rule that applies (http, tls, tcp) and, for HTTP, the HTTP version spoken to the workload.
_NAME_PROTOCOL = {"http": ("http", 1), "http2": ("http", 2), "grpc": ("http", 2), "grpc-web": ("http", 1),
                  "https": ("tls", 0), "tls": ("tls", 0), "tcp": ("tcp", 0), "mongo": ("tcp", 0),
                  "mysql": ("tcp", 0), "redis": ("tcp", 0), "udp": ("udp", 0)}
_HTTP_VERSION = {"HTTP": 1, "HTTP2": 2, "GRPC": 2}


def _port_names(ctx: Context) -> None:
    """IST0118: the name has no protocol prefix. CG120: the name's protocol changes how Istio
    handles the port (another kind of rule, or another HTTP version: a GRPC port named http is
    spoken to in HTTP/1.1). CG121: the name's protocol differs from the declared one in a way
    that keeps the routing (redis named tcp, TLS named https, GRPC named http2)."""
    for svc in ctx.services.values():
        for i, (name, number, protocol) in enumerate(svc.ports):
            m = PORT_NAME.fullmatch(name)
            line = None
            if not m or m.group(1).upper() != str(protocol).upper():
                line = ctx.catalog_line(("environments", ctx.env, "services", svc.key, "ports", i, "name"),
                                        ("services", svc.key, "ports", i, "name"), ("defaults", "ports", i, "name"))
            if not m:
                ctx.add_at("Service", svc.namespace, svc.name, "IST0118",
                           f"port {number} name {name!r} does not follow <protocol>[-suffix] "
                           "(e.g. http, http-api, grpc, tcp-db)", ctx.catalog_file, line)
                continue
            said = m.group(1)
            if line is None:
                continue
            by_name = _NAME_PROTOCOL[said]
            declared = (protocol_class(str(protocol)), _HTTP_VERSION.get(str(protocol), 0))
            hint = f"name it {str(protocol).lower()} or {str(protocol).lower()}-<suffix>"
            if by_name[0] != declared[0]:
                ctx.add_at("Service", svc.namespace, svc.name, "CG120",
                           f"port {number} is {protocol} but its name {name!r} makes Istio treat it as {said} "
                           f"({by_name[0]} rules instead of {declared[0]} rules); {hint}", ctx.catalog_file, line)
            elif by_name[1] != declared[1]:
                ctx.add_at("Service", svc.namespace, svc.name, "CG120",
                           f"port {number} is {protocol} but its name {name!r} makes Istio speak HTTP/{by_name[1]} "
                           f"to it instead of HTTP/{declared[1]}; {hint}", ctx.catalog_file, line)
            else:
                ctx.add_at("Service", svc.namespace, svc.name, "CG121",
                           f"port {number} is {protocol} but its name {name!r} says {said}; Istio takes the protocol "
                           f"from the name (telemetry and protocol filters follow it); {hint}", ctx.catalog_file, line)
