"""Istio's Bookinfo (examples/bookinfo/) rendered by the real helm, in ambient (a waypoint for
reviews' header rule) and in sidecar mode: the intended connections get through every
NetworkPolicy hop and every AuthorizationPolicy enforcement point, and every other pair of
workloads is refused (tests/helpers/flowmodel.py decides each connection)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from helpers.flowmodel import Mesh, workload
from helpers.meshrender import KUBE_VERSION

pytestmark = pytest.mark.integration

NS = "bookinfo"
GATEWAY = workload("bookinfo-gateway", "istio-ingress", {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"},
                   "bookinfo-gateway-istio", role="gateway")


def _pod(app, version="v1"):
    return workload(f"{app}-{version}", NS, {"app": app, "version": version}, f"bookinfo-{app}", service=app)


PODS = {"productpage": [_pod("productpage")], "details": [_pod("details")],
        "reviews": [_pod("reviews", v) for v in ("v1", "v2", "v3")], "ratings": [_pod("ratings")]}
CALLS = {("productpage", "details"), ("productpage", "reviews"), ("reviews", "ratings")}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("bookinfo")
    shutil.copy(ROOT / "examples" / "bookinfo" / "catalog.yaml", work / "catalog.yaml")
    r = subprocess.run([sys.executable, "-m", "chartgen", "generate", "catalog.yaml"], cwd=work,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return work


def _render(work, helm, helm_env, env, *extra):
    chart = work / "charts" / "bookinfo-mesh"
    values = work / "values" / "bookinfo-mesh"
    files = [values / "common.yaml", values / f"{env}.yaml", *extra]
    r = subprocess.run([helm, "template", "bookinfo-mesh", str(chart), "-n", "istio-system", "--kube-version",
                        KUBE_VERSION, *itertools.chain.from_iterable(("-f", str(f)) for f in files)],
                       capture_output=True, text=True, env=helm_env, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="module")
def meshes(work, helm, helm_env):
    return {env: Mesh(_render(work, helm, helm_env, env), ambient=env == "ambient") for env in ("ambient", "sidecar")}


@pytest.mark.parametrize("env", ["ambient", "sidecar"])
def test_every_call_of_the_catalog_gets_through(meshes, env):
    mesh = meshes[env]
    for src, dst in CALLS:
        for a in PODS[src]:
            for b in PODS[dst]:
                verdict = mesh.connect(a, b, 9080)
                assert verdict, (env, a.name, b.name, verdict.why)
    for path in ("/productpage", "/login", "/static/css/x.css", "/api/v1/products/0"):
        verdict = mesh.connect(GATEWAY, PODS["productpage"][0], 9080, path)
        assert verdict, (env, path, verdict.why)


@pytest.mark.parametrize("env", ["ambient", "sidecar"])
def test_every_other_pair_is_refused(meshes, env):
    mesh = meshes[env]
    pods = [p for ps in PODS.values() for p in ps]
    for a, b in itertools.product(pods, pods):
        if (a.service, b.service) in CALLS or a.service == b.service:
            continue
        verdict = mesh.connect(a, b, 9080)
        assert not verdict, (env, a.name, b.name, verdict.why)
    for b in pods:
        if b.service != "productpage":
            assert not mesh.connect(GATEWAY, b, 9080, "/productpage"), (env, b.name)


def test_ambient_calls_pass_the_waypoint_with_the_callers_identity(meshes):
    """Behind the namespace's waypoint, ztunnel sees the waypoint: the caller's allow is at the
    waypoint (targetRefs: the Service), and NetworkPolicies admit both HBONE hops."""
    verdict = meshes["ambient"].connect(PODS["productpage"][0], PODS["details"][0], 9080)
    assert verdict
    assert verdict.why[0].startswith("productpage-v1 → waypoint:15008") and verdict.why[1].startswith(
        "waypoint → details-v1:15008")
    assert verdict.why[2] == "allowed by allow-productpage-to-details at waypoint waypoint"
    assert verdict.why[3] == "allowed by allow-waypoint at ztunnel"
    # the ingress gateway does not pass through the waypoint: ztunnel sees the gateway itself
    verdict = meshes["ambient"].connect(GATEWAY, PODS["productpage"][0], 9080, "/productpage")
    assert verdict.why[-1] == "allowed by allow-gateway-to-productpage at ztunnel"


def test_ambient_kubelet_probes_are_admitted(meshes):
    for pods in PODS.values():
        for p in pods:
            assert meshes["ambient"].probe(p, 9080), p.name


def test_ingress_through_the_waypoint_when_the_namespace_asks(work, helm, helm_env, tmp_path):
    """istio.io/ingress-use-waypoint: the gateway's calls go through the waypoint, which then
    enforces the gateway's allow, paths included (a waypoint is an L7 proxy)."""
    extra = tmp_path / "ingress-waypoint.yaml"
    extra.write_text('namespaces:\n  labels:\n    istio.io/ingress-use-waypoint: "true"\n')
    mesh = Mesh(_render(work, helm, helm_env, "ambient", extra), ambient=True)
    page = PODS["productpage"][0]
    verdict = mesh.connect(GATEWAY, page, 9080, "/productpage")
    assert verdict, verdict.why
    assert verdict.why[0].startswith("bookinfo-gateway → waypoint:15008")
    assert verdict.why[2] == "allowed by allow-gateway-to-productpage at waypoint waypoint"
    for path in ("/staticx", "/static-old/x", "/admin"):
        assert not mesh.connect(GATEWAY, page, 9080, path), path
    assert not mesh.connect(GATEWAY, PODS["details"][0], 9080, "/productpage")
