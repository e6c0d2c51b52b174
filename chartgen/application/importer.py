"""``chartgen import``: a catalog from an application's Kubernetes manifests.

``scan`` reads the manifests (``manifests.Manifests``) into ``Found`` services: one per
Service that selects workloads, with its ports (protocol from ``appProtocol``, Istio's port
name prefixes, then well-known ports, each guess said in a comment), selector, versions,
ServiceAccount, metrics and exposure, and calls from a Kiali or Prometheus export
(``callgraph``). What cannot be mapped is kept as a note, never dropped. ``merge`` writes
them into a catalog document: a new one, or the user's (ruamel round trip, so their edits,
comments and order stay). ``import_catalog`` does both and checks that the result validates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..base import naming
from .callgraph import Call, End
from ..catalog.edit import RoundTrip
from ..base.errors import CatalogError, ChartgenError
from .manifests import Manifests, Obj, selects
from ..catalog.mesh import resolve
from ..catalog.rules.identities import MESH_PROXY_ACCOUNTS
from ..catalog.validate import parse_catalog

# appProtocol values (Kubernetes' and Istio's) → catalog protocol
APP_PROTOCOLS = {
    "http": "HTTP", "http2": "HTTP2", "kubernetes.io/h2c": "HTTP2", "grpc": "GRPC", "grpc-web": "HTTP",
    "https": "HTTPS", "tls": "TLS", "tcp": "TCP", "mongo": "MONGO", "mysql": "MYSQL", "redis": "REDIS",
    "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS",
}
# Istio's port name prefixes (<protocol>[-<suffix>]) → catalog protocol
NAME_PREFIXES = {
    "http": "HTTP", "http2": "HTTP2", "grpc": "GRPC", "grpc-web": "HTTP", "https": "HTTPS", "tls": "TLS",
    "tcp": "TCP", "mongo": "MONGO", "mysql": "MYSQL", "redis": "REDIS",
}
# Well-known ports → (catalog protocol, what usually listens there)
WELL_KNOWN_PORTS = {
    3306: ("MYSQL", "MySQL"), 27017: ("MONGO", "MongoDB"), 6379: ("REDIS", "Redis"), 5672: ("TCP", "AMQP"),
    5671: ("TLS", "AMQPS"), 5432: ("TCP", "PostgreSQL"), 9092: ("TCP", "Kafka"), 2181: ("TCP", "ZooKeeper"),
    11211: ("TCP", "memcached"), 9042: ("TCP", "Cassandra"), 4222: ("TCP", "NATS"), 1883: ("TCP", "MQTT"),
    443: ("TLS", "TLS"), 8443: ("TLS", "TLS"),
}
VERSION_KEYS = ("version", "app.kubernetes.io/version")
INGRESS_SOURCES = ("istio-ingressgateway", "istio-ingress")


class ImportError_(ChartgenError):  # noqa: N801 - ImportError is a builtin
    """The manifests hold nothing to import, or the result would not validate."""


@dataclass
class FoundPort:
    name: str
    port: int
    protocol: str
    target: int | str | None = None
    comment: str = ""


@dataclass
class Found:
    """One service found in the manifests."""

    key: str
    service: Obj
    workloads: list[Obj]
    ports: list[FoundPort] = field(default_factory=list)
    selector: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # version → its labels
    version_key: str | None = None
    service_account: str | None = None
    sa_created: bool = False  # the manifests create the ServiceAccount (else the chart does)
    sa_comment: str = ""
    metrics: dict | None = None
    expose: dict | None = None
    expose_comment: str = ""
    exposed_by_routes: bool = False  # exposure from Ingress / VirtualService / HTTPRoute objects (they add up)
    calls: set[str] = field(default_factory=set)


@dataclass
class Scan:
    services: dict[str, Found] = field(default_factory=dict)
    externals: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was not mapped, and why
    namespace: str | None = None
    selector_label: str | None = None
    version_label: str | None = None
    calls_given: bool = False
    known: dict[str, str] = field(default_factory=dict)  # Service name → key of the existing catalog


# --- ports -----------------------------------------------------------------------------------


def port_protocol(port: dict) -> tuple[str, str]:
    """(catalog protocol, how it was found: "" when the Service declares it, else a comment)."""
    app = str(port.get("appProtocol") or "").lower()
    if app in APP_PROTOCOLS:
        return APP_PROTOCOLS[app], ""
    name = str(port.get("name") or "").lower()
    for prefix in sorted(NAME_PREFIXES, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "-"):
            return NAME_PREFIXES[prefix], ""
    number = port.get("port")
    if number in WELL_KNOWN_PORTS:
        proto, what = WELL_KNOWN_PORTS[number]
        hint = f"tcp-{what.lower()}" if proto == "TCP" and what.isalpha() else proto.lower()
        return proto, (f"protocol guessed from port {number} ({what}); name the Service port "
                       f"'{hint}' or set appProtocol")
    return "HTTP", "protocol guessed (unnamed port, no appProtocol): name the Service port 'http' or 'tcp'"


def _catalog_port_name(proto: str, port: dict, taken: set[str]) -> str:
    """The Service's port name when it says the protocol (Istio's <protocol>[-suffix]), else
    the protocol with the name as suffix ('rabbitmq' → 'tcp-rabbitmq'), or with what usually
    listens on the port ('tcp-amqp')."""
    name = str(port.get("name") or "")
    prefix = proto.lower()
    if name and naming.DNS1123_LABEL.fullmatch(name):
        said = next((NAME_PREFIXES[p] for p in sorted(NAME_PREFIXES, key=len, reverse=True)
                     if name == p or name.startswith(p + "-")), None)
        if said != proto:
            name = f"{prefix}-{name}"[:63].rstrip("-")
    else:
        what = WELL_KNOWN_PORTS.get(port.get("port"), (None, ""))[1].lower()
        name = f"tcp-{what}" if proto == "TCP" and what.isalpha() else prefix
    base, i = name, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def _resolve_target(target, workloads: list[Obj]):
    """A named targetPort as the container port number the workloads give it (else the name)."""
    if not isinstance(target, str):
        return target
    for w in workloads:
        for _, c in w.containers():
            for p in c.get("ports") or []:
                if isinstance(p, dict) and p.get("name") == target and isinstance(p.get("containerPort"), int):
                    return p["containerPort"]
    return target


def _ports(svc: Obj, workloads: list[Obj], notes: list[str]) -> list[FoundPort]:
    out, taken = [], set()
    for i, p in enumerate(svc.get("spec", "ports", default=[]) or []):
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            continue
        if str(p.get("protocol") or "TCP").upper() not in ("TCP", ""):
            notes.append(f"{svc.ref} ({svc.where('spec', 'ports', i)}): port {p['port']}/{p.get('protocol')} not "
                         "imported: the mesh carries TCP only")
            continue
        proto, comment = port_protocol(p)
        target = _resolve_target(p.get("targetPort"), workloads)
        if target == p["port"]:
            target = None
        out.append(FoundPort(_catalog_port_name(proto, p, taken), p["port"], proto, target, comment))
    return out


# --- services --------------------------------------------------------------------------------


def _key(name: str) -> str:
    key = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63].strip("-")
    return key or "service"


def _versions(found: Found) -> None:
    """Versions: a label that the workloads of one Service carry with different values."""
    if len(found.workloads) < 2:
        return
    for key in VERSION_KEYS + tuple(sorted({k for w in found.workloads for k in w.pod_labels} - set(VERSION_KEYS))):
        if key in found.selector:
            continue
        values = [w.pod_labels.get(key) for w in found.workloads]
        if all(values) and len(set(values)) == len(values) and all(naming.DNS1123_LABEL.fullmatch(v) for v in values):
            found.version_key = key
            found.versions = {v: {key: v} for v in sorted(values)}
            return


def _service_account(found: Found, accounts: set[tuple[str | None, str]]) -> None:
    names = sorted({w.service_account for w in found.workloads})
    if not names:
        return
    name = names[0]
    refs = ", ".join(w.ref for w in found.workloads)
    if len(names) > 1:
        found.sa_comment = f"the workloads run as {', '.join(names)} ({refs}): give them one ServiceAccount"
    if name == "default":
        found.sa_comment = (f"the pods run as 'default' ({refs}): set serviceAccountName: {found.key} "
                            "(the chart creates it, and its policies admit it)")
        return
    found.service_account = name
    found.sa_created = (found.service.namespace, name) in accounts or (None, name) in accounts
    found.sa_comment = found.sa_comment or ("the manifests create this ServiceAccount" if found.sa_created
                                            else "the manifests do not create it: the chart does")


def _own_identities(out: Scan) -> None:
    """One ServiceAccount per service: an account the pods of several services share (or a
    mesh proxy's) is not written; the comment names the Deployments and what to set."""
    users: dict[tuple, list[str]] = {}
    for f in out.services.values():
        users.setdefault((f.namespace, f.service_account or f.service.name), []).append(f.key)
    for f in out.services.values():
        if not f.service_account:
            continue
        sharing = users[(f.namespace, f.service_account)]
        if len(sharing) > 1 or f.service_account in MESH_PROXY_ACCOUNTS:
            why = (f"shared with {', '.join(k for k in sharing if k != f.key)}" if len(sharing) > 1
                   else "a mesh proxy's account")
            refs = ", ".join(w.ref for w in f.workloads)
            f.sa_comment = (f"the pods run as '{f.service_account}' ({why}; {refs}): set serviceAccountName: {f.key} "
                            "(the chart creates it, and its policies admit it)")
            f.service_account = None


def _metrics(found: Found) -> None:
    for source in [found.service.meta.get("annotations") or {}] + [w.pod_annotations for w in found.workloads]:
        if not isinstance(source, dict) or str(source.get("prometheus.io/scrape", "")).lower() != "true":
            continue
        port = source.get("prometheus.io/port")
        if port is None and found.ports:
            first = found.ports[0]
            port = first.target if isinstance(first.target, int) else first.port
        try:
            number = int(str(port))
        except ValueError:
            continue
        path = str(source.get("prometheus.io/path") or "/metrics")
        # the annotations have Prometheus' default jobs scrape it: a job of the chart would repeat them
        found.metrics = {"port": number, "path": path, "scrapeJob": False}
        return


def _classify(svc: Obj, workloads: list[Obj]) -> str | None:
    """Why a Service is not a catalog service (None: it is one)."""
    spec = svc.get("spec", default={}) or {}
    if spec.get("type") == "ExternalName":
        return "external"
    if not spec.get("selector"):
        return f"{svc.ref} ({svc.where()}): no selector (endpoints managed by hand); not imported, add it as an " \
               "external service or give it a selector"
    if spec.get("clusterIP") == "None":
        kinds = ", ".join(w.ref for w in workloads) or "no workload"
        return f"{svc.ref} ({svc.where()}): headless (clusterIP: None, {kinds}); not imported: pods are reached " \
               "one by one, add it by hand if it is called"
    return None


def _per_version_of(svc: Obj, scan_services: list[tuple[Obj, list[Obj]]]) -> Obj | None:
    """The Service that ``svc`` is a per-version copy of: its selector is another Service's
    plus more labels, and it picks a subset of that Service's workloads."""
    mine = svc.get("spec", "selector", default={}) or {}
    for other, workloads in scan_services:
        theirs = other.get("spec", "selector", default={}) or {}
        if other is svc or other.namespace != svc.namespace or not theirs:
            continue
        if len(mine) > len(theirs) and all(mine.get(k) == v for k, v in theirs.items()):
            return other
    return None


def _selected(svc: Obj, workloads: list[Obj]) -> list[Obj]:
    selector = {str(k): str(v) for k, v in (svc.get("spec", "selector", default={}) or {}).items()}
    return [w for w in workloads if w.namespace == svc.namespace and selects(selector, w.pod_labels)]


def scan(manifests: Manifests, calls: list[Call] | None = None, known: dict[str, str] | None = None) -> Scan:
    """What the manifests say about the services (pure). ``known``: the Kubernetes Service
    name → catalog key of an existing catalog (its keys are kept, e.g. under naming.prefix)."""
    out = Scan(calls_given=calls is not None, known=dict(known or {}))
    workloads = manifests.workloads()
    services = manifests.of_kind("Service")
    accounts = {(o.namespace, o.name) for o in manifests.of_kind("ServiceAccount")}
    pairs = [(s, _selected(s, workloads)) for s in services]
    namespaces = Counter(o.namespace for o in services + workloads if o.namespace)
    out.namespace = namespaces.most_common(1)[0][0] if namespaces else None
    for svc, selected in pairs:
        why = _classify(svc, selected)
        if why == "external":
            _external(out, svc)
            continue
        if why:
            out.notes.append(why)
            continue
        parent = _per_version_of(svc, pairs)
        if parent is not None:
            out.notes.append(f"{svc.ref} ({svc.where()}): a per-version Service of {parent.name}; not imported "
                             "(chartgen renders its own where the Gateway API needs one)")
            continue
        _add_service(out, svc, selected, accounts)
    for w in workloads:
        if w.kind != "Pod" and not any(w in f.workloads for f in out.services.values()):
            out.notes.append(f"{w.ref} ({w.where()}): no Service selects it; not imported (it calls out only, or "
                             "add a Service for it)")
    _own_identities(out)
    _conventions(out)
    _exposure(out, manifests)
    if calls is not None:
        _calls(out, calls, workloads)
    return out


def _add_service(out: Scan, svc: Obj, selected: list[Obj], accounts: set) -> None:
    key = out.known.get(svc.name) or _key(svc.name)
    if key in out.services:
        key = _key(f"{svc.name}-{svc.namespace or 'default'}")
    found = Found(key, svc, selected, selector={str(k): str(v) for k, v in svc.get("spec", "selector").items()})
    found.ports = _ports(svc, selected, out.notes)
    if not found.ports:
        out.notes.append(f"{svc.ref} ({svc.where()}): no TCP port; not imported (the mesh carries TCP)")
        return
    if svc.namespace and svc.namespace != out.namespace:
        found.namespace = svc.namespace
    if not selected:
        out.notes.append(f"{svc.ref} ({svc.where()}): selects no workload in the manifests (selector "
                         f"{found.selector}); imported, check its labels")
    _versions(found)
    _service_account(found, accounts)
    _metrics(found)
    if svc.get("spec", "type") in ("NodePort", "LoadBalancer") and any(p.protocol in ("HTTP", "HTTP2", "GRPC") for p in found.ports):
        found.expose = {"paths": ["/"]}
        found.expose_comment = f"the manifests expose it as a {svc.get('spec', 'type')} Service"
    out.services[key] = found


def _external(out: Scan, svc: Obj) -> None:
    host = str(svc.get("spec", "externalName") or "")
    if not naming.is_host(host):
        out.notes.append(f"{svc.ref} ({svc.where()}): ExternalName {host!r} is not a host name; not imported")
        return
    ports = []
    for p in svc.get("spec", "ports", default=[]) or []:
        if isinstance(p, dict) and isinstance(p.get("port"), int):
            proto, _ = port_protocol(p)
            ports.append({"name": _catalog_port_name(proto, p, {q["name"] for q in ports}), "port": p["port"],
                          "protocol": proto})
    out.externals[_key(svc.name)] = {"hosts": [host], **({"ports": ports} if ports else {})}
    out.notes.append(f"{svc.ref} ({svc.where()}): ExternalName {host}; imported as externalServices.{_key(svc.name)}")


def _conventions(out: Scan) -> None:
    """The catalog-wide label convention, when every service's selector is one label valued
    with its name (and every versioned service uses one version label)."""
    keys = {next(iter(f.selector)) for f in out.services.values()
            if len(f.selector) == 1 and next(iter(f.selector.values())) == f.service.name}
    if len(keys) == 1 and all(len(f.selector) == 1 for f in out.services.values()):
        key = keys.pop()
        if all(f.selector == {key: f.service.name} for f in out.services.values()):
            out.selector_label = key
    vkeys = {f.version_key for f in out.services.values() if f.version_key}
    if len(vkeys) == 1:
        out.version_label = vkeys.pop()


# --- exposure ----------------------------------------------------------------------------------


def _service_by_host(out: Scan, host: str, namespace: str | None) -> Found | None:
    name = host.split(".")[0]
    for f in out.services.values():
        if f.service.name == name and (namespace is None or f.service.namespace in (None, namespace)
                                       or "." in host):
            return f
    return None


def _path_item(kind: str, value: str):
    if not value or not value.startswith("/") or any(c in value for c in "*{}?# "):
        return None
    return value if kind == "prefix" else {kind: value}


def _expose(found: Found, host: str | None, paths: list, source: Obj) -> None:
    if not any(p.protocol in ("HTTP", "HTTP2", "GRPC") for p in found.ports):
        return
    expose = found.expose if found.expose and found.exposed_by_routes else {}  # routes replace a NodePort guess
    subdomain = (host or "").split(".")[0]
    if subdomain and naming.DNS1123_LABEL.fullmatch(subdomain) and subdomain != found.key:
        expose["host"] = subdomain
    items = expose.setdefault("paths", [])
    for item in paths or ["/"]:
        if item is not None and item not in items:
            items.append(item)
    found.expose = expose
    found.expose_comment = f"exposed by {source.ref} ({source.where()})" + (f", host {host}" if host else "")
    found.exposed_by_routes = True


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _from_ingresses(out: Scan, manifests: Manifests) -> None:
    for ing in manifests.of_kind("Ingress"):
        for rule in _l(ing.get("spec", "rules")):
            for p in _l(_d(_d(rule).get("http")).get("paths")):
                name = _d(_d(_d(p).get("backend")).get("service")).get("name")
                found = _service_by_host(out, str(name or ""), ing.namespace)
                if found:
                    kind = "exact" if p.get("pathType") == "Exact" else "prefix"
                    _expose(found, rule.get("host"), [_path_item(kind, str(p.get("path") or "/"))], ing)


def _from_virtual_services(out: Scan, manifests: Manifests) -> None:
    for vs in manifests.of_kind("VirtualService"):
        if not [g for g in _l(vs.get("spec", "gateways")) if g != "mesh"]:
            continue  # in-mesh routing, not exposure
        host = next(iter(_l(vs.get("spec", "hosts"))), None)
        for rule in _l(vs.get("spec", "http")):
            paths = [_path_item(k, v) for m in _l(_d(rule).get("match")) for k, v in _d(_d(m).get("uri")).items()]
            for r in _l(_d(rule).get("route")):
                found = _service_by_host(out, str(_d(_d(r).get("destination")).get("host") or ""), vs.namespace)
                if found:
                    _expose(found, host if host != "*" else None, paths, vs)


_GATEWAY_API_PATHS = {"PathPrefix": "prefix", "Exact": "exact", "RegularExpression": "regex"}


def _from_http_routes(out: Scan, manifests: Manifests) -> None:
    for route in manifests.of_kind("HTTPRoute"):
        host = next(iter(_l(route.get("spec", "hostnames"))), None)
        for rule in _l(route.get("spec", "rules")):
            paths = [_path_item(_GATEWAY_API_PATHS.get(_d(_d(m).get("path")).get("type", "PathPrefix"), "prefix"),
                                str(_d(_d(m).get("path")).get("value") or "/"))
                     for m in _l(_d(rule).get("matches"))]
            for ref in _l(_d(rule).get("backendRefs")):
                found = _service_by_host(out, str(_d(ref).get("name") or ""), route.namespace)
                if found:
                    _expose(found, host, paths, route)


def _exposure(out: Scan, manifests: Manifests) -> None:
    """Exposure from Ingresses, Istio VirtualServices bound to a gateway and HTTPRoutes."""
    _from_ingresses(out, manifests)
    _from_virtual_services(out, manifests)
    _from_http_routes(out, manifests)


# --- calls -------------------------------------------------------------------------------------


def _end_service(out: Scan, end: End, workloads: list[Obj]) -> str | None:
    if end.workload:
        for f in out.services.values():
            if any(w.name == end.workload for w in f.workloads):
                return f.key
        return None
    if end.service:
        f = _service_by_host(out, end.service, end.namespace or None)
        if f:
            return f.key
    if end.app:
        for f in out.services.values():
            if end.app in (f.service.name, *f.selector.values()):
                return f.key
    return None


def _calls(out: Scan, calls: list[Call], workloads: list[Obj]) -> None:
    unmapped = set()
    for call in calls:
        src = _end_service(out, call.source, workloads)
        dst = _end_service(out, call.dest, workloads)
        if src and dst and src != dst:
            out.services[src].calls.add(dst)
        elif not src and (call.source.workload or call.source.app) in INGRESS_SOURCES:
            if dst and out.services[dst].expose is None:  # the ingress gateway calls it: exposed
                found = out.services[dst]
                if any(p.protocol in ("HTTP", "HTTP2", "GRPC") for p in found.ports):
                    found.expose = {"paths": ["/"]}
                    found.expose_comment = f"the ingress gateway calls it ({call.source.label()})"
        elif not (src and dst):
            unmapped.add(f"{call.source.label()} → {call.dest.label()}")
    for text in sorted(unmapped):
        out.notes.append(f"call {text}: an end is not a service of the manifests; not imported")


# --- writing the catalog -----------------------------------------------------------------------


def _port_map(p: FoundPort) -> CommentedMap:
    m = CommentedMap([("name", p.name), ("port", p.port)])
    if p.target is not None:
        m["targetPort"] = p.target
    m["protocol"] = p.protocol
    m.fa.set_flow_style()
    return m


def _port_seq(ports: list[FoundPort]) -> CommentedSeq:
    seq = CommentedSeq([_port_map(p) for p in ports])
    for i, p in enumerate(ports):
        if p.comment:
            seq.yaml_add_eol_comment(_one_line(p.comment), i)
    return seq


# a line break in a comment would end it: the rest would be catalog text (a manifest's host
# or name, a file name could add services or calls); YAML 1.1 readers also break at NEL, LS, PS
_NOT_IN_A_COMMENT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _one_line(text: str) -> str:
    """``text`` for a comment: every control character or line break shown escaped."""
    return _NOT_IN_A_COMMENT.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _set(node: CommentedMap, key: str, value, comment: str = "") -> None:
    """``node[key] = value`` unless it holds that already (then its text and comment stay)."""
    if node.get(key) == value:
        return
    node[key] = value
    if comment:
        node.yaml_add_eol_comment(_one_line(comment), key)


def _flow(mapping: dict) -> CommentedMap:
    m = CommentedMap(mapping)
    m.fa.set_flow_style()
    return m


def _write_service(node: CommentedMap, f: Found, scan_: Scan, fresh: bool) -> None:
    """The keys import owns (ports, selector, serviceAccount, metrics, namespace) are set
    from the manifests; versions, exposure and calls are added to, never taken away."""
    ports = _port_seq(f.ports)
    old = node.get("ports")
    if not isinstance(old, list) or [dict(x) for x in old] != [dict(x) for x in ports]:
        node["ports"] = ports
    if f.namespace:
        _set(node, "namespace", f.namespace)
    if scan_.selector_label is None or f.selector != {scan_.selector_label: f.service.name}:
        if not (scan_.selector_label is None and f.selector == {"app": f.service.name}):
            _set(node, "selector", _flow(f.selector))
    if f.service_account:
        _set(node, "serviceAccount", _flow({"name": f.service_account, "create": not f.sa_created}), f.sa_comment)
    elif f.sa_comment:
        node.yaml_set_comment_before_after_key("ports", before=_one_line(f.sa_comment), indent=4)
    if f.metrics:
        _set(node, "metrics", _flow(f.metrics), "from the prometheus.io annotations, which have Prometheus scrape it")
    _merge_versions(node, f, scan_)
    if f.expose and "expose" not in node:
        expose = CommentedMap(f.expose)
        expose["paths"] = CommentedSeq(f.expose["paths"])
        expose.fa.set_flow_style()
        node["expose"] = expose
        node.yaml_add_eol_comment(_one_line(f.expose_comment), "expose")
    if f.calls:
        calls = node.get("calls")
        if not isinstance(calls, list):
            node["calls"] = _flow_seq(sorted(f.calls))
        else:
            calls.extend(c for c in sorted(f.calls) if c not in calls)


def _flow_seq(items: list) -> CommentedSeq:
    s = CommentedSeq(items)
    s.fa.set_flow_style()
    return s


def _merge_versions(node: CommentedMap, f: Found, scan_: Scan) -> None:
    if not f.versions:
        return
    versions = node.get("versions")
    if not isinstance(versions, dict):
        versions = node["versions"] = CommentedMap()
    own = scan_.version_label or "version"
    added = False
    for v, labels in f.versions.items():
        if v not in versions:
            versions[v] = _flow({} if labels == {own: v} else {"labels": _flow(labels)})
            added = True
    if added and "weights" not in node:  # only with versions new to the catalog: a removal is an edit
        first = next(iter(f.versions))
        node["weights"] = _flow({v: 100 if v == first else 0 for v in f.versions})
        node.yaml_add_eol_comment(_one_line(f"all to {first}: chartgen routes versions by weight; split as you need"), "weights")


def _skeleton(name: str, namespace: str | None, sources: list[str]) -> CommentedMap:
    doc = CommentedMap()
    doc["apiVersion"] = "chartgen.io/v1"
    doc["kind"] = "ServiceCatalog"
    doc.yaml_set_start_comment(f"Imported by `chartgen import` from {_one_line(', '.join(sources)) or 'the manifests'}.\n"
                               "Import again after the manifests change: your edits, comments and order are kept.")
    doc["metadata"] = CommentedMap([("name", name), ("domain", f"{name}.example")])
    doc["metadata"].yaml_add_eol_comment("your DNS domain: external hosts are <service>.<env>.<domain>", "domain")
    env = CommentedMap()
    if namespace:
        env["namespace"] = namespace
    env["gateway"] = CommentedMap([("https", False)])
    env["gateway"].yaml_add_eol_comment("plain HTTP until you set credentialName (a TLS secret)", "https")
    doc["environments"] = CommentedMap([("dev", env)])
    doc["services"] = CommentedMap()
    return doc


def _merge_naming(doc: CommentedMap, found: Scan) -> None:
    """The label convention, unless the catalog states its own."""
    wanted = {k: v for k, v, default in (("selectorLabel", found.selector_label, "app"),
                                         ("versionLabel", found.version_label, "version")) if v and v != default}
    if not wanted:
        return
    names = doc.get("naming")
    if not isinstance(names, dict):
        names = CommentedMap()
        doc.insert(list(doc).index("environments") if "environments" in doc else len(doc), "naming", names)
    for key, value in wanted.items():
        names.setdefault(key, value)


def merge(doc: CommentedMap, found: Scan) -> list[str]:
    """Write ``found`` into the catalog document ``doc``; returns what it did, line by line."""
    lines = []
    _merge_naming(doc, found)
    services = doc.setdefault("services", CommentedMap())
    for key, f in found.services.items():
        fresh = key not in services
        node = services.setdefault(key, CommentedMap())
        _write_service(node, f, found, fresh)
        lines.append(f"{'added' if fresh else 'updated'} service {key} from {f.service.ref}"
                     + (f" ({len(f.workloads)} workloads)" if len(f.workloads) != 1 else ""))
    if found.externals:
        externals = doc.setdefault("externalServices", CommentedMap())
        for key, ext in found.externals.items():
            if key not in externals:
                externals[key] = CommentedMap(ext)
                lines.append(f"added external service {key}")
    for key in services:
        if key not in found.services:
            lines.append(f"kept service {key}: not in the manifests (remove it by hand if it is gone)")
    if not found.calls_given and not any(isinstance(s, dict) and s.get("calls") for s in services.values()):
        doc.yaml_set_comment_before_after_key(
            "services", before="calls: none imported. Export them from Kiali (the JSON of /api/namespaces/graph)\n"
            "or Prometheus (istio_requests_total by source and destination workload) and\nrun `chartgen import "
            "MANIFEST... --calls FILE` again: a service reaches only what it calls.")
    return lines


@dataclass
class Imported:
    text: str
    lines: list[str]
    notes: list[str]
    guessed: list[str]


def import_catalog(manifests: Manifests, calls: list[Call] | None = None, existing: str | None = None,
                   name: str | None = None, file: str = "catalog.yaml") -> Imported:
    """The catalog text from ``manifests`` (into ``existing`` when given), checked to validate."""
    found = scan(manifests, calls, _known_keys(existing, file) if existing is not None else None)
    if not found.services:
        raise ImportError_("no Service in the manifests selects a workload: nothing to import"
                           + "".join(f"\n  {n}" for n in found.notes))
    if existing is not None:
        rt = RoundTrip(existing, file)
    else:
        mesh_name = _key(name or found.namespace or _stem(manifests))
        rt = RoundTrip("a: 1\n", file)
        rt.doc = _skeleton(mesh_name, found.namespace, manifests.files)
    lines = merge(rt.doc, found)
    text = rt.text()
    try:
        parse_catalog(text, file)
    except CatalogError as exc:
        raise ImportError_("the imported catalog does not validate (a case import does not handle yet):\n"
                           + "\n".join(p.format() for p in exc.problems)) from None
    guessed = [f"{f.key}.{p.name}: {p.comment}" for f in found.services.values() for p in f.ports if p.comment]
    return Imported(text, lines, found.notes, guessed)


def _known_keys(existing: str, file: str) -> dict[str, str]:
    """Service name → key of the services of an existing catalog that validates (else none:
    the merge will say what is wrong with it)."""
    try:
        catalog, _ = parse_catalog(existing, file)
    except CatalogError:
        return {}
    return {svc.service_name: key for key, svc in resolve(catalog).neutral.items()}


def _stem(manifests: Manifests) -> str:
    """The shortest file name among the manifests (bookinfo.yaml, bookinfo-versions.yaml: bookinfo)."""
    stems = sorted((f.rsplit("/", 1)[-1].split(".")[0] for f in manifests.files if f != "<stdin>"),
                   key=lambda s: (len(s), s))
    return next((s for s in stems if s), "mesh")
