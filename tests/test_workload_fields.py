"""The catalog's workload fields: a port's targetPort, the catalog-wide label convention
(naming.selectorLabel, naming.versionLabel) and application metrics. What the chart admits
is the pod's port, which is what Istio's AuthorizationPolicies match."""

from __future__ import annotations


import pytest

from chartgen.base.errors import CatalogError
from chartgen.releases.helmfile import build_release_values
from chartgen.lifecycle.versioning import compare, model_snapshot
from chartgen.catalog.validate import parse_catalog
from chartgen.chart.values import mesh_values

HEAD = """\
apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: shop, domain: shop.example}
environments:
  dev: {gateway: {https: false}}
  amb: {dataPlane: ambient, gateway: {https: false}}
"""
SERVICES = """\
services:
  front:
    ports: [{name: http, port: 80, targetPort: 8079}]
    expose: {paths: ["/"]}
    calls: [orders, db]
    metrics: {port: 9102, path: /prom}
    versions: {v1: {}, v2: {}}
    weights: {v1: 90, v2: 10}
    timeout: 2s
  orders:
    ports: [{name: http, port: 80, targetPort: web}]
  db:
    ports: [{name: mysql, port: 3306, protocol: MYSQL}]
"""


def catalog(extra: str = "", services: str = SERVICES):
    return parse_catalog(HEAD + extra + services, "catalog.yaml")[0]


def values(cat, env="dev"):
    from chartgen.catalog.mesh import resolve

    mesh = resolve(cat)
    return mesh_values(mesh).of(mesh.view(env))["services"]


def test_target_port_reaches_the_values_only_when_it_differs():
    svcs = values(catalog())
    assert svcs["front"]["ports"] == [{"name": "http", "number": 80, "protocol": "HTTP", "targetPort": 8079}]
    assert svcs["orders"]["ports"][0]["targetPort"] == "web"
    assert "targetPort" not in svcs["db"]["ports"][0]


@pytest.mark.parametrize("bad", ["0", "70000", "Web", "a--b", '"1234"', "-web", "longer-than-fifteen", "true"])
def test_target_port_refuses_what_kubernetes_refuses(bad):
    text = SERVICES.replace("targetPort: web", f"targetPort: {bad}")
    with pytest.raises(CatalogError) as exc:
        catalog(services=text)
    assert "[target-port]" in exc.value.problems[0].format()
    assert "services.orders.ports[0].targetPort" in exc.value.problems[0].format()


def test_label_convention_gives_selectors_and_version_labels():
    svcs = values(catalog("naming: {selectorLabel: app.kubernetes.io/name, versionLabel: track}\n"))
    assert svcs["front"]["selector"] == {"app.kubernetes.io/name": "front"}
    assert svcs["front"]["versions"] == {"v1": {"labels": {"track": "v1"}}, "v2": {"labels": {"track": "v2"}}}
    default = values(catalog())
    assert default["front"]["selector"] == {"app": "front"}
    assert default["front"]["versions"]["v1"] == {"labels": {"version": "v1"}}


def test_a_service_selector_still_wins_over_the_convention():
    text = SERVICES.replace("  db:\n", "  db:\n    selector: {tier: db}\n")
    svcs = values(catalog("naming: {selectorLabel: name}\n", text))
    assert svcs["db"]["selector"] == {"tier": "db"}
    assert svcs["orders"]["selector"] == {"name": "orders"}


def test_metrics_values_and_scrape_job():
    svcs = values(catalog())
    assert svcs["front"]["metrics"] == {"enabled": True, "port": 9102, "path": "/prom"}
    assert "metrics" not in svcs["orders"]
    job = build_release_values(catalog("naming: {selectorLabel: app.kubernetes.io/name}\n"))[
        "prometheus/dev.yaml"]["scrapeConfigs"]["front-metrics"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["shop-dev"]}}]
    assert job["metrics_path"] == "/prom"
    keep, address = job["relabel_configs"][:2]
    assert keep == {"action": "keep", "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                    "separator": ";", "regex": "front"}
    assert address["replacement"] == "$1:9102"


def test_no_scrape_job_where_the_applications_annotations_have_one():
    cat = catalog(services=SERVICES.replace("metrics: {port: 9102, path: /prom}",
                                            "metrics: {port: 9102, path: /prom, scrapeJob: false}"))
    assert "scrapeConfigs" not in build_release_values(cat)["prometheus/dev.yaml"]
    assert values(cat)["front"]["metrics"] == {"enabled": True, "port": 9102, "path": "/prom"}  # still admitted


def test_changing_a_target_port_is_a_major_change_that_says_so():
    before = model_snapshot(catalog())
    after = model_snapshot(catalog(services=SERVICES.replace("targetPort: 8079", "targetPort: 8080")))
    texts = [c.text for c in compare(before, after) if c.level == 3]
    assert "front: port http 80→8079/HTTP → 80→8080/HTTP" in texts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, helm, helm_env):
    from helpers.meshrender import render_catalog

    return render_catalog(HEAD + "naming: {selectorLabel: name}\n" + SERVICES, tmp_path_factory.mktemp("wl"), helm,
                          helm_env)


def _np_ports(np_doc):
    return [[p["port"] for p in rule["ports"]] for rule in np_doc["spec"]["ingress"]]


@pytest.mark.integration
def test_policies_admit_the_pod_port_not_the_service_port(rendered):
    from helpers.meshrender import one

    docs = rendered["dev"]
    assert _np_ports(one(docs, "NetworkPolicy", "front-ingress")) == [[8079]]
    gw = one(docs, "AuthorizationPolicy", "allow-gateway-to-front")["spec"]
    assert gw["selector"]["matchLabels"] == {"name": "front"}
    assert gw["rules"][0]["to"][0]["operation"]["ports"] == ["8079"]
    # a named pod port: the NetworkPolicy names it, the AuthorizationPolicy (numbers only) admits the caller
    assert _np_ports(one(docs, "NetworkPolicy", "orders-ingress")) == [["web"]]
    edge = one(docs, "AuthorizationPolicy", "allow-front-to-orders")["spec"]
    assert edge["rules"] == [{"from": [{"source": {"principals": ["cluster.local/ns/shop-dev/sa/front"]}}]}]
    egress = one(docs, "NetworkPolicy", "front-egress")["spec"]["egress"]
    assert [[p["port"] for p in e["ports"]] for e in egress] == [[3306], ["web"]]
    # the VirtualService still routes to the Service port
    vs = one(docs, "VirtualService", "front")["spec"]
    assert {r["destination"]["port"]["number"] for rule in vs["http"] for r in rule["route"]} == {80}


@pytest.mark.integration
def test_per_version_services_target_the_pod_port(rendered):
    from helpers.meshrender import one

    svc = one(rendered["amb"], "Service", "front-v2")["spec"]
    assert svc["selector"] == {"name": "front", "version": "v2"}
    assert svc["ports"] == [{"name": "http", "port": 80, "targetPort": 8079, "protocol": "TCP"}]
    # from the gateway: the pod port and HBONE; from its waypoint: HBONE
    assert _np_ports(one(rendered["amb"], "NetworkPolicy", "front-ingress")) == [[8079, 15008], [15008]]


@pytest.mark.integration
@pytest.mark.parametrize("env", ["dev", "amb"])
def test_metrics_port_admits_prometheus_only(rendered, env):
    from helpers.meshrender import one

    docs = rendered[env]
    np_doc = one(docs, "NetworkPolicy", "front-metrics")["spec"]
    assert np_doc["podSelector"] == {"matchLabels": {"name": "front"}}
    assert np_doc["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "observability"}}}], "ports": [{"port": 9102, "protocol": "TCP"}]}]
    rule = one(docs, "AuthorizationPolicy", "allow-metrics-to-front")["spec"]["rules"][0]
    assert rule["from"] == [{"source": {"notPrincipals": ["*"]}}]  # plaintext only: no in-mesh caller
    op = rule["to"][0]["operation"]
    assert op["ports"] == ["9102"]
    assert op.get("paths") == (["/prom"] if env == "dev" else None)  # ztunnel enforces L4 only
    pa = one(docs, "PeerAuthentication", "front-metrics")["spec"]
    assert pa["portLevelMtls"] == {9102: {"mode": "PERMISSIVE"}} and pa["mtls"] == {"mode": "STRICT"}
    assert not [d for d in docs if d["metadata"]["name"] in ("orders-metrics", "allow-metrics-to-orders")]


@pytest.mark.integration
def test_the_real_prometheus_chart_gets_the_scrape_job(tmp_path, helm, helm_env, upstream_charts):
    """The job reaches prometheus.yml through the pinned prometheus chart (scrapeConfigs is a map
    there since chart 28; its keys become job names)."""
    import subprocess

    import yaml

    from chartgen.chart.render import dump_yaml

    values = build_release_values(catalog())["prometheus/dev.yaml"]
    (tmp_path / "values.yaml").write_text(dump_yaml(values))
    r = subprocess.run([helm, "template", "prometheus", str(upstream_charts / "prometheus-29.0.0.tgz"), "-f",
                        str(tmp_path / "values.yaml"), "--show-only", "templates/cm.yaml"],
                       capture_output=True, text=True, env=helm_env, timeout=120)
    assert r.returncode == 0, r.stderr
    config = yaml.safe_load(yaml.safe_load(r.stdout)["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["front-metrics"]["metrics_path"] == "/prom"
    assert jobs["front-metrics"]["relabel_configs"][0]["regex"] == "front"
    assert "kubernetes-pods" in jobs  # the chart's own jobs stay


@pytest.mark.integration
def test_verify_holds_with_target_ports_metrics_and_the_label_convention(tmp_path):
    """chartgen verify's model follows the Service to the pod port (targetPort, named too),
    honours the metrics port's PERMISSIVE mTLS, and sees Prometheus' scrape allowed."""
    from chartgen.analyzer.behaviour import verify_catalog

    path = tmp_path / "catalog.yaml"
    path.write_text(HEAD + "naming: {selectorLabel: name}\n" + SERVICES)
    result = verify_catalog(path)
    assert result.problems == [] and not result.failed
    scrapes = [f for r in result.reports.values() for f in r.flows if f.kind == "scrape" and f.port == 9102]
    assert {f.env for f in scrapes} == {"dev", "amb"} and all(f.verdict.allowed for f in scrapes)
    calls = [f for f in result.reports["dev"].flows if f.kind == "call" and f.target == "orders"]
    assert calls and all(f.verdict.allowed for f in calls)  # NetworkPolicy port "web" matched by name
