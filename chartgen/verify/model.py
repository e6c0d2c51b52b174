"""The enforcement model: every flow of one environment, followed hop by hop through the
rendered objects, compared with the catalog's intent (pure).

A flow's path (https://istio.io/latest/docs/ambient/usage/l4-policy/, the attachment table;
https://istio.io/latest/docs/ambient/usage/networkpolicy/):
- sidecar data plane: the caller's Sidecar (egress scope, ``outboundTrafficPolicy``), its
  routes (VirtualService, else GAMMA HTTPRoute), then for each backend pod the NetworkPolicies
  (caller egress, callee ingress, on the application port) and the callee sidecar's
  AuthorizationPolicies with the caller's identity and the HTTP request;
- ambient: a Service enrolled in a waypoint (``istio.io/use-waypoint`` on the Service or its
  namespace; for the ingress gateway only with ``istio.io/ingress-use-waypoint``:
  https://istio.io/latest/docs/ambient/usage/waypoint/) is reached through it: caller →
  waypoint on 15008 (NetworkPolicies), the waypoint's policies (``targetRefs``) with the
  caller's identity, the waypoint's routes, then waypoint → pod on 15008 with ztunnel's L4
  policies seeing the *waypoint's* identity; without a waypoint, caller → pod on 15008 and
  ztunnel's L4 policies with the caller's identity;
- a plaintext caller (no mesh identity) against a STRICT PeerAuthentication is refused
  (https://istio.io/latest/docs/reference/config/security/peer_authentication/).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import authz, netpol, routing
from .intent import Intended, external_host, gateway_port, intended_flows
from .selectors import host_match, subset
from .world import (AMBIENT_PROBE_IP, EXTERNAL_IP, GATEWAY_NAME_LABEL, INGRESS_USE_WAYPOINT, NODE_IP,
                    OTHER_NAMESPACE, OUTSIDE_IP, ROOT_NAMESPACE, USE_WAYPOINT, WAYPOINT_CLASS, IpPool, Obj,
                    Workload, World, build_objects)

HBONE = 15008
METRICS = 15020  # Istio's merged Prometheus port; excluded from inbound capture


@dataclass
class Verdict:
    allowed: bool
    deciding: list[str]
    split: dict[str, float] = field(default_factory=dict)  # version -> percent of the requests


@dataclass
class FlowResult:
    env: str
    kind: str
    source: str
    target: str
    port: int
    protocol: str
    path: str | None
    expected: bool
    verdict: Verdict
    expected_split: tuple | None = None
    origin: tuple = ()
    ends: tuple = ()  # ((kind, catalog key), (kind, key)) of the catalog elements it joins (kind: svc | ext | gateway)

    @property
    def split_ok(self) -> bool:
        if not self.expected or self.expected_split is None or not self.verdict.allowed:
            return True
        want = dict(self.expected_split)
        got = self.verdict.split
        return set(want) == set(got) and all(abs(want[v] - got[v]) < 0.01 for v in want)

    @property
    def ok(self) -> bool:
        return self.verdict.allowed == self.expected and self.split_ok

    def describe(self) -> str:
        where = f"{self.target}:{self.port}" + (f"{self.path}" if self.path else "")
        return f"{self.source} -> {where} ({self.protocol})"


# --- the world ------------------------------------------------------------------------------------

def build_world(docs, view, gateway_namespace: str, mesh_outbound: str = "ALLOW_ANY") -> World:
    """``docs``: (object, source) pairs of one environment's render; ``view``: its EnvView."""
    namespaces, objects, by_ns = build_objects(docs)
    world = World(namespaces, objects, by_ns=by_ns, mesh_outbound=mesh_outbound)
    ips = IpPool()
    for svc in sorted(view.enabled.values(), key=lambda s: s.key):
        ns = view.service_namespace(svc)
        named = tuple((p.name, p.port) for p in svc.spec.ports)
        for version in sorted(svc.spec.versions or {"": None}):
            labels = {**svc.selector, **(svc.version_labels(version) if version else {})}
            world.add(Workload("service", svc.service_name + (f" ({version})" if version else ""), ns,
                               tuple(sorted(labels.items())), svc.service_account, world.ns_mode(ns), ips.next(),
                               svc.key, version))
        world.named_ports[(ns, svc.service_name)] = named
        world.pod_ports[(ns, svc.service_name)] = {p.port: _pod_port(p) for p in svc.spec.ports}
    _add_gateways(world, gateway_namespace, ips)
    obs = view.catalog.observability.namespace
    world.add(Workload("prometheus", "prometheus", obs, (("app.kubernetes.io/name", "prometheus"),), "prometheus",
                       "none", ips.next()))
    for ns in sorted({w.namespace for w in world.workloads} | set(namespaces) | {OTHER_NAMESPACE, ROOT_NAMESPACE}):
        world.add(Workload("stranger", f"any pod in {ns}", ns, (), "default",
                           world.ns_mode(ns) if ns != OTHER_NAMESPACE else "sidecar", ips.next()))
    world.add(Workload("stranger", "any pod without a mesh identity", OTHER_NAMESPACE, (("verify", "plaintext"),),
                       "default", "none", ips.next()))
    world.outside = Workload("outside", "a client outside the cluster", "", (), "", "none", OUTSIDE_IP)
    return world


def _add_gateways(world: World, gateway_namespace: str, ips: IpPool) -> None:
    seen = set()
    for gw in world.kind("Gateway"):
        if gw.api.startswith("networking.istio.io/"):
            labels = {str(k): str(v) for k, v in (gw.spec.get("selector") or {}).items()}
            key = (gateway_namespace, tuple(sorted(labels.items())))
            if key not in seen:
                seen.add(key)
                world.add(Workload("gateway", f"ingress gateway {gateway_namespace}", gateway_namespace, key[1],
                                   gateway_namespace, "proxy", ips.next()))
        elif gw.spec.get("gatewayClassName") == WAYPOINT_CLASS:
            world.add(Workload("waypoint", f"waypoint {gw.namespace}/{gw.name}", gw.namespace,
                               ((GATEWAY_NAME_LABEL, gw.name),), gw.name, "proxy", ips.next()))
        else:
            # Istio's automated deployment: pods labelled with the Gateway's name, ServiceAccount
            # <name>-<class> (https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/)
            world.add(Workload("gateway", f"ingress gateway {gw.namespace}/{gw.name}", gw.namespace,
                               ((GATEWAY_NAME_LABEL, gw.name),),
                               f"{gw.name}-{gw.spec.get('gatewayClassName') or 'istio'}", "proxy", ips.next()))


def _pod_port(p) -> tuple[str, int]:
    """(container port name, number) behind a catalog port: its targetPort, else the port."""
    target = p.targetPort
    if isinstance(target, str):
        return target, p.port  # named: the number is the pod's, unknown here; the name decides
    return p.name, target if target is not None else p.port


# --- hops -----------------------------------------------------------------------------------------

def _peer(world: World, w: Workload) -> netpol.Peer:
    """The NetworkPolicy view of a workload (made once per workload)."""
    key = ("peer", id(w))
    if key not in world._cache:
        world._cache[key] = _make_peer(world, w)
    return world._cache[key]


def _make_peer(world: World, w: Workload) -> netpol.Peer:
    if w.kind in ("outside", "kubelet"):
        return netpol.Peer(w.ip)
    named = ()
    if w.kind == "service":  # the pods' container ports (NetworkPolicies may name them)
        named = tuple(world.pod_ports.get((w.namespace, w.name.split(" (")[0]), {}).values())
    return netpol.Peer(w.ip, w.namespace, w.labels, named)


def _mtls_refused(world: World, src: Workload, dst: Workload, port: int | None = None) -> str | None:
    """The PeerAuthentication that refuses a plaintext caller on ``port``, if any (STRICT; a
    workload-selected policy's portLevelMtls decides its ports)."""
    if src.principal is not None or dst.mode not in ("sidecar", "ambient"):
        return None
    mode, ref = "PERMISSIVE", ""
    for ns in (ROOT_NAMESPACE, dst.namespace):
        for pa in world.in_ns("PeerAuthentication", ns):
            sel = (pa.spec.get("selector") or {}).get("matchLabels")
            if sel and not subset(sel, dst.label_map):
                continue
            m = (pa.spec.get("mtls") or {}).get("mode")
            by_port = {str(k): (v or {}).get("mode") for k, v in (pa.spec.get("portLevelMtls") or {}).items()}
            if sel and port is not None and by_port.get(str(port)):
                m = by_port[str(port)]
            if m:
                mode, ref = str(m), pa.ref
    return ref if mode == "STRICT" else None


def _hop(world: World, src: Workload, dst: Workload, port: int, req_path: str | None, identity: Workload,
         point: str) -> Verdict:
    """One connection: NetworkPolicies, mTLS, then the policies of enforcement ``point``
    (sidecar | ztunnel | none) at ``dst``, seeing ``identity``. Decided once per equivalence
    class of the three workloads (``World.class_key``)."""
    key = ("hop", world.class_key(src), world.class_key(dst), port, req_path, world.class_key(identity), point)
    if key not in world._cache:
        world._cache[key] = _decide_hop(world, src, dst, port, req_path, identity, point)
    return world._cache[key]


def _decide_hop(world: World, src: Workload, dst: Workload, port: int, req_path: str | None, identity: Workload,
                point: str) -> Verdict:
    wire = HBONE if (point == "ztunnel" and identity.principal is not None) else port
    ok, why = netpol.connection(world, _peer(world, src), _peer(world, dst), wire)
    if not ok:
        return Verdict(False, [f"NetworkPolicy ({', '.join(why)}) on port {wire}"])
    refused = _mtls_refused(world, identity, dst, port)
    if refused:
        return Verdict(False, [f"{refused} (STRICT mTLS refuses plaintext)"])
    if point == "none":
        return Verdict(True, why)
    req = authz.Request(identity.principal, identity.namespace if identity.principal else None, identity.ip, port,
                        req_path if point != "ztunnel" else None, "GET" if req_path else None)
    d = authz.decide(world.policies_at(dst), req, point)
    return Verdict(d.allowed, why + [f"{d.why}: {', '.join(d.deciding)}" if d.deciding else d.why])


_POINTS = {"sidecar": "sidecar", "ambient": "ztunnel", "proxy": "sidecar"}


def point_of(w: Workload) -> str:
    return _POINTS.get(w.mode, "none")


# --- flows ----------------------------------------------------------------------------------------

class Evaluator:
    def __init__(self, world: World, view):
        self.world = world
        self.view = view
        self.services: dict = {}  # (ns, Service name) -> selector
        self.by_key: dict = {}
        for svc in view.enabled.values():
            ns = view.service_namespace(svc)
            self.services[(ns, svc.service_name)] = dict(svc.selector)
            self.by_key[svc.key] = svc
        for s in world.kind("Service"):
            if s.spec.get("selector"):
                self.services[(s.namespace, s.name)] = {str(k): str(v) for k, v in s.spec["selector"].items()}
        self.waypoints = {(w.namespace, w.name): w for w in world.kind("Gateway")
                          if w.spec.get("gatewayClassName") == WAYPOINT_CLASS}
        self.waypoint_pods = {(w.namespace, w.service_account): w for w in world.workloads if w.kind == "waypoint"}
        self.gateways = [w for w in world.workloads if w.kind == "gateway"]
        self.pods_of: dict[str, list[Workload]] = {}
        for w in world.workloads:
            if w.kind == "service":
                self.pods_of.setdefault(w.key, []).append(w)

    # the waypoint of a Service / ServiceEntry ------------------------------------------------
    def waypoint(self, ns: str, name: str, kind: str = "Service", from_gateway: bool = False):
        """(Gateway object, its pod) serving ``ns/name``, or None."""
        own = next((o.labels for o in self.world.in_ns(kind, ns) if o.name == name), {})
        ns_labels = self.world.namespaces.get(ns) or {}
        if self.world.ns_mode(ns) != "ambient":
            return None
        if from_gateway and (own.get(INGRESS_USE_WAYPOINT) or ns_labels.get(INGRESS_USE_WAYPOINT)) != "true":
            return None
        wp = own.get(USE_WAYPOINT) or ns_labels.get(USE_WAYPOINT)
        wp_ns = own.get("istio.io/use-waypoint-namespace") or ns_labels.get("istio.io/use-waypoint-namespace") or ns
        if not wp or wp == "none" or (wp_ns, wp) not in self.waypoints:
            return None
        return self.waypoints[(wp_ns, wp)], self.waypoint_pods.get((wp_ns, wp))

    # routing ------------------------------------------------------------------------------------
    def mesh_route(self, src: Workload, name: str, ns: str, port: int, path: str | None, at_waypoint: bool):
        """Where a request from ``src`` to the Service goes (cached: it depends on the caller's
        namespace and data plane only)."""
        key = ("route", src.namespace, src.mode, name, ns, port, path, at_waypoint)
        if key not in self.world._cache:
            self.world._cache[key] = self._mesh_route(src, name, ns, port, path, at_waypoint)
        return self.world._cache[key]

    def _mesh_route(self, src: Workload, name: str, ns: str, port: int, path: str | None, at_waypoint: bool):
        host = f"{name}.{ns}.svc.cluster.local"
        req = routing.HttpRequest(host, path or "/", port=port)
        if at_waypoint or src.mode in ("sidecar", "proxy"):
            from_ns = src.namespace if not at_waypoint else ns
            vss = routing.virtual_services(self.world, host, from_ns, None)
            routed = routing.route_virtual_service(self.world, vss, req, from_ns, self.services, l4=path is None)
            if routed is None and path is not None:
                routed = routing.route_http_routes(routing.mesh_routes(self.world, name, ns, port), req, self.services)
            if routed is not None:
                return routed
        selector = self.services.get((ns, name))
        if selector is None:
            return routing.Routed((), ())
        return routing.Routed((routing.Backend(name, ns, tuple(sorted(selector.items())), 1.0, port),), ())

    def backend_pods(self, b: routing.Backend) -> list[Workload]:
        """The service pods a backend's selector picks (cached per namespace and selector)."""
        key = ("backend pods", b.namespace, b.selector)
        found = self.world._cache.get(key)
        if found is None:
            found = self.world._cache[key] = [w for w in self.world.pods(b.namespace, dict(b.selector))
                                              if w.kind == "service"]
        return found

    # one request to a Service --------------------------------------------------------------------
    def to_service(self, src: Workload, name: str, ns: str, port: int, path: str | None,
                   routed: routing.Routed | None = None, from_gateway: bool = False) -> Verdict:
        via = self.waypoint(ns, name, from_gateway=from_gateway) if src.mode in ("ambient", "proxy") else None
        deciding: list[str] = []
        identity, first = src, None
        if via is not None:
            gw, wp_pod = via
            if wp_pod is None:
                return Verdict(False, [f"waypoint {gw.ref} has no pods"])
            first = _hop(self.world, src, wp_pod, HBONE, None, src, "none")
            if not first.allowed:
                return Verdict(False, [f"{src.name} -> {wp_pod.name}: " + "; ".join(first.deciding)])
            d = authz.decide(authz.at_waypoint(self.world, gw, ns, name, None),
                             authz.Request(src.principal, src.namespace if src.principal else None, src.ip, port,
                                           path, "GET" if path else None), "waypoint")
            if not d.allowed:
                return Verdict(False, [f"at {gw.ref}: {d.why}: {', '.join(d.deciding)}"])
            deciding.append(f"at {gw.ref}: {d.why}" + (f" ({', '.join(d.deciding)})" if d.deciding else ""))
            identity = wp_pod
            routed = self.mesh_route(wp_pod, name, ns, port, path, True)
        elif routed is None:
            routed = self.mesh_route(src, name, ns, port, path, False)
        return self._backends(src, identity, routed, port, path, deciding)

    def _backends(self, src, identity, routed, port, path, deciding) -> Verdict:
        if not routed.backends:
            return Verdict(False, deciding + [f"no route ({', '.join(routed.deciding) or 'no matching rule'})"])
        split: dict[str, float] = {}
        allowed_any, denied = False, []
        for b in routed.backends:
            pods = self.backend_pods(b)
            if not pods:
                denied.append(f"{b.service}: no pods match the backend")
                continue
            for pod in pods:
                pod_port = self.world.pod_port(pod, b.port or port)  # the Service's targetPort
                v = _hop(self.world, identity, pod, pod_port, path, identity, point_of(pod))
                if v.allowed:
                    allowed_any = True
                    share = b.weight / len(pods) * 100
                    split[pod.version or "-"] = split.get(pod.version or "-", 0.0) + share
                else:
                    denied.append(f"{identity.name} -> {pod.name}: " + "; ".join(v.deciding))
        if denied:
            return Verdict(False, deciding + list(routed.deciding) + denied, split)
        return Verdict(allowed_any, deciding + list(routed.deciding), {k: round(x, 3) for k, x in split.items()})

    # a call from a workload ------------------------------------------------------------------------
    def sidecar_scope(self, src: Workload, host: str, host_ns: str) -> tuple[bool, str]:
        """(reachable, deciding) under the caller's Sidecar egress scope
        (https://istio.io/latest/docs/reference/config/networking/sidecar/)."""
        if src.mode != "sidecar":
            return True, ""
        sc = self.world.sidecar_for(src)
        if sc is None:
            return True, ""
        key = ("scope", id(sc), host, host_ns)  # the Sidecar lives as long as the world
        found = self.world._cache.get(key)
        if found is None:
            found = self.world._cache[key] = self._scope(sc, host, host_ns)
        return found

    def _scope(self, sc: Obj, host: str, host_ns: str) -> tuple[bool, str]:
        for egress in sc.spec.get("egress") or []:
            for h in egress.get("hosts") or []:
                ns_part, _, host_part = str(h).partition("/")
                ns_ok = ns_part in ("*", host_ns) or (ns_part == "." and host_ns == sc.namespace) or ns_part == "~"
                if ns_part != "~" and ns_ok and host_match(host_part, host):
                    return True, sc.ref
        mode = ((sc.spec.get("outboundTrafficPolicy") or {}).get("mode")) or self.world.mesh_outbound
        return (mode == "ALLOW_ANY"), f"{sc.ref} (host not in its egress hosts; outboundTrafficPolicy {mode})"

    def call(self, src: Workload, name: str, ns: str, port: int, path: str | None) -> Verdict:
        host = f"{name}.{ns}.svc.cluster.local"
        ok, why = self.sidecar_scope(src, host, ns)
        if not ok:
            return Verdict(False, [why])
        if port not in self._declared(ns, name):
            # a port the Service does not declare: no route or waypoint applies; the caller
            # connects to the pods' addresses directly
            selector = self.services.get((ns, name)) or {}
            direct = routing.Routed((routing.Backend(name, ns, tuple(sorted(selector.items())), 1.0, port),), ())
            return self._backends(src, src, direct, port, path, [])
        return self.to_service(src, name, ns, port, path)

    def _declared(self, ns: str, name: str) -> set:
        """The port numbers the Service declares (cached per Service)."""
        key = ("declared", ns, name)
        found = self.world._cache.get(key)
        if found is None:
            found = self.world._cache[key] = {n for _, n in self.world.named_ports.get((ns, name), ())}
        return found

    def external(self, src: Workload, ext_key: str, port: int) -> Verdict:
        ext = self.view.catalog.externalServices[ext_key]
        host = external_host(str(ext.hosts[0]))
        entries = [se for se in self.world.kind("ServiceEntry") if any(host_match(str(h), host) for h in se.spec.get("hosts") or [])
                   and routing._exported(se, src.namespace)]
        if not entries:
            mode = self.world.mesh_outbound
            if src.mode == "sidecar" and mode == "REGISTRY_ONLY":
                return Verdict(False, [f"no ServiceEntry for {host} (outboundTrafficPolicy REGISTRY_ONLY)"])
        se = entries[0] if entries else None
        ok, why = self.sidecar_scope(src, host, se.namespace if se else "")
        if not ok:
            return Verdict(False, [why])
        deciding = [se.ref] if se else []
        hop_src = src
        if se is not None and src.mode == "ambient" and _has_address(se):
            hop_src, refused = self._through_waypoint(src, se, port)
            if refused is not None:
                return refused
        ok, why2 = netpol.connection(self.world, _peer(self.world, hop_src), netpol.Peer(EXTERNAL_IP), port)
        if not ok:
            return Verdict(False, deciding + [f"{hop_src.name} -> {host}: NetworkPolicy ({', '.join(why2)})"])
        return Verdict(True, deciding + why2)

    def _through_waypoint(self, src: Workload, se: Obj, port: int):
        """(the workload the external connection leaves from, a refusal or None) for a
        ServiceEntry that its namespace's (or its own) waypoint serves."""
        via = self.waypoint(se.namespace, se.name, "ServiceEntry")
        if via is None:
            return src, None
        gw, wp_pod = via
        first = _hop(self.world, src, wp_pod, HBONE, None, src, "none") if wp_pod else Verdict(False, ["no pods"])
        if not first.allowed:
            return src, Verdict(False, [f"{src.name} -> {gw.ref}: " + "; ".join(first.deciding)])
        d = authz.decide(authz.at_waypoint(self.world, gw, se.namespace, None, se.name),
                         authz.Request(src.principal, src.namespace, src.ip, port), "waypoint")
        if not d.allowed:
            return src, Verdict(False, [f"at {gw.ref}: {d.why}: {', '.join(d.deciding)}"])
        return wp_pod, None

    def ingress(self, gw_pod: Workload, host: str, gport: int, path: str, token: bool = True) -> Verdict:
        """The ingress gateway receiving ``https?://host:gport/path`` from outside (``token``: with
        a valid JWT of the gateway's issuer, where the catalog asks for one)."""
        jwt = self.view.env.gateway.jwt
        principal = f"{jwt.issuer}/verify-subject" if jwt is not None and token else None
        req = routing.HttpRequest(host, path, port=gport)
        routed, deciding = self._gateway_route(gw_pod, req)
        if routed is None:
            return Verdict(False, deciding or [f"no gateway listener for {host}:{gport}"])
        d = authz.decide(authz.at_gateway(self.world, gw_pod.namespace, gw_pod.label_map,
                                          gw_pod.label_map.get(GATEWAY_NAME_LABEL)),
                         authz.Request(None, None, OUTSIDE_IP, gport, path, "GET", host,
                                       request_principal=principal), "sidecar")
        if not d.allowed:
            return Verdict(False, [f"at the gateway: {d.why}: {', '.join(d.deciding)}"])
        if not routed.backends:
            return Verdict(False, deciding + [f"no route for {path} ({', '.join(routed.deciding)})"])
        split: dict[str, float] = {}
        denied, allowed = [], []
        for b in routed.backends:
            one = routing.Routed((b,), routed.deciding)
            v = self.to_service(gw_pod, b.service, b.namespace, b.port, path, None, True) \
                if self.waypoint(b.namespace, b.service, from_gateway=True) else \
                self._backends(gw_pod, gw_pod, one, b.port, path, [])
            if v.allowed:
                allowed += v.deciding
                for k, x in v.split.items():
                    split[k] = split.get(k, 0.0) + x * (b.weight if len(routed.backends) > 1 and self.waypoint(
                        b.namespace, b.service, from_gateway=True) else 1)
            else:
                denied += v.deciding
        if denied:
            return Verdict(False, deciding + denied)
        return Verdict(True, deciding + list(dict.fromkeys(allowed)), {k: round(x, 3) for k, x in split.items()})

    def _gateway_route(self, gw_pod: Workload, req: routing.HttpRequest):
        """(routed or None when no listener/server takes the request, deciding objects)."""
        for gw in self.world.kind("Gateway"):
            if gw.api.startswith("networking.istio.io/"):
                found = self._istio_gateway(gw, gw_pod, req)
            elif gw.spec.get("gatewayClassName") != WAYPOINT_CLASS and gw.namespace == gw_pod.namespace and \
                    gw_pod.label_map.get(GATEWAY_NAME_LABEL) == gw.name:
                found = self._api_gateway(gw, req)
            else:
                found = None
            if found is not None:
                return found
        return None, []

    def _istio_gateway(self, gw: Obj, gw_pod: Workload, req: routing.HttpRequest):
        """An Istio Gateway's server for the port and host, then its VirtualServices
        (https://istio.io/latest/docs/reference/config/networking/gateway/)."""
        if not subset(gw.spec.get("selector") or {}, gw_pod.label_map):
            return None
        for server in gw.spec.get("servers") or []:
            if int((server.get("port") or {}).get("number", 0)) != req.port:
                continue
            if not self._server_hosts(gw, server, req.host):
                continue
            if (server.get("tls") or {}).get("httpsRedirect"):
                return routing.Routed((), (gw.ref,)), [f"{gw.ref} redirects to HTTPS"]
            vss = routing.virtual_services(self.world, req.host, gw.namespace, f"{gw.namespace}/{gw.name}")
            routed = routing.route_virtual_service(self.world, vss, req, gw.namespace, self.services)
            return routed or routing.Routed((), (gw.ref,)), [gw.ref]
        return None

    def _server_hosts(self, gw: Obj, server: dict, host: str) -> bool:
        """Does a Gateway server's ``hosts`` (``[ns/]host``, wildcards allowed) cover ``host``?"""
        key = ("server", id(gw), id(server))
        if key not in self.world._cache:
            names = [str(h).split("/")[-1] for h in server.get("hosts") or []]
            self.world._cache[key] = ({n for n in names if "*" not in n}, [n for n in names if "*" in n])
        exact, wild = self.world._cache[key]
        return host in exact or any(host_match(n, host) for n in wild)

    def _api_gateway(self, gw: Obj, req: routing.HttpRequest):
        for listener in gw.spec.get("listeners") or []:
            if int(listener.get("port", 0)) != req.port:
                continue
            routes = routing.gateway_routes(self.world, gw, listener, req.host)
            routed = routing.route_http_routes(routes, req, self.services)
            return routed or routing.Routed((), (gw.ref,)), [gw.ref]
        return None


def _has_address(se: Obj) -> bool:
    """Can ztunnel tell traffic for this ServiceEntry apart, so that its waypoint applies? Only
    with an address: ``addresses``, or one Istio allocates (DNS resolution and no wildcard host:
    "address auto allocation ... does not apply to wildcard hosts",
    https://istio.io/latest/docs/ops/configuration/traffic-management/dns-proxy/). Otherwise the
    connection goes to the external address directly
    (https://istio.io/latest/docs/ambient/usage/egress-gateway/)."""
    if se.spec.get("addresses"):
        return True
    hosts = [str(h) for h in se.spec.get("hosts") or []]
    return str(se.spec.get("resolution") or "NONE") != "NONE" and not any("*" in h for h in hosts)


# --- the whole environment ------------------------------------------------------------------------

@dataclass
class EnvReport:
    env: str
    flows: list[FlowResult]
    evaluated: int = -1  # how many flows were evaluated (-1: ``len(flows)``; a compact report keeps only the problems)

    @property
    def problems(self) -> list[FlowResult]:
        return [f for f in self.flows if not f.ok]

    @property
    def count(self) -> int:
        return len(self.flows) if self.evaluated < 0 else self.evaluated

    def compact(self) -> EnvReport:
        """The problems only, and how many flows there were (what a report without the matrix
        needs; a forked worker hands back a fraction of the objects)."""
        return EnvReport(self.env, self.problems, self.count)


def verify(world: World, view, intended: list[Intended] | None = None) -> EnvReport:
    """Every intended flow, and every other flow by equivalence classes, evaluated.
    ``intended``: ``intended_flows(view)``, when the caller has it already (it needs no rendered
    object, so ``chartgen verify`` works it out while helm renders)."""
    ev = Evaluator(world, view)
    env = view.name
    results: list[FlowResult] = []
    intended = intended_flows(view) if intended is None else intended
    wanted: set = set()
    for it in intended:
        results += _evaluate_intended(ev, it)
        if it.kind in ("call", "redirect"):
            wanted.add((it.source, it.target, it.port))
        elif it.kind == "external" and it.allowed:
            wanted.add((it.source, "ext:" + it.target, it.port))
    results += _housekeeping(ev)
    results += _denied_side(ev, wanted)
    for r in results:
        r.env = env
    return EnvReport(env, results)


def _sources_of(ev: Evaluator, key: str) -> list[Workload]:
    """One representative per equivalence class of the service's pods (versions that no policy
    tells apart are one class), named after every version it stands for."""
    cached = ev.world._cache.get(("sources", key))
    if cached is None:
        classes: dict = {}
        for w in ev.pods_of.get(key, []):
            classes.setdefault(ev.world.class_key(w), []).append(w)
        cached = [_representative(ws) for ws in classes.values()]
        ev.world._cache[("sources", key)] = cached
    return cached


def _representative(ws: list[Workload]) -> Workload:
    if len(ws) == 1:
        return ws[0]
    name = ws[0].name.split(" (")[0] + " (" + ", ".join(w.version for w in ws) + ")"
    return replace(ws[0], name=name)


def _evaluate_intended(ev: Evaluator, it: Intended) -> list[FlowResult]:
    out = []
    if it.kind == "ingress":
        for gw in ev.gateways[:1]:
            v = ev.ingress(gw, it.host, _gateway_port(ev, it), it.path or "/", it.token)
            source = gw.name if it.token else f"{gw.name}, without a JWT"
            out.append(FlowResult("", "ingress", source, f"{it.host} ({it.target})", _gateway_port(ev, it), it.protocol,
                                  it.path, it.allowed, v, it.split if it.allowed else None, it.origin,
                                  (("gateway", ""), ("svc", it.target))))
        return out
    for src in _sources_of(ev, it.source):
        if it.kind == "external":
            v = ev.external(src, it.target, it.port)
            out.append(FlowResult("", "external", src.name, it.host, it.port, it.protocol, None, it.allowed, v,
                                  None, it.origin, (("svc", it.source), ("ext", it.target))))
            continue
        svc = ev.by_key[it.target]
        ns = ev.view.service_namespace(svc)
        path = "/" if it.protocol in ("HTTP", "HTTP2", "GRPC") else None
        v = ev.call(src, svc.service_name, ns, it.port, path)
        callee = ("ext", it.host) if it.kind == "redirect" else ("svc", it.target)  # a redirect: the catalog's call
        out.append(FlowResult("", it.kind, src.name, svc.service_name, it.port, it.protocol, path, True, v,
                              it.split, it.origin, (("svc", it.source), callee)))
    return out


def _gateway_port(ev: Evaluator, it: Intended) -> int:
    return gateway_port(ev.view, ev.by_key[it.target])


def _housekeeping(ev: Evaluator) -> list[FlowResult]:
    """Prometheus scraping the merged metrics port of sidecar pods, and the kubelet's probes."""
    out = []
    prom = next(w for w in ev.world.workloads if w.kind == "prometheus")
    for pod in (w for w in ev.world.workloads if w.kind == "service"):
        svc = ev.by_key[pod.key]
        origin = ("services", pod.key)
        if pod.mode == "sidecar":
            ok, why = netpol.connection(ev.world, _peer(ev.world, prom), _peer(ev.world, pod), METRICS)
            out.append(FlowResult("", "scrape", prom.name, pod.name, METRICS, "HTTP", None, True, Verdict(ok, why),
                                  None, origin))
        if svc.spec.metrics is not None:  # the application's own metrics, scraped in plaintext
            m = svc.spec.metrics
            v = _hop(ev.world, prom, pod, m.port, m.path, prom, point_of(pod))
            out.append(FlowResult("", "scrape", prom.name, pod.name, m.port, "HTTP", m.path, True, v, None,
                                  ("services", pod.key, "metrics")))
        probe_ip = AMBIENT_PROBE_IP if pod.mode == "ambient" else NODE_IP
        port = METRICS if pod.mode == "sidecar" else svc.spec.ports[0].port
        ok, why = netpol.connection(ev.world, netpol.Peer(probe_ip), _peer(ev.world, pod), port)
        out.append(FlowResult("", "probe", f"kubelet ({probe_ip})", pod.name, port, "HTTP", None, True,
                              Verdict(ok, why), None, origin))
    return out


def _undeclared_port(ports: set[int]) -> int:
    return next(p for p in (9999, 9998, 9997, 9996) if p not in ports)


def _denied_side(ev: Evaluator, wanted: set) -> list[FlowResult]:
    """Every other flow must be denied. Sources per destination: the workloads any policy at the
    destination names (NetworkPolicy peers, AuthorizationPolicy principals), the workloads whose
    own egress policies name it (or its waypoint), its intended callers, the gateway, Prometheus
    and the strangers; any other workload is treated by every policy like the stranger of its
    namespace, and a service's pods by one representative per equivalence class
    (docs/verify.md, "Equivalence classes")."""
    out = []
    infra = [w for w in ev.world.workloads if w.kind in ("gateway", "prometheus", "stranger")]
    callers_of: dict[str, set] = {}
    for s, t, _ in wanted:
        callers_of.setdefault(t, set()).add(s)
    for key, svc in sorted(ev.by_key.items()):
        sources = set(infra) | _named_sources(ev, key, svc) | {
            w for k in callers_of.get(key, ()) for w in _sources_of(ev, k)}
        declared = {p.port: p.protocol for p in svc.spec.ports}
        ports = {**declared, _undeclared_port(set(declared)): "TCP"}
        for src in sorted(sources, key=lambda w: (w.kind, w.namespace, w.name)):
            if src.kind == "waypoint" or (src.kind == "service" and src.key == key):
                continue  # a waypoint only forwards; a workload calling its own Service is no catalog flow
            out += _strays(ev, src, key, svc, ports, declared, wanted)
    return out


def _named_sources(ev: Evaluator, key: str, svc) -> set:
    """The workloads the policies at ``key``'s pods (and its waypoint) name, as class representatives."""
    world = ev.world
    pods = ev.pods_of.get(key, [])
    ns = ev.view.service_namespace(svc)
    via = ev.waypoint(ns, svc.service_name)
    extra = authz.at_waypoint(world, via[0], ns, svc.service_name, None) if via else []
    reached = pods + ([via[1]] if via and via[1] is not None else [])
    named = world.named_sources(pods, extra) | world.egress_sources(reached)
    return {w for w in named if w.kind != "service"} | {
        r for k in {w.key for w in named if w.kind == "service"} for r in _sources_of(ev, k)}


def _end_of(w: Workload) -> tuple:
    """The catalog element a workload belongs to (a service, the gateway), or its kind."""
    if w.kind == "service":
        return ("svc", w.key)
    return ("gateway", "") if w.kind == "gateway" else (w.kind, w.name)


def _strays(ev: Evaluator, src: Workload, key: str, svc, ports: dict, declared: dict, wanted: set) -> list[FlowResult]:
    out = []
    ns = ev.view.service_namespace(svc)
    for port, proto in sorted(ports.items()):
        if (src.key, key, port) in wanted:
            continue
        if src.kind == "gateway" and svc.spec.expose is not None and port in declared:
            continue  # the ingress flows check the exposed service's paths
        if _scraper(ev, src) and _scraped_port(ev, svc, ns, port):
            continue  # the application's metrics port, admitted to the observability namespace: the scrape flow checks it
        path = "/" if proto in ("HTTP", "HTTP2", "GRPC") else None
        v = ev.call(src, svc.service_name, ns, port, path)
        out.append(FlowResult("", "stray", src.name, svc.service_name, port, proto, path, False, v, None,
                              ("services", key), (_end_of(src), ("svc", key))))
    return out


def _scraper(ev: Evaluator, src: Workload) -> bool:
    """Prometheus, or any pod of its namespace (the chart admits the namespace, as on 15020)."""
    return src.kind == "prometheus" or (src.kind == "stranger" and
                                        src.namespace == ev.view.catalog.observability.namespace)


def _scraped_port(ev: Evaluator, svc, ns: str, port: int) -> bool:
    """A Service port whose pods' port is the service's metrics port (Prometheus reaches it in
    plaintext; in ambient the policy admits the port, not only the metrics path)."""
    m = svc.spec.metrics
    return m is not None and ev.world.pod_ports.get((ns, svc.service_name), {}).get(port, (None, port))[1] == m.port


def verify_docs(docs, view, gateway_namespace: str, mesh_outbound: str = "ALLOW_ANY",
                intended: list[Intended] | None = None) -> EnvReport:
    return verify(build_world(docs, view, gateway_namespace, mesh_outbound), view, intended)
