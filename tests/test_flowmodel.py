"""The connection model of tests/helpers/flowmodel.py on hand-written objects: the ambient
defect of a caller's selector policy behind a waypoint, the HBONE hops NetworkPolicies must
admit, and the sidecar case. These pin the model the integration tests rely on."""

from __future__ import annotations

from helpers.flowmodel import Mesh, workload

NS = "shop"
WEB = workload("web", NS, {"app": "web"}, "web", service="web")
API = workload("api", NS, {"app": "api"}, "api", service="api")
OTHER = workload("other", NS, {"app": "other"}, "other", service="other")


def _ns(waypoint=True):
    labels = {"istio.io/dataplane-mode": "ambient"}
    if waypoint:
        labels["istio.io/use-waypoint"] = "waypoint"
    return {"kind": "Namespace", "metadata": {"name": NS, "labels": labels}}


def _ap(name, spec):
    return {"kind": "AuthorizationPolicy", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _from(principal, **to):
    rule = {"from": [{"source": {"principals": [principal]}}]}
    if to:
        rule["to"] = [{"operation": to}]
    return {"action": "ALLOW", "rules": [rule]}


DENY_ALL = _ap("deny-all", {})
WP_DENY_ALL = _ap("deny-all-at-waypoint", {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                            "name": "waypoint"}]})
ALLOW_WP = _ap("allow-waypoint", _from("cluster.local/ns/shop/sa/waypoint"))


def _selector_allow():
    return _ap("allow-web-to-api", {"selector": {"matchLabels": {"app": "api"}}, **_from("cluster.local/ns/shop/sa/web",
                                                                                        ports=["8080"])})


def _waypoint_allow():
    return _ap("allow-web-to-api", {"targetRefs": [{"group": "", "kind": "Service", "name": "api"}],
                                    **_from("cluster.local/ns/shop/sa/web")})


def test_a_callers_selector_policy_behind_a_waypoint_denies_the_call():
    """The defect: ztunnel sees the waypoint's identity, and the waypoint has only deny-all."""
    mesh = Mesh([_ns(), DENY_ALL, WP_DENY_ALL, ALLOW_WP, _selector_allow()], ambient=True)
    verdict = mesh.connect(WEB, API, 8080)
    assert not verdict
    assert verdict.why[-1] == "no ALLOW policy at waypoint waypoint matches cluster.local/ns/shop/sa/web on port 8080"


def test_the_callers_policy_at_the_waypoint_admits_it_and_only_it():
    mesh = Mesh([_ns(), DENY_ALL, WP_DENY_ALL, ALLOW_WP, _waypoint_allow()], ambient=True)
    assert mesh.connect(WEB, API, 8080)
    assert not mesh.connect(OTHER, API, 8080)
    assert not mesh.connect(WEB, OTHER, 8080)


def test_without_a_waypoint_ztunnel_sees_the_caller():
    mesh = Mesh([_ns(waypoint=False), DENY_ALL, _selector_allow()], ambient=True)
    assert mesh.connect(WEB, API, 8080)
    assert not mesh.connect(WEB, API, 9090)  # not a port of the policy
    assert not mesh.connect(OTHER, API, 8080)


def test_ztunnel_never_matches_an_allow_rule_with_l7_fields():
    spec = {"selector": {"matchLabels": {"app": "api"}}, **_from("cluster.local/ns/shop/sa/web", paths=["/x"])}
    mesh = Mesh([_ns(waypoint=False), DENY_ALL, _ap("allow-web-to-api", spec)], ambient=True)
    assert not mesh.connect(WEB, API, 8080, "/x")
    assert Mesh([DENY_ALL, _ap("allow-web-to-api", spec)], ambient=False).connect(WEB, API, 8080, "/x")


def _np(name, selector, types, ingress=None, egress=None):
    spec = {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": NS}, "spec": spec}


HBONE = [{"protocol": "TCP", "port": 15008}]
WP_POD = {"gateway.networking.k8s.io/gateway-name": "waypoint"}


def test_network_policies_must_admit_both_hops_through_the_waypoint():
    base = [_ns(), DENY_ALL, WP_DENY_ALL, ALLOW_WP, _waypoint_allow(),
            _np("default-deny", None, ["Ingress", "Egress"]),
            _np("allow-waypoint", WP_POD, ["Ingress", "Egress"], ingress=[{"from": [{"namespaceSelector": {}}],
                                                                          "ports": HBONE}],
                egress=[{"to": [{"namespaceSelector": {}}], "ports": HBONE}])]
    direct_only = [_np("api-ingress", {"app": "api"}, ["Ingress"], ingress=[{"from": [{"podSelector": {
        "matchLabels": {"app": "web"}}}], "ports": HBONE}]),
        _np("web-egress", {"app": "web"}, ["Egress"], egress=[{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                                                              "ports": HBONE}])]
    verdict = Mesh(base + direct_only, ambient=True).connect(WEB, API, 8080)
    assert not verdict and "no NetworkPolicy egress rule of shop/web" in verdict.why[-1]
    via = [_np("api-ingress", {"app": "api"}, ["Ingress"], ingress=[{"from": [{"podSelector": {"matchLabels": WP_POD}}],
                                                                    "ports": HBONE}]),
           _np("web-egress", {"app": "web"}, ["Egress"], egress=[{"to": [{"podSelector": {"matchLabels": WP_POD}}],
                                                                 "ports": HBONE}])]
    assert Mesh(base + via, ambient=True).connect(WEB, API, 8080)
    # the probe rewrite: without an ipBlock for 169.254.7.127 a default-deny drops kubelet probes
    assert not Mesh(base + via, ambient=True).probe(API, 8080)
    probes = _np("probes", None, ["Ingress"], ingress=[{"from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}]}])
    assert Mesh(base + via + [probes], ambient=True).probe(API, 8080)
