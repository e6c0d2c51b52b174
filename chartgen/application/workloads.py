"""The mesh checked against the pods it will govern: the chart rendered per environment (as
lint renders it) and the application's own manifests (``manifests``).

``check`` compares, for each environment and each enabled service: which workloads its
selector picks, the ServiceAccount the pods run as, the pod ports the policies admit, the
protocol the application's Service declares, the version labels its routes use, the probes,
Prometheus' scrapes, sidecar injection and the host network. Each finding is located in the
manifest (``file:line:col``) and says what to change. ``verify`` renders and checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..base.errors import Problem
from .importer import port_protocol
from .manifests import Manifests, Obj, selects
from pathlib import Path
from . import manifests as manifests_mod
from ..lifecycle.workspace import Project, deep_merge, render
from ..chart.values import mesh_values

SERVER_FIRST = ("MYSQL", "MONGO")  # the server speaks first: Istio's protocol sniffing waits forever
AMBIENT_PROBE_SOURCE = "169.254.7.127/32"  # where ztunnel hands kubelet's probes to ambient pods

DOC = "docs/existing-application.md#2-verify-against-the-pods"  # where the codes are listed
# code → (level, summary); docs/existing-application.md lists them
CODES = {
    "WL001": ("error", "A service's selector picks no workload of the manifests"),
    "WL002": ("error", "A service's selector picks workloads its Kubernetes Service does not (or misses some)"),
    "WL010": ("error", "The pods run as another ServiceAccount than the one the policies admit"),
    "WL011": ("warning", "The ServiceAccount the pods run as is created by neither the chart nor the manifests"),
    "WL020": ("error", "The pod port is not what the NetworkPolicies and AuthorizationPolicies admit"),
    "WL021": ("warning", "The containers declare no port the service's targetPort names"),
    "WL030": ("error", "The application's Service declares another protocol than the catalog"),
    "WL031": ("error", "A server-first protocol left to Istio's protocol sniffing"),
    "WL032": ("warning", "A port left to Istio's protocol sniffing"),
    "WL040": ("error", "A version the routes use labels no pod"),
    "WL050": ("error", "A probe the mesh does not let through"),
    "WL060": ("error", "Prometheus scrapes a port that nothing admits"),
    "WL070": ("error", "Pods opting out of the mesh in a STRICT mTLS namespace"),
    "WL080": ("error", "Pods on the host network (outside the mesh)"),
}


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    col: int
    code: str
    subject: str  # the manifest object (Deployment/carts) or the catalog service
    message: str  # what is wrong and the fix
    envs: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        return CODES[self.code][0]

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        envs = f" (env {', '.join(self.envs)})" if self.envs else ""
        return f"{where}: {self.level}: {self.subject}: {self.message}{envs} [{self.code}]"


def _at(obj: Obj, path: tuple, code: str, message: str) -> Finding:
    line, col = obj.key_pos(*path)
    return Finding(obj.file, line, col, code, obj.ref, message)


# --- the rendered chart -----------------------------------------------------------------------


@dataclass
class Policies:
    """What the rendered chart of one environment admits, per namespace."""

    np_ingress: list[tuple[str, dict, list]] = field(default_factory=list)  # (ns, podSelector, ingress rules)
    authz: list[tuple[str, dict, list]] = field(default_factory=list)  # (ns, selector, rules) of ALLOW policies
    subsets: dict[tuple[str, str], dict[str, dict]] = field(default_factory=dict)  # (ns, host) → subset → labels
    used_subsets: set[tuple[str, str, str]] = field(default_factory=set)  # (ns, host, subset)

    @classmethod
    def of(cls, docs) -> "Policies":
        out = cls()
        for d in docs:
            spec = d.spec if isinstance(d.spec, dict) else {}
            if d.kind == "NetworkPolicy" and "Ingress" in (spec.get("policyTypes") or []):
                out.np_ingress.append((d.namespace, (spec.get("podSelector") or {}).get("matchLabels") or {},
                                       spec.get("ingress") or []))
            elif d.kind == "AuthorizationPolicy" and spec.get("action", "ALLOW") == "ALLOW" and spec.get("rules"):
                selector = (spec.get("selector") or {}).get("matchLabels")
                out.authz.append((d.namespace, selector, spec.get("rules") or []))
            elif d.kind == "DestinationRule":
                out.subsets[(d.namespace, str(spec.get("host")))] = {
                    str(s.get("name")): s.get("labels") or {} for s in spec.get("subsets") or []}
            elif d.kind == "VirtualService":
                out.used_subsets |= _vs_subsets(d.namespace, spec)
        return out

    def np_rules(self, ns: str, labels: dict) -> list[dict]:
        """The ingress rules of the NetworkPolicies that select pods with ``labels`` in ``ns``."""
        return [rule for pns, sel, rules in self.np_ingress if pns == ns and all(labels.get(k) == v for k, v in sel.items())
                for rule in rules if isinstance(rule, dict)]

    def np_ports(self, ns: str, labels: dict) -> set:
        """The ports that the NetworkPolicies selecting these pods by label (not the namespace-wide
        ones) admit, from anywhere (None in the set: any port)."""
        ports: set = set()
        rules = [rule for pns, sel, rs in self.np_ingress if pns == ns and sel and all(labels.get(k) == v for k, v in sel.items())
                 for rule in rs if isinstance(rule, dict)]
        for rule in rules:
            if not rule.get("ports"):
                ports.add(None)
            ports |= {p.get("port") for p in rule.get("ports") or []}
        return ports

    def authz_rules(self, ns: str, labels: dict) -> list[dict]:
        """The ALLOW rules that apply to pods with ``labels`` (selector policies and namespace-wide ones)."""
        return [rule for pns, sel, rules in self.authz if pns == ns and (sel is None or
                                                                        all(labels.get(k) == v for k, v in sel.items()))
                for rule in rules if isinstance(rule, dict)]


def _vs_subsets(ns: str, spec: dict) -> set:
    out = set()
    for kind in ("http", "tcp", "tls"):
        for rule in spec.get(kind) or []:
            for route in (rule or {}).get("route") or []:
                dest = (route or {}).get("destination") or {}
                if dest.get("subset") and route.get("weight", 100) != 0:
                    out.add((ns, str(dest.get("host")), str(dest["subset"])))
            for mirror in [(rule or {}).get("mirror")]:
                if mirror and mirror.get("subset"):
                    out.add((ns, str(mirror.get("host")), str(mirror["subset"])))
    return out


def _principals(rules: list[dict]) -> set[str]:
    return {p for rule in rules for f in rule.get("from") or [] for p in ((f or {}).get("source") or {}).get("principals") or []}


# --- one environment -----------------------------------------------------------------------------


@dataclass
class Env:
    """One environment: its view of the catalog, the values in effect and what the chart admits."""

    name: str
    view: object  # mesh.EnvView
    values: dict  # the chart values in effect (services.<key>)
    policies: Policies
    trust_domain: str = "cluster.local"

    def ns_of(self, obj: Obj) -> str:
        """A manifest object's namespace: its own, else the environment's (where it is applied)."""
        return obj.namespace or self.view.namespace


def check(envs: list[Env], manifests: Manifests) -> list[Finding]:
    """Every finding of every environment; the same finding in several environments once."""
    merged: dict[Finding, list[str]] = {}
    for env in envs:
        for f in _check_env(env, manifests):
            merged.setdefault(f, []).append(env.name)
    many = len(envs) > 1
    return sorted(Finding(f.file, f.line, f.col, f.code, f.subject, f.message, tuple(e) if many else ())
                  for f, e in merged.items())


def _check_env(env: Env, manifests: Manifests) -> list[Finding]:
    workloads = manifests.workloads()
    app_services = {(env.ns_of(s), s.name): s for s in manifests.of_kind("Service")}
    accounts = {(env.ns_of(a), a.name) for a in manifests.of_kind("ServiceAccount")}
    out: list[Finding] = []
    governed: set[int] = set()
    for key, svc in sorted(env.view.enabled.items()):
        values = env.values["services"][key]
        ns = env.view.service_namespace(svc)
        mine = [w for w in workloads if env.ns_of(w) == ns and selects(values["selector"], w.pod_labels)]
        governed |= {id(w) for w in mine}
        app = app_services.get((ns, values["serviceName"]))
        out += _selection(env, key, values, mine, app, workloads, ns)
        for w in mine:
            out += _identity(env, key, values, w, ns, accounts)
            out += _ports(env, key, values, w, app, ns)
            out += _probes(env, w, ns)
            out += _pod_in_mesh(env, w)
        if app is not None:
            out += _protocols(key, values, app)
            out += _scrapes(env, key, app, mine, ns)
        out += _versions(env, key, values, mine, app, ns)
    return out


def _selection(env: Env, key: str, values: dict, mine: list[Obj], app: Obj | None, workloads: list[Obj],
               ns: str) -> list[Finding]:
    selector = values["selector"]
    if app is None:
        if mine:
            return []
        return [Finding("catalog", 0, 0, "WL001", f"services.{key}",
                        f"its selector {selector} picks no workload in namespace {ns} of the manifests, and no Service "
                        f"{values['serviceName']} is there: its policies would govern nothing")]
    app_selector = {str(k): str(v) for k, v in (app.get("spec", "selector", default={}) or {}).items()}
    theirs = [w for w in workloads if env.ns_of(w) == ns and selects(app_selector, w.pod_labels)]
    if not mine:
        hint = ", ".join(f"{k}: {v}" for k, v in app_selector.items())
        return [_at(app, ("spec", "selector"), "WL001",
                    f"selects its pods by {{{hint}}}, the catalog's services.{key} by {selector}, which picks no "
                    f"workload: its policies govern nothing under deny-all; set naming.selectorLabel (or the "
                    f"service's selector) to match")]
    out = []
    for w in mine:
        if w not in theirs:
            out.append(_at(w, w.template_path + ("metadata", "labels"), "WL002",
                           f"services.{key}'s selector {selector} picks it, the Service {app.name} does not: the "
                           "service's policies govern it too; make the selector tell them apart"))
    for w in theirs:
        if w not in mine:
            out.append(_at(w, w.template_path + ("metadata", "labels"), "WL002",
                           f"the Service {app.name} sends it traffic, services.{key}'s selector {selector} does not "
                           "pick it: no policy admits its callers; label it or widen the selector"))
    return out


def _identity(env: Env, key: str, values: dict, w: Obj, ns: str, accounts: set) -> list[Finding]:
    wanted = values["serviceAccount"]["name"]
    have = w.service_account
    spec_path = w.pod_spec_path
    if have != wanted:
        path = spec_path + (("serviceAccountName",) if "serviceAccountName" in w.pod_spec else ())
        principal = f"{env.trust_domain}/ns/{ns}/sa/{wanted}"
        return [_at(w, path, "WL010",
                    f"its pods run as ServiceAccount '{have}', the mesh admits services.{key} as {principal}: set "
                    f"spec.template.spec.serviceAccountName: {wanted}")]
    if not values["serviceAccount"]["create"] and (ns, have) not in accounts:
        return [_at(w, spec_path, "WL011",
                    f"runs as ServiceAccount '{have}', which neither the chart (services.{key}.serviceAccount.create: "
                    "false) nor the manifests create")]
    return []


def _target_of(port: dict):
    return port.get("targetPort") if port.get("targetPort") is not None else port["number"]


def _container_ports(w: Obj) -> list[tuple[int, int, dict]]:
    return [(ci, pi, p) for ci, c in w.containers() for pi, p in enumerate(c.get("ports") or []) if isinstance(p, dict)]


def _resolve(target, w: Obj):
    """A named port as the number the containers give it (None if none does)."""
    if not isinstance(target, str):
        return target
    return next((p.get("containerPort") for _, _, p in _container_ports(w) if p.get("name") == target), None)


def _ports(env: Env, key: str, values: dict, w: Obj, app: Obj | None, ns: str) -> list[Finding]:
    out = []
    labels = w.pod_labels
    # ambient: mesh traffic reaches the pods as HBONE on 15008, whatever their port; the
    # NetworkPolicies admit that, and only the AuthorizationPolicies see the pod port
    np_ports = set() if env.view.ambient else env.policies.np_ports(ns, labels)
    declared = _container_ports(w)
    for i, port in enumerate(values["ports"]):
        target = _target_of(port)
        number = _resolve(target, w)
        app_target = _app_target(app, port["number"], w)
        if app_target is not None and app_target != number:
            app_port = _app_port_index(app, port["number"])
            out.append(_at(app, ("spec", "ports", app_port), "WL020",
                           f"maps port {port['number']} to pod port {app_target}; the mesh admits services.{key}'s "
                           f"pods on {number if number is not None else target} (NetworkPolicy, AuthorizationPolicy): "
                           f"set services.{key}.ports[{i}].targetPort: {app_target}"))
            continue
        if declared and number is None:
            out.append(_at(w, w.pod_spec_path + ("containers",), "WL021",
                           f"no container port is named '{target}' (services.{key}.ports[{i}].targetPort)"))
        elif declared and number not in {p.get("containerPort") for _, _, p in declared}:
            listed = ", ".join(str(p.get("containerPort")) for _, _, p in declared)
            out.append(_at(w, w.pod_spec_path + ("containers",), "WL020",
                           f"its containers listen on {listed}; the mesh admits services.{key}'s pods on {number}: set "
                           f"services.{key}.ports[{i}].targetPort to the container port"))
        elif np_ports and None not in np_ports and not ({target, number} & np_ports):
            out.append(_at(w, w.template_path + ("metadata", "labels"), "WL020",
                           f"no NetworkPolicy of the chart admits pod port {number} (admitted: "
                           f"{', '.join(str(p) for p in sorted(np_ports, key=str))})"))
        elif number is not None and not _authz_admits(env.policies, ns, labels, number):
            out.append(_at(w, w.template_path + ("metadata", "labels"), "WL020",
                           f"no AuthorizationPolicy of the chart admits pod port {number}: Istio matches the "
                           f"workload port; set services.{key}.ports[{i}].targetPort"))
    return out


def _authz_admits(policies: Policies, ns: str, labels: dict, number: int) -> bool:
    """Whether the ALLOW rules for callers (by principal) that select these pods by label
    admit ``number`` (True when there are none: nothing calls them, which is no port mismatch)."""
    rules = [rule for pns, sel, rs in policies.authz if pns == ns and sel and all(labels.get(k) == v for k, v in sel.items())
             for rule in rs if isinstance(rule, dict) and _principals([rule])]
    if not rules:
        return True
    for rule in rules:
        ops = [((t or {}).get("operation") or {}) for t in rule.get("to") or []]
        if not ops or any(not op.get("ports") or str(number) in op["ports"] for op in ops):
            return True
    return False


def _app_port_index(app: Obj | None, number: int) -> int | None:
    for i, p in enumerate(app.get("spec", "ports", default=[]) or [] if app else []):
        if isinstance(p, dict) and p.get("port") == number:
            return i
    return None


def _app_target(app: Obj | None, number: int, w: Obj):
    """The pod port the application's Service sends its port ``number`` to (None: no such port)."""
    i = _app_port_index(app, number)
    if i is None:
        return None
    p = app.get("spec", "ports", i)
    return _resolve(p.get("targetPort", p.get("port")), w)


def _protocols(key: str, values: dict, app: Obj) -> list[Finding]:
    out = []
    for port in values["ports"]:
        i = _app_port_index(app, port["number"])
        if i is None:
            out.append(_at(app, ("spec", "ports"), "WL030",
                           f"has no port {port['number']} (services.{key}.ports: {port['name']}): callers reach the "
                           "catalog's port on another Service; add it or change the catalog's port"))
            continue
        p = app.get("spec", "ports", i)
        declared, guessed = port_protocol(p)
        want = port["protocol"]
        if not guessed and declared != want:
            out.append(_at(app, ("spec", "ports", i), "WL030",
                           f"port {port['number']} declares {declared} (name {p.get('name')!r}, appProtocol "
                           f"{p.get('appProtocol')!r}); the catalog says {want}: make them agree"))
        elif guessed:
            hint = f"name it '{want.lower()}' (or '{want.lower()}-…') or set appProtocol: {want.lower()}"
            code = "WL031" if want in SERVER_FIRST else "WL032"
            why = ("the server speaks first, so the sniffing waits for the client and the connection hangs"
                   if code == "WL031" else "Istio sniffs the first bytes, and the catalog's protocol never reaches Istio")
            out.append(_at(app, ("spec", "ports", i), code,
                           f"port {port['number']} has no protocol name or appProtocol ({want} in the catalog): {why}; "
                           f"{hint}"))
    return out


def _versions(env: Env, key: str, values: dict, mine: list[Obj], app: Obj | None, ns: str) -> list[Finding]:
    out = []
    svc = env.view.enabled[key]
    host = svc.fqdn(env.view.namespace)
    # the subsets of the rendered DestinationRule, else (Gateway API routing: per-version
    # Services) the versions of the values
    subsets = env.policies.subsets.get((ns, host)) or {v: spec["labels"] for v, spec in values["versions"].items()}
    for name, labels in sorted(subsets.items()):
        if (ns, host, name) not in env.policies.used_subsets and not _routed(values, name):
            continue
        if any(all(w.pod_labels.get(k) == v for k, v in labels.items()) for w in mine):
            continue
        want = ", ".join(f"{k}: {v}" for k, v in labels.items())
        subject = app if app is not None else (mine[0] if mine else None)
        message = (f"services.{key} routes to version {name} ({want}), which no pod of "
                   f"{', '.join(w.ref for w in mine) or 'the service'} carries: label that version's pods {want}")
        if subject is None:
            out.append(Finding("catalog", 0, 0, "WL040", f"services.{key}", message))
        else:
            out.append(_at(subject, ("metadata", "name"), "WL040", message))
    return out


def _routed(values: dict, version: str) -> bool:
    return bool(values.get("weights", {}).get(version)) or any(r.get("version") == version for r in values.get("routes") or [])


def _probes(env: Env, w: Obj, ns: str) -> list[Finding]:
    out = []
    for ci, c in w.containers():
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(kind)
            if not isinstance(probe, dict) or "exec" in probe:
                continue
            path = w.pod_spec_path + ("containers", ci, kind)
            if env.view.ambient:
                if not any(_admits_cidr(rule, AMBIENT_PROBE_SOURCE) for rule in env.policies.np_rules(ns, w.pod_labels)):
                    out.append(_at(w, path, "WL050", f"kubelet's {kind} reaches ambient pods from "
                                   f"{AMBIENT_PROBE_SOURCE.split('/')[0]}, which no NetworkPolicy of the chart admits"))
            elif _annotation(w, "sidecar.istio.io/rewriteAppHTTPProbers") == "false":
                out.append(_at(w, path, "WL050", f"its {kind} goes to the application port in plaintext (the pod turns "
                               "off Istio's probe rewrite), which STRICT mTLS refuses: remove "
                               "sidecar.istio.io/rewriteAppHTTPProbers: \"false\""))
    return out


def _admits_cidr(rule: dict, cidr: str) -> bool:
    return any(((p or {}).get("ipBlock") or {}).get("cidr") == cidr for p in rule.get("from") or [])


def _annotation(w: Obj, name: str) -> str:
    value = w.pod_annotations.get(name)
    if value is None:
        value = w.pod_labels.get(name)
    return str(value).lower() if value is not None else ""


def _scrapes(env: Env, key: str, app: Obj, mine: list[Obj], ns: str) -> list[Finding]:
    """Prometheus' scrapes of these pods on an application port: the Service's prometheus.io
    annotations (the endpoints job scrapes the pods directly), and the pods' own where no
    sidecar merges them into 15020 (ambient, or merging turned off)."""
    out = []
    obs = env.view.catalog.observability.namespace
    for source, scrape_annotations in [(app, app.meta.get("annotations") or {})] + [(w, w.pod_annotations) for w in mine]:
        if str((scrape_annotations or {}).get("prometheus.io/scrape", "")).lower() != "true":
            continue
        merged = source is not app and not env.view.ambient and _annotation(source, "prometheus.istio.io/merge-metrics") != "false"
        if merged:
            continue  # the sidecar serves them on 15020, which the chart admits
        for w in mine:
            port = _scrape_port(scrape_annotations, app, w)
            if port is None or _np_admits_from(env.policies.np_rules(ns, w.pod_labels), obs, port):
                continue
            out.append(_at(source, ("metadata", "annotations"), "WL060",
                           f"Prometheus scrapes {w.ref} on port {port} (prometheus.io/scrape), which nothing admits "
                           f"from {obs}: set services.{key}.metrics: {{port: {port}, path: "
                           f"{scrape_annotations.get('prometheus.io/path', '/metrics')}, scrapeJob: false}} (the "
                           "annotation's job scrapes it; the chart admits it)"))
            break
    return out


def _scrape_port(annotations: dict, app: Obj, w: Obj):
    if annotations.get("prometheus.io/port"):
        try:
            return int(str(annotations["prometheus.io/port"]))
        except ValueError:
            return None
    first = next(iter(app.get("spec", "ports", default=[]) or []), None)
    return _resolve(first.get("targetPort", first.get("port")), w) if isinstance(first, dict) else None


def _np_admits_from(rules: list[dict], namespace: str, port: int) -> bool:
    for rule in rules:
        peers = rule.get("from") or []
        names = {((p or {}).get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                 for p in peers}
        if namespace in names and port in {p.get("port") for p in rule.get("ports") or []}:
            return True
    return False


def _pod_in_mesh(env: Env, w: Obj) -> list[Finding]:
    out = []
    if w.pod_spec.get("hostNetwork") is True:
        out.append(_at(w, w.pod_spec_path + ("hostNetwork",), "WL080",
                       "runs on the host network: no sidecar or ztunnel carries its traffic, so it has no mesh identity "
                       "and its service's policies do not apply; drop hostNetwork or keep it out of the catalog"))
    strict = env.values["environment"]["mtlsMode"] == "STRICT"
    if not strict:
        return out
    opt_out = (_annotation(w, "sidecar.istio.io/inject") == "false" if not env.view.ambient
               else w.pod_labels.get("istio.io/dataplane-mode") == "none")
    if opt_out:
        what = "sidecar.istio.io/inject: \"false\"" if not env.view.ambient else "istio.io/dataplane-mode: none"
        out.append(_at(w, w.template_path + ("metadata",), "WL070",
                       f"its pods opt out of the mesh ({what}) in a STRICT mTLS namespace: in-mesh callers cannot reach "
                       "it and its own calls carry no identity; remove the opt-out"))
    return out


# --- rendering and checking ----------------------------------------------------------------------


@dataclass
class Report:
    findings: list[Finding]
    envs: list[str]
    objects: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def verify(catalog_path: str, manifest_args: list[str], envs: list[str] | None = None, helm: str | None = None,
           stdin=None) -> Report:
    """Render the catalog's chart per environment (like lint) and check it against the manifests."""
    project = Project.load(Path(catalog_path), envs or ())
    found = manifests_mod.require(manifests_mod.read(list(manifest_args), stdin))
    chosen = list(envs) if envs else sorted(project.catalog.environments)
    rendered = render(project, chosen, helm=helm)
    return Report(check(environments(rendered), found), chosen, len(found.objects))


def environments(rendered: dict) -> list[Env]:
    """The checked environments of ``lifecycle.workspace.render``'s result: the values in
    effect are chartgen's for the environment under the user's values files."""
    return [Env(name, r.view, deep_merge(mesh_values(r.view.mesh).of(r.view), r.mesh_values), Policies.of(r.docs),
                r.view.catalog.istio.trustDomain) for name, r in sorted(rendered.items())]


def check_rendered(rendered: dict, manifest_args: list[str], stdin=None, catalog_file: str = "catalog",
                   source_map=None) -> list[Problem]:
    """The workload checks of environments rendered already (``chartgen verify --workloads``
    renders once for both), as located problems: ``path`` is the object, ``rule`` the code,
    ``level`` error or warning. A finding about the catalog itself is located in the catalog
    (``catalog_file`` at the position ``source_map`` gives its service)."""
    found = manifests_mod.require(manifests_mod.read(list(manifest_args), stdin))
    return [as_problem(f, catalog_file, source_map) for f in check(environments(rendered), found)]


def as_problem(f: Finding, catalog_file: str = "catalog", source_map=None) -> Problem:
    envs = f" (env {', '.join(f.envs)})" if f.envs else ""
    file, line, col = f.file, f.line, f.col
    if file == "catalog":
        file = catalog_file
        if source_map is not None:
            line, col = source_map.key_pos(tuple(f.subject.split(".")))
    return Problem(file, line, col, f.subject, f.message + envs, f.code, level=f.level)
