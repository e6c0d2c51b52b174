"""The 1,000-service synthetic catalog (benchmarks/synth.py), both environments, through all
three routes with the real binaries and charts: no object any route applies is over one of
the API server's limits (chartgen.releases.limits), and the largest ones are where the catalog's size
shows (the mesh chart's objects, the SLO rules in Prometheus's ConfigMap, Flux's values
ConfigMaps)."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
import yaml

from chartgen.lifecycle.generate import generate
from chartgen.releases.helmfile import release_plan
from chartgen.releases.limits import LIMITS, check_routes, json_size
from chartgen.catalog.mesh import resolve
from chartgen.base.toolchain import find_tool
from chartgen.catalog.validate import load_catalog
from conftest import ROOT
from helpers.routes import GIT_URL, render_routes
from helpers.synth import synth_catalog

pytestmark = [pytest.mark.integration, pytest.mark.servers]

N = 1000
ENVS = ("dev", "prod")


@pytest.fixture(scope="module")
def scale(tmp_path_factory, upstream_repo, helm_env):
    root = tmp_path_factory.mktemp("scale")
    data = synth_catalog(N)
    data["gitops"] = {"repoURL": GIT_URL, "argocd": {}, "flux": {}}
    data["helmfile"] = {"chartMirror": upstream_repo}
    for env in ENVS:  # one cluster each (two environments may not share one)
        data["environments"][env]["kubeContext"] = f"synth-{env}"
    (root / "catalog.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    generate(root / "catalog.yaml")
    tools = {name: find_tool(name, start=ROOT).path for name in ("helm3", "helmfile", "kubectl")}
    renders = render_routes(root, tools, helm_env, tmp_path_factory.mktemp("scale-flux"), ENVS)
    return root, renders


def test_every_route_applies_the_1000_service_mesh_within_limits(scale):
    root, renders = scale
    catalog = load_catalog(root / "catalog.yaml")
    mesh = resolve(catalog)
    plan = release_plan(mesh, chart_dir="./charts/synth-mesh")
    problems = check_routes(renders, plan, catalog.metadata.name, ENVS, mesh=mesh)
    assert problems == [], "\n".join(f"{r} {e} {rel}: {p.kind} {p.namespace}/{p.name}: {p.message}"
                                      for r, e, rel, p in problems[:10])
    for env in ENVS:
        for route in ("argocd", "flux"):
            assert len(renders[(route, env)]) == len([r for r in plan.releases if env in r.envs])
            mesh_objs = renders[(route, env)]["synth-mesh"]
            assert sum(o["kind"] == "VirtualService" for o in mesh_objs) >= N  # the whole mesh rendered
        prom = next(o for o in renders[("argocd", env)]["prometheus"]
                    if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "prometheus-server")
        # every service's SLO is in the rules, which are far below Argo CD's 256 KiB
        rules = prom["data"]["alerting_rules.yml"]
        assert rules.count("svc-0") >= 2 * N and json_size(prom) < LIMITS["annotations"] // 4
        values = next(o for o in renders[("flux-build", env)]["*"]
                      if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "synth-mesh-values")
        assert json_size(values) < LIMITS["data"]


def test_helm_release_records_fit_in_a_secret(scale):
    """helm (helmfile, Flux's helm-controller) keeps each release in a Secret holding the
    gzipped release (manifest, values, chart): the mesh chart's must stay under 1 MiB."""
    root, renders = scale
    for env in ENVS:
        manifest = "---\n".join(yaml.safe_dump(o) for o in renders[("flux", env)]["synth-mesh"])
        values = "".join(p.read_text(encoding="utf-8") for p in sorted((root / "values" / "synth-mesh").glob("*.yaml")))
        chart = "".join(p.read_text(encoding="utf-8") for p in sorted((root / "charts" / "synth-mesh").rglob("*"))
                        if p.is_file())
        record = base64.b64encode(gzip.compress(json.dumps({"manifest": manifest, "config": values,
                                                             "chart": chart}).encode())).decode()
        assert len(record) < LIMITS["data"], f"{env}: helm's release record is {len(record):,} bytes"
