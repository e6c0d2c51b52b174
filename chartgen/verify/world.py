"""The cluster the rendered objects land in: namespaces, workloads and the rendered policy
objects, indexed by kind and namespace (pure; built from parsed manifests).

The mesh chart renders no Deployments: the workloads are the catalog's services (one pod class
per version, labelled with the Service selector and the version's labels, running under the
service's ServiceAccount), the ingress gateway, every waypoint, Prometheus, the kubelet and,
per namespace, a *stranger* (an unlabelled pod with the ``default`` ServiceAccount) that stands
for every pod no policy names: any workload that no object names is treated by every policy
exactly like the stranger of its namespace, so checking the strangers is complete for them
(see docs/verify.md, "Equivalence classes").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from .selectors import istio_string, label_selector

TRUST_DOMAIN = "cluster.local"
ROOT_NAMESPACE = "istio-system"  # istiod's root namespace (meshConfig.rootNamespace default)
NODE_IP = "10.255.0.1"  # stands for any node address (the kubelet's probes, sidecar mode)
AMBIENT_PROBE_IP = "169.254.7.127"  # the address ambient SNATs kubelet probes to
OUTSIDE_IP = "203.0.113.7"  # a client outside the cluster (TEST-NET-3)
EXTERNAL_IP = "198.51.100.7"  # an address of an external service (TEST-NET-2)
POD_CIDR_BASE = "10.244."
AMBIENT_LABEL = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
INGRESS_USE_WAYPOINT = "istio.io/ingress-use-waypoint"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
WAYPOINT_CLASS = "istio-waypoint"
OTHER_NAMESPACE = "any-other-namespace"


@dataclass(frozen=True)
class Workload:
    """A class of pods that every policy treats alike."""

    kind: str  # service | gateway | waypoint | prometheus | kubelet | stranger | outside
    name: str  # what reports show
    namespace: str
    labels: tuple  # sorted (key, value) pairs
    service_account: str
    mode: str  # sidecar | ambient | proxy (a gateway / waypoint) | none (no mesh identity)
    ip: str
    key: str = ""  # the catalog service key (kind == service)
    version: str = ""

    @cached_property
    def label_map(self) -> dict:
        return dict(self.labels)

    @cached_property
    def _hash(self) -> int:
        return hash((self.kind, self.name, self.namespace, self.labels, self.service_account, self.mode, self.ip,
                     self.key, self.version))

    def __hash__(self) -> int:  # the dataclass's hash, computed once (workloads key many caches and sets)
        return self._hash

    @cached_property
    def service_name(self) -> str:
        """The Service of a service's pods (the name without its versions)."""
        return self.name.split(" (")[0]

    @property
    def principal(self) -> str | None:
        """The SPIFFE principal Istio derives from the ServiceAccount
        (https://istio.io/latest/docs/reference/config/security/authorization-policy/ "principals":
        ``<trust domain>/ns/<namespace>/sa/<service account>``); None without a mesh identity."""
        if self.mode == "none":
            return None
        return f"{TRUST_DOMAIN}/ns/{self.namespace}/sa/{self.service_account}"


@dataclass(eq=False)
class Obj:
    """One rendered object, reduced to what the model reads."""

    kind: str
    api: str
    namespace: str
    name: str
    labels: dict
    spec: dict
    source: str = ""  # template path, if known
    # what the model derives from the object once (compiled rules by enforcement point)
    compiled: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass
class World:
    namespaces: dict[str, dict]  # name -> labels
    objects: dict[str, list[Obj]]  # kind -> objects
    workloads: list[Workload] = field(default_factory=list)
    by_ns: dict[str, list[Obj]] = field(default_factory=dict)  # "<kind>/<ns>" -> objects
    mesh_outbound: str = "ALLOW_ANY"  # meshConfig.outboundTrafficPolicy.mode
    named_ports: dict = field(default_factory=dict)  # (ns, Service name) -> ((port name, number), ...)
    # (ns, Service name) -> {Service port: (container port name, number)}: what the pods listen on
    # (a port's targetPort; a named one keeps the Service port's number as a stand-in)
    pod_ports: dict = field(default_factory=dict)
    outside: Workload | None = None
    _label_index: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)
    _classes: dict = field(default_factory=dict)  # id(workload) -> its class (``class_key``)

    def kind(self, kind: str) -> list[Obj]:
        return self.objects.get(kind, [])

    def pod_port(self, w: Workload, port: int) -> int:
        """The port a service's pod ``w`` receives a connection to its Service's ``port`` on."""
        return self.pod_ports.get((w.namespace, w.service_name), {}).get(port, (None, port))[1]

    def in_ns(self, kind: str, ns: str) -> list[Obj]:
        return self.by_ns.get(f"{kind}/{ns}", [])

    def ns_labels(self, ns: str) -> dict:
        """A namespace's labels, with the ``kubernetes.io/metadata.name`` the API server sets."""
        key = ("nslabels", ns)
        if key not in self._cache:
            labels = dict(self.namespaces.get(ns) or {})
            labels.setdefault("kubernetes.io/metadata.name", ns)
            self._cache[key] = labels
        return self._cache[key]

    def ns_mode(self, ns: str) -> str:
        """The data plane of a namespace: ambient (``istio.io/dataplane-mode: ambient``,
        https://istio.io/latest/docs/ambient/usage/add-workloads/), sidecar (``istio-injection:
        enabled`` or ``istio.io/rev``, https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/)
        or none."""
        labels = self.namespaces.get(ns) or {}
        if labels.get(AMBIENT_LABEL) == "ambient":
            return "ambient"
        if labels.get("istio-injection") == "enabled" or labels.get("istio.io/rev"):
            return "sidecar"
        return "none"

    def add(self, w: Workload) -> None:
        self.workloads.append(w)
        for kv in w.labels:
            self._label_index.setdefault((w.namespace, kv), []).append(w)
        self._label_index.setdefault((w.namespace, None), []).append(w)

    def pods(self, ns: str, selector_labels: dict | None = None) -> list[Workload]:
        """Workloads of ``ns`` whose labels include ``selector_labels`` (an index lookup)."""
        if not selector_labels:
            return list(self._label_index.get((ns, None), []))
        items = sorted(selector_labels.items())
        first = self._label_index.get((ns, (str(items[0][0]), str(items[0][1]))), [])
        return [w for w in first if all(w.label_map.get(str(k)) == str(v) for k, v in items[1:])]

    def by_selector(self, kind: str, ns: str, labels: tuple, selector_of) -> list[Obj]:
        """Objects of ``kind`` in ``ns`` whose selector (``selector_of(obj)``: a matchLabels map,
        or None for "no selector") may select ``labels``: an index on the selector's first
        label, so a lookup costs the candidates, not the namespace's objects. The caller checks
        the full selector."""
        key = ("index", kind, ns)
        if key not in self._cache:
            index: dict = {}
            for o in self.in_ns(kind, ns):
                sel = selector_of(o)
                first = next(iter(sorted(sel.items())), None) if sel else None
                index.setdefault((str(first[0]), str(first[1])) if first else None, []).append(o)
            self._cache[key] = index
        index = self._cache[key]
        out = list(index.get(None, []))
        for kv in labels:
            out += index.get(kv, [])
        return out

    def selecting(self, ns: str, labels: tuple, kind: str) -> list:
        """The NetworkPolicies of ``ns`` selecting pods with ``labels`` for ``kind`` (Ingress or
        Egress), cached per pod class."""
        key = ("np", ns, labels, kind)
        if key not in self._cache:
            label_map = dict(labels)
            candidates = self.by_selector("NetworkPolicy", ns, labels, _np_first_labels)
            self._cache[key] = sorted((p for p in candidates if kind in policy_types(p.spec)
                                       and label_selector(p.spec.get("podSelector") or {}, label_map)),
                                      key=lambda p: p.name)
        return self._cache[key]

    def policies_at(self, w: Workload) -> list:
        """The AuthorizationPolicies a sidecar or ztunnel of ``w`` enforces (cached per pod class)."""
        key = ("authz", w.namespace, w.labels)
        if key not in self._cache:
            self._cache[key] = at_workload(self, w.namespace, w.label_map)
        return self._cache[key]

    def sidecar_for(self, w: Workload) -> Obj | None:
        """The Sidecar of a pod: one selecting it in its namespace, else its namespace's
        selector-less one, else the root namespace's
        (https://istio.io/latest/docs/reference/config/networking/sidecar/)."""
        key = ("sidecar", w.namespace, w.labels)
        if key not in self._cache:
            own = sorted(self.by_selector("Sidecar", w.namespace, w.labels, _sidecar_labels), key=lambda s: s.name)
            chosen = next((s for s in own if (s.spec.get("workloadSelector") or {}).get("labels")
                           and all(w.label_map.get(str(k)) == str(v)
                                   for k, v in s.spec["workloadSelector"]["labels"].items())), None)
            chosen = chosen or next((s for s in own if not (s.spec.get("workloadSelector") or {}).get("labels")), None)
            chosen = chosen or next((s for s in self.in_ns("Sidecar", ROOT_NAMESPACE)
                                     if not (s.spec.get("workloadSelector") or {}).get("labels")), None)
            self._cache[key] = chosen
        return self._cache[key]

    def _peer_pods(self, policy_ns: str, peer: dict) -> list[Workload]:
        """Workloads a NetworkPolicy peer with a non-empty podSelector names."""
        pod_sel = peer.get("podSelector") or {}
        if not pod_sel:
            return []
        ns_sel = peer.get("namespaceSelector")
        if ns_sel is None:
            namespaces = [policy_ns]
        else:
            namespaces = [ns for ns in self.all_namespaces() if label_selector(ns_sel, self.ns_labels(ns))]
        first = dict(list((pod_sel.get("matchLabels") or {}).items())[:1])
        return [w for ns in namespaces for w in self.pods(ns, first) if label_selector(pod_sel, w.label_map)]

    def all_namespaces(self) -> list[str]:
        if "namespaces" not in self._cache:
            self._cache["namespaces"] = sorted({w.namespace for w in self.workloads} | set(self.namespaces))
        return self._cache["namespaces"]

    def named_sources(self, pods: list[Workload], extra_policies=()) -> set[Workload]:
        """Workloads that a policy at ``pods`` names: NetworkPolicy ingress peers (by pod
        selector) and the principals of the AuthorizationPolicies applying at the pods, plus
        those of ``extra_policies`` (a waypoint's for the pods' Service)."""
        out: set[Workload] = set()
        policies: dict[int, Obj] = {id(p): p for p in extra_policies}
        for pod in pods:
            for p in self.selecting(pod.namespace, pod.labels, "Ingress"):
                for rule in p.spec.get("ingress") or []:
                    for peer in rule.get("from") or []:
                        out.update(self._peer_pods(p.namespace, peer if isinstance(peer, dict) else {}))
            policies.update((id(p), p) for p in self.policies_at(pod))
        for p in policies.values():
            for principal in _principals(p.spec):
                out.update(self.by_principal(principal))
        return out

    def by_principal(self, pattern: str) -> list[Workload]:
        if "principals" not in self._cache:
            index: dict = {}
            for w in self.workloads:
                if w.principal:
                    index.setdefault(w.principal, []).append(w)
            self._cache["principals"] = index
        index = self._cache["principals"]
        if "*" not in pattern:
            return index.get(pattern, [])
        return [w for p, ws in index.items() if istio_string(pattern, p) for w in ws]

    def egress_sources(self, pods: list[Workload]) -> set[Workload]:
        """Workloads whose own (pod-selecting) egress NetworkPolicies name one of ``pods``."""
        if "egress" not in self._cache:
            index: dict = {}
            for p in self.kind("NetworkPolicy"):
                if "Egress" not in policy_types(p.spec) or not (p.spec.get("podSelector") or {}):
                    continue
                for rule in p.spec.get("egress") or []:
                    for peer in rule.get("to") or []:
                        if not isinstance(peer, dict) or not peer.get("podSelector"):
                            continue
                        for target in self._peer_pods(p.namespace, peer):
                            index.setdefault(target, set()).add(p)
            self._cache["egress"] = index
        out: set[Workload] = set()
        for pod in pods:
            for p in self._cache["egress"].get(pod, ()):
                sel = p.spec.get("podSelector") or {}
                first = dict(list((sel.get("matchLabels") or {}).items())[:1])
                out.update(w for w in self.pods(p.namespace, first) if label_selector(sel, w.label_map))
        return out

    def relevant_keys(self) -> frozenset:
        """The label keys any selector of a policy object reads (NetworkPolicy pod selectors and
        peers, AuthorizationPolicy, PeerAuthentication and Sidecar selectors): two pods whose
        labels agree on these keys are treated alike by every policy."""
        if "relevant" not in self._cache:
            keys: set = set()

            def add(sel):
                if isinstance(sel, dict):
                    keys.update(str(k) for k in (sel.get("matchLabels") or {}))
                    keys.update(str(e.get("key")) for e in sel.get("matchExpressions") or [] if isinstance(e, dict))

            for p in self.kind("NetworkPolicy"):
                add(p.spec.get("podSelector"))
                for rule in (p.spec.get("ingress") or []) + (p.spec.get("egress") or []):
                    for peer in (rule.get("from") or []) + (rule.get("to") or []):
                        add((peer or {}).get("podSelector"))
            for kind in ("AuthorizationPolicy", "PeerAuthentication"):
                for p in self.kind(kind):
                    add(p.spec.get("selector"))
            for p in self.kind("Sidecar"):
                keys.update(str(k) for k in ((p.spec.get("workloadSelector") or {}).get("labels") or {}))
            self._cache["relevant"] = frozenset(keys)
        return self._cache["relevant"]

    def class_key(self, w: Workload) -> tuple:
        """The equivalence class of a workload for every policy: its namespace, identity, data
        plane and the labels policies read (a service's versions usually share one class)."""
        found = self._classes.get(id(w))
        if found is None:
            keys = self.relevant_keys()
            labels = tuple(kv for kv in w.labels if kv[0] in keys)
            found = self._classes[id(w)] = (w.kind == "service", w.namespace, labels, w.service_account, w.mode,
                                            None if w.kind == "service" else w.ip)
        return found

    def stranger(self, ns: str) -> Workload:
        return next(w for w in self.workloads if w.kind == "stranger" and w.namespace == ns)


def build_objects(docs) -> tuple[dict[str, dict], dict[str, list[Obj]], dict[str, list[Obj]]]:
    """``docs``: (object dict, source path) pairs of a render."""
    namespaces: dict[str, dict] = {}
    objects: dict[str, list[Obj]] = defaultdict(list)
    by_ns: dict[str, list[Obj]] = defaultdict(list)
    for obj, source in docs:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        kind = str(obj.get("kind", ""))
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        if kind == "Namespace":
            namespaces[str(meta.get("name", ""))] = labels
            continue
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        o = Obj(kind, str(obj.get("apiVersion", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")),
                labels, spec, source)
        objects[kind].append(o)
        by_ns[f"{kind}/{o.namespace}"].append(o)
    return namespaces, dict(objects), dict(by_ns)


class IpPool:
    """Distinct pod addresses, deterministically."""

    def __init__(self):
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"{POD_CIDR_BASE}{self.n // 250}.{self.n % 250 + 1}"


def _principals(spec: dict) -> list[str]:
    out = []
    for rule in spec.get("rules") or []:
        for f in (rule or {}).get("from") or []:
            src = (f or {}).get("source") or {}
            out += [str(p) for p in src.get("principals") or []] + [str(p) for p in src.get("notPrincipals") or []]
        for c in (rule or {}).get("when") or []:
            if (c or {}).get("key") == "source.principal":
                out += [str(v) for v in c.get("values") or []]
    return out


def _np_first_labels(p: Obj) -> dict | None:
    """The matchLabels of a NetworkPolicy's podSelector, None when it has none (it may select any pod)."""
    sel = p.spec.get("podSelector") or {}
    return dict(sel.get("matchLabels") or {}) or None


def ap_first_labels(p: Obj) -> dict | None:
    sel = p.spec.get("selector") or {}
    return dict(sel.get("matchLabels") or {}) or None


def _sidecar_labels(s: Obj) -> dict | None:
    return dict((s.spec.get("workloadSelector") or {}).get("labels") or {}) or None


# --- queries the world's caches use (authz and netpol read them here too) ---


def policy_types(spec: dict) -> frozenset[str]:
    types = spec.get("policyTypes")
    if types:
        return frozenset(str(t) for t in types)
    return frozenset({"Ingress", "Egress"} if spec.get("egress") is not None else {"Ingress"})


def _no_target(p: Obj) -> bool:
    return not p.spec.get("targetRefs") and not p.spec.get("targetRef")


def _selects(p: Obj, labels: dict) -> bool:
    sel = p.spec.get("selector")
    if not sel:
        return True
    return all(labels.get(str(k)) == str(v) for k, v in (sel.get("matchLabels") or {}).items())


def at_workload(world: World, namespace: str, labels: dict) -> list[Obj]:
    """Policies a sidecar or ztunnel of a pod enforces: its namespace's and the root
    namespace's, without targetRefs, selecting the pod (or without a selector)."""
    items = tuple(sorted(labels.items()))
    out = []
    for ns in dict.fromkeys((namespace, ROOT_NAMESPACE)):
        candidates = world.by_selector("AuthorizationPolicy", ns, items, ap_first_labels)
        out += sorted((p for p in candidates if _no_target(p) and _selects(p, labels)), key=lambda p: p.name)
    return out
