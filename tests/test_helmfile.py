"""helmfile.yaml and values/ from the catalog, checked with the real helmfile 0.166 and
helm 3 against stand-in charts served from a local chart repository (no network, no cluster).

Every helmfile command runs twice: in helmfile's default mode (helmfile.yaml rendered as a
template) and with HELMFILE_V1MODE=true (plain YAML, as in helmfile v1).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from chartgen.catalog.model import Addons
from chartgen.releases.helmfile import (REPOSITORIES, build_generated_values, build_helmfile, build_release_values,
                               dump_helmfile, release_names)
from chartgen.catalog.mesh import env_views
from chartgen.releases.observability import slo_alert_rules
from helpers.slo import service_alerts
from chartgen.base.toolchain import find_tool
from chartgen.releases.userfiles import merge_user_values
from chartgen.catalog.validate import load_catalog

from helpers.dag import show_dag
from helpers.standin import build_chart_repo, free_port, helm_env, http_server, standin_configmaps, write_standin_chart

pytestmark = [pytest.mark.integration, pytest.mark.servers]

ROOT = Path(__file__).resolve().parent.parent
MODES = {"default": {}, "v1": {"HELMFILE_V1MODE": "true"}}
HEADER = "Values for one helmfile release.\nKeys marked `# chartgen` are rewritten by `chartgen generate`."


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(ROOT / "catalog.yaml")


@pytest.fixture(scope="session")
def tools():
    # a missing binary raises ToolNotFound: the tests fail, they never skip
    return {"helmfile": find_tool("helmfile").path, "helm3": find_tool("helm3").path}


@pytest.fixture(scope="session")
def helm_home(tmp_path_factory):
    return helm_env(tmp_path_factory.mktemp("helm-home"))


def _remote_charts(catalog) -> list[tuple[str, str]]:
    """(chart, version) of every remote chart the helmfile installs."""
    docs = build_helmfile(catalog, chart_dir="charts/x", chart_mirror="http://127.0.0.1:1")
    return sorted({(r["chart"].split("/", 1)[1], r["version"]) for r in docs[1]["releases"]
                   if r["chart"].startswith("mirror/")})


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory, catalog, tools, helm_home):
    """A chart repository on 127.0.0.1 with a stand-in for every remote chart (one per session)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    repo = build_chart_repo(tmp_path_factory.mktemp("repo") / "charts", _remote_charts(catalog),
                            helm=tools["helm3"], env=helm_home, url=url)
    with http_server(repo, port) as served:
        yield served


def _write_real_mesh_chart(dest: Path, catalog) -> str:
    from chartgen.chart.render import ChartMeta, build_chart

    for rel, text in build_chart(catalog, ChartMeta()).items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return "real"


def _write_standin_mesh_chart(dest: Path, catalog) -> str:
    write_standin_chart(dest.parent, dest.name, "0.1.0")
    return "standin"


@pytest.fixture(scope="session")
def mesh_chart_writer():
    """How the mesh chart gets into the tree: the real generator when chartgen.chart.render offers
    it (CHARTGEN_TEST_MESH_CHART=standin forces the stand-in), else a stand-in chart."""
    if os.environ.get("CHARTGEN_TEST_MESH_CHART") == "standin":
        return _write_standin_mesh_chart
    try:
        from chartgen.chart.render import ChartMeta, build_chart  # noqa: F401
    except ImportError:
        return _write_standin_mesh_chart
    return _write_real_mesh_chart


@pytest.fixture(scope="session")
def tree(tmp_path_factory, catalog, chart_repo, mesh_chart_writer):
    """A generated output tree: helmfile.yaml, values/ and charts/<name>-mesh/."""
    root = tmp_path_factory.mktemp("tree")
    docs = build_helmfile(catalog, chart_dir="./charts/bytefreezer-mesh", chart_mirror=chart_repo)
    (root / "helmfile.yaml").write_text(dump_helmfile(docs), encoding="utf-8")
    for rel, data in build_release_values(catalog).items():
        path = root / "values" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(merge_user_values(None, data, header=HEADER), encoding="utf-8")
    for rel, data in build_generated_values(catalog).items():
        path = root / "values" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    kind = mesh_chart_writer(root / "charts" / "bytefreezer-mesh", catalog)
    return root, kind


def helmfile(tools, helm_home, cwd: Path, mode: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(helm_home, **MODES[mode])
    proc = subprocess.run([tools["helmfile"], "--helm-binary", tools["helm3"], *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"helmfile {' '.join(args)} ({mode}) exited {proc.returncode}:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def rendered(tools, helm_home, tree):
    """`helmfile -e <env> template` output per (mode, env)."""
    root, _ = tree
    cache = {}

    def get(mode: str, env: str) -> str:
        if (mode, env) not in cache:
            cache[(mode, env)] = helmfile(tools, helm_home, root, mode, "-e", env, "template").stdout
        return cache[(mode, env)]

    return get


# --- the helmfile commands -------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(MODES))
def test_helmfile_commands_succeed(tools, helm_home, tree, mode):
    root, _ = tree
    lint = helmfile(tools, helm_home, root, mode, "-e", "dev", "lint")
    assert "Linting release=localstack" in lint.stderr + lint.stdout
    prod = helmfile(tools, helm_home, root, mode, "-e", "prod", "template")
    assert "kind: ConfigMap" in prod.stdout
    build = helmfile(tools, helm_home, root, mode, "-e", "dev", "build")
    # the per-environment values file names are rendered per release, in both modes
    state = [doc for doc in yaml.safe_load_all(build.stdout) if doc]
    releases = {r["name"]: r for doc in state for r in doc.get("releases") or []}
    assert releases["istiod"]["values"] == ["values/istiod/common.yaml", "values/istiod/dev.yaml"]
    assert "{{" not in build.stdout
    listing = helmfile(tools, helm_home, root, mode, "list")
    assert "istio-base" in listing.stdout and "bytefreezer-mesh" in listing.stdout


def _list_rows(text: str) -> dict[str, list[str]]:
    rows = [re.split(r"\s*\t\s*", line.strip()) for line in text.strip().splitlines()]
    header, *body = rows
    return {row[0]: dict(zip(header, row)) for row in body}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_list_per_environment(tools, helm_home, tree, mode):
    root, _ = tree
    dev = _list_rows(helmfile(tools, helm_home, root, mode, "-e", "dev", "list").stdout)
    prod = _list_rows(helmfile(tools, helm_home, root, mode, "-e", "prod", "list").stdout)
    assert list(dev) == release_names(load_catalog(ROOT / "catalog.yaml"))
    assert dev["localstack"]["ENABLED"] == "true"
    assert prod["localstack"]["ENABLED"] == "false"
    assert dev["istiod"]["LABELS"] == "tier:istio" and dev["bytefreezer-mesh"]["LABELS"] == "tier:mesh"
    assert dev["grafana"]["LABELS"] == "tier:addons"
    assert dev["istiod"]["VERSION"] == "1.30.3" and dev["kiali"]["VERSION"] == "2.26.0"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_install_order(tools, helm_home, tree, mode):
    root, _ = tree
    out = helmfile(tools, helm_home, root, mode, "-e", "dev", "show-dag").stdout
    group, needs = show_dag(out)
    assert group["istio-base"] < group["istiod"] < group["istio-ingress"] < group["bytefreezer-mesh"]
    assert group["localstack"] > group["bytefreezer-mesh"]  # its namespace comes from the mesh chart
    for addon in ("jaeger", "prometheus", "grafana"):
        assert needs[addon] <= {"istio-base"}, addon
        assert group[addon] <= 2
    assert needs["kiali"] == {"istio-base", "grafana"}  # Kiali mounts Grafana's admin Secret


# --- which values reach which release ----------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(MODES))
def test_values_reach_releases(rendered, mode):
    dev = standin_configmaps(rendered(mode, "dev"))
    prod = standin_configmaps(rendered(mode, "prod"))

    # namespaces and pinned charts
    assert dev["istio-base"]["namespace"] == "istio-system" and dev["istio-base"]["chart"] == "base-1.30.3"
    assert dev["istio-ingress"]["namespace"] == "istio-ingress"
    assert dev["kiali"]["namespace"] == "observability" and dev["kiali"]["chart"] == "kiali-server-2.26.0"
    assert dev["istio-base"]["values"]["defaultRevision"] == "default"

    # gateway: the extra port 4566 only in dev
    dev_ports = {p["port"] for p in dev["istio-ingress"]["values"]["service"]["ports"]}
    prod_ports = {p["port"] for p in prod["istio-ingress"]["values"]["service"]["ports"]}
    assert dev_ports == {15021, 80, 443, 4566}
    assert prod_ports == {15021, 80, 443}

    for rendered_env in (dev, prod):
        _assert_istiod_mesh_config(rendered_env["istiod"]["values"]["meshConfig"])
    _assert_kiali_values(dev["kiali"]["values"], prod["kiali"]["values"])
    _assert_prometheus_values(dev["prometheus"]["values"], prod["prometheus"]["values"])
    _assert_grafana_values(dev["grafana"]["values"])

    # localstack: dev only, Service named after the catalog's serviceName
    assert "localstack" in dev and "localstack" not in prod
    assert dev["localstack"]["namespace"] == "localstack"
    assert dev["localstack"]["values"]["fullnameOverride"] == "localstack-internal"


def _assert_istiod_mesh_config(mc: dict) -> None:
    """Tracing provider on OTLP gRPC 4317, access logs."""
    assert mc["extensionProviders"] == [{"name": "jaeger", "opentelemetry": {
        "service": "jaeger.observability.svc.cluster.local", "port": 4317}}]
    assert mc["defaultProviders"] == {"tracing": ["jaeger"]}
    assert mc["enablePrometheusMerge"] is True
    assert mc["accessLogFile"] == "/dev/stdout"


def _assert_kiali_values(kiali: dict, prod_kiali: dict) -> None:
    """Anonymous only in dev; Prometheus and Jaeger found in the observability namespace."""
    assert kiali["auth"]["strategy"] == "anonymous"
    assert prod_kiali["auth"]["strategy"] == "token"
    ext = kiali["external_services"]
    assert ext["prometheus"]["url"] == "http://prometheus-server.observability"
    assert ext["tracing"]["internal_url"] == "http://jaeger.observability:16685/jaeger"
    assert kiali["deployment"]["pod_annotations"] == {"sidecar.istio.io/inject": "false"}


def _assert_prometheus_values(prom: dict, prod_prom: dict) -> None:
    """The chart's own jobs only (one scrape path), SLO alert rules per environment."""
    assert "scrapeConfigs" not in prom
    groups = prom["serverFiles"]["alerting_rules.yml"]["groups"]
    assert [g["name"] for g in groups] == ["bytefreezer-mesh-slo"]
    dev_alerts = set(service_alerts(prom["serverFiles"]["alerting_rules.yml"]))
    prod_alerts = set(service_alerts(prod_prom["serverFiles"]["alerting_rules.yml"]))
    assert {("bytefreezer-receiver", "ServiceHighErrorRatio"), ("bytefreezer-receiver", "ServiceHighLatencyP99"),
            ("localstack-internal", "ServiceHighErrorRatio")} <= dev_alerts
    assert ("localstack-internal", "ServiceHighErrorRatio") not in prod_alerts
    assert ("bytefreezer-proxy", "ServiceHighLatencyP99") in prod_alerts


def _assert_grafana_values(graf: dict) -> None:
    """Datasource, Istio dashboards, sidecar for the mesh chart's dashboard ConfigMap."""
    assert graf["datasources"]["datasources.yaml"]["datasources"][0]["url"] == "http://prometheus-server.observability"
    # Istio's dashboards as JSON (no download from grafana.com), one ConfigMap per provider
    providers = {p["name"]: p["options"]["path"] for p in graf["dashboardProviders"]["dashboardproviders.yaml"]["providers"]}
    assert set(graf["dashboards"]) == set(providers) == {"istio", "istio-services"}
    titles = {json.loads(d["json"])["title"] for boards in graf["dashboards"].values() for d in boards.values()}
    assert {"Istio Mesh Dashboard", "Istio Service Dashboard", "Istio Control Plane Dashboard"} <= titles
    assert not any("gnetId" in d or "url" in d for boards in graf["dashboards"].values() for d in boards.values())
    assert graf["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert "adminPassword" not in graf


@pytest.mark.parametrize("mode", sorted(MODES))
def test_mesh_release_gets_environment_values(rendered, tree, mode):
    _, kind = tree
    dev_text, prod_text = rendered(mode, "dev"), rendered(mode, "prod")
    if kind == "standin":
        dev = standin_configmaps(dev_text)["bytefreezer-mesh"]["values"]
        prod = standin_configmaps(prod_text)["bytefreezer-mesh"]["values"]
        assert dev["environment"]["name"] == "dev" and prod["environment"]["name"] == "prod"
        assert [p["number"] for p in dev["gateway"]["extraPorts"]] == [4566]
        return

    def gateway_ports(text):
        ports = set()
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "Gateway":
                ports |= {s["port"]["number"] for s in doc["spec"]["servers"]}
        return ports

    assert 4566 in gateway_ports(dev_text)
    assert 4566 not in gateway_ports(prod_text)


# --- the file itself (no binaries) ---------------------------------------------------------------


def test_helmfile_layout(catalog):
    text = dump_helmfile(build_helmfile(catalog, chart_dir="./charts/bytefreezer-mesh"))
    assert text.startswith("# Generated by chartgen from catalog.yaml. Do not edit: run `chartgen generate`.\n")
    part1, part2 = list(yaml.safe_load_all(text))
    assert set(part1) == {"environments", "helmDefaults"} and set(part2) == {"repositories", "releases"}
    assert part1["environments"]["dev"]["kubeContext"] == "kind-bytefreezer-dev"
    assert part1["helmDefaults"] == {"wait": False, "timeout": 600, "cleanupOnFail": True,
                                     "createNamespace": True, "historyMax": 10}
    assert {r["name"]: r["url"] for r in part2["repositories"]} == REPOSITORIES
    # Go templating only in the values file names
    for line in text.splitlines():
        if "{{" in line:
            assert re.fullmatch(r"\s*- values/[a-z0-9-]+/(generated/slo-rules-)?\{\{ \.Environment\.Name \}\}\.yaml", line), line
    rel = {r["name"]: r for r in part2["releases"]}
    assert rel["istiod"]["wait"] is True
    assert rel["bytefreezer-mesh"]["chart"] == "./charts/bytefreezer-mesh"
    assert rel["bytefreezer-mesh"]["disableValidationOnInstall"] is True
    assert rel["localstack"]["createNamespace"] is False
    assert rel["localstack"]["condition"] == "localstack.enabled"
    assert rel["istio-ingress"]["chart"] == "istio/gateway" and rel["istio-ingress"]["namespace"] == "istio-ingress"
    for r in part2["releases"]:
        assert r["values"] == _expected_values_files(r["name"])
        assert r["missingFileHandler"] == "Warn"


def _expected_values_files(release: str) -> list[str]:
    expected = [f"values/{release}/common.yaml", f"values/{release}/{{{{ .Environment.Name }}}}.yaml"]
    if release == "prometheus":  # the SLO rules: a chartgen-owned layer before the user's env file
        expected.insert(1, "values/prometheus/generated/slo-rules-{{ .Environment.Name }}.yaml")
    if release == "grafana":  # Istio's dashboards, chartgen-owned too
        expected.insert(1, "values/grafana/generated/istio-dashboards.yaml")
    return expected


def test_mirrors_and_published_mesh_chart(catalog):
    docs = build_helmfile(catalog, chart_dir="charts/bytefreezer-mesh", chart_mirror="oci://registry.example:5000/charts/",
                          mesh_chart="oci://registry.example:5000/charts/bytefreezer-mesh", mesh_version="1.2.3")
    assert docs[1]["repositories"] == [{"name": "mirror", "url": "registry.example:5000/charts", "oci": True}]
    rel = {r["name"]: r for r in docs[1]["releases"]}
    assert rel["istiod"]["chart"] == "mirror/istiod" and rel["istiod"]["version"] == "1.30.3"
    assert rel["grafana"]["chart"] == "mirror/grafana"
    assert rel["bytefreezer-mesh"]["chart"] == "oci://registry.example:5000/charts/bytefreezer-mesh"
    assert rel["bytefreezer-mesh"]["version"] == "1.2.3"


def test_disabled_addons_and_no_localstack(catalog):
    services = {k: v for k, v in catalog.services.items() if k != "localstack"}
    slim = catalog.model_copy(update={
        "observability": Addons(kiali=False, jaeger=False, prometheus=True, grafana=False),
        "services": services, "externalServices": {},
    })
    docs = build_helmfile(slim, chart_dir="charts/bytefreezer-mesh")
    names = [r["name"] for r in docs[1]["releases"]]
    assert names == ["istio-base", "istiod", "istio-ingress", "bytefreezer-mesh", "prometheus"]
    assert [r["name"] for r in docs[1]["repositories"]] == ["istio", "prometheus-community"]
    assert "values" not in docs[0]["environments"]["dev"] and "default" not in docs[0]["environments"]
    values = build_release_values(slim)
    assert "extensionProviders" not in values["istiod/common.yaml"]["meshConfig"]
    assert not any(k.startswith(("localstack/", "kiali/")) for k in values)


def test_release_values_files(catalog):
    values = build_release_values(catalog)
    assert "localstack/dev.yaml" in values and "localstack/prod.yaml" not in values
    assert values["bytefreezer-mesh/common.yaml"] == {}
    assert values["istiod/dev.yaml"] == {"meshConfig": {"accessLogFile": "/dev/stdout"}, "autoscaleEnabled": False}
    for name in release_names(catalog):
        assert f"{name}/common.yaml" in values


def test_slo_alert_rules(catalog):
    dev = next(v for v in env_views(catalog) if v.name == "dev")
    doc = slo_alert_rules(catalog, dev)
    alerts = service_alerts(doc)
    sel = 'reporter="destination"'
    labels = (', "service", "$1", "destination_service", `([^.]+)\\..*`), "namespace", "$1", '
              '"destination_service", `[^.]+\\.([^.]+)\\..*`)')
    by = "sum by (reporter, destination_service)"
    assert alerts[("bytefreezer-receiver", "ServiceHighErrorRatio")] == (
        f'label_replace(label_replace({by} (rate(istio_requests_total{{{sel},response_code=~"5.."}}[5m])) / '
        f"{by} (rate(istio_requests_total{{{sel}}}[5m])){labels} [reporter=destination] > 0.005")
    assert alerts[("bytefreezer-receiver", "ServiceHighLatencyP99")] == (
        "label_replace(label_replace(histogram_quantile(0.99, sum by (reporter, destination_service, le) "
        f"(rate(istio_request_duration_milliseconds_bucket{{{sel}}}[5m]))){labels} [reporter=destination] > 2000")
    assert alerts[("bytefreezer-proxy", "ServiceHighErrorRatio")].endswith("> 0.01")  # the catalog default SLO
    assert ("localstack-internal", "ServiceHighErrorRatio") in alerts  # namespace localstack
    rules = doc["groups"][0]["rules"]
    # each expression once: two recording rules (5xx ratio, p99), then one alert per threshold
    assert [r.get("record") for r in rules[:2]] == ["chartgen_slo:http_5xx_ratio:rate5m",
                                                     "chartgen_slo:request_duration_p99_ms:rate5m"]
    alert = next(r for r in rules if r.get("alert") == "ServiceHighErrorRatio")
    assert alert["for"] == "5m" and alert["labels"] == {"severity": "warning"}
    assert alert["annotations"]["summary"] == "{{ $labels.service }}: 5xx ratio above 0.005"


def test_slo_rules_grow_by_a_name_per_service_not_by_its_expressions():
    import yaml as _yaml
    from helpers.synth import synth_catalog
    from chartgen.catalog.mesh import resolve
    from chartgen.catalog.validate import parse_catalog

    sizes = {}
    for n in (100, 1000):
        mesh = resolve(parse_catalog(_yaml.safe_dump(synth_catalog(n)), "catalog.yaml")[0])
        view = next(v for v in mesh.views if v.name == "prod")
        doc = slo_alert_rules(mesh.catalog, view)
        assert len(service_alerts(doc)) == 2 * n  # an error-ratio and a latency alert per service
        assert len(doc["groups"][0]["rules"]) == 4  # 2 recording rules, 2 alert rules (one threshold each)
        sizes[n] = len(_yaml.safe_dump(doc, width=4096))
    assert (sizes[1000] - sizes[100]) / 900 < 40  # bytes per service: its name in two regular expressions


def test_gateway_service_type_and_autoscaling_per_environment(catalog, tmp_path):
    values = build_release_values(catalog)
    # dev (not production) works on kind: no LoadBalancer address to wait for, no HPA without metrics
    assert values["istio-ingress/dev.yaml"]["service"]["type"] == "NodePort"
    assert values["istio-ingress/dev.yaml"]["autoscaling"] == {"enabled": False}
    assert values["istiod/dev.yaml"]["autoscaleEnabled"] is False
    assert values["istio-ingress/prod.yaml"]["service"]["type"] == "LoadBalancer"
    assert "autoscaling" not in values["istio-ingress/prod.yaml"]  # the chart's HPA stays on
    assert "autoscaleEnabled" not in values["istiod/prod.yaml"]
    assert "type" not in values["istio-ingress/common.yaml"].get("service", {})
    text = (ROOT / "catalog.yaml").read_text(encoding="utf-8").replace(
        "    gateway:\n      https: false\n", "    autoscaling: true\n    gateway:\n      serviceType: ClusterIP\n"
        "      https: false\n", 1)
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    values = build_release_values(load_catalog(path))
    assert values["istio-ingress/dev.yaml"]["service"]["type"] == "ClusterIP"
    assert "autoscaling" not in values["istio-ingress/dev.yaml"] and "autoscaleEnabled" not in values["istiod/dev.yaml"]


def test_grafana_reads_its_admin_secret_and_kiali_the_same(catalog):
    values = build_release_values(catalog)
    assert values["grafana/common.yaml"]["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user",
                                                      "passwordKey": "admin-password"}
    auth = values["kiali/common.yaml"]["external_services"]["grafana"]["auth"]
    assert auth["password"] == "secret:grafana-admin:admin-password"
    assert auth["username"] == "secret:grafana-admin:admin-user"
