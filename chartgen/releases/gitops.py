"""Catalog → Argo CD and Flux objects for the helmfile's releases. Pure functions.

Both exports are written from ``chartgen.releases.helmfile.release_plan``: the same releases,
charts, versions, repositories (or chart mirror), namespaces, install order and values
layering as ``helmfile.yaml``. The values stay in the user's ``values/`` files in git:

- Argo CD: per environment an ``AppProject`` (exactly the namespaces and cluster-scoped
  kinds the releases create) and one multi-source ``Application`` per release, whose Helm
  source reads ``$values/values/<release>/…`` through a ``ref: values`` git source. Sync
  waves are the helmfile's ``needs`` levels; a root Application per environment (under
  ``bootstrap/``) syncs the environment's directory, app-of-apps style.
- Flux: per environment a directory with the sources (``HelmRepository``,
  ``OCIRepository`` for an OCI mirror, ``GitRepository`` for the local mesh chart), one
  ``HelmRelease`` per release (``dependsOn`` = ``needs``) reading its values through
  ``valuesFrom`` ConfigMaps that the directory's ``kustomization.yaml`` generates from the
  same ``values/`` files.

Every string taken from the catalog is plain data here: Argo CD substitutes ``$VARS`` in
value file paths and Flux's post-build substitution expands ``${VARS}``, so the catalog's
GitOps settings are restricted to safe characters (``chartgen.base.naming``) and every Flux
object carries the annotation that turns substitution off.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from ..base import yamlout
from .bootstrap import argocd_health_patch, bootstrap_script, prerequisites
from ..catalog.model import ArgoSettings, Catalog, FluxSettings, GitOpsSettings
from ..base.crdcheck import CRDSet
from ..base.errors import ChartgenError, RenderError
from .helmfile import HEADER, ISTIO_NS, ChartSource, Release, ReleasePlan, release_plan
from ..catalog.mesh import EnvView, Mesh, resolve
from ..catalog.revisions import release_revision, revision_tags
from ..chart.values import chart_values

__all__ = ["TOOLS", "CHART_FOOTPRINT", "MESH_FOOTPRINT", "ExportContext", "build_argocd", "build_flux",
           "check_files", "check_or_raise", "crd_set", "export_files", "mesh_namespaces", "istiod_ignore_differences",
           "server_side_apply", "values_configmap_name"]

TOOLS = ("argocd", "flux")
ARGO_API = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
WAVE = "argocd.argoproj.io/sync-wave"
NO_SUBSTITUTE = {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}
HELM_OCI_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# a failed sync is retried with backoff (auto-sync alone never retries the same revision)
RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}
ROOT_RETRY = {"limit": -1, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "5m"}}

# What each chart creates at cluster scope, at the versions chartgen pins: (group, kind),
# and whether it carries CustomResourceDefinitions. The AppProject allows exactly these;
# tests/test_gitops_render.py proves the table against real renders of the charts.
_RBAC = (("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"))
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
_VWC = ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
_MWC = ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
CHART_FOOTPRINT: dict[str, tuple[tuple[str, str], ...]] = {
    "base": (_CRD, _VWC),
    "istiod": (*_RBAC, _MWC, _VWC),
    "gateway": (),
    "cni": _RBAC,
    "ztunnel": (),
    "kiali-server": _RBAC,
    "jaeger": (),
    "prometheus": _RBAC,
    "grafana": _RBAC,
    "localstack": (),
    # chartgen's local chart of the Gateway API CRDs, with their safe-upgrades admission policy
    "gateway-api-crds": (_CRD, ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
                         ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")),
}
MESH_FOOTPRINT = (("", "Namespace"),)  # the mesh chart creates its services' namespaces


@dataclass(frozen=True)
class ExportContext:
    """Everything an export needs besides the catalog."""

    plan: ReleasePlan
    out_dir: str  # the export's directory from the output root (gitops/argocd)


def _dump(objs: list[dict]) -> str:
    return HEADER + "\n" + "---\n".join(yamlout.dump(o, width=4096) for o in objs)


def _fit(name: str, limit: int = 63) -> str:
    """``name`` within ``limit`` characters; longer names keep a stable hash suffix."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"


def _repo_path(settings: GitOpsSettings, rel: str) -> str:
    """A path from the output root as a path inside the git repository."""
    rel = rel[2:] if rel.startswith("./") else rel
    return posixpath.join(settings.path, rel) if settings.path else rel


def _settings(catalog: Catalog) -> GitOpsSettings:
    if catalog.gitops is None:
        raise ChartgenError("the catalog has no `gitops:` section; set at least gitops.repoURL "
                            "(the git repository the controllers read values/ from)")
    return catalog.gitops


def _releases_in(ctx: ExportContext, view: EnvView) -> list[Release]:
    return [r for r in ctx.plan.releases if view.name in r.envs]


def _footprint(r: Release) -> tuple[tuple[str, str], ...]:
    if r.tier == "mesh":
        return MESH_FOOTPRINT
    try:
        return CHART_FOOTPRINT[r.chart]
    except KeyError:
        raise ChartgenError(f"chartgen does not know what chart {r.chart!r} creates at cluster scope, so it cannot "
                            "write a least-privilege AppProject for it (chartgen.releases.gitops.CHART_FOOTPRINT; "
                            "tests/test_gitops_render.py checks the table against real renders)") from None


def _carries_crds(r: Release) -> bool:
    return _CRD in _footprint(r)


def server_side_apply(r: Release) -> bool:
    """Argo CD syncs the release with ``ServerSideApply=true``: the releases carrying CRDs."""
    return _carries_crds(r)


def mesh_namespaces(catalog: Catalog, view: EnvView) -> set[str]:
    """The namespaces the mesh chart writes objects into in one environment, read from the
    chart values it gets there: its own (the Istio system namespace), the gateway's, the
    add-ons' (alert and dashboard ConfigMaps) and every enabled (external) service's."""
    values = chart_values(catalog, view)
    out = {ISTIO_NS, values["gateway"]["namespace"]}
    obs = values.get("observability") or {}
    if any((obs.get(k) or {}).get("enabled") for k in ("dashboards", "alerts")):
        out.add(obs["namespace"])
    for group in ("services", "externalServices"):
        for svc in (values.get(group) or {}).values():
            if svc.get("enabled"):
                out.add(svc.get("namespace") or view.namespace)
    return out


def _namespaces(catalog: Catalog, view: EnvView, r: Release) -> set[str]:
    return mesh_namespaces(catalog, view) if r.tier == "mesh" else {r.namespace}


def istiod_ignore_differences(catalog: Catalog, r: Release, env: str | None = None) -> list[dict]:
    """The webhook fields istiod rewrites at run time, on the release that owns each
    webhook configuration: ``failurePolicy`` (Ignore → Fail once istiod serves) and the
    ``caBundle`` it injects."""
    rev = release_revision(catalog, r.name) if r.chart == "istiod" else catalog.istio.revision
    both = [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"]
    if r.chart == "base":
        return [{"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
                 "name": "istiod-default-validator", "jqPathExpressions": both}]
    if r.chart == "istiod":
        suffix = f"-{rev}" if rev else ""
        return [
            {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
             "name": f"istio-sidecar-injector{suffix}", "jqPathExpressions": both[:1]},
            {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
             "name": f"istio-validator{suffix}-{r.namespace}", "jqPathExpressions": both},
        ] + [  # the revision tags this istiod serves in the environment (istiod's revisionTags)
            {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration",
             "name": f"istio-revision-tag-{tag}", "jqPathExpressions": both[:1]}
            for tag in (revision_tags(catalog, env, rev) if env is not None else [])]
    return []


# --- Argo CD ----------------------------------------------------------------------------------


def _argo_destination(argo: ArgoSettings, view: EnvView) -> dict:
    cluster = argo.clusters.get(view.name)
    if cluster is not None:
        return {"server": cluster.server} if cluster.server else {"name": cluster.name}
    if view.env.kubeContext:
        # `argocd cluster add <context>` registers the cluster under the context's name
        return {"name": view.env.kubeContext}
    return {"server": IN_CLUSTER}


def _argo_repo(src: ChartSource) -> str:
    # a Helm chart from an OCI registry: the registry path without the scheme, with the
    # repository registered in Argo CD with `enableOCI: "true"`
    return src.repo_url[len("oci://"):] if src.oci else src.repo_url


def _check_source(r: Release, src: ChartSource) -> None:
    if not src.local and src.repo_url is None:
        repo = src.ref.split("/", 1)[0]
        raise ChartgenError(f"the GitOps exports cannot resolve the chart {src.ref!r} of release {r.name}: "
                            f"'{repo}' is not a repository of the helmfile, and the controllers need its URL; "
                            "use an oci:// reference, or a chart of the chart mirror (mirror/<chart>)")


def _project_name(catalog: Catalog, argo: ArgoSettings, view: EnvView) -> str:
    return _fit(f"{argo.project or catalog.metadata.name}-{view.name}")


def _application(catalog: Catalog, ctx: ExportContext, settings: GitOpsSettings, argo: ArgoSettings,
                 view: EnvView, r: Release, wave: int | None) -> dict:
    src = ctx.plan.sources[r.name]
    _check_source(r, src)
    helm: dict = {
        "releaseName": r.name,
        "valueFiles": [f"$values/{_repo_path(settings, f)}" for f in r.value_files(view.name)],
        "ignoreMissingValueFiles": True,  # helmfile: missingFileHandler: Warn
    }
    if src.local:
        chart_source = {"repoURL": settings.repoURL, "path": _repo_path(settings, src.ref),
                        "targetRevision": settings.revision, "helm": helm}
    else:
        chart_source = {"repoURL": _argo_repo(src), "chart": src.name, "targetRevision": src.version or "*",
                        "helm": helm}
    options = []
    if r.create_namespace:
        options.append("CreateNamespace=true")
    if _carries_crds(r):
        options.append("ServerSideApply=true")  # Istio's CRDs exceed the client-side annotation limit
    if r.tier == "mesh":
        options.append("SkipDryRunOnMissingResource=true")  # its Istio objects need istio-base's CRDs
    ignore = istiod_ignore_differences(catalog, r, view.name)
    if ignore:
        options.append("RespectIgnoreDifferences=true")
    sync: dict = {}
    if argo.automated:
        sync["automated"] = {"prune": True, "selfHeal": True}
    sync["syncOptions"] = options
    sync["retry"] = dict(RETRY)
    spec: dict = {
        "project": _project_name(catalog, argo, view),
        "destination": {**_argo_destination(argo, view), "namespace": r.namespace},
        "sources": [chart_source, {"repoURL": settings.repoURL, "targetRevision": settings.revision, "ref": "values"}],
        "syncPolicy": sync,
    }
    if ignore:
        spec["ignoreDifferences"] = ignore
    metadata: dict = {
        "name": _fit(f"{catalog.metadata.name}-{view.name}-{r.name}"),
        "namespace": argo.namespace,
        "labels": {"app.kubernetes.io/part-of": catalog.metadata.name, "chartgen.io/environment": view.name,
                   "chartgen.io/release": r.name, "chartgen.io/tier": r.tier},
    }
    if wave:
        metadata["annotations"] = {WAVE: str(wave)}
    if not _carries_crds(r):
        # deleting the Application uninstalls the release; never for CRDs (every Istio object would go)
        metadata["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    return {"apiVersion": ARGO_API, "kind": "Application", "metadata": metadata, "spec": spec}


def _project(catalog: Catalog, ctx: ExportContext, settings: GitOpsSettings, argo: ArgoSettings,
             view: EnvView) -> dict:
    releases = _releases_in(ctx, view)
    namespaces: set[str] = set()
    kinds: set[tuple[str, str]] = set()
    repos = {settings.repoURL}
    for r in releases:
        namespaces |= _namespaces(catalog, view, r)
        kinds |= set(_footprint(r))
        src = ctx.plan.sources[r.name]
        if not src.local:
            repos.add(_argo_repo(src))
    dest = _argo_destination(argo, view)
    return {
        "apiVersion": ARGO_API,
        "kind": "AppProject",
        "metadata": {"name": _project_name(catalog, argo, view), "namespace": argo.namespace,
                     "labels": {"app.kubernetes.io/part-of": catalog.metadata.name,
                                "chartgen.io/environment": view.name},
                     "annotations": {WAVE: "-1"}},
        "spec": {
            "description": f"{catalog.metadata.name} mesh, environment {view.name} (generated by chartgen)",
            "sourceRepos": sorted(repos),
            "destinations": [{**dest, "namespace": ns} for ns in sorted(namespaces)],
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(kinds)],
        },
    }


def _root_name(catalog: Catalog, view: EnvView) -> str:
    return _fit(f"{catalog.metadata.name}-{view.name}")


def argo_waves(ctx: ExportContext, view: EnvView) -> dict[str, int | None]:
    """Sync waves of the environment's Applications, from the release plan's ``needs``: a
    release that needs nothing has no wave (0); one that needs others comes one wave after
    the last of them; and one that nothing needs waits for nothing else, so it syncs in the
    last wave, where no other release waits for its health (a Kiali waiting for its
    signing key does not hold back the gateway or the mesh)."""
    releases = _releases_in(ctx, view)
    names = {r.name for r in releases}
    level = {n: w for n, w in ctx.plan.waves().items() if n in names}
    needed = {n for r in releases for n in r.needs_names if n in names}
    last = max(level.values(), default=0)
    out: dict[str, int | None] = {}
    for r in releases:
        if not any(n in names for n in r.needs_names):
            out[r.name] = None
        else:
            out[r.name] = level[r.name] if r.name in needed else last
    return out


def _root_application(catalog: Catalog, ctx: ExportContext, settings: GitOpsSettings, argo: ArgoSettings,
                      view: EnvView) -> dict:
    sync: dict = {}
    if argo.automated:
        sync["automated"] = {"prune": True, "selfHeal": True}
    # the root retries without a limit: a child stuck in a wave fails the root's sync, which
    # must go on once the child converges (auto-sync does not retry the same revision)
    sync["retry"] = dict(ROOT_RETRY)
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": {"name": _root_name(catalog, view), "namespace": argo.namespace,
                     "labels": {"app.kubernetes.io/part-of": catalog.metadata.name,
                                "chartgen.io/environment": view.name}},
        "spec": {
            "project": "default",
            "destination": {"server": IN_CLUSTER, "namespace": argo.namespace},
            "source": {"repoURL": settings.repoURL, "targetRevision": settings.revision,
                       "path": _repo_path(settings, f"{ctx.out_dir}/{view.name}")},
            "syncPolicy": sync,
        },
    }


def build_argocd(source: Catalog | Mesh, ctx: ExportContext, envs: list[str] | None = None) -> dict[str, str]:
    """Argo CD files, keyed by path under the export directory: ``<env>/project.yaml``,
    ``<env>/<release>.yaml`` and ``bootstrap/<env>.yaml`` (the environment's root app)."""
    mesh = resolve(source)
    catalog = mesh.catalog
    settings = _settings(catalog)
    argo = settings.argocd or ArgoSettings()
    files: dict[str, str] = {"bootstrap/argocd-cm-health.yaml": _dump([argocd_health_patch()])}
    for view in mesh.views:
        if envs and view.name not in envs:
            continue
        waves = argo_waves(ctx, view)
        files[f"{view.name}/project.yaml"] = _dump([_project(catalog, ctx, settings, argo, view)])
        for r in _releases_in(ctx, view):
            files[f"{view.name}/{r.name}.yaml"] = _dump([_application(catalog, ctx, settings, argo, view, r,
                                                                      waves[r.name])])
        files[f"bootstrap/{view.name}.yaml"] = _dump([_root_application(catalog, ctx, settings, argo, view)])
        files[f"bootstrap/{view.name}.sh"] = bootstrap_script(
            HEADER, view, _prerequisites(catalog, ctx, view),
            argo={"namespace": argo.namespace, "health": _repo_path(settings, f"{ctx.out_dir}/bootstrap/argocd-cm-health.yaml"),
                  "root": _repo_path(settings, f"{ctx.out_dir}/bootstrap/{view.name}.yaml")})
    return dict(sorted(files.items()))


def _prerequisites(catalog: Catalog, ctx: ExportContext, view: EnvView):
    return prerequisites(view, ctx.plan, mesh_chart_namespaces(catalog, view))


def mesh_chart_namespaces(catalog: Catalog, view: EnvView) -> set[str]:
    """The Namespace objects the mesh chart renders in one environment (chartgen.namespaces:
    every enabled (external) service's; the gateway's with a Gateway API ingress)."""
    values = chart_values(catalog, view)
    if not (values.get("namespaces") or {}).get("create"):
        return set()
    out = set()
    for group in ("services", "externalServices"):
        for svc in (values.get(group) or {}).values():
            if svc.get("enabled"):
                out.add(svc.get("namespace") or view.namespace)
    if values["gateway"].get("enabled") and values["gateway"].get("api") == "gatewayApi":
        out.add(values["gateway"]["namespace"])
    return out


# --- Flux -------------------------------------------------------------------------------------


def _flux_meta(name: str, flux: FluxSettings, catalog: Catalog, view: EnvView) -> dict:
    return {"name": name, "namespace": flux.namespace,
            "labels": {"app.kubernetes.io/part-of": catalog.metadata.name, "chartgen.io/environment": view.name},
            "annotations": dict(NO_SUBSTITUTE)}


def _git_ref(revision: str) -> dict:
    if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
        return {"commit": revision}
    return {"branch": revision}


def _flux_sources(catalog: Catalog, ctx: ExportContext, settings: GitOpsSettings, flux: FluxSettings,
                  view: EnvView) -> tuple[list[dict], dict[str, dict]]:
    """The source objects, and per release how its HelmRelease names its chart."""
    objs: dict[tuple[str, str], dict] = {}
    chart_of: dict[str, dict] = {}
    for r in _releases_in(ctx, view):
        src = ctx.plan.sources[r.name]
        _check_source(r, src)
        if src.local:
            name = _fit(f"{catalog.metadata.name}-git")
            objs.setdefault(("GitRepository", name), {
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": _flux_meta(name, flux, catalog, view),
                "spec": {"interval": flux.interval, "url": settings.repoURL, "ref": _git_ref(settings.revision),
                         **({"secretRef": {"name": flux.secretRef}} if flux.secretRef else {})},
            })
            chart_of[r.name] = {"chart": {"spec": {
                "chart": "./" + _repo_path(settings, src.ref), "sourceRef": {"kind": "GitRepository", "name": name},
                "reconcileStrategy": "Revision", "interval": flux.interval}}}
        elif src.oci:
            name = _fit(src.name)
            objs.setdefault(("OCIRepository", name), {
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                "metadata": _flux_meta(name, flux, catalog, view),
                "spec": {"interval": flux.interval, "url": f"{src.repo_url}/{src.name}",
                         "ref": {"tag": src.version or "latest"},
                         "layerSelector": {"mediaType": HELM_OCI_MEDIA_TYPE, "operation": "copy"}},
            })
            chart_of[r.name] = {"chartRef": {"kind": "OCIRepository", "name": name}}
        else:
            repo = src.ref.split("/", 1)[0]
            objs.setdefault(("HelmRepository", repo), {
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": _flux_meta(repo, flux, catalog, view),
                "spec": {"interval": flux.interval, "url": src.repo_url},
            })
            spec = {"chart": src.name, "sourceRef": {"kind": "HelmRepository", "name": repo},
                    "interval": flux.interval}
            if src.version:
                spec["version"] = src.version
            chart_of[r.name] = {"chart": {"spec": spec}}
    order = {"GitRepository": 0, "HelmRepository": 1, "OCIRepository": 2}
    return [objs[k] for k in sorted(objs, key=lambda k: (order[k[0]], k[1]))], chart_of


def values_configmap_name(r: Release) -> str:
    """The Flux values ConfigMap of a release."""
    return _values_configmap(r)


def _values_configmap(r: Release) -> str:
    return _fit(f"{r.name}-values", 253)


def _helmrelease(catalog: Catalog, ctx: ExportContext, flux: FluxSettings, view: EnvView, r: Release,
                 chart: dict) -> dict:
    crds = {"crds": "CreateReplace"} if _carries_crds(r) else {}
    install: dict = {"createNamespace": r.create_namespace, **crds, "remediation": {"retries": 3}}
    if r.extra.get("disableValidationOnInstall"):
        install["disableOpenAPIValidation"] = True  # helmfile: disableValidationOnInstall
    spec: dict = {
        "interval": flux.interval,
        "releaseName": r.name,
        "targetNamespace": r.namespace,
        "storageNamespace": r.namespace,  # the helm release lives where helmfile keeps it
        **chart,
        "timeout": "10m",  # helmfile's helmDefaults.timeout
    }
    deps = [n for n in r.needs_names if any(o.name == n for o in _releases_in(ctx, view))]
    if deps:
        spec["dependsOn"] = [{"name": n} for n in deps]
    spec["install"] = install
    spec["upgrade"] = {**crds, "cleanupOnFail": True, "remediation": {"retries": 3}}
    spec["valuesFrom"] = [{"kind": "ConfigMap", "name": _values_configmap(r), "valuesKey": posixpath.basename(f)}
                          for f in r.value_files(view.name)]
    meta = _flux_meta(r.name, flux, catalog, view)
    meta["labels"]["chartgen.io/tier"] = r.tier
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": meta, "spec": spec}


def build_flux(source: Catalog | Mesh, ctx: ExportContext, envs: list[str] | None = None) -> dict[str, str]:
    """Flux files, keyed by path under the export directory: per environment
    ``sources.yaml``, ``<release>.yaml`` and the ``kustomization.yaml`` that lists them and
    generates the values ConfigMaps from ``values/``."""
    mesh = resolve(source)
    catalog = mesh.catalog
    settings = _settings(catalog)
    flux = settings.flux or FluxSettings()
    files: dict[str, str] = {}
    for view in mesh.views:
        if envs and view.name not in envs:
            continue
        releases = _releases_in(ctx, view)
        sources, chart_of = _flux_sources(catalog, ctx, settings, flux, view)
        files[f"{view.name}/sources.yaml"] = _dump(sources)
        generators = []
        for r in releases:
            files[f"{view.name}/{r.name}.yaml"] = _dump([_helmrelease(catalog, ctx, flux, view, r, chart_of[r.name])])
            to_root = posixpath.relpath(".", f"{ctx.out_dir}/{view.name}")
            generators.append({"name": _values_configmap(r), "namespace": flux.namespace,
                               "files": [f"{posixpath.basename(f)}={posixpath.join(to_root, f)}"
                                         for f in r.value_files(view.name)]})
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["sources.yaml", *[f"{r.name}.yaml" for r in releases]],
            # stable names, so the HelmReleases' valuesFrom find them; the watch label makes
            # helm-controller upgrade a release as soon as its values change
            "generatorOptions": {"disableNameSuffixHash": True,
                                 "labels": {"app.kubernetes.io/part-of": catalog.metadata.name,
                                            "chartgen.io/environment": view.name,
                                            "reconcile.fluxcd.io/watch": "Enabled"},
                                 "annotations": dict(NO_SUBSTITUTE)},
            "configMapGenerator": generators,
        }
        files[f"{view.name}/kustomization.yaml"] = _dump([kustomization])
        files[f"bootstrap/{view.name}.sh"] = bootstrap_script(HEADER, view, _prerequisites(catalog, ctx, view))
    return dict(sorted(files.items()))


KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"  # a kustomize build file, not an API object
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same data, faster


@lru_cache(maxsize=1)
def crd_set():
    """The vendored Argo CD and Flux CRDs (chartgen/data/gitops/) as a ``CRDSet`` (read once)."""

    base = resources.files("chartgen") / "data" / "gitops"
    return CRDSet.from_files(sorted(str(p) for p in base.iterdir() if p.name.endswith(".yaml")))


def check_files(files: dict[str, str], crds=None) -> list[str]:
    """Every object in the exported files checked against the real CRDs, as the API server
    would admit it (unknown fields, types, enums, patterns, CEL rules). One message per
    violation: ``<file>: <Kind>/<name>: <path>: <message>``."""
    crds = crds or crd_set()
    out = []
    for path, text in sorted(files.items()):
        if not path.endswith(".yaml"):
            continue  # the bootstrap scripts
        for obj in yaml.load_all(text, Loader=_LOADER):
            if not obj or obj.get("apiVersion") == KUSTOMIZE_API or "apiVersion" not in obj:
                continue  # a kustomize build file, or a patch (argocd-cm's health check)
            what = f"{path}: {obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
            if not crds.knows(obj.get("apiVersion", ""), obj.get("kind", "")):
                out.append(f"{what}: no CRD for {obj.get('apiVersion')} {obj.get('kind')}")
                continue
            violations = crds.validate(obj)
            if isinstance(obj.get("metadata"), dict):
                # crdcheck checks metadata on its own and then walks the rest of the object,
                # so a schema listing `metadata` as required (Argo CD's) reports it missing
                violations = [v for v in violations if not (v.path == "metadata" and v.rule == "required")]
            out += [f"{what}: {v}" for v in violations]
    return out


def check_or_raise(tool: str, files: dict[str, str]) -> None:
    """A guard against generator bugs: the controllers' API servers would refuse these."""
    problems = check_files(files) if files else []
    if problems:
        raise RenderError(f"the {tool} export breaks its CRDs: " + "; ".join(problems[:5]))


def export_files(tool: str, source: Catalog | Mesh, *, chart_dir: str, out_dir: str, envs: list[str] | None = None,
                 chart_mirror: str | None = None, mesh_chart: str | None = None,
                 mesh_version: str | None = None, check: bool = True) -> dict[str, str]:
    """The files of one export keyed by path from the output root (``out_dir`` is the
    export's directory from there, e.g. ``gitops/argocd``), from the same release plan as
    ``helmfile.yaml`` with the same chart options. ``check``: validate every object against
    the CRDs (``check_or_raise``); a caller may instead check only what it will write."""
    mesh = resolve(source)
    catalog = mesh.catalog
    out_dir = posixpath.normpath(out_dir)
    if out_dir.startswith("../") or out_dir == ".." or posixpath.isabs(out_dir):
        raise ChartgenError(f"the export directory {out_dir} must be inside the catalog's directory "
                            "(the controllers read it from the same git repository)")
    unknown = [e for e in envs or [] if e not in catalog.environments]
    if unknown:
        raise ChartgenError(f"unknown environment {unknown[0]!r}; the catalog has {', '.join(catalog.environments)}")
    plan = release_plan(mesh, chart_dir=chart_dir, chart_mirror=chart_mirror, mesh_chart=mesh_chart,
                        mesh_version=mesh_version)
    for r in plan.releases:
        _check_source(r, plan.sources[r.name])
    ctx = ExportContext(plan=plan, out_dir=out_dir)
    build = build_argocd if tool == "argocd" else build_flux
    files = {f"{out_dir}/{rel}": text for rel, text in build(mesh, ctx, envs).items()}
    if check:
        check_or_raise(tool, files)
    return files
