"""The ambient data plane and the Gateway API ingress, through the real helm (and helmfile
with the real upstream charts): examples/ambient/catalog.yaml generates, renders, passes
the Gateway API CRDs' schemas and CEL rules, lints clean, and routes every request exactly
as the sidecar render of the same catalog does."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.dag import show_dag
from helpers.routemodel import (Objects, Request, gateway_api_ingress, gateway_api_mesh, gateway_api_tcp,
                                istio_ingress, istio_mesh, istio_tcp)

from chartgen.analyzer import Project, analyze, lint, render
from chartgen.catalog.model import path_match, protocol_class
from chartgen.chart.gatewayapi import crd_set
from chartgen.lifecycle.generate import Options, generate
from chartgen.catalog.mesh import env_views
from chartgen.catalog.validate import load_catalog, parse_catalog
from helpers.behaviour import AMBIENT_CHART_FIXED, without_behaviour

pytestmark = pytest.mark.integration  # helm renders every case

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ambient" / "catalog.yaml"
MESH = "bytefreezer-mesh"


def _variant(text: str, data_plane: str, ingress: str) -> str:
    """The catalog with every environment switched to ``data_plane`` and ``ingress``."""
    text = re.sub(r"(?m)^(    dataPlane: )ambient\b.*$", rf"\g<1>{data_plane}", text)
    return re.sub(r"(?m)^(    ingressApi: )gatewayApi\b.*$", rf"\g<1>{ingress}", text)


def _render(root: Path, helm: str, env: str, mesh: str = MESH) -> list[dict]:
    values = root / "values" / mesh
    out = subprocess.run([helm, "template", mesh, str(root / "charts" / mesh), "-n", f"mesh-{env}",
                          "-f", str(values / "common.yaml"), "-f", str(values / f"{env}.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _shop_text() -> str:
    """The gRPC + TCP shop without what ambient refuses (retry policies, faults), with its
    environments' data plane and ingress API written out."""
    data = yaml.safe_load((ROOT / "examples" / "grpc-shop" / "catalog.yaml").read_text(encoding="utf-8"))
    data["defaults"].pop("retries", None)
    for svc in data["services"].values():
        svc.pop("retries", None)
        svc.pop("faults", None)
    for env in data["environments"].values():
        env.update(dataPlane="ambient", ingressApi="gatewayApi")
    return yaml.safe_dump(data, sort_keys=False)


CATALOGS = {"bytefreezer": lambda: EXAMPLE.read_text(encoding="utf-8"), "grpc-shop": _shop_text}


def _render_all(tmp_path_factory, helm, text: str) -> dict:
    out = {}
    for name, plane, ingress in (("ambient", "ambient", "gatewayApi"), ("sidecar", "sidecar", "istio"),
                                 ("sidecar-gatewayapi", "sidecar", "gatewayApi")):
        root = tmp_path_factory.mktemp(name)
        (root / "catalog.yaml").write_text(_variant(text, plane, ingress), encoding="utf-8")
        generate(root / "catalog.yaml")
        mesh = next(p.name for p in (root / "charts").iterdir() if p.name.endswith("-mesh"))
        out[name] = {env: _render(root, helm, env, mesh) for env in ("dev", "prod")}
        out[name]["_root"] = root
    return out


@pytest.fixture(scope="module")
def renders(tmp_path_factory, helm):
    """{variant: {env: objects}} of the ambient example for ambient, sidecar, and sidecar
    with a Gateway API ingress."""
    return _render_all(tmp_path_factory, helm, CATALOGS["bytefreezer"]())


@pytest.fixture(scope="module", params=sorted(CATALOGS))
def any_renders(request, tmp_path_factory, helm):
    """The same three renders, of each catalog in CATALOGS."""
    return _render_all(tmp_path_factory, helm, CATALOGS[request.param]())


def _kinds(docs, kind, group=None):
    return [d for d in docs if d["kind"] == kind and (group is None or d["apiVersion"].startswith(group))]


# --- what the ambient render is -------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_ambient_namespaces_waypoints_and_no_sidecars(renders, env):
    docs = renders["ambient"][env]
    assert not _kinds(docs, "Sidecar") and not _kinds(docs, "VirtualService")
    assert not _kinds(docs, "Gateway", "networking.istio.io")
    waypoints = _assert_waypoints(docs)
    mesh_namespaces = [d for d in _kinds(docs, "Namespace") if d["metadata"]["name"] != "istio-ingress"]
    for ns in mesh_namespaces:
        labels = ns["metadata"]["labels"]
        assert labels["istio.io/dataplane-mode"] == "ambient"
        assert "istio-injection" not in labels and "istio.io/rev" not in labels
        assert (ns["metadata"]["name"], labels["istio.io/use-waypoint"]) in waypoints
    _assert_l7_policies_target_waypoints(docs)
    # the services dashboard reads the waypoints' request metrics too
    dashboard = next(iter(next(d for d in _kinds(docs, "ConfigMap")
                               if d["metadata"]["labels"].get("grafana_dashboard") == "1")["data"].values()))
    assert r'reporter=~\"destination|waypoint\"' in dashboard and r'reporter=\"destination\"' not in dashboard
    # mesh traffic arrives as HBONE: the NetworkPolicies of the services admit 15008
    ingress_policies = [n for n in _kinds(docs, "NetworkPolicy") if n["metadata"]["name"].endswith("-ingress")]
    assert ingress_policies and all(
        any(p["port"] == 15008 for rule in n["spec"]["ingress"] for p in rule["ports"]) for n in ingress_policies)


def _assert_waypoints(docs: list[dict]) -> dict[tuple[str, str], dict]:
    """The waypoints by (namespace, name): one HBONE listener each, serving services."""
    waypoints = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                 for d in _kinds(docs, "Gateway", "gateway.networking.k8s.io")
                 if d["spec"]["gatewayClassName"] == "istio-waypoint"}
    assert waypoints, "every service needs L7 here (timeouts), so every namespace has a waypoint"
    for wp in waypoints.values():
        assert wp["spec"]["listeners"] == [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]
        assert wp["metadata"]["labels"]["istio.io/waypoint-for"] == "service"
    return waypoints


def _assert_l7_policies_target_waypoints(docs: list[dict]) -> None:
    """Selector policies are enforced by ztunnel: L4 only; L7 ones name their waypoint's Service."""
    for ap in _kinds(docs, "AuthorizationPolicy"):
        for rule in ap["spec"].get("rules") or []:
            for to in rule.get("to") or []:
                assert not {"paths", "methods", "hosts"} & set(to["operation"]), ap["metadata"]["name"]
    targeted = [ap for ap in _kinds(docs, "AuthorizationPolicy") if ap["spec"].get("targetRefs")]
    assert any(r["kind"] == "Service" for ap in targeted for r in ap["spec"]["targetRefs"])

@pytest.mark.parametrize("variant", ["ambient", "sidecar-gatewayapi"])
def test_every_gateway_api_object_passes_the_crds(any_renders, variant):
    crds = crd_set()
    checked = 0
    for env in ("dev", "prod"):
        for doc in any_renders[variant][env]:
            if doc["apiVersion"].startswith("gateway.networking.k8s.io/"):
                assert crds.knows(doc["apiVersion"], doc["kind"])
                assert crds.validate(doc) == [], (doc["kind"], doc["metadata"]["name"])
                checked += 1
    assert checked >= 5


def test_the_crd_check_rejects_what_the_api_server_would(renders):
    route = next(d for d in renders["ambient"]["prod"] if d["kind"] == "HTTPRoute")
    broken = yaml.safe_load(yaml.safe_dump(route))
    del broken["spec"]["rules"][0]["backendRefs"][0]["port"]
    assert [v.rule for v in crd_set().validate(broken)] == [
        "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true"]


def test_production_ingress_is_https_with_a_redirect_route(renders):
    docs = renders["ambient"]["prod"]
    gw = next(d for d in _kinds(docs, "Gateway", "gateway.networking.k8s.io")
              if d["spec"]["gatewayClassName"] == "istio")
    listeners = {l["name"]: l for l in gw["spec"]["listeners"]}
    assert listeners["https"]["protocol"] == "HTTPS" and listeners["https"]["port"] == 443
    assert listeners["https"]["tls"]["certificateRefs"] == [{"group": "", "kind": "Secret",
                                                             "name": "bytefreezer-prod-tls"}]
    assert listeners["http"]["port"] == 80 and "tls" not in listeners["http"]
    on_http = [r for r in _kinds(docs, "HTTPRoute")
               if any(p.get("sectionName") == "http" for p in r["spec"]["parentRefs"])]
    assert len(on_http) == 1
    assert on_http[0]["spec"]["rules"][0]["filters"][0]["requestRedirect"] == {"scheme": "https", "statusCode": 301}
    dev_gw = next(d for d in _kinds(renders["ambient"]["dev"], "Gateway", "gateway.networking.k8s.io")
                  if d["spec"]["gatewayClassName"] == "istio")
    assert {l["name"] for l in dev_gw["spec"]["listeners"]} == {"http", "http-localstack"}
    # the Service Istio deploys for the Gateway: a LoadBalancer only in production (kind gives
    # none an address, and Argo CD would wait for one)
    assert gw["metadata"]["annotations"]["networking.istio.io/service-type"] == "LoadBalancer"
    assert dev_gw["metadata"]["annotations"]["networking.istio.io/service-type"] == "NodePort"


# --- the same requests reach the same versions -----------------------------------------------------


def _header_options(catalog_routes) -> dict[str, list]:
    """Per header (and query parameter) the routes look at: absent, each value that matches a
    condition, and one that matches none."""
    options: dict[str, set] = {}
    for match in catalog_routes:
        for kind, conds in (("h", match.headers), ("q", match.queryParams)):
            for name, cond in conds.items():
                vals = options.setdefault((kind, name), {None, "nomatch"})
                if cond.exact is not None:
                    vals.add(cond.exact)
                elif cond.prefix is not None:
                    vals |= {cond.prefix, cond.prefix + "x"}
        if match.cookie is not None:
            vals = options.setdefault(("h", "cookie"), {None, "other=1"})
            vals |= {f"{match.cookie.name}={match.cookie.value}", f"a=b; {match.cookie.name}={match.cookie.value}"}
    return {k: sorted(v, key=str) for k, v in options.items()}


def _requests(host: str, port: int, paths: list[str], routes) -> list[Request]:
    options = _header_options([r.match for r in routes])
    keys = sorted(options)
    out = []
    for path in paths:
        for combo in itertools.product(*(options[k] for k in keys)):
            headers = tuple((k[1], v) for k, v in zip(keys, combo) if k[0] == "h" and v is not None)
            query = tuple((k[1], v) for k, v in zip(keys, combo) if k[0] == "q" and v is not None)
            out.append(Request(host, path, port, headers, query))
    return out


def _paths(base: list[str], routes) -> list[str]:
    out = {"/", "/other", "/other/deep"}
    for p in base:
        b = p.rstrip("/")
        out |= {p, b or "/", b + "/", b + "/sub", b + "x", b + "/sub/deeper"}
    for r in routes:
        if r.match.path is not None:
            v = r.match.path.exact or r.match.path.prefix
            if v:
                out |= {v, v + "x", v + "/y"}
    return sorted(p for p in out if p.startswith("/"))


def _selectors(catalog, env: str) -> dict:
    view = next(v for v in env_views(catalog) if v.name == env)
    return {s.fqdn(view.namespace): s.selector for s in view.enabled.values()}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_sidecar_and_ambient_route_the_same_requests_to_the_same_versions(any_renders, env):
    renders = any_renders
    catalog = load_catalog(renders["ambient"]["_root"] / "catalog.yaml")
    view = next(v for v in env_views(catalog) if v.name == env)
    selectors = _selectors(catalog, env)
    sidecar = Objects(renders["sidecar"][env], selectors)
    ambient = Objects(renders["ambient"][env], selectors)
    compared = versions_seen = 0
    for svc in view.enabled.values():
        routes = list(svc.spec.routes or [])
        fqdn = svc.fqdn(view.namespace)
        for port in svc.spec.ports:
            if protocol_class(port.protocol) == "http":
                for req in _requests(fqdn, port.port, _paths([], routes), routes):
                    a, b = istio_mesh(sidecar, fqdn, req), gateway_api_mesh(ambient, fqdn, req)
                    assert a == b, (svc.key, req)
                    compared += 1
                    versions_seen += a[0] == "route" and len(a[1]) > 1
            elif protocol_class(port.protocol) == "tcp":
                a, b = istio_tcp(sidecar, fqdn, port.port), gateway_api_tcp(ambient, fqdn, port.port)
                assert a == b, (svc.key, port.port)
                compared += 1
                versions_seen += len(a[1]) > 1
    assert compared >= 15 and versions_seen > 0  # the weighted split is among what was compared


@pytest.mark.parametrize("variant", ["ambient", "sidecar-gatewayapi"])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_istio_and_gateway_api_ingress_route_the_same_requests(any_renders, env, variant):
    renders = any_renders
    catalog = load_catalog(renders["ambient"]["_root"] / "catalog.yaml")
    view = next(v for v in env_views(catalog) if v.name == env)
    selectors = _selectors(catalog, env)
    sidecar = Objects(renders["sidecar"][env], selectors)
    other = Objects(renders[variant][env], selectors)
    gw = view.env.gateway
    ports = [443, 80] if gw.https else [80]
    ports += [p.port for p in gw.extraPorts]
    release = catalog.istio.gatewayRelease
    principal = f"{catalog.istio.trustDomain}/ns/{release}/sa/{release}"
    outcomes = set()
    for svc in view.enabled.values():
        if svc.spec.expose is None:
            continue
        routes = list(svc.spec.routes or [])
        host = view.external_host(svc)
        for port in ports:
            exposed = [path_match(p)[1] for p in svc.spec.expose.paths if path_match(p)[0] != "regex"]
            for req in _requests(host, port, _paths(exposed, routes), routes):
                a, b = istio_ingress(sidecar, req, principal), gateway_api_ingress(other, req)
                assert a == b, (svc.key, req)
                outcomes.add(a[0])
    # the comparison covers routed, unserved (/apix, where a path is exposed) and, in production,
    # redirected requests
    narrow = any(path_match(p) != ("prefix", "/") for s in view.enabled.values() if s.spec.expose
                 for p in s.spec.expose.paths)
    assert outcomes >= {"route"} | ({"redirect"} if gw.https else set()) | ({"unserved"} if narrow else set())


# --- validation, lint and the helmfile ------------------------------------------------------------


def test_example_validates_and_lints_clean(renders, tmp_path):
    root = renders["ambient"]["_root"]
    catalog, smap = parse_catalog((root / "catalog.yaml").read_text(encoding="utf-8"), "catalog.yaml")
    result = lint(Project.from_catalog(catalog, root, source_map=smap))
    findings = result.findings if AMBIENT_CHART_FIXED else without_behaviour(result.findings)
    assert [f.format() for f in findings] == []
    assert result.environments == ["dev", "prod"]


def test_lint_reports_the_ambient_traps(renders):
    from dataclasses import replace

    root = renders["ambient"]["_root"]
    catalog, smap = parse_catalog((root / "catalog.yaml").read_text(encoding="utf-8"), "catalog.yaml")
    project = Project.from_catalog(catalog, root, source_map=smap)
    rendered = render(project, ["prod"])["prod"]
    assert without_behaviour(analyze(project, rendered)) == [] if not AMBIENT_CHART_FIXED else \
        analyze(project, rendered) == []

    def codes_after(mutate) -> set[str]:
        import copy

        docs = [type(d)(copy.deepcopy(d.obj), d.source, d.start, d.end) for d in rendered.docs]
        mutate(docs)
        return {f.code for f in without_behaviour(analyze(project, replace(rendered, docs=docs)))}

    def find(docs, kind, name=None):
        return next(d for d in docs if d.kind == kind and (name is None or d.name == name))

    def l7_selector_policy(docs):  # paths in a policy that ztunnel enforces
        ap = find(docs, "AuthorizationPolicy", "allow-gateway-to-bytefreezer-proxy")
        ap.obj["spec"]["rules"][0]["to"][0]["operation"]["paths"] = ["/api/*"]

    def no_waypoint(docs):  # the namespace leaves its waypoint: routes and L7 policies apply nowhere
        ns = find(docs, "Namespace", "bytefreezer-prod")
        del ns.obj["metadata"]["labels"]["istio.io/use-waypoint"]

    def sidecar_in_ambient(docs):
        import copy

        sc = copy.deepcopy(next(d for d in docs if d.kind == "NetworkPolicy"))
        sc.obj.update(apiVersion="networking.istio.io/v1", kind="Sidecar",
                      spec={"egress": [{"hosts": ["./*"]}]})
        sc.obj["metadata"]["name"] = "scoped"
        docs.append(sc)

    def injected_too(docs):
        find(docs, "Namespace", "bytefreezer-prod").obj["metadata"]["labels"]["istio-injection"] = "enabled"

    def unused_waypoint(docs):
        import copy

        wp = copy.deepcopy(next(d for d in docs if d.kind == "Gateway" and d.name == "waypoint"))
        wp.obj["metadata"]["name"] = "spare"
        docs.append(wp)

    def bad_route(docs):
        route = find(docs, "HTTPRoute", "bytefreezer-proxy")
        route.obj["spec"]["rules"][0]["backendRefs"][0]["weight"] = -1

    assert codes_after(l7_selector_policy) == {"CG130"}
    assert codes_after(no_waypoint) == {"CG130", "CG131", "CG134"}
    assert codes_after(sidecar_in_ambient) == {"CG132"}
    assert codes_after(injected_too) == {"CG133"}
    assert codes_after(unused_waypoint) == {"CG134"}
    assert codes_after(bad_route) == {"K8S-SCHEMA"}


def test_ambient_helmfile_with_the_real_upstream_charts(tmp_path, upstream_repo, helm3, helmfile_bin, helm_env):
    shutil.copy(EXAMPLE, tmp_path / "catalog.yaml")
    generate(tmp_path / "catalog.yaml", options=Options(chart_mirror=upstream_repo))
    hf = [d for d in yaml.safe_load_all((tmp_path / "helmfile.yaml").read_text(encoding="utf-8")) if d]
    releases = {r["name"]: r for r in hf[1]["releases"]}
    assert "istio-ingress" not in releases  # the Gateway API ingress: Istio deploys the gateway
    assert releases["istio-base"]["needs"] == ["istio-system/gateway-api-crds"]
    assert releases["istio-cni"]["needs"] == ["istio-system/istiod"]
    assert releases["ztunnel"]["needs"] == ["istio-system/istio-cni"]
    assert "istio-system/ztunnel" in releases[MESH]["needs"]
    env = dict(helm_env)
    group = _dag_groups(tmp_path, helmfile_bin, helm3, env)
    assert group["gateway-api-crds"] < group["istio-base"] < group["istiod"] < group["istio-cni"] \
        < group["ztunnel"] < group[MESH]
    _assert_ambient_control_plane(_istio_tier(tmp_path, helmfile_bin, helm3, env))


def _dag_groups(root, helmfile_bin: str, helm3: str, env: dict) -> dict[str, int]:
    """helmfile show-dag: each release's group (releases of a group install together, groups in order)."""
    dag = subprocess.run([helmfile_bin, "--helm-binary", helm3, "-e", "prod", "show-dag"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120)
    assert dag.returncode == 0, dag.stderr
    return show_dag(dag.stdout)[0]


def _istio_tier(root, helmfile_bin: str, helm3: str, env: dict) -> list[dict]:
    """The prod istio tier rendered by helmfile from the real upstream charts."""
    out = subprocess.run([helmfile_bin, "--helm-binary", helm3, "-e", "prod", "template", "--skip-deps",
                          "-l", "tier=istio"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:  # --skip-deps needs the repositories added: do it the normal way
        out = subprocess.run([helmfile_bin, "--helm-binary", helm3, "-e", "prod", "template", "-l", "tier=istio"],
                             cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _assert_ambient_control_plane(docs: list[dict]) -> None:
    crds = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert crds["httproutes.gateway.networking.k8s.io"]["metadata"]["annotations"][
        "helm.sh/resource-policy"] == "keep"
    assert crds["httproutes.gateway.networking.k8s.io"]["metadata"]["annotations"][
        "gateway.networking.k8s.io/bundle-version"] == "v1.5.1"
    daemonsets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "DaemonSet"}
    assert {"ztunnel", "istio-cni-node"} <= set(daemonsets)
    cni_config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "istio-cni-config")
    assert cni_config["data"]["AMBIENT_ENABLED"] == "true"
    istiod = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "istiod")
    env_vars = {e["name"]: e.get("value") for e in istiod["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env_vars.get("PILOT_ENABLE_AMBIENT") == "true"
    # ztunnel is scraped by the kubernetes-pods job, like every other Istio component
    assert daemonsets["ztunnel"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
