"""What the semantic checks share: the rendered objects by kind, the service registry
(taken from the catalog, because the mesh chart renders no Services) and host matching."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .findings import RULES, Finding
from ..lifecycle.workspace import Doc, Rendered

ALL = None  # exportTo visibility: every namespace


@dataclass(frozen=True)
class ServiceInfo:
    key: str
    name: str
    namespace: str
    fqdn: str
    ports: tuple[tuple[str, int, str], ...]  # (name, number, protocol)
    selector: dict
    versions: dict  # version -> pod labels of that version (without the selector)


def fqdn(host: str, namespace: str) -> str:
    """A VirtualService / DestinationRule host as Istio resolves it (short names only)."""
    host = str(host)
    if "." not in host and "*" not in host:
        return f"{host}.{namespace}.svc.cluster.local"
    return host


def host_match(pattern: str, host: str) -> bool:
    """``pattern`` (possibly ``*.suffix`` or ``*``) covers ``host``."""
    if pattern == host or pattern == "*":
        return True
    return pattern.startswith("*.") and host.endswith(pattern[1:])


def hosts_overlap(a: str, b: str) -> bool:
    return host_match(a, b) or host_match(b, a)


def visible_in(export_to, own_ns: str) -> set | None:
    """The namespaces an exportTo list makes an object visible in (None: all)."""
    if not export_to:
        return ALL
    out: set = set()
    for e in export_to:
        if e == "*":
            return ALL
        out.add(own_ns if e == "." else e)
    out.discard("~")
    return out


def visible(export_to, own_ns: str, ns: str) -> bool:
    scope = visible_in(export_to, own_ns)
    return scope is ALL or ns in scope


def scopes_overlap(a: set | None, b: set | None) -> bool:
    return a is ALL or b is ALL or bool(a & b)


class Context:
    def __init__(self, rendered: Rendered, catalog_file: str = "catalog.yaml", templates: dict | None = None,
                 production: bool | None = None, source_map=None):
        self.r = rendered
        self.source_map = source_map
        self.env = rendered.env
        self.view = rendered.view
        self.catalog_file = catalog_file
        self.templates = templates or {}  # template name -> path (for findings about missing objects)
        self.production = bool(self.view.env.production) if production is None else production
        self.by_kind: dict[str, list[Doc]] = defaultdict(list)
        for d in rendered.docs:
            self.by_kind[d.kind].append(d)
        self.services: dict[str, ServiceInfo] = {}
        for svc in self.view.enabled.values():
            ns = self.view.service_namespace(svc)
            info = ServiceInfo(svc.key, svc.service_name, ns, svc.fqdn(self.view.namespace),
                               tuple((p.name, p.port, p.protocol) for p in svc.spec.ports),
                               svc.selector, {v: svc.version_labels(v) for v in (svc.spec.versions or {})})
            self.services[info.fqdn] = info
        self.findings: list[Finding] = []
        self._se_hosts: dict = {}

    # --- lookups ---------------------------------------------------------------------------------

    def kind(self, kind: str) -> list[Doc]:
        return self.by_kind.get(kind, [])

    def service_entry_hosts(self, ns: str | None = None) -> list[str]:
        """Hosts of the ServiceEntries (visible in ``ns`` when given); computed once per namespace."""
        cached = self._se_hosts.get(ns)
        if cached is not None:
            return cached
        out = []
        for se in self.kind("ServiceEntry"):
            if ns is not None and not visible(se.spec.get("exportTo"), se.namespace, ns):
                continue
            out += [str(h) for h in se.spec.get("hosts") or []]
        self._se_hosts[ns] = out
        return out

    def known_host(self, host: str, ns: str | None = None) -> bool:
        return (host in self.services or host in self.rendered_service_hosts()
                or any(host_match(h, host) for h in self.service_entry_hosts(ns)))

    def rendered_service_hosts(self) -> set[str]:
        """FQDNs of the Services the chart itself renders (per-version Services)."""
        return {f"{d.name}.{d.namespace}.svc.cluster.local" for d in self.kind("Service") if d.api == "v1"}

    def workload_namespaces(self) -> list[str]:
        return sorted({s.namespace for s in self.services.values()})

    # --- findings ---------------------------------------------------------------------------------

    def add(self, doc: Doc, code: str, message: str, level: str | None = None) -> None:
        self.findings.append(Finding(self.env, doc.kind, doc.namespace, doc.name, code, message,
                                     level or RULES[code].level, doc.source))

    def add_at(self, kind: str, namespace: str, name: str, code: str, message: str, file: str = "",
               line: int = 0, level: str | None = None) -> None:
        self.findings.append(Finding(self.env, kind, namespace, name, code, message, level or RULES[code].level,
                                     file, line))

    def catalog_line(self, *paths: tuple) -> int:
        """The line of the first of ``paths`` that the catalog file sets (0: unknown)."""
        if self.source_map is None:
            return 0
        for path in paths:
            if tuple(path) in self.source_map.values:
                return self.source_map.values[tuple(path)][0]
        return 0

    def template(self, name: str) -> str:
        return self.templates.get(name, "")
