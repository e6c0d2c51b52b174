"""Every example and the default catalog, rendered by the real helm per environment (values
layered as the helmfile layers them): each call of the catalog (directly, or through an
external service redirected to a service) gets through every NetworkPolicy hop and every
AuthorizationPolicy enforcement point, the gateway reaches each exposed service on an exposed
path, and every other pair of workloads is refused, in both data planes
(tests/helpers/flowmodel.py decides each connection)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys

import pytest
import yaml

from chartgen.catalog.model import path_match
from chartgen.catalog.mesh import env_views
from chartgen.catalog.validate import load_catalog
from conftest import ROOT
from helpers.flowmodel import Mesh, workload
from helpers.meshrender import KUBE_VERSION

pytestmark = pytest.mark.integration

CATALOGS = {"bytefreezer": ROOT / "catalog.yaml", "ambient": ROOT / "examples" / "ambient" / "catalog.yaml",
            "bookinfo": ROOT / "examples" / "bookinfo" / "catalog.yaml",
            "bookstore": ROOT / "examples" / "bookstore" / "catalog.yaml",
            "grpc-shop": ROOT / "examples" / "grpc-shop" / "catalog.yaml"}
CASES = [(name, env) for name, path in CATALOGS.items() for env in yaml.safe_load(path.read_text())["environments"]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = {}

    def get(name):
        if name not in out:
            work = tmp_path_factory.mktemp(name)
            shutil.copy(CATALOGS[name], work / "catalog.yaml")
            r = subprocess.run([sys.executable, "-m", "chartgen", "generate", "catalog.yaml"], cwd=work,
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
            out[name] = work
        return out[name]

    return get


def _render(work, helm, helm_env, env):
    catalog = load_catalog(work / "catalog.yaml")
    chart = f"{catalog.metadata.name}-mesh"
    values = work / "values" / chart
    r = subprocess.run([helm, "template", chart, str(work / "charts" / chart), "-n", "istio-system", "--kube-version",
                        KUBE_VERSION, "-f", str(values / "common.yaml"), "-f", str(values / f"{env}.yaml")],
                       capture_output=True, text=True, env=helm_env, timeout=120)
    assert r.returncode == 0, r.stderr
    merged = {}
    for layer in (work / "charts" / chart / "values.yaml", values / "common.yaml", values / f"{env}.yaml"):
        merged = _merge(merged, yaml.safe_load(layer.read_text()) or {})
    return catalog, [d for d in yaml.safe_load_all(r.stdout) if d], merged


def _merge(base: dict, over: dict) -> dict:
    """helm's layering of values files: maps merge key by key, null deletes, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _pods(view, svc):
    ns = view.service_namespace(svc)
    versions = sorted(svc.spec.versions or {}) or [None]
    return [workload(f"{svc.key}-{v or 'pod'}", ns, {**svc.selector, **(svc.version_labels(v) if v else {})},
                     svc.service_account, service=svc.service_name) for v in versions]


def _intended(view) -> set[tuple[str, str]]:
    out = set()
    for key, svc in view.enabled.items():
        for callee in svc.spec.calls or []:
            if callee in view.enabled:
                out.add((key, callee))
            elif callee in view.catalog.externalServices and view.redirect_active(callee):
                out.add((key, view.catalog.externalServices[callee].redirectTo.service))
    return out


@pytest.mark.parametrize(("name", "env"), CASES, ids=[f"{n}-{e}" for n, e in CASES])
def test_exactly_the_catalogs_calls_get_through(generated, helm, helm_env, name, env):
    catalog, docs, values = _render(generated(name), helm, helm_env, env)
    view = next(v for v in env_views(catalog) if v.name == env)
    mesh = Mesh(docs, ambient=view.env.dataPlane == "ambient")
    pods = {key: _pods(view, svc) for key, svc in view.enabled.items()}
    intended = _intended(view)
    for (a, b) in itertools.product(sorted(pods), sorted(pods)):
        if a == b:
            continue
        port = view.enabled[b].spec.ports[0].port
        for src, dst in itertools.product(pods[a], pods[b]):
            verdict = mesh.connect(src, dst, port)
            assert bool(verdict) == ((a, b) in intended), (a, b, src.name, dst.name, verdict.why)
    _redirects_get_through(mesh, view, pods)
    gw = values["gateway"]
    gateway = workload("gateway", gw["namespace"], gw["selector"], gw["serviceAccount"], role="gateway")
    for key, svc in view.enabled.items():
        http = [p.port for p in svc.spec.ports if p.protocol in ("HTTP", "HTTP2", "GRPC", "GRPC-WEB")]
        if not http:
            continue
        paths = [path_match(p) for p in svc.spec.expose.paths] if svc.spec.expose else [("exact", "/")]
        path = next((v for k, v in paths if k != "regex"), None)
        for dst in pods[key]:
            verdict = mesh.connect(gateway, dst, http[0], path)
            assert bool(verdict) == (svc.spec.expose is not None), (key, dst.name, verdict.why)
            if mesh.ambient:
                assert mesh.probe(dst, http[0]), dst.name


def _redirects_get_through(mesh, view, pods):
    """Ambient: a call of a redirected external service is addressed to its ServiceEntry, whose
    namespace's waypoint forwards it to the target's pods: the caller must get through that
    waypoint (its deny-all included) and the target's ztunnel must admit the waypoint. Only
    the external's callers get through."""
    if not mesh.ambient:
        return
    for x, ext in view.catalog.externalServices.items():
        if not view.redirect_active(x):
            continue
        ns = view.namespace
        wp = mesh.ns_labels.get(ns, {}).get("istio.io/use-waypoint")
        assert wp, f"the redirect HTTPRoute of {x} needs the waypoint of {ns}"
        target = pods[ext.redirectTo.service][0]
        through = (ns, wp, ("ServiceEntry", f"{x}-external"))
        for key in sorted(pods):
            verdict = mesh.connect(pods[key][0], target, ext.redirectTo.port, through=through)
            assert bool(verdict) == (x in (view.enabled[key].spec.calls or [])), (x, key, verdict.why)
