"""The whole generated helmfile against the real upstream charts.

``$CHARTGEN_UPSTREAM_CHARTS`` names a chart repository of the pinned Istio and add-on charts
(CI sets it; without it these tests skip). It is served on 127.0.0.1, ``chartgen generate
--chart-mirror`` points the helmfile at it, and the real helmfile (with helm 3) renders every
environment, in helmfile's default mode and with ``HELMFILE_V1MODE=true``. Then:

- every rendered object validates strictly (Kubernetes schemas, Istio models);
- every address chartgen hands a release resolves, in the other releases' rendered
  objects, to a Service, a port, pods and a container port;
- Prometheus scrapes each Istio metrics endpoint through exactly one job;
- the two renders of an environment are byte-identical, Grafana's generated admin password
  being the one accepted difference (the chart keeps the existing Secret through ``lookup``
  on a real install).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chartgen.analyzer.schema import validate_objects
from chartgen.base.crdcheck import CRDSet
from chartgen.releases.observability import ISTIO_DASHBOARDS
from chartgen.base.toolchain import find_tool

from conftest import ROOT, run_cli
from helpers.wiring import Pod, Render, pods, read_render, resolve, resolve_url, scraped_endpoints, selects, split_host

pytestmark = [pytest.mark.integration, pytest.mark.servers]

MODES = {"default": {}, "v1": {"HELMFILE_V1MODE": "true"}}
ENVS = ("dev", "prod")
OBS = "observability"
DASHBOARDS_DIR = ROOT / "chartgen" / "data" / "dashboards" / "istio"


CATALOGS = {"sidecar": ROOT / "catalog.yaml", "ambient": ROOT / "examples" / "ambient" / "catalog.yaml"}
BOTH = pytest.mark.parametrize("catalog", sorted(CATALOGS))


@pytest.fixture(scope="module")
def trees(upstream_repo, tmp_path_factory) -> dict[str, Path]:
    """``chartgen generate --chart-mirror <the served upstream charts>`` of the repository's
    catalog (sidecars) and of the ambient example."""
    out = {}
    for name, catalog in CATALOGS.items():
        root = tmp_path_factory.mktemp(f"upstream-{name}")
        shutil.copy(catalog, root / "catalog.yaml")
        proc = run_cli("generate", "--chart-mirror", upstream_repo, cwd=root)
        assert proc.returncode == 0, proc.stderr
        out[name] = root
    return out


def _helmfile_releases(tree: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((tree / "helmfile.yaml").read_text(encoding="utf-8")) if d]
    return [r for d in docs for r in d.get("releases") or []]


@pytest.fixture(scope="module")
def namespaces(trees) -> dict[str, dict[str, str]]:
    """catalog → release → namespace."""
    return {c: {r["name"]: r["namespace"] for r in _helmfile_releases(t)} for c, t in trees.items()}


@pytest.fixture(scope="module")
def addon_releases(trees) -> dict[str, set[str]]:
    return {c: {r["name"] for r in _helmfile_releases(t) if r["labels"]["tier"] == "addons"} for c, t in trees.items()}


@pytest.fixture(scope="module")
def renders(trees, namespaces, helm_env, tmp_path_factory) -> dict[tuple[str, str, str], Render]:
    """(catalog, mode, env) → the render of the whole helmfile by the real helmfile and helm 3."""
    helmfile, helm3 = find_tool("helmfile", start=ROOT).path, find_tool("helm3", start=ROOT).path
    out = {}
    for catalog, tree in trees.items():
        for mode in MODES:
            for env in ENVS:
                dest = tmp_path_factory.mktemp(f"render-{catalog}-{mode}-{env}")
                proc = subprocess.run(
                    [helmfile, "-b", helm3, "-e", env, "template", "--output-dir", str(dest),
                     "--output-dir-template", "{{ .OutputDir }}/{{ .Release.Name }}"],
                    cwd=tree, env=dict(helm_env, **MODES[mode]), capture_output=True, text=True, timeout=600)
                assert proc.returncode == 0, (f"{catalog}: helmfile -e {env} template ({mode}) exited "
                                              f"{proc.returncode}:\n{proc.stderr}")
                out[(catalog, mode, env)] = read_render(dest, namespaces[catalog])
    return out


def _env(renders, env: str, catalog: str = "sidecar") -> Render:
    return renders[(catalog, "v1", env)]


# --- everything renders and validates ---------------------------------------------------------


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_every_release_renders_and_validates_strictly(renders, namespaces, catalog, env):
    render = _env(renders, env, catalog)
    expected = set(namespaces[catalog]) - ({"localstack"} if env == "prod" else set())
    assert set(render.releases) == expected
    assert all(render.releases[r] for r in expected), "a release rendered no object"
    findings = validate_objects(render.objects)
    assert findings == [], "\n".join(f"{f.kind} {f.namespace}/{f.name}: {f.message}" for f in findings[:20])
    # and as the API server would admit them: every Istio object against the CRDs (schema,
    # defaults, CEL rules) that this very render installs through istio-base
    crds = CRDSet.from_documents(render.find("CustomResourceDefinition", release="istio-base"))
    istio = [o for o in render.objects if o["apiVersion"].split("/")[0].endswith(".istio.io")]
    assert len(istio) > 10
    refused = {f"{o['kind']} {o['metadata'].get('namespace')}/{o['metadata']['name']}": [str(v) for v in crds.validate(o)]
               for o in istio}
    assert {k: v for k, v in refused.items() if v} == {}
    assert all(crds.knows(o["apiVersion"], o["kind"]) for o in istio)


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_two_renders_are_identical(renders, catalog, env):
    """The default-mode and v1-mode renders are two independent renders of the same
    inputs: byte for byte the same, Grafana included (its admin password comes from the
    Secret grafana-admin, not from the chart's randAlphaNum)."""
    a, b = renders[(catalog, "default", env)], renders[(catalog, "v1", env)]
    assert sorted(a.files) == sorted(b.files)
    differ = sorted(path for path in a.files if a.files[path] != b.files[path])
    assert differ == [], differ
    assert "grafana/grafana/templates/secret.yaml" not in a.files  # no chart-made admin Secret


# --- the addresses chartgen hands the releases --------------------------------------------------


def _mesh_config(render: Render) -> dict:
    return yaml.safe_load(render.one("ConfigMap", "istio", "istio-system", "istiod")["data"]["mesh"])


def _kiali_config(render: Render) -> dict:
    return yaml.safe_load(render.one("ConfigMap", "kiali", OBS, "kiali")["data"]["config.yaml"])


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_istiod_tracing_provider_reaches_jaeger(renders, catalog, env):
    render = _env(renders, env, catalog)
    mesh = _mesh_config(render)
    providers = {p["name"]: p for p in mesh["extensionProviders"]}
    assert mesh["defaultProviders"]["tracing"] == ["jaeger"]
    otel = providers["jaeger"]["opentelemetry"]
    ep = resolve(render, otel["service"], otel["port"])
    assert render.release_of(ep.service) == "jaeger"
    assert ep.port["name"].startswith("otlp-grpc") or ep.port.get("appProtocol") == "grpc"
    # the mesh chart's Telemetry names that provider, in istiod's root namespace
    tel = render.one("Telemetry", "mesh-default", release="bytefreezer-mesh")
    assert tel["metadata"]["namespace"] == mesh["rootNamespace"]
    assert {p["name"] for t in tel["spec"]["tracing"] for p in t["providers"]} == {"jaeger"}


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_kiali_addresses_resolve(renders, catalog, env):
    render = _env(renders, env, catalog)
    ext = _kiali_config(render)["external_services"]
    assert render.release_of(resolve_url(render, ext["prometheus"]["url"]).service) == "prometheus"
    assert ext["grafana"]["enabled"] is True
    assert render.release_of(resolve_url(render, ext["grafana"]["internal_url"]).service) == "grafana"
    tracing = ext["tracing"]
    assert tracing["enabled"] is True and tracing["use_grpc"] is True
    ep = resolve_url(render, tracing["internal_url"])
    assert render.release_of(ep.service) == "jaeger" and ep.port["name"] == "grpc-query"


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_grafana_datasource_reaches_prometheus(renders, catalog, env):
    render = _env(renders, env, catalog)
    cm = render.one("ConfigMap", "grafana", OBS, "grafana")
    sources = yaml.safe_load(cm["data"]["datasources.yaml"])["datasources"]
    prom = [s for s in sources if s["type"] == "prometheus"]
    assert len(prom) == 1 and prom[0]["isDefault"] is True
    assert render.release_of(resolve_url(render, prom[0]["url"]).service) == "prometheus"


@pytest.mark.parametrize("env", ENVS)
def test_gateway_servers_listen_on_the_gateway_service(renders, env):
    render = _env(renders, env)
    gw_pods = [p for p in pods(render) if p.namespace == "istio-ingress"]
    svc = render.one("Service", "istio-ingress", "istio-ingress", "istio-ingress")
    ports = {p["port"] for p in svc["spec"]["ports"]}
    gateways = render.find("Gateway", release="bytefreezer-mesh")
    assert gateways
    for gw in gateways:
        assert any(selects(gw["spec"]["selector"], p.labels) for p in gw_pods), gw["metadata"]["name"]
        for server in gw["spec"]["servers"]:
            assert server["port"]["number"] in ports, f"{env}: Gateway port {server['port']['number']} not on {sorted(ports)}"
    expected = {15021, 80, 443} | ({4566} if env == "dev" else set())
    assert ports == expected


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_mesh_policies_for_addon_pods(renders, namespaces, addon_releases, catalog, env):
    """The mesh chart's Sidecars and NetworkPolicies reach the add-ons' pods: Jaeger's OTLP
    port for spans, Prometheus' scrape port into the mesh, and (in dev) LocalStack's pods by
    their labels and container port."""
    render = _env(renders, env, catalog)
    mesh = render.releases["bytefreezer-mesh"]
    jaeger = resolve(render, _mesh_config(render)["extensionProviders"][0]["opentelemetry"]["service"], 4317)
    _assert_mesh_namespaces_reach_observability(render, jaeger, namespaces[catalog]["prometheus"])
    _assert_sidecars_scope_jaeger(mesh, jaeger)
    # objects of the mesh chart in a namespace an add-on release renders pods into
    addon_pods = {namespaces[catalog][rel]: [p for p in pods(render) if p.namespace == namespaces[catalog][rel]]
                  for rel in addon_releases[catalog]}
    ambient_ns = {n["metadata"]["name"] for n in render.find("Namespace", release="bytefreezer-mesh")
                  if n["metadata"]["labels"].get("istio.io/dataplane-mode") == "ambient"}
    checked = sum(_assert_selects_addon_pods(obj, mesh, addon_pods, ambient_ns) for obj in mesh)
    # dev runs LocalStack: its NetworkPolicies (and, with sidecars, its Sidecar) select its pods
    assert checked >= ({"sidecar": 2, "ambient": 1}[catalog] if env == "dev" else 0)
    if env == "dev":
        _assert_aws_redirect_lands_on_localstack(render)


def _assert_mesh_namespaces_reach_observability(render: Render, jaeger, prometheus_ns: str) -> None:
    """Each mesh namespace's NetworkPolicy lets spans out to Jaeger's OTLP port and Prometheus
    in to the merged metrics port."""
    mesh_namespaces = [n["metadata"]["name"] for n in render.find("Namespace", release="bytefreezer-mesh")
                       if {"istio-injection", "istio.io/rev", "istio.io/dataplane-mode"} & set(n["metadata"]["labels"])]
    assert mesh_namespaces
    for ns in mesh_namespaces:
        np = render.one("NetworkPolicy", "allow-dns-and-mesh", ns, "bytefreezer-mesh")["spec"]
        to_obs = [r for r in np["egress"] if _ns_peer(r["to"]) == OBS]
        assert jaeger.container_port in {p["port"] for r in to_obs for p in r["ports"]}
        from_obs = [r for r in np["ingress"] if _ns_peer(r["from"]) == prometheus_ns]
        assert {p["port"] for r in from_obs for p in r["ports"]} == {15020}  # the merged metrics port


def _assert_sidecars_scope_jaeger(mesh: list[dict], jaeger) -> None:
    for sidecar in (o for o in mesh if o["kind"] == "Sidecar"):
        hosts = [h for e in sidecar["spec"]["egress"] for h in e["hosts"]]
        scoped = [h for h in hosts if h.startswith(f"{OBS}/")]
        assert scoped, sidecar["metadata"]["name"]
        for host in scoped:
            ns, fqdn = host.split("/", 1)
            assert split_host(fqdn) == (jaeger.service["metadata"]["name"], ns)


def _assert_selects_addon_pods(obj: dict, mesh: list[dict], addon_pods: dict, ambient_ns: set) -> bool:
    """A Sidecar or NetworkPolicy of the mesh chart in an add-on's namespace selects pods of
    that release (and a NetworkPolicy opens only their container ports); whether it was checked."""
    ns = obj["metadata"].get("namespace")
    if obj["kind"] not in ("Sidecar", "NetworkPolicy") or not addon_pods.get(ns):
        return False
    selector = (obj["spec"].get("workloadSelector") or {}).get("labels") if obj["kind"] == "Sidecar" \
        else obj["spec"]["podSelector"].get("matchLabels")
    if not selector:
        return False  # namespace-wide
    waypoint = selector.get("gateway.networking.k8s.io/gateway-name")
    if waypoint:  # the pods Istio deploys for one of the chart's own Gateways (a waypoint)
        assert [g for g in mesh if g["kind"] == "Gateway" and g["metadata"]["name"] == waypoint
                and g["metadata"]["namespace"] == ns], f"{obj['metadata']['name']}: no Gateway {ns}/{waypoint}"
        return False
    chosen = [p for p in addon_pods[ns] if selects(selector, p.labels)]
    assert chosen, f"{obj['kind']} {ns}/{obj['metadata']['name']} selects no pod of the release in {ns}"
    if obj["kind"] == "NetworkPolicy":
        container_ports = {cp["containerPort"] for p in chosen for cp in p.container_ports()}
        if ns in ambient_ns:
            container_ports.add(15008)  # HBONE: ztunnel serves it inside the pod's network namespace
        for rule in obj["spec"].get("ingress") or []:
            assert {p["port"] for p in rule["ports"]} <= container_ports
    return True


def _assert_aws_redirect_lands_on_localstack(render: Render) -> None:
    """The catalog's AWS redirect (and its routes) land on the LocalStack Service."""
    dests = [(r["destination"]["host"], r["destination"]["port"]["number"])
             for vs in render.find("VirtualService", release="bytefreezer-mesh")
             for h in vs["spec"].get("http") or [] for r in h.get("route") or []]
    dests += [(f"{b['name']}.{b.get('namespace', route['metadata']['namespace'])}", b["port"])
              for route in render.find("HTTPRoute", release="bytefreezer-mesh")
              for rule in route["spec"].get("rules") or [] for b in rule.get("backendRefs") or []
              if b.get("kind", "Service") == "Service"]
    to_localstack = [d for d in dests if d[0].startswith("localstack-internal.")]
    assert to_localstack
    for host, port in to_localstack:
        assert render.release_of(resolve(render, host, port).service) == "localstack"


def _ns_peer(peers: list[dict]) -> str | None:
    names = {(p.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") for p in peers}
    return names.pop() if len(names) == 1 else None


# --- one scrape path ----------------------------------------------------------------------------


def _injected_pods(render: Render) -> list[Pod]:
    """The rendered pods as they run: sidecar injection adds istio-proxy (its ports from the
    rendered injector template) and, with enablePrometheusMerge, Istio's merged-metrics
    annotations. The catalog's own workloads (not rendered: their charts are the users')
    are modelled from the mesh chart's Sidecars, one pod per workload selector."""
    injector = render.one("ConfigMap", "istio-sidecar-injector", "istio-system", "istiod")["data"]["config"]
    assert "containerPort: 15090" in injector and "name: http-envoy-prom" in injector
    proxy = {"name": "istio-proxy", "ports": [{"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"},
                                              {"containerPort": 15021, "protocol": "TCP", "name": "http-envoy-health"}]}
    merge = _mesh_config(render).get("enablePrometheusMerge", True)
    injected_ns = {n["metadata"]["name"] for n in render.find("Namespace")
                   if (n["metadata"].get("labels") or {}).get("istio-injection") == "enabled"}
    all_pods = pods(render)
    for sidecar in render.find("Sidecar", release="bytefreezer-mesh"):
        labels = sidecar["spec"]["workloadSelector"]["labels"]
        ns = sidecar["metadata"]["namespace"]
        if not any(p.namespace == ns and selects(labels, p.labels) for p in all_pods):
            all_pods.append(Pod(ns, sidecar["metadata"]["name"], dict(labels), {}, [{"name": "app"}]))
    for i, pod in enumerate(all_pods):
        pod.ip = f"10.0.{i // 250}.{i % 250 + 1}"
        off = "false" in (pod.labels.get("sidecar.istio.io/inject"), pod.annotations.get("sidecar.istio.io/inject"))
        if pod.namespace in injected_ns and not off:
            if not any(c["name"] == "istio-proxy" for c in pod.containers):
                pod.containers.append(json.loads(json.dumps(proxy)))
            if merge:
                pod.annotations.update({"prometheus.io/scrape": "true", "prometheus.io/port": "15020",
                                        "prometheus.io/path": "/stats/prometheus"})
    return all_pods


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_istio_metrics_are_scraped_once(renders, catalog, env):
    render = _env(renders, env, catalog)
    cm = render.one("ConfigMap", "prometheus-server", OBS, "prometheus")
    config = yaml.safe_load(cm["data"]["prometheus.yml"])
    all_pods = _injected_pods(render)
    scraped = scraped_endpoints(config, render, all_pods)
    twice = {k: v for k, v in scraped.items() if len(v) > 1}
    assert twice == {}, f"scraped by more than one job: {twice}"

    def jobs_of(pod: Pod) -> dict[tuple, set[str]]:
        return {k: v for k, v in scraped.items() if k[1].split(":")[0] == pod.ip}

    istiod = next(p for p in all_pods if p.namespace == "istio-system" and p.labels.get("app") == "istiod")
    assert jobs_of(istiod) == {("http", f"{istiod.ip}:15014", "/metrics"): {"kubernetes-pods"}}
    # sidecars, gateways and ztunnel: Istio's proxies all serve their metrics on 15020
    proxies = [p for p in all_pods if any(c["name"] == "istio-proxy" for c in p.containers)]
    for pod in proxies:
        path = pod.annotations.get("prometheus.io/path", "/metrics")
        assert jobs_of(pod) == {("http", f"{pod.ip}:15020", path): {"kubernetes-pods"}}, pod.name
    if catalog == "sidecar":
        assert any(p.namespace == "istio-ingress" for p in proxies) and len(proxies) >= 4
    else:
        assert [p.name for p in proxies] == ["ztunnel"]


# --- Grafana's dashboards, Kiali's credentials ----------------------------------------------------


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_grafana_gets_istio_dashboards_without_the_internet(renders, catalog, env):
    render = _env(renders, env, catalog)
    cm = render.one("ConfigMap", "grafana", OBS, "grafana")["data"]
    assert "curl" not in cm.get("download_dashboards.sh", ""), "a dashboard is downloaded at pod start"
    providers = yaml.safe_load(cm["dashboardproviders.yaml"])["providers"]
    grafana = render.one("Deployment", "grafana", OBS, "grafana")["spec"]["template"]["spec"]
    container = next(c for c in grafana["containers"] if c["name"] == "grafana")
    volumes = {v["name"]: v for v in grafana["volumes"]}
    titles = {}
    for provider in providers:
        path = provider["options"]["path"]
        boards = render.one("ConfigMap", f"grafana-dashboards-{provider['name']}", OBS, "grafana")
        # under what a client-side `kubectl apply` can store in its last-applied annotation
        assert len(json.dumps(boards)) < 200_000, provider["name"]
        for key, text in boards["data"].items():
            mounts = [m for m in container["volumeMounts"] if m["mountPath"] == f"{path}/{key}"]
            assert len(mounts) == 1, f"{path}/{key} is not mounted"
            assert volumes[mounts[0]["name"]]["configMap"]["name"] == boards["metadata"]["name"]
            titles[json.loads(text)["title"]] = provider["name"]
            # Istio's own JSON arrives untouched (its `{{pod}}` legends are never templated)
            vendored = dict(ISTIO_DASHBOARDS[provider["name"]])[key.removesuffix(".json")]
            assert json.loads(text) == json.loads((DASHBOARDS_DIR / vendored).read_text(encoding="utf-8"))
    assert len(titles) == 7
    kiali = _kiali_config(render)["external_services"]["grafana"]["dashboards"]
    assert {d["name"] for d in kiali} <= set(titles), "Kiali links a dashboard Grafana does not have"
    # the mesh chart's own dashboard reaches Grafana through the dashboard sidecar
    sidecar = next(c for c in grafana["containers"] if c["name"] == "grafana-sc-dashboard")
    env_vars = {e["name"]: e.get("value") for e in sidecar["env"]}
    mesh_board = render.one("ConfigMap", "bytefreezer-mesh-dashboard", release="bytefreezer-mesh")
    assert mesh_board["metadata"]["labels"][env_vars["LABEL"]] == env_vars["LABEL_VALUE"]
    assert env_vars["NAMESPACE"] in ("ALL", mesh_board["metadata"]["namespace"])


def _secret_refs(value, path=()):
    """Kiali's ``secret:<name>:<key>`` references in its configuration."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _secret_refs(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secret_refs(v, path + (i,))
    elif isinstance(value, str) and value.startswith("secret:"):
        _, name, key = value.split(":", 2)
        yield ".".join(map(str, path)), name, key


@BOTH
@pytest.mark.parametrize("env", ENVS)
def test_kiali_credentials_and_signing_key(renders, catalog, env):
    """Kiali authenticates to Grafana with the credentials of Grafana's own Secret (Grafana
    allows no anonymous access); its login-token signing key is stable: in environments with
    logins a Secret the operator creates once (docs/addons.md says how), else a fixed
    derived key (anonymous access has no sessions)."""
    render = _env(renders, env, catalog)
    config = _kiali_config(render)
    ini = render.one("ConfigMap", "grafana", OBS, "grafana")["data"]["grafana.ini"]
    assert "[auth.anonymous]" not in ini
    refs = {path: (name, key) for path, name, key in _secret_refs(config)}
    assert refs["external_services.grafana.auth.password"] == ("grafana-admin", "admin-password")
    assert refs["external_services.grafana.auth.username"] == ("grafana-admin", "admin-user")
    kiali = render.one("Deployment", "kiali", OBS, "kiali")["spec"]["template"]["spec"]
    mounted = {(v["secret"]["secretName"], i["key"]) for v in kiali["volumes"] if "secret" in v
               for i in v["secret"].get("items") or []}
    docs = (ROOT / "docs" / "addons.md").read_text(encoding="utf-8")
    for path, (name, key) in refs.items():
        assert (name, key) in mounted, f"{path}: the Kiali pod does not mount {name}/{key}"
        secrets = render.find("Secret", name, OBS)
        if secrets:
            assert key in secrets[0]["data"], f"{path}: Secret {name} has no key {key}"
        else:  # a Secret nobody renders is one the operator creates, as the docs show
            assert f"kubectl -n {OBS} create secret generic {name}" in docs and key in docs, path
    signing = config["login_token"]["signing_key"]
    if config["auth"]["strategy"] == "anonymous":
        assert len(signing) == 32 and not signing.startswith("secret:")
    else:
        assert "login_token.signing_key" in refs
