"""Whether one connection between two workloads gets through, over rendered objects: the hops
the data plane makes, the Kubernetes NetworkPolicies on each hop, and the Istio
AuthorizationPolicies at each enforcement point, with the identity each one sees.

- Hops. Sidecar: source pod → destination pod on the service port. Ambient (HBONE): to
  15008 of the destination pod; where the destination's namespace is labelled
  ``istio.io/use-waypoint`` (or the ingress gateway calls it and the namespace is also
  labelled ``istio.io/ingress-use-waypoint: "true"``), two hops: source → the waypoint's pods
  (labelled ``gateway.networking.k8s.io/gateway-name: <waypoint>`` by Istio's waypoint
  template, manifests/charts/istio-control/istio-discovery/files/waypoint.yaml) and waypoint
  → destination pod. https://istio.io/latest/docs/ambient/usage/waypoint/
- NetworkPolicy (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
  a pod selected by a policy of a direction is isolated in it; a connection needs the
  source's egress and the destination's ingress; peers are pod and namespace selectors
  (namespaces by ``kubernetes.io/metadata.name``) and ipBlocks; numbered ports.
- AuthorizationPolicy (https://istio.io/latest/docs/reference/config/security/authorization-policy/):
  DENY first, then ALLOW: where ALLOW policies apply, one of their rules must match (a policy
  without rules matches nothing). A sidecar and ztunnel apply the selector policies and the
  namespace-wide ones (no selector, no targetRefs); ztunnel sees the waypoint's identity
  behind a waypoint, and an ALLOW rule with L7 fields never matches there
  (https://istio.io/latest/docs/ambient/usage/l7-features/); a waypoint applies the policies
  whose targetRefs name it (Gateway) or the called Service.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

L7_FIELDS = ("paths", "notPaths", "methods", "notMethods", "hosts", "notHosts")
PROBE_SOURCE = "169.254.7.127"  # Istio's ambient kubelet probe rewrite


@dataclass(frozen=True)
class Workload:
    name: str
    ns: str
    labels: tuple  # ((key, value), ...)
    sa: str
    service: str = ""  # the Service name that addresses it ("" for a waypoint or gateway)
    role: str = "service"  # service | gateway | waypoint

    @property
    def label_map(self) -> dict:
        return dict(self.labels)

    def principal(self, trust_domain: str = "cluster.local") -> str:
        return f"{trust_domain}/ns/{self.ns}/sa/{self.sa}"


def workload(name, ns, labels: dict, sa, service="", role="service") -> Workload:
    return Workload(name, ns, tuple(sorted(labels.items())), sa, service, role)


@dataclass
class Verdict:
    allowed: bool
    why: list = field(default_factory=list)

    def __bool__(self):
        return self.allowed


def _ns(doc):
    return doc["metadata"].get("namespace", "")


def _selects(selector: dict | None, labels: dict) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in match.items())


class Mesh:
    def __init__(self, docs: list[dict], ambient: bool):
        self.docs = [d for d in docs if d]
        self.ambient = ambient
        self.ns_labels = {d["metadata"]["name"]: d["metadata"].get("labels") or {}
                          for d in self.docs if d["kind"] == "Namespace"}

    def kind(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    # --- hops ---------------------------------------------------------------------------------

    def waypoint_of(self, src: Workload, dst: Workload) -> str:
        if not self.ambient or not dst.service:
            return ""
        labels = self.ns_labels.get(dst.ns, {})
        wp = labels.get("istio.io/use-waypoint", "")
        if wp and src.role == "gateway":
            # the ingress gateway bypasses waypoints unless the namespace asks for it
            return wp if str(labels.get("istio.io/ingress-use-waypoint")) == "true" else ""
        return wp

    # --- NetworkPolicy ------------------------------------------------------------------------

    def _peer_matches(self, peer: dict, policy_ns: str, pod: Workload | None, ip: str | None) -> bool:
        if "ipBlock" in peer:
            addr = ip or "10.0.0.1"  # a pod address
            block = peer["ipBlock"]
            net = ipaddress.ip_network(block["cidr"])
            return ipaddress.ip_address(addr) in net and not any(
                ipaddress.ip_address(addr) in ipaddress.ip_network(x) for x in block.get("except") or [])
        if pod is None:
            return False
        if "namespaceSelector" in peer:
            sel = peer["namespaceSelector"]
            ns_labels = {"kubernetes.io/metadata.name": pod.ns, **self.ns_labels.get(pod.ns, {})}
            if not _selects(sel, ns_labels):
                return False
        elif pod.ns != policy_ns:
            return False
        return "podSelector" not in peer or _selects(peer["podSelector"], pod.label_map)

    @staticmethod
    def _port_matches(ports: list | None, port: int) -> bool:
        return not ports or any(p.get("protocol", "TCP") == "TCP" and p.get("port") == port for p in ports)

    def np_admits(self, direction: str, subject: Workload, peer: Workload | None, port: int,
                  peer_ip: str | None = None) -> tuple[bool, str]:
        """direction: Ingress (subject receives from peer) or Egress (subject sends to peer)."""
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        applying = [p for p in self.kind("NetworkPolicy") if _ns(p) == subject.ns
                    and _selects(p["spec"].get("podSelector"), subject.label_map)
                    and direction in (p["spec"].get("policyTypes") or ["Ingress"])]
        if not applying:
            return True, "not isolated"
        for p in applying:
            for rule in p["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(self._peer_matches(x, _ns(p), peer, peer_ip) for x in peers)) \
                        and self._port_matches(rule.get("ports"), port):
                    return True, f"NetworkPolicy {_ns(p)}/{p['metadata']['name']}"
        return False, f"no NetworkPolicy {direction.lower()} rule of {subject.ns}/{subject.name} admits it"

    def hop(self, src: Workload, dst: Workload, port: int) -> tuple[bool, str]:
        ok, why = self.np_admits("Egress", src, dst, port)
        if not ok:
            return False, why
        return self.np_admits("Ingress", dst, src, port)

    # --- AuthorizationPolicy ------------------------------------------------------------------

    def _rule_matches(self, rule: dict, principal: str, src_ns: str, port: int, path: str | None,
                      l4_only: bool) -> bool:
        froms = rule.get("from") or []
        if froms and not any(self._source_matches(f.get("source") or {}, principal, src_ns) for f in froms):
            return False
        tos = rule.get("to") or []
        if not tos:
            return True
        for t in tos:
            op = t.get("operation") or {}
            if l4_only and any(k in op for k in L7_FIELDS):
                continue  # ztunnel: an ALLOW rule it cannot evaluate never matches
            if op.get("ports") and str(port) not in op["ports"]:
                continue
            if op.get("paths") and (path is None or not any(_authz_path(p, path) for p in op["paths"])):
                continue
            return True
        return False

    @staticmethod
    def _source_matches(source: dict, principal: str, src_ns: str) -> bool:
        if source.get("principals") and principal not in source["principals"] and "*" not in source["principals"]:
            return False
        return not source.get("namespaces") or src_ns in source["namespaces"]

    def _decide(self, policies: list[dict], principal, src_ns, port, path, l4_only, where) -> tuple[bool, str]:
        for p in policies:
            if p["spec"].get("action") == "DENY" and any(
                    self._rule_matches(r, principal, src_ns, port, path, l4_only) for r in p["spec"].get("rules") or []):
                return False, f"denied by {p['metadata']['name']} at {where}"
        allows = [p for p in policies if p["spec"].get("action", "ALLOW") == "ALLOW"]
        if not allows:
            return True, f"no policy at {where}"
        for p in allows:
            if any(self._rule_matches(r, principal, src_ns, port, path, l4_only) for r in p["spec"].get("rules") or []):
                return True, f"allowed by {p['metadata']['name']} at {where}"
        return False, f"no ALLOW policy at {where} matches {principal} on port {port}"

    def workload_policies(self, dst: Workload) -> list[dict]:
        return [p for p in self.kind("AuthorizationPolicy") if _ns(p) == dst.ns and not p["spec"].get("targetRefs")
                and _selects(p["spec"].get("selector"), dst.label_map)]

    def waypoint_policies(self, ns: str, waypoint: str, target: tuple[str, str]) -> list[dict]:
        """The policies a waypoint applies to a request for ``target`` (kind, name): those whose
        targetRefs name the waypoint, and those naming the Service or ServiceEntry addressed."""
        groups = {"Service": "", "ServiceEntry": "networking.istio.io"}
        out = []
        for p in self.kind("AuthorizationPolicy"):
            refs = p["spec"].get("targetRefs") or []
            if _ns(p) == ns and any((r.get("kind") == "Gateway" and r["name"] == waypoint)
                                    or (r.get("kind") == target[0] and r.get("group", "") == groups[target[0]]
                                        and r["name"] == target[1]) for r in refs):
                out.append(p)
        return out

    # --- a whole connection -------------------------------------------------------------------

    def connect(self, src: Workload, dst: Workload, port: int, path: str | None = None,
                trust_domain: str = "cluster.local", through: tuple | None = None) -> Verdict:
        """``through``: (namespace, waypoint, (kind, name)) for a request addressed to something
        other than dst's Service, e.g. a ServiceEntry that its namespace's waypoint redirects."""
        why = []
        wp_ns, wp, target = through or (dst.ns, self.waypoint_of(src, dst), ("Service", dst.service))
        if self.ambient:
            mesh_port = 15008
            if wp:
                waypoint = workload(wp, wp_ns, {"gateway.networking.k8s.io/gateway-name": wp}, wp, role="waypoint")
                hops = [(src, waypoint), (waypoint, dst)]
            else:
                hops = [(src, dst)]
        else:
            mesh_port, hops = port, [(src, dst)]
        for a, b in hops:
            ok, reason = self.hop(a, b, mesh_port)
            why.append(f"{a.name} → {b.name}:{mesh_port}: {reason}")
            if not ok:
                return Verdict(False, why)
        seen = src
        if wp:
            ok, reason = self._decide(self.waypoint_policies(wp_ns, wp, target), src.principal(trust_domain),
                                      src.ns, port, path, False, f"waypoint {wp}")
            why.append(reason)
            if not ok:
                return Verdict(False, why)
            seen = hops[0][1]
        ok, reason = self._decide(self.workload_policies(dst), seen.principal(trust_domain), seen.ns, port,
                                  path if not self.ambient else None, self.ambient,
                                  "ztunnel" if self.ambient else "the sidecar")
        why.append(reason)
        return Verdict(ok, why)

    def probe(self, dst: Workload, port: int) -> Verdict:
        """A kubelet probe: from the node (always admitted by NetworkPolicy) in sidecar mode;
        from 169.254.7.127 in ambient mode, which ztunnel forwards without authorization."""
        if not self.ambient:
            return Verdict(True, ["from the node"])
        ok, why = self.np_admits("Ingress", dst, None, port, PROBE_SOURCE)
        return Verdict(ok, [why])


def _authz_path(pattern: str, path: str) -> bool:
    if pattern == "*":
        return path != ""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern
