"""The helmfile, the Argo CD export and the Flux export install the same thing, in the same
order: each is rendered with the real binaries (helmfile, helm 3, kubectl kustomize) against
the real upstream charts served on 127.0.0.1, and the objects are compared.

- helmfile: ``helmfile -e <env> template`` of the generated helmfile.yaml;
- Argo CD: ``helm template`` of each Application's chart source with its ``valueFiles``
  (``$values/`` resolved to the repository checkout), as the repo-server runs it;
- Flux: ``kubectl kustomize`` of the environment's directory (the values ConfigMaps), then
  ``helm template`` of each HelmRelease's chart with its ``valuesFrom`` merged in order.

The same renders prove the tables the exports rely on: the cluster-scoped kinds and
namespaces each release creates (the AppProject allows exactly those), the releases that
carry CRDs, and the webhook configurations istiod patches at run time.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from chartgen.lifecycle.generate import generate
from chartgen.releases.gitops import CHART_FOOTPRINT, MESH_FOOTPRINT
from chartgen.releases.helmfile import release_plan
from chartgen.base.toolchain import find_tool
from chartgen.catalog.validate import load_catalog

from helpers.dag import show_dag
from helpers.routes import GIT_URL, argo_sources, docs, files, helm_template_text, render_routes, run

pytestmark = [pytest.mark.integration, pytest.mark.servers]

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "prod")

# Kubernetes kinds by scope, for the objects these charts render (a kind in neither set
# fails the test instead of being guessed)
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "PersistentVolume",
                  "StorageClass", "PriorityClass", "IngressClass", "APIService",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
NAMESPACED = {"ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "DaemonSet", "StatefulSet",
              "Pod", "Role", "RoleBinding", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job",
              "PersistentVolumeClaim", "NetworkPolicy", "Ingress", "Gateway", "VirtualService",
              "DestinationRule", "ServiceEntry", "PeerAuthentication", "AuthorizationPolicy",
              "RequestAuthentication", "Sidecar", "Telemetry", "EnvoyFilter", "WorkloadEntry", "HTTPRoute",
              "GRPCRoute", "TCPRoute", "TLSRoute", "ReferenceGrant"}

MIRROR = """
helmfile:
  chartMirror: {mirror}
"""


@pytest.fixture(scope="module")
def tools():
    return {name: find_tool(name, start=ROOT).path for name in ("helm3", "helmfile", "kubectl")}


CATALOGS = {"bytefreezer": "catalog.yaml", "ambient": "examples/ambient/catalog.yaml"}
GITOPS = """
gitops:
  repoURL: https://git.example.com/platform/mesh.git
  argocd: {}
  flux: {}
"""


@pytest.fixture(scope="module", params=sorted(CATALOGS))
def tree(request, tmp_path_factory, upstream_repo):
    """A catalog generated with the GitOps exports, its charts from the mirror of the real
    upstream charts: ByteFreezer's (sidecars, istio/gateway ingress, LocalStack in dev) and
    the ambient example (Gateway API CRDs chart, istio-cni, ztunnel, Gateway API ingress)."""
    root = tmp_path_factory.mktemp(f"gitops-{request.param}")
    text = (ROOT / CATALOGS[request.param]).read_text(encoding="utf-8")
    if "\ngitops:\n" in text:
        assert "\n  argocd: {}\n  flux: {}\n" in text  # ByteFreezer's catalog asks for both exports
        text = text.replace("repoURL: https://github.com/bytefreezer/chartgen.git",
                            "repoURL: https://git.example.com/platform/mesh.git")
    else:
        text += GITOPS
        for env in ENVS:  # one cluster each: two environments may not share one
            assert f"\n  {env}:\n" in text
            text = text.replace(f"\n  {env}:\n", f"\n  {env}:\n    kubeContext: kind-{env}\n", 1)
    (root / "catalog.yaml").write_text(text + MIRROR.format(mirror=upstream_repo), encoding="utf-8")
    assert GIT_URL == "https://git.example.com/platform/mesh.git"
    generate(root / "catalog.yaml")
    # the user's own edits, so that the layering order shows in the output: an environment
    # file overriding its common file, and one overriding the generated alert rules
    _edit(root / "values/istiod/dev.yaml", lambda v: v["meshConfig"].update(enablePrometheusMerge=False))
    _edit(root / "values/prometheus/prod.yaml", lambda v: v.update(serverFiles={"alerting_rules.yml": {"groups": []}}))
    return root


def _edit(path: Path, change) -> None:
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    change(values)
    path.write_text(yaml.safe_dump(values), encoding="utf-8")


_run = run
_docs = docs
_files = files


@pytest.fixture(scope="module")
def renders(tree, tools, helm_env, tmp_path_factory):
    """Per (tool, env): per release, the rendered objects (helmfile: all releases at once)."""
    return render_routes(tree, tools, helm_env, tmp_path_factory.mktemp("flux-values"))


def _canonical(obj: dict) -> str:
    # nothing is left out: every release renders the same bytes on every run (no random
    # password, signing key or checksum; test_renders_are_reproducible)
    return json.dumps(obj, sort_keys=True)


def _all(render: dict) -> Counter:
    return Counter(_canonical(o) for objs in render.values() for o in objs)


@pytest.mark.parametrize("env", ENVS)
def test_three_tools_install_the_same_objects(renders, env):
    helmfile = _all(renders[("helmfile", env)])
    argo = _all(renders[("argocd", env)])
    flux = _all(renders[("flux", env)])
    assert sum(helmfile.values()) > 100  # the whole mesh, add-ons included
    for name, other in (("Argo CD", argo), ("Flux", flux)):
        missing = helmfile - other
        extra = other - helmfile
        assert not missing and not extra, (
            f"{name} differs from helmfile in {env}: {len(missing)} object(s) only in helmfile, "
            f"{len(extra)} only in {name}; first: {next(iter(missing or extra))[:400]}")


@pytest.mark.parametrize("env", ENVS)
def test_same_releases_charts_and_versions(tree, env):
    catalog = load_catalog(tree / "catalog.yaml")
    installed = {r.name for r in release_plan(catalog, chart_dir="x").releases if env in r.envs}
    hf = _docs((tree / "helmfile.yaml").read_text(encoding="utf-8"))[1]
    expected = {rel["name"]: (rel["namespace"], rel["chart"].split("/")[-1], rel.get("version"))
                for rel in hf["releases"] if rel["name"] in installed}
    apps = {a["spec"]["sources"][0]["helm"]["releaseName"]: a
            for a in _files(tree / "gitops" / "argocd" / env, "*.yaml") if a["kind"] == "Application"}
    argo = {n: (a["spec"]["destination"]["namespace"],
                a["spec"]["sources"][0].get("chart") or a["spec"]["sources"][0]["path"].split("/")[-1],
                a["spec"]["sources"][0]["targetRevision"] if "chart" in a["spec"]["sources"][0] else None)
            for n, a in apps.items()}
    hrs = {h["spec"]["releaseName"]: h for h in _files(tree / "gitops" / "flux" / env, "*.yaml")
           if h["kind"] == "HelmRelease"}
    flux = {n: (h["spec"]["targetNamespace"], h["spec"]["chart"]["spec"]["chart"].split("/")[-1],
                h["spec"]["chart"]["spec"].get("version")) for n, h in hrs.items()}
    assert len(expected) >= 8
    assert argo == expected
    assert flux == expected


@pytest.mark.parametrize("env", ENVS)
def test_helmfile_dag_argo_waves_and_flux_dependson_agree(tree, tools, helm_env, env):
    group, needs = _helmfile_dag(tree, tools, helm_env, env)
    waves = {a["metadata"]["labels"]["chartgen.io/release"]:
             int((a["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", 0))
             for a in _files(tree / "gitops" / "argocd" / env, "*.yaml") if a["kind"] == "Application"}
    depends = {h["metadata"]["name"]: {d["name"] for d in h["spec"].get("dependsOn", [])}
               for h in _files(tree / "gitops" / "flux" / env, "*.yaml") if h["kind"] == "HelmRelease"}
    assert set(waves) == set(group) == set(depends)
    # helmfile's groups are 1-based levels of its DAG; a release with needs syncs in the wave
    # of its level, or last when nothing needs it; a release without needs has wave 0
    needed = {d for deps in needs.values() for d in deps}
    last = max(waves.values())
    for n, g in group.items():
        assert waves[n] == (0 if not needs[n] else g - 1 if n in needed else last), n
    assert len(set(waves.values())) >= 4
    # Flux waits for exactly what helmfile waits for
    assert depends == needs
    for name, deps in needs.items():
        for dep in deps:
            assert waves[dep] < waves[name]
    chain = [n for n in ("gateway-api-crds", "istio-base", "istiod", "istio-cni", "ztunnel", "istio-ingress",
                         "bytefreezer-mesh") if n in waves]
    assert [waves[n] for n in chain] == sorted({waves[n] for n in chain}) and len(chain) >= 4, chain


def _helmfile_dag(tree, tools, helm_env, env) -> tuple[dict[str, int], dict[str, set[str]]]:
    """helmfile show-dag of the enabled releases: each release's group and the releases it needs."""
    out = _run([tools["helmfile"], "--helm-binary", tools["helm3"], "-e", env, "show-dag"], helm_env, cwd=tree)
    group, needs = show_dag(out)
    listing = _run([tools["helmfile"], "--helm-binary", tools["helm3"], "-e", env, "list"], helm_env, cwd=tree)
    enabled = {row.split()[0] for row in listing.strip().splitlines()[1:] if row.split()[2] == "true"}
    group = {n: g for n, g in group.items() if n in enabled}  # the DAG lists disabled releases too
    needs = {n: deps & enabled for n, deps in needs.items() if n in enabled}
    return group, needs


def _scope_tables(renders, tree, env):
    apps = {a["metadata"]["labels"]["chartgen.io/release"]: a
            for a in _files(tree / "gitops" / "argocd" / env, "*.yaml") if a["kind"] == "Application"}
    kinds, namespaces = {}, {}
    for release, objs in renders[("argocd", env)].items():
        own_ns = apps[release]["spec"]["destination"]["namespace"]
        ks, ns = set(), set()
        for o in objs:
            kind = o["kind"]
            assert kind in CLUSTER_SCOPED or kind in NAMESPACED, f"{release}: unclassified kind {kind}"
            if kind in CLUSTER_SCOPED:
                group = o["apiVersion"].rpartition("/")[0]
                ks.add((group, kind))
            else:
                ns.add(o["metadata"].get("namespace") or own_ns)
        kinds[release], namespaces[release] = ks, ns
    return apps, kinds, namespaces


@pytest.mark.parametrize("env", ENVS)
def test_project_allows_exactly_what_the_releases_create(renders, tree, env):
    apps, kinds, namespaces = _scope_tables(renders, tree, env)
    catalog = load_catalog(tree / "catalog.yaml")
    plan = release_plan(catalog, chart_dir="x")
    for r in plan.releases:
        if env in r.envs:
            table = MESH_FOOTPRINT if r.tier == "mesh" else CHART_FOOTPRINT[r.chart]
            assert set(table) == kinds[r.name], f"CHART_FOOTPRINT[{r.chart!r}] is wrong: renders show {kinds[r.name]}"
    project = next(p for p in _files(tree / "gitops" / "argocd" / env, "project.yaml"))
    allowed_kinds = {(k["group"], k["kind"]) for k in project["spec"]["clusterResourceWhitelist"]}
    assert allowed_kinds == set().union(*kinds.values())
    allowed_ns = {d["namespace"] for d in project["spec"]["destinations"]}
    assert allowed_ns == set().union(*namespaces.values())
    assert "*" not in allowed_ns
    # every Application targets its project, and the project's cluster is every app's cluster
    for app in apps.values():
        assert app["spec"]["project"] == project["metadata"]["name"]
        dest = {k: v for k, v in app["spec"]["destination"].items() if k != "namespace"}
        assert all({k: v for k, v in d.items() if k != "namespace"} == dest for d in project["spec"]["destinations"])


@pytest.mark.parametrize("env", ENVS)
def test_crd_policies_on_exactly_the_releases_with_crds(renders, tree, env):
    apps = {a["metadata"]["labels"]["chartgen.io/release"]: a
            for a in _files(tree / "gitops" / "argocd" / env, "*.yaml") if a["kind"] == "Application"}
    hrs = {h["metadata"]["name"]: h for h in _files(tree / "gitops" / "flux" / env, "*.yaml")
           if h["kind"] == "HelmRelease"}
    with_crds = {n for n, objs in renders[("argocd", env)].items()
                 if any(o["kind"] == "CustomResourceDefinition" for o in objs)}
    assert "istio-base" in with_crds
    for name, app in apps.items():
        assert ("ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]) == (name in with_crds), name
    for name, hr in hrs.items():
        assert (hr["spec"]["install"].get("crds") == "CreateReplace") == (name in with_crds), name
        assert (hr["spec"]["upgrade"].get("crds") == "CreateReplace") == (name in with_crds), name


@pytest.mark.parametrize("env", ENVS)
def test_ignore_differences_name_istiods_webhooks(renders, tree, env):
    """Each ignoreDifferences entry names a webhook configuration its release renders,
    whose webhooks carry the fields istiod rewrites; and every webhook configuration in
    the Istio releases is covered."""
    apps = {a["metadata"]["labels"]["chartgen.io/release"]: a
            for a in _files(tree / "gitops" / "argocd" / env, "*.yaml") if a["kind"] == "Application"}
    covered = set()
    for name, app in apps.items():
        objs = {(o["kind"], o["metadata"]["name"]): o for o in renders[("argocd", env)][name]}
        for entry in app["spec"].get("ignoreDifferences", []):
            obj = objs.get((entry["kind"], entry["name"]))
            assert obj is not None, f"{name}: ignoreDifferences names {entry['kind']}/{entry['name']}, not rendered"
            for webhook in obj["webhooks"]:
                assert "clientConfig" in webhook
                if ".webhooks[]?.failurePolicy" in entry["jqPathExpressions"]:
                    assert webhook["failurePolicy"] == "Ignore"  # istiod turns it to Fail once it serves
            covered.add((entry["kind"], entry["name"]))
            assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
        if "ignoreDifferences" not in app["spec"]:
            assert not any("Webhook" in k for k, _ in objs), f"{name} has webhooks but no ignoreDifferences"
    webhooks = {(o["kind"], o["metadata"]["name"]) for n in ("istio-base", "istiod")
                for o in renders[("argocd", env)][n] if "Webhook" in o["kind"]}
    assert covered == webhooks


def test_user_layers_win(renders):
    """The edits made in the fixture reach every tool's output, and the defaults they
    override do not: the layering order is the helmfile's everywhere."""
    for tool in ("helmfile", "argocd", "flux"):
        maps = {env: {(o["metadata"]["namespace"] if "namespace" in o["metadata"] else "", o["metadata"]["name"]): o["data"]
                      for objs in renders[(tool, env)].values() for o in objs if o["kind"] == "ConfigMap"}
                for env in ENVS}
        assert "enablePrometheusMerge: false" in maps["dev"][("istio-system", "istio")]["mesh"], tool
        assert "enablePrometheusMerge: true" in maps["prod"][("istio-system", "istio")]["mesh"], tool
        assert "groups: []" in maps["prod"][("observability", "prometheus-server")]["alerting_rules.yml"], tool
        assert "ErrorBudget" in maps["dev"][("observability", "prometheus-server")]["alerting_rules.yml"] or \
            "alert:" in maps["dev"][("observability", "prometheus-server")]["alerting_rules.yml"], tool


def test_flux_values_configmaps_hold_the_values_files(tree, tools, helm_env):
    built = _docs(_run([tools["kubectl"], "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                        str(tree / "gitops" / "flux" / "dev")], helm_env))
    maps = {d["metadata"]["name"]: d for d in built if d["kind"] == "ConfigMap"}
    cm = maps["prometheus-values"]
    assert cm["metadata"]["namespace"] == "flux-system"
    assert cm["metadata"]["labels"]["reconcile.fluxcd.io/watch"] == "Enabled"
    assert cm["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"
    assert cm["data"]["common.yaml"] == (tree / "values/prometheus/common.yaml").read_text(encoding="utf-8")
    assert cm["data"]["slo-rules-dev.yaml"] == (tree / "values/prometheus/generated/slo-rules-dev.yaml").read_text(encoding="utf-8")
    assert all(d["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled" for d in built)


def test_ignore_differences_follow_a_control_plane_revision(tmp_path, upstream_repo, tools, helm_env):
    """With istio.revision the webhook configurations are named after the revision; the
    ignoreDifferences entries still name exactly the ones the charts render."""
    text = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    assert 'revision: ""' in text
    text = text.replace('revision: ""', 'revision: "1-30"', 1) + MIRROR.format(mirror=upstream_repo)
    (tmp_path / "catalog.yaml").write_text(text, encoding="utf-8")
    generate(tmp_path / "catalog.yaml")
    covered, rendered = set(), set()
    for release in ("istio-base", "istiod"):
        app = _docs((tmp_path / f"gitops/argocd/prod/{release}.yaml").read_text(encoding="utf-8"))[0]
        src = app["spec"]["sources"][0]
        files = [tmp_path / f.removeprefix("$values/") for f in src["helm"]["valueFiles"]]
        objs = _docs(helm_template_text(tools, helm_env, release, src["chart"], "istio-system",
                                        [f for f in files if f.exists()], repo=src["repoURL"],
                                        version=src["targetRevision"]))
        hooks = {(o["kind"], o["metadata"]["name"]) for o in objs if "Webhook" in o["kind"]}
        rendered |= hooks
        mine = {(e["kind"], e["name"]) for e in app["spec"]["ignoreDifferences"]}
        assert mine <= hooks, f"{release}: {mine - hooks} not rendered"
        covered |= mine
    assert covered == rendered
    assert ("MutatingWebhookConfiguration", "istio-sidecar-injector-1-30") in covered
    assert ("ValidatingWebhookConfiguration", "istio-validator-1-30-istio-system") in covered


@pytest.mark.parametrize("chart", ["cni", "ztunnel"])
def test_footprint_of_the_ambient_node_charts(chart, upstream_repo, tools, helm_env):
    """The table also covers the ambient data plane's charts (with the ambient profile)."""
    objs = _docs(_run([tools["helm3"], "template", chart, chart, "--repo", upstream_repo, "--version", "1.30.3",
                       "--namespace", "istio-system", "--set", "profile=ambient"], helm_env))
    assert objs
    kinds = set()
    for o in objs:
        assert o["kind"] in CLUSTER_SCOPED or o["kind"] in NAMESPACED, o["kind"]
        if o["kind"] in CLUSTER_SCOPED:
            kinds.add((o["apiVersion"].rpartition("/")[0], o["kind"]))
    assert set(CHART_FOOTPRINT[chart]) == kinds


@pytest.mark.parametrize("env", ENVS)
def test_renders_are_reproducible(tree, tools, helm_env, env):
    """Two helm template renders of every Application's sources give identical output:
    Argo CD renders without `lookup`, so a chart's random values (Grafana's admin password
    and the checksum of its Secret, Kiali's signing key) would change on every sync. The
    values chartgen writes leave the charts nothing to draw."""
    sources = argo_sources(tree, env)
    assert len(sources) >= 8
    for app, args in sources:
        first = helm_template_text(tools, helm_env, *args)
        second = helm_template_text(tools, helm_env, *args)
        assert first == second, f"{app['metadata']['name']}: two renders differ"
    grafana = next(args for app, args in sources if args[0] == "grafana")
    objs = _docs(helm_template_text(tools, helm_env, *grafana))
    assert not [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == "grafana"]
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    env_vars = {e["name"]: e for c in deploy["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert env_vars["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "grafana-admin",
                                                                                     "key": "admin-password"}


@pytest.mark.parametrize("env", ENVS)
def test_dev_gateway_and_control_plane_converge_on_a_laptop_cluster(renders, tree, env):
    """What gitops-engine waits for: a LoadBalancer Service's address and an HPA's metrics.
    Off production there is neither (NodePort, no HPA); production keeps both."""
    objs = [o for rel, os_ in renders[("argocd", env)].items() for o in os_ if rel in ("istio-ingress", "istiod")]
    hpas = [o for o in objs if o["kind"] == "HorizontalPodAutoscaler"]
    gateway_services = [o for o in renders[("argocd", env)].get("istio-ingress", []) if o["kind"] == "Service"]
    assert gateway_services or "istio-ingress" not in renders[("argocd", env)]  # ambient: Istio deploys it
    if env == "dev":
        assert hpas == []
        assert all(s["spec"]["type"] == "NodePort" for s in gateway_services)
    else:
        assert {h["metadata"]["name"] for h in hpas} >= {"istiod"}
        assert all(s["spec"]["type"] == "LoadBalancer" for s in gateway_services)
