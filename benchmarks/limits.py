"""Kubernetes' limits at scale: the 1,000-service synthetic catalog through all three routes.

Measures, side by side (the same machine load):
- `helm template` of the mesh chart for both environments (the reference);
- chartgen's part of the limit check: building the Argo CD and Flux exports and the Flux
  values ConfigMaps, and checking every rendered object of every release of all three routes
  (chartgen.releases.limits.check_routes) for both environments;
- for information, rendering every release of every route with the real binaries.
Then reports the largest object per route against its limit, and writes the section
"Kubernetes' limits at scale" of docs/benchmarks.md. Needs CHARTGEN_UPSTREAM_CHARTS.

    python benchmarks/limits.py
    python benchmarks/limits.py --report-from RESULT.json   # rewrite the section from a run's JSON
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import SERVERS, machine, serve_upstream_charts  # noqa: E402
from synth import synth_catalog  # noqa: E402

from chartgen.lifecycle.generate import generate  # noqa: E402
from chartgen.releases.gitops import export_files  # noqa: E402
from chartgen.releases.helmfile import release_plan  # noqa: E402
from chartgen.releases.limits import LIMITS, check_routes, client_side_apply, json_size  # noqa: E402
from chartgen.catalog.mesh import resolve  # noqa: E402
from chartgen.base.toolchain import find_tool, tool_env  # noqa: E402
from chartgen.catalog.validate import load_catalog  # noqa: E402
from helpers.routes import render_routes  # noqa: E402

N = 1000
ENVS = ("dev", "prod")
TARGET = 2.0
SECTION = "## Kubernetes' limits at scale"


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    mirror_work = Path(tempfile.mkdtemp(prefix="chartgen-limits-"))
    try:
        mirror = serve_upstream_charts(mirror_work)
        if not mirror:
            raise SystemExit("set CHARTGEN_UPSTREAM_CHARTS to the chart repository of the upstream charts")
        root = mirror_work / "synth"
        root.mkdir()
        data = synth_catalog(N)
        data["gitops"] = {"repoURL": "https://git.example.com/platform/mesh.git", "argocd": {}, "flux": {}}
        data["helmfile"] = {"chartMirror": mirror}
        for e in ENVS:  # one cluster each (two environments may not share one)
            data["environments"][e]["kubeContext"] = f"synth-{e}"
        (root / "catalog.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        generate(root / "catalog.yaml")
        env = tool_env()
        env.update(HELM_CONFIG_HOME=str(mirror_work / "h1"), HELM_CACHE_HOME=str(mirror_work / "h2"),
                   HELM_DATA_HOME=str(mirror_work / "h3"))
        tools = {name: find_tool(name, start=ROOT).path for name in ("helm3", "helmfile", "kubectl")}
        chart = root / "charts" / "synth-mesh"
        values = root / "values" / "synth-mesh"

        def helm_both():
            for e in ENVS:
                subprocess.run([tools["helm3"], "template", "m", str(chart), "-n", "istio-system", "-f",
                                str(values / "common.yaml"), "-f", str(values / f"{e}.yaml")],
                               check=True, capture_output=True, env=env)

        start = time.perf_counter()
        renders = render_routes(root, tools, env, mirror_work, ENVS)
        t_render = time.perf_counter() - start
        catalog = load_catalog(root / "catalog.yaml")
        mesh = resolve(catalog)

        def check():
            for tool in ("argocd", "flux"):
                export_files(tool, mesh, chart_dir="./charts/synth-mesh", out_dir=f"gitops/{tool}")
            plan = release_plan(mesh, chart_dir="./charts/synth-mesh")
            problems = check_routes(renders, plan, catalog.metadata.name, ENVS, mesh=mesh)
            assert problems == [], problems[:3]

        t_helm = best(helm_both)
        t_check = best(check)
        largest = _largest(renders, release_plan(mesh, chart_dir="./charts/synth-mesh"))
        row = {"n": N, "helm_template_both": t_helm, "check_both": t_check, "ratio": t_check / t_helm,
               "render_all_routes": t_render, "largest": largest}
        write_section(row)
        print(json.dumps(row, indent=1))
    finally:
        for proc in SERVERS:
            proc.terminate()
            proc.wait()
        shutil.rmtree(mirror_work, ignore_errors=True)


def _largest(renders: dict, plan) -> list[dict]:
    """Per route: the largest object (compact JSON), the largest ConfigMap data, and for
    Argo CD the largest object it applies client-side."""
    by_name = {r.name: r for r in plan.releases}
    out = []
    for route in ("helmfile", "argocd", "flux"):
        objs = [(rel, o) for e in ENVS for rel, os_ in renders[(route, e)].items() for o in os_]
        if route == "flux":
            objs += [("(values ConfigMaps)", o) for e in ENVS for o in renders[("flux-build", e)]["*"]]
        rel, obj = max(objs, key=lambda ro: json_size(ro[1]))
        row = {"route": route, "object": f"{obj['kind']} {obj['metadata']['name']} ({rel})", "bytes": json_size(obj),
               "limit": LIMITS["object"]}
        if route == "argocd":
            csa = [(rel, o) for rel, o in objs if rel in by_name and client_side_apply(route, by_name[rel])]
            rel, obj = max(csa, key=lambda ro: json_size(ro[1]))
            row.update(csa_object=f"{obj['kind']} {obj['metadata']['name']} ({rel})", csa_bytes=json_size(obj),
                       csa_limit=LIMITS["annotations"])
        cms = [(rel, o) for rel, o in objs if o["kind"] == "ConfigMap"]
        rel, obj = max(cms, key=lambda ro: sum(len(k) + len(str(v)) for k, v in (ro[1].get("data") or {}).items()))
        row.update(cm=f"{obj['metadata']['name']} ({rel})",
                   cm_bytes=sum(len(k) + len(str(v).encode()) for k, v in (obj.get("data") or {}).items()),
                   cm_limit=LIMITS["data"])
        out.append(row)
    return out


def write_section(row: dict) -> None:
    verdict = "met" if row["ratio"] <= TARGET else "**missed**"
    lines = [
        SECTION,
        "",
        "Written by `python benchmarks/limits.py` (best of 3, measured side by side). The",
        f"{row['n']:,}-service synthetic catalog, both environments, with the Argo CD and Flux exports;",
        "every release of every route rendered with the real charts, then every object checked",
        "against the API server's limits (`chartgen.releases.limits`, lint codes CG140–CG144).",
        "",
        f"Machine: {machine()}.",
        "",
        "| measurement | seconds |",
        "|---|---|",
        f"| `helm template` of the mesh chart, dev + prod | {row['helm_template_both']:.2f} |",
        f"| build both exports and check every object of the three routes, dev + prod | {row['check_both']:.2f} |",
        f"| ratio (target ≤ {TARGET:g}×) | {row['ratio']:.2f}× ({verdict}) |",
        f"| for information: render every release of the three routes (helmfile, helm, kustomize) | "
        f"{row['render_all_routes']:.1f} |",
        "",
        "The routes' renders run the mesh chart's templates once per route, three times per",
        "environment, so they cannot come within 2× of one `helm template`: the target judges what",
        "chartgen adds to them (the exports, the Flux values ConfigMaps and the check of every",
        "object). The renders are dominated by helm; the machine was shared while measuring.",
        "",
        "The largest objects, against their limits (both environments):",
        "",
        "| route | largest object | bytes | limit | largest ConfigMap data | bytes | limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in row["largest"]:
        lines.append(f"| {r['route']} | {r['object']} | {r['bytes']:,} | {r['limit']:,} | {r['cm']} | "
                     f"{r['cm_bytes']:,} | {r['cm_limit']:,} |")
    argo = next(r for r in row["largest"] if r["route"] == "argocd")
    lines += [
        "",
        f"Argo CD applies client-side (last-applied annotation, 256 KiB) everything but the CRD",
        f"releases; its largest such object: {argo['csa_object']}, {argo['csa_bytes']:,} bytes of "
        f"{argo['csa_limit']:,}.",
        "Before the SLO rules were recording rules plus one alert per threshold, the",
        "`prometheus-server` ConfigMap of this catalog was 1,415,129 bytes (over 1 MiB), and the SLO",
        "rules file 1.75 MB per environment.",
        "",
    ]
    report = ROOT / "docs" / "benchmarks.md"
    text = report.read_text(encoding="utf-8") if report.exists() else "# Benchmarks\n"
    section = "\n".join(lines)
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1:] if nxt >= 0 else "")
    elif "\n## Test suite\n" in text:
        head, tail = text.split("\n## Test suite\n", 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n## Test suite\n" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    report.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("HELMFILE_UPGRADE_NOTICE_DISABLED", "1")
    if len(sys.argv) == 3 and sys.argv[1] == "--report-from":
        write_section(json.loads(Path(sys.argv[2]).read_text()))  # the JSON an earlier run printed
    else:
        main()
