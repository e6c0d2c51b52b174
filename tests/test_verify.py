"""The behaviour model of ``chartgen verify`` (fast tier: hand-written rendered objects, no helm).

The known-bad fixtures pin the defects issue 22 lists for the ambient data plane: caller
policies behind a waypoint enforced where only the waypoint's identity is seen, and
NetworkPolicies without the hops through the waypoint. The good fixture is the same mesh
written the way Istio's docs attach policies (https://istio.io/latest/docs/ambient/usage/l4-policy/).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from chartgen.catalog.mesh import resolve
from chartgen.catalog.validate import parse_catalog, read_catalog_text
from chartgen.verify import verify_docs
from chartgen.verify import authz, routing
from chartgen.verify.world import Obj

DATA = Path(__file__).parent / "data" / "verify"
NS = "bookinfo"
WP = f"cluster.local/ns/{NS}/sa/waypoint"


def _view():
    path = DATA / "bookinfo-ambient.yaml"
    catalog, _ = parse_catalog(read_catalog_text(path), str(path))
    return resolve(catalog).view("prod")


def _np(name, selector, types, ingress=None, egress=None):
    spec = {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _ap(name, spec):
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def _from(*principals):
    return [{"from": [{"source": {"principals": list(principals)}}]}]


def _svc_ref(name):
    return [{"group": "", "kind": "Service", "name": name}]


WAYPOINT_PODS = {"podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "waypoint"}}}
HBONE = [{"protocol": "TCP", "port": 15008}]


def good_mesh() -> list:
    """Bookinfo in ambient, every caller policy attached to the waypoint."""
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {
            "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "waypoint", "namespace": NS},
         "spec": {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}},
        _np("default-deny", None, ["Ingress", "Egress"]),
        _np("allow-probes", None, ["Ingress"], ingress=[{"from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}]}]),
        _np("waypoint", {"gateway.networking.k8s.io/gateway-name": "waypoint"}, ["Ingress", "Egress"],
            ingress=[{"from": [{"podSelector": {}}], "ports": HBONE}],
            egress=[{"to": [{"podSelector": {}}], "ports": HBONE}]),
        _np("productpage-egress", {"app": "productpage"}, ["Egress"], egress=[{"to": [WAYPOINT_PODS], "ports": HBONE}]),
        _np("reviews-egress", {"app": "reviews"}, ["Egress"], egress=[{"to": [WAYPOINT_PODS], "ports": HBONE}]),
    ]
    for callee in ("details", "reviews", "ratings"):
        docs.append(_np(f"{callee}-ingress", {"app": callee}, ["Ingress"], ingress=[{"from": [WAYPOINT_PODS], "ports": HBONE}]))
    docs += [
        _ap("deny-all", {}),
        _ap("allow-waypoint", {"action": "ALLOW", "rules": _from(WP)}),
        _ap("deny-all-at-waypoint", {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                     "name": "waypoint"}]}),
        _ap("allow-productpage-to-details", {"targetRefs": _svc_ref("details"), "action": "ALLOW",
                                             "rules": _from(f"cluster.local/ns/{NS}/sa/productpage")}),
        _ap("allow-productpage-to-reviews", {"targetRefs": _svc_ref("reviews"), "action": "ALLOW",
                                             "rules": _from(f"cluster.local/ns/{NS}/sa/productpage")}),
        _ap("allow-reviews-to-ratings", {"targetRefs": _svc_ref("ratings"), "action": "ALLOW",
                                         "rules": _from(f"cluster.local/ns/{NS}/sa/reviews")}),
    ]
    for v in ("v1", "v2"):
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"reviews-{v}", "namespace": NS},
                     "spec": {"selector": {"app": "reviews", "version": v}, "ports": [{"name": "http", "port": 9080}]}})
    docs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "reviews", "namespace": NS},
                 "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
                          "rules": [{"backendRefs": [{"name": "reviews-v1", "port": 9080, "weight": 90},
                                                     {"name": "reviews-v2", "port": 9080, "weight": 10}]}]}})
    return docs


def _run(docs):
    return verify_docs([(d, "") for d in docs], _view(), "istio-ingress")


def _problems(report):
    return sorted((f.kind, f.source, f.target, f.expected) for f in report.problems)


def test_good_ambient_mesh_allows_exactly_the_catalog():
    report = _run(good_mesh())
    assert report.problems == []
    calls = {(f.source, f.target): f for f in report.flows if f.kind == "call"}
    # reviews v1 and v2 are one equivalence class: no policy tells the versions apart
    assert set(calls) == {("productpage", "details"), ("productpage", "reviews"), ("reviews (v1, v2)", "ratings")}
    assert calls[("productpage", "reviews")].verdict.split == {"v1": 90.0, "v2": 10.0}
    strays = [f for f in report.flows if f.kind == "stray"]
    assert strays and not any(f.verdict.allowed for f in strays)
    # details and ratings are named by no policy: the stranger of their namespace stands for them
    assert {f.source for f in strays} >= {"productpage", f"any pod in {NS}", "any pod without a mesh identity",
                                          "prometheus"}


def test_known_bad_selector_policies_behind_a_waypoint_deny_the_caller():
    """Issue 22: allow policies with ``selector`` are enforced by ztunnel, which sees the
    waypoint's identity, while the waypoint only has deny-all-at-waypoint for details/ratings."""
    docs = [d for d in good_mesh() if d["metadata"]["name"] not in ("allow-productpage-to-details",
                                                                     "allow-reviews-to-ratings")]
    docs += [_ap("allow-productpage-to-details", {"selector": {"matchLabels": {"app": "details"}}, "action": "ALLOW",
                                                  "rules": _from(f"cluster.local/ns/{NS}/sa/productpage")}),
             _ap("allow-reviews-to-ratings", {"selector": {"matchLabels": {"app": "ratings"}}, "action": "ALLOW",
                                              "rules": _from(f"cluster.local/ns/{NS}/sa/reviews")})]
    report = _run(docs)
    assert _problems(report) == [("call", "productpage", "details", True),
                                 ("call", "reviews (v1, v2)", "ratings", True)]
    details = next(f for f in report.problems if f.target == "details")
    assert "AuthorizationPolicy bookinfo/deny-all-at-waypoint" in " ".join(details.verdict.deciding)
    assert "Gateway bookinfo/waypoint" in " ".join(details.verdict.deciding)


def test_known_bad_network_policies_without_the_waypoint_hops():
    """Issue 22: caller → callee on 15008 is admitted, but no hop through the waypoint pods."""
    docs = [d for d in good_mesh() if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] in (
        "waypoint", "reviews-egress", "details-ingress"))]
    docs += [_np("details-ingress", {"app": "details"}, ["Ingress"], ingress=[{"from": [
        {"podSelector": {"matchLabels": {"app": "productpage"}}}], "ports": HBONE}])]
    report = _run(docs)
    denied = {(f.source, f.target) for f in report.problems if f.expected}
    assert denied == {("productpage", "details"), ("productpage", "reviews"), ("reviews (v1, v2)", "ratings")}
    assert all("NetworkPolicy" in " ".join(f.verdict.deciding) for f in report.problems)


def test_known_bad_ambient_probes_need_the_snat_address():
    docs = [d for d in good_mesh() if d["metadata"]["name"] != "allow-probes"]
    report = _run(docs)
    assert {f.kind for f in report.problems} == {"probe"}
    assert all(f.source == "kubelet (169.254.7.127)" for f in report.problems)


def test_an_open_policy_lets_strangers_through():
    docs = good_mesh() + [_ap("allow-all-to-ratings", {"targetRefs": _svc_ref("ratings"), "action": "ALLOW",
                                                       "rules": [{}]})]
    report = _run(docs)
    leaked = {f.source for f in report.problems if not f.expected and f.target == "ratings"}
    assert "productpage" in leaked and not any(f.expected for f in report.problems)


def test_a_wrong_split_is_a_problem():
    docs = copy.deepcopy(good_mesh())
    route = next(d for d in docs if d["kind"] == "HTTPRoute")
    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 50
    report = _run(docs)
    bad = [f for f in report.problems]
    assert bad and all(f.expected and f.verdict.allowed and not f.split_ok for f in bad)
    assert bad[0].verdict.split == {"v1": pytest.approx(64.286, abs=0.01), "v2": pytest.approx(35.714, abs=0.01)}


# --- ztunnel's handling of L7 attributes (pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go)

def _policy(spec, ns="n"):
    return Obj("AuthorizationPolicy", "security.istio.io/v1", ns, "p", {}, spec)


REQ = authz.Request("cluster.local/ns/a/sa/caller", "a", "10.244.0.2", 8080, "/api", "GET")


def test_ztunnel_drops_an_allow_rule_with_http_attributes():
    allow = _policy({"action": "ALLOW", "rules": [{"from": [{"source": {"principals": [REQ.principal]}}],
                                                   "to": [{"operation": {"paths": ["/api*"]}}]}]})
    assert authz.decide([allow], REQ, "sidecar").allowed
    assert not authz.decide([allow], REQ, "ztunnel").allowed


def test_ztunnel_enforces_a_deny_rule_without_its_http_attributes():
    deny = _policy({"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin*"], "ports": ["8080"]}}]}]})
    assert authz.decide([deny], REQ, "sidecar").allowed  # /api is not /admin
    assert not authz.decide([deny], REQ, "ztunnel").allowed  # more restrictive: the port alone


def test_allow_nothing_versus_allow_all():
    assert not authz.decide([_policy({})], REQ, "sidecar").allowed
    assert authz.decide([_policy({"rules": [{}]})], REQ, "sidecar").allowed
    assert authz.decide([], REQ, "sidecar").allowed


# --- Gateway API path semantics -------------------------------------------------------------------

def test_path_prefix_is_segment_wise_and_the_regex_spelling_is_not():
    """Issue 22: ``/static`` as ``RegularExpression /static.*`` admits /staticx, a PathPrefix does not."""
    assert routing.path_prefix("/static", "/static/app.js")
    assert routing.path_prefix("/static", "/static")
    assert routing.path_prefix("/static/", "/static")
    assert not routing.path_prefix("/static", "/staticx")
    assert not routing.path_prefix("/static", "/static-old/x")
    assert routing._full("/static.*", "/staticx")
