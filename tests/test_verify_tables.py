"""The verify model against other people's answers: test tables ported from upstream projects
into tests/data/verify/ (each file names its source)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chartgen.verify import authz, netpol, routing
from chartgen.verify.world import Obj, World

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
    policies = authz.at_workload(world, wl["namespace"], wl.get("labels") or {})
    assert authz.decide(policies, req, table["point"]).allowed is case["allowed"]
