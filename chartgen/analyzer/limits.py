"""Kubernetes' size and length limits (``chartgen.releases.limits``) on what lint knows of every route:

- the mesh chart's rendered objects, applied by helmfile, Argo CD (client-side, with the
  last-applied annotation, when the catalog has the Argo CD export) and Flux;
- the upstream charts' ConfigMaps that chartgen's generated values fill: Prometheus's
  ``prometheus-server`` (the SLO rules; at least their text) and Grafana's dashboard
  ConfigMaps, as the charts write them;
- Flux's values ConfigMaps, built from the values files as the export's kustomization
  generates them (when the catalog has the Flux export).

The integration tests render every release of every route with the real charts and run the
same check on all of their objects.
"""

from __future__ import annotations

import json

import yaml

from ..releases.helmfile import release_plan
from ..releases.limits import blame, check_objects, flux_values_configmaps
from .findings import Finding
from ..lifecycle.workspace import Project, Rendered


def _predicted(project: Project, env: str) -> list[tuple[str, dict]]:
    """(release, object) for the upstream charts' ConfigMaps that chartgen's generated
    values fill, with the data the charts give them."""
    obs = project.catalog.observability
    out = []
    rules = project.files.get(f"values/prometheus/generated/slo-rules-{env}.yaml")
    if obs.prometheus and rules:
        text = yaml.safe_dump((yaml.safe_load(rules) or {}).get("serverFiles", {}).get("alerting_rules.yml") or {},
                              width=4096)
        out.append(("prometheus", {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "prometheus-server", "namespace": obs.namespace},
                                   "data": {"alerting_rules.yml": text}}))
    boards = project.files.get("values/grafana/generated/istio-dashboards.yaml")
    if obs.grafana and boards:
        for provider, entries in ((yaml.safe_load(boards) or {}).get("dashboards") or {}).items():
            data = {f"{key}.json": json.dumps(json.loads(v["json"]), indent=None) for key, v in entries.items()}
            out.append(("grafana", {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": f"grafana-dashboards-{provider}",
                                                 "namespace": obs.namespace},
                                    "data": data}))
    return out


def check_limits(project: Project, rendered: Rendered) -> list[Finding]:
    """CG140–CG144 findings of one environment."""
    mesh = project.mesh
    catalog = project.catalog
    gitops = catalog.gitops
    argo = gitops is not None and gitops.argocd is not None
    plan = release_plan(mesh, chart_dir=f"./{project.chart_dir}")
    mesh_release = next(r.name for r in plan.releases if r.tier == "mesh")
    env = rendered.env
    app = f"{catalog.metadata.name}-{env}"
    out: list[Finding] = []
    sources = {id(d.obj): d.source for d in rendered.docs}
    groups = [(mesh_release, [d.obj for d in rendered.docs])] + [(r, [o]) for r, o in _predicted(project, env)]
    for release, objs in groups:
        # helmfile and Flux apply with helm (no annotation); Argo CD client-side unless ServerSideApply
        problems = check_objects(objs, client_side_apply=argo, app=f"{app}-{release}" if argo else None,
                                 blame=blame(mesh, env, release, mesh_release))
        for p in problems:
            src = sources.get(id(next((o for o in objs if (o.get("metadata") or {}).get("name") == p.name), None)))
            out.append(Finding(env, p.kind, p.namespace, p.name, p.code, p.message,
                               file=src or project.catalog_file))
    if gitops is not None and gitops.flux is not None:
        for release, cm in flux_values_configmaps(project.files, plan, env, gitops.flux.namespace):
            for p in check_objects([cm]):
                out.append(Finding(env, p.kind, p.namespace, p.name, p.code,
                                   f"{p.message} (Flux's values ConfigMap of release {release}: "
                                   f"its values files under values/{release}/)", file=project.catalog_file))
    return out
