"""Reading a rendered helmfile: objects per release, Service resolution, and what
Prometheus' scrape jobs would keep.

Everything works on the objects the real charts rendered (``helmfile template
--output-dir``); nothing here knows what a chart *should* render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc")


@dataclass
class Render:
    """One environment's render: objects per release, each with its namespace filled in."""

    releases: dict[str, list[dict]]
    namespaces: dict[str, str]  # release → namespace
    files: dict[str, str] = field(default_factory=dict)  # "<release>/<path>" → text

    @property
    def objects(self) -> list[dict]:
        return [o for objs in self.releases.values() for o in objs]

    def find(self, kind: str, name: str | None = None, namespace: str | None = None,
             release: str | None = None) -> list[dict]:
        pool = self.releases[release] if release else self.objects
        return [o for o in pool if o["kind"] == kind
                and (name is None or o["metadata"]["name"] == name)
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def one(self, kind: str, name: str, namespace: str | None = None, release: str | None = None) -> dict:
        found = self.find(kind, name, namespace, release)
        assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
        return found[0]

    def release_of(self, obj: dict) -> str:
        return next(r for r, objs in self.releases.items() if any(o is obj for o in objs))


def read_render(out_dir: Path, namespaces: dict[str, str]) -> Render:
    """Objects of ``helmfile template --output-dir OUT --output-dir-template
    '{{ .OutputDir }}/{{ .Release.Name }}'``: one directory per release."""
    releases: dict[str, list[dict]] = {}
    files: dict[str, str] = {}
    for rel_dir in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        objs = []
        for path in sorted(rel_dir.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            files[f"{rel_dir.name}/{path.relative_to(rel_dir)}"] = text
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc.get("kind"):
                    doc.setdefault("metadata", {})
                    if not doc["metadata"].get("namespace") and not _cluster_scoped(doc["kind"]):
                        doc["metadata"]["namespace"] = namespaces[rel_dir.name]
                    objs.append(doc)
        releases[rel_dir.name] = objs
    return Render(releases, namespaces, files)


def _cluster_scoped(kind: str) -> bool:
    return kind in {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PersistentVolume",
                    "StorageClass", "PriorityClass", "IngressClass"}


# --- pods and Services ------------------------------------------------------------------------


@dataclass
class Pod:
    """A pod as its workload's template describes it (plus what injection adds)."""

    namespace: str
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    containers: list[dict]
    ip: str = ""

    def container_ports(self) -> list[dict]:
        return [dict(p, container=c["name"]) for c in self.containers for p in c.get("ports") or []]


def pods(render: Render) -> list[Pod]:
    out = []
    for obj in render.objects:
        if obj["kind"] in WORKLOAD_KINDS:
            tmpl = obj["spec"]["template"]
            meta = tmpl.get("metadata") or {}
            out.append(Pod(obj["metadata"]["namespace"], obj["metadata"]["name"], dict(meta.get("labels") or {}),
                           dict(meta.get("annotations") or {}), list(tmpl["spec"].get("containers") or [])))
    return out


def selects(selector: dict | None, labels: dict) -> bool:
    """A non-empty equality selector matches ``labels``."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def split_host(host: str) -> tuple[str, str]:
    """``name.ns``, ``name.ns.svc`` or ``name.ns.svc.cluster.local`` → (name, ns)."""
    for suffix in CLUSTER_SUFFIXES:
        if host.endswith(suffix):
            host = host[: -len(suffix)]
            break
    name, _, ns = host.partition(".")
    assert name and ns and "." not in ns, f"{host!r} is not a Service address"
    return name, ns


@dataclass
class Endpoint:
    service: dict
    port: dict
    pods: list[Pod]
    container_port: int


def resolve(render: Render, host: str, port: int) -> Endpoint:
    """The Service behind ``host:port``, its port, the pods it selects, and the container
    port that receives the traffic. Fails with a sentence when any link is missing."""
    name, ns = split_host(host)
    services = render.find("Service", name, ns)
    assert services, f"{host}:{port}: no release renders Service {ns}/{name}"
    svc = services[0]
    ports = [p for p in svc["spec"].get("ports") or [] if p["port"] == port]
    assert ports, f"{host}:{port}: Service {ns}/{name} has no port {port} (has {[p['port'] for p in svc['spec']['ports']]})"
    sport = ports[0]
    selected = [p for p in pods(render) if p.namespace == ns and selects(svc["spec"].get("selector"), p.labels)]
    assert selected, f"{host}:{port}: Service {ns}/{name} selects no rendered pod"
    target = sport.get("targetPort", sport["port"])
    numbers = set()
    for pod in selected:
        for cp in pod.container_ports():
            if target in (cp.get("name"), cp["containerPort"]):
                numbers.add(cp["containerPort"])
    assert len(numbers) == 1, (f"{host}:{port}: targetPort {target!r} of Service {ns}/{name} is no container port "
                               f"of its pods")
    return Endpoint(svc, sport, selected, numbers.pop())


def resolve_url(render: Render, url: str) -> Endpoint:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    return resolve(render, parts.hostname, port)


# --- Prometheus service discovery and relabelling ------------------------------------------------


def _label_name(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _meta(prefix: str, mapping: dict) -> dict[str, str]:
    out = {}
    for k, v in mapping.items():
        out[f"{prefix}_{_label_name(k)}"] = str(v)
        out[f"{prefix}present_{_label_name(k)}"] = "true"
    return out


def _pod_meta(pod: Pod) -> dict[str, str]:
    meta = {"__meta_kubernetes_namespace": pod.namespace, "__meta_kubernetes_pod_name": pod.name,
            "__meta_kubernetes_pod_ip": pod.ip, "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_node_name": "node-1", "__meta_kubernetes_pod_ready": "true"}
    meta.update(_meta("__meta_kubernetes_pod_label", pod.labels))
    meta.update(_meta("__meta_kubernetes_pod_annotation", pod.annotations))
    return meta


def _service_meta(svc: dict) -> dict[str, str]:
    m = svc["metadata"]
    meta = {"__meta_kubernetes_namespace": m["namespace"], "__meta_kubernetes_service_name": m["name"]}
    meta.update(_meta("__meta_kubernetes_service_label", m.get("labels") or {}))
    meta.update(_meta("__meta_kubernetes_service_annotation", m.get("annotations") or {}))
    return meta


def discover(role: str, render: Render, all_pods: list[Pod]) -> list[dict[str, str]]:
    """The targets Kubernetes service discovery of ``role`` would hand a job, with their
    ``__meta_*`` labels (the subset the charts' relabel rules read)."""
    if role == "pod":
        return _pod_targets(all_pods)
    if role in ("endpoints", "endpointslice"):
        return _endpoint_targets("endpointslice" if role == "endpointslice" else "endpoint", render, all_pods)
    if role == "service":
        return _service_targets(render)
    return []  # "node" and others: no Istio workload is a node


def _pod_targets(all_pods: list[Pod]) -> list[dict[str, str]]:
    targets = []
    for pod in all_pods:
        base = _pod_meta(pod)
        ports = pod.container_ports()
        if not ports:
            targets.append(dict(base, __address__=pod.ip))
        for cp in ports:
            targets.append(dict(base, __address__=f"{pod.ip}:{cp['containerPort']}",
                                __meta_kubernetes_pod_container_name=cp["container"],
                                __meta_kubernetes_pod_container_port_name=cp.get("name", ""),
                                __meta_kubernetes_pod_container_port_number=str(cp["containerPort"])))
    return targets


def _endpoint_targets(kind: str, render: Render, all_pods: list[Pod]) -> list[dict[str, str]]:
    """Each Service port on each pod it selects, the target port resolved by name or number."""
    targets = []
    for svc in render.find("Service"):
        members = [p for p in all_pods if p.namespace == svc["metadata"]["namespace"]
                   and selects(svc["spec"].get("selector"), p.labels)]
        for sport in svc["spec"].get("ports") or []:
            for pod in members:
                target = sport.get("targetPort", sport["port"])
                numbers = [cp["containerPort"] for cp in pod.container_ports() if target in (cp.get("name"), cp["containerPort"])]
                number = numbers[0] if numbers else target
                t = dict(_service_meta(svc), **_pod_meta(pod), __address__=f"{pod.ip}:{number}")
                t[f"__meta_kubernetes_{kind}_port_name"] = sport.get("name", "")
                t[f"__meta_kubernetes_{kind}_port_protocol"] = sport.get("protocol", "TCP")
                targets.append(t)
    return targets


def _service_targets(render: Render) -> list[dict[str, str]]:
    targets = []
    for svc in render.find("Service"):
        m = svc["metadata"]
        for sport in svc["spec"].get("ports") or []:
            targets.append(dict(_service_meta(svc), __address__=f"{m['name']}.{m['namespace']}.svc:{sport['port']}",
                                __meta_kubernetes_service_port_name=sport.get("name", "")))
    return targets


def _expand(match: re.Match, template: str) -> str:
    def group(m: re.Match) -> str:
        key = m.group(1) or m.group(2)
        try:
            value = match.group(int(key) if key.isdigit() else key)
        except IndexError:
            value = ""
        return value or ""

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", group, template)


def _yaml_str(value) -> str:
    """A scalar as Prometheus' config loader reads it: ``regex: true`` is the string "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def relabel(labels: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """Prometheus' relabelling (keep, drop, replace, labelmap, labeldrop, labelkeep); None
    when the target is dropped."""
    labels = dict(labels)
    for rule in rules or []:
        regex = re.compile(f"^(?:{_yaml_str(rule.get('regex', '(.*)'))})$")
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule.get("source_labels") or [])
        step = _RELABEL_ACTIONS.get(rule.get("action", "replace"))
        if step is None:
            continue
        labels = step(labels, rule, regex, value)
        if labels is None:
            return None
    return labels


# Each action: (labels, rule, its anchored regex, the joined source labels) -> labels, or None (dropped)
def _replace(labels: dict, rule: dict, regex: re.Pattern, value: str) -> dict:
    m = regex.match(value)
    if m:
        result = _expand(m, _yaml_str(rule.get("replacement", "$1")))
        target = _expand(m, rule["target_label"])
        if result:
            labels[target] = result
        else:
            labels.pop(target, None)
    return labels


def _labelmap(labels: dict, rule: dict, regex: re.Pattern, value: str) -> dict:
    for key, val in list(labels.items()):
        m = regex.match(key)
        if m:
            labels[_expand(m, str(rule.get("replacement", "$1")))] = val
    return labels


_RELABEL_ACTIONS = {
    "keep": lambda labels, rule, regex, value: labels if regex.match(value) else None,
    "drop": lambda labels, rule, regex, value: None if regex.match(value) else labels,
    "replace": _replace,
    "labelmap": _labelmap,
    "labeldrop": lambda labels, rule, regex, value: {k: v for k, v in labels.items() if not regex.match(k)},
    "labelkeep": lambda labels, rule, regex, value: {k: v for k, v in labels.items()
                                                     if regex.match(k) or k.startswith("__")},
}


def scraped_endpoints(prometheus_yml: dict, render: Render, all_pods: list[Pod]) -> dict[tuple, set[str]]:
    """(scheme, address, metrics path) → the jobs that scrape it."""
    out: dict[tuple, set[str]] = {}
    for job in prometheus_yml.get("scrape_configs") or []:
        for sd in job.get("kubernetes_sd_configs") or []:
            for target in discover(sd["role"], render, all_pods):
                names = (sd.get("namespaces") or {}).get("names")
                if names and target.get("__meta_kubernetes_namespace") not in names:
                    continue
                start = dict(target, __scheme__=job.get("scheme", "http"),
                             __metrics_path__=job.get("metrics_path", "/metrics"))
                kept = relabel(start, job.get("relabel_configs"))
                if kept is not None:
                    key = (kept["__scheme__"], kept["__address__"], kept["__metrics_path__"])
                    out.setdefault(key, set()).add(job["job_name"])
    return out
