"""The verify model against other people's answers: test tables ported from upstream projects
into tests/data/verify/ (each file names its source)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chartgen.verify import authz, netpol, routing
from chartgen.verify.world import Obj, World, at_workload

DATA = Path(__file__).parent / "data" / "verify"


def _load(name: str):
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def _obj(d: dict) -> Obj:
    m = d.get("metadata") or {}
    return Obj(d["kind"], d.get("apiVersion", ""), m.get("namespace", ""), m.get("name", ""), m.get("labels") or {},
               d.get("spec") or {})


HTTPROUTE_CASES = [(t["name"], t["routes"], c) for t in _load("httproute.yaml") for c in t["cases"]]


@pytest.mark.parametrize("table,routes,case", HTTPROUTE_CASES,
                         ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(HTTPROUTE_CASES)])
def test_gateway_api_conformance_matching(table, routes, case):
    host = case.get("host", "example.org")
    objs = [_obj(r) for r in routes]
    attached = [r for r in objs if not r.spec.get("hostnames")
                or any(routing.host_match(str(h), host) for h in r.spec["hostnames"])]
    req = routing.HttpRequest(host, case["path"], case.get("method", "GET"),
                              tuple(sorted((case.get("headers") or {}).items())))
    chosen = routing.select_http_rule(attached, req)
    if "status" in case:
        assert case["status"] == 404 and chosen is None
    else:
        assert chosen is not None
        assert chosen[1]["backendRefs"][0]["name"] == case["backend"]


AUTHZ_CASES = [(t, c) for t in _load("authz.yaml") for c in t["cases"]]


@pytest.mark.parametrize("table,case", AUTHZ_CASES, ids=[f"{t['name']}-{i}" for i, (t, _) in enumerate(AUTHZ_CASES)])
def test_authorization_decisions(table, case):
    world = World({}, {}, by_ns={})
    for p in table["policies"]:
        world.by_ns.setdefault(f"AuthorizationPolicy/{p['metadata']['namespace']}", []).append(_obj(p))
    wl = table["workload"]
    r = case["request"]
    req = authz.Request(r.get("principal"), r.get("namespace"), r["ip"], int(r["port"]), r.get("path"),
                        "GET" if r.get("path") else None)
    policies = at_workload(world, wl["namespace"], wl.get("labels") or {})
    assert authz.decide(policies, req, table["point"]).allowed is case["allowed"]


def _peer_matches(spec: str, pod: str) -> bool:
    if not spec:
        return True
    if spec.endswith("/"):
        return pod.startswith(spec)
    return spec == pod


def _expected(pods: list[str], ops: list[dict]) -> dict:
    """reachability.go: everything connects, then each expectation in order."""
    truth = {(f, t): True for f in pods for t in pods}
    for op in ops:
        for f, t in truth:
            if "peer" in op and _peer_matches(op["peer"][0], f) and _peer_matches(op["peer"][1], t) or (
                    "ingress" in op and t == op["ingress"]) or ("pair" in op and [f, t] == op["pair"]):
                truth[(f, t)] = op["allowed"]
    return truth


NETPOL_CHECKS = [(t, c) for t in _load("netpol.yaml") for c in t["checks"]]


@pytest.mark.parametrize("table,check", NETPOL_CHECKS, ids=[f"{t['name']}-{c['port']}" for t, c in NETPOL_CHECKS])
def test_network_policy_truth_tables(table, check):
    namespaces = {p.split("/")[0]: {} for p in table["pods"]}
    world = World(namespaces, {}, by_ns={})
    for i, p in enumerate(table["policies"]):
        world.by_ns.setdefault(f"NetworkPolicy/{p['namespace']}", []).append(
            Obj("NetworkPolicy", "networking.k8s.io/v1", p["namespace"], f"policy-{i}", {}, p["spec"]))
    peers = {pod: netpol.Peer(f"10.0.0.{i + 1}", pod.split("/")[0], (("pod", pod.split("/")[1]),),
                              (("serve-80-tcp", 80), ("serve-81-tcp", 81)))
             for i, pod in enumerate(table["pods"])}
    expected = _expected(table["pods"], check["expect"])
    got = {(f, t): netpol.connection(world, peers[f], peers[t], check["port"])[0] for f, t in expected}
    loopless = {k: v for k, v in expected.items() if k[0] != k[1]}
    assert {k: got[k] for k in loopless} == loopless


def test_network_policy_rule_index_checks_every_label_and_peer_kind():
    """The rules of a policy are looked up by the first label of their peers' selectors; a
    selector of several labels, a rule mixing a pod peer with an ipBlock, and a rule without
    peers must still decide as the full check does."""
    spec = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"tier": "web", "app": "a"}}}], "ports": [{"port": 80}]},
        {"from": [{"podSelector": {"matchLabels": {"app": "b"}}}, {"ipBlock": {"cidr": "10.9.0.0/16"}}],
         "ports": [{"port": 81}]},
        {"ports": [{"port": 82}]},
    ]}
    world = World({"x": {}}, {}, by_ns={"NetworkPolicy/x": [
        Obj("NetworkPolicy", "networking.k8s.io/v1", "x", "p", {}, spec)]})
    dst = netpol.Peer("10.0.0.1", "x", (("app", "dst"),))
    both = netpol.Peer("10.0.0.2", "x", (("app", "a"), ("tier", "web")))
    app_only = netpol.Peer("10.0.0.3", "x", (("app", "a"),))
    b = netpol.Peer("10.0.0.4", "x", (("app", "b"),))
    outside = netpol.Peer("10.9.1.1")
    allowed = {(name, port): netpol.connection(world, src, dst, port)[0]
               for name, src in {"both": both, "app_only": app_only, "b": b, "outside": outside}.items()
               for port in (80, 81, 82, 83)}
    assert {k for k, v in allowed.items() if v} == {
        ("both", 80), ("b", 81), ("outside", 81), ("both", 82), ("app_only", 82), ("b", 82), ("outside", 82)}
