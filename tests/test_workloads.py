"""``verify --workloads``: the mesh rendered per environment (the real helm) checked against
the application's manifests. Bookinfo imported from Istio's manifests verifies clean; the
Sock Shop's published manifests fail where identities and port protocols disagree with the
mesh, naming each object, and pass once fixed; a wrong label, port or ServiceAccount fails
naming the object (tests/data/workloads/README.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.application import callgraph, importer, manifests, workloads
from chartgen.base import reading
from chartgen.cli import cli

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data" / "workloads"
BOOKINFO = DATA / "bookinfo"
SOCKSHOP = DATA / "sockshop" / "complete-demo.yaml"


def imported(tmp_path: Path, source: Path, calls: Path) -> Path:
    found = manifests.read([str(source)])
    text = importer.import_catalog(found, callgraph.parse(calls.read_text(), str(calls))).text
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def codes(report) -> list[tuple[str, str]]:
    return sorted((f.code, f.subject) for f in report.findings)


@pytest.fixture
def helm_path(helm):
    return helm


def fixed_sockshop(tmp_path: Path) -> Path:
    """The Sock Shop with what verify names fixed: each Deployment runs as its own
    ServiceAccount, each Service port names its protocol."""
    docs = [d for d in yaml.safe_load_all(SOCKSHOP.read_text()) if d]
    names = {27017: "mongo", 3306: "mysql", 6379: "redis", 5672: "tcp-amqp"}
    for d in docs:
        if d["kind"] == "Deployment":
            d["spec"]["template"]["spec"]["serviceAccountName"] = d["metadata"]["name"]
        if d["kind"] == "Service":
            for p in d["spec"]["ports"]:
                p["name"] = names.get(p["port"], "http" if p["port"] != 9090 else "http-metrics")
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_bookinfo_imported_verifies_clean_in_sidecar_and_ambient(tmp_path, helm_path):
    catalog = imported(tmp_path, BOOKINFO, BOOKINFO / "kiali-graph.json")
    text = catalog.read_text()
    catalog.write_text(text.replace("environments:\n", "environments:\n  amb:\n    dataPlane: ambient\n"
                                    "    gateway: {https: false}\n", 1))
    report = workloads.verify(str(catalog), [str(BOOKINFO)], helm=helm_path)
    assert report.envs == ["amb", "dev"]
    assert report.findings == [] and report.exit_code == 0
    assert report.objects == 20
    # chartgen verify --workloads: the flows and the workloads (one render)
    r = CliRunner().invoke(cli, ["verify", str(catalog), "--env", "amb", "--format", "json",
                                 "--workloads", str(BOOKINFO / "bookinfo.yaml"), "--workloads",
                                 str(BOOKINFO / "bookinfo-versions.yaml")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["valid"] is True and report["problems"] == [] and report["environments"] == ["amb"]


def test_sockshop_fails_on_identities_and_protocols_naming_each_then_passes_fixed(tmp_path, helm_path):
    catalog = imported(tmp_path, SOCKSHOP, DATA / "sockshop" / "kiali-graph.json")
    report = workloads.verify(str(catalog), [str(SOCKSHOP)], helm=helm_path)
    errors = {(f.code, f.subject) for f in report.errors}
    deployments = {d["metadata"]["name"] for d in yaml.safe_load_all(SOCKSHOP.read_text())
                   if d and d["kind"] == "Deployment"}
    assert {s for c, s in errors if c == "WL010"} == {f"Deployment/sock-shop/{d}" for d in deployments}
    assert {s for c, s in errors if c == "WL031"} == {"Service/sock-shop/carts-db", "Service/sock-shop/orders-db",
                                                      "Service/sock-shop/user-db", "Service/sock-shop/catalogue-db"}
    carts = next(f for f in report.findings if f.subject == "Deployment/sock-shop/carts")
    assert carts.format().startswith(f"{reading.display(SOCKSHOP)}:26:5: error: Deployment/sock-shop/carts: its pods run as "
                                     "ServiceAccount 'default'")
    assert "set spec.template.spec.serviceAccountName: carts" in carts.message
    fixed = workloads.verify(str(catalog), [str(fixed_sockshop(tmp_path))], helm=helm_path)
    assert fixed.findings == []


def test_a_hand_typed_catalog_is_told_its_port_and_label_mistakes(tmp_path, helm_path):
    """The catalog of the trial: front-end without targetPort, and no label convention."""
    catalog = imported(tmp_path, SOCKSHOP, DATA / "sockshop" / "kiali-graph.json")
    text = catalog.read_text().replace(", targetPort: 8079", "").replace("naming:\n  selectorLabel: name\n", "")
    catalog.write_text(text)
    report = workloads.verify(str(catalog), [str(fixed_sockshop(tmp_path))], helm=helm_path)
    by_code = {}
    for f in report.errors:
        by_code.setdefault(f.code, []).append(f)
    assert len(by_code["WL001"]) == 14  # {app: <name>} picks nothing: the pods are labelled name:
    assert "set naming.selectorLabel" in by_code["WL001"][0].message
    catalog.write_text(text.replace("metadata:\n", "naming: {selectorLabel: name}\nmetadata:\n", 1))
    report = workloads.verify(str(catalog), [str(fixed_sockshop(tmp_path))], helm=helm_path)
    assert [(f.code, f.subject) for f in report.errors] == [("WL020", "Service/sock-shop/front-end")]
    assert "set services.front-end.ports[0].targetPort: 8079" in report.errors[0].message


@pytest.mark.parametrize("change, code, subject", [
    (("labels:\n        name: carts\n", "labels:\n        name: cart\n"), "WL001", "Service/sock-shop/carts"),
    (("serviceAccountName: payment", "serviceAccountName: default"), "WL010", "Deployment/sock-shop/payment"),
    (("containerPort: 8079", "containerPort: 8080"), "WL020", "Deployment/sock-shop/front-end"),
])
def test_a_wrong_label_port_or_account_exits_1_naming_the_object(tmp_path, helm_path, change, code, subject):
    catalog = imported(tmp_path, SOCKSHOP, DATA / "sockshop" / "kiali-graph.json")
    fixed = fixed_sockshop(tmp_path)
    text = fixed.read_text()
    assert change[0] in text
    fixed.write_text(text.replace(change[0], change[1], 1))
    r = CliRunner().invoke(cli, ["verify", str(catalog), "--workloads", str(fixed)])
    assert r.exit_code == 1, r.output
    lines = [line for line in r.stdout.splitlines() if f"[{code}]" in line]
    assert lines and all(f": error: {subject}: " in line for line in lines), r.stdout
    assert not [line for line in r.stdout.splitlines() if "[VFY" in line]  # the mesh itself is as the catalog says


CATALOG = """\
apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: shop, domain: shop.example}
environments:
  dev: {namespace: shop, gateway: {https: false}}
  amb: {namespace: shop, dataPlane: ambient, gateway: {https: false}}
services:
  web:
    ports: [{name: http, port: 80, targetPort: 8080}]
    versions: {v1: {}, v2: {}}
    weights: {v1: 50, v2: 50}
    calls: [db, api]
  api:
    ports: [{name: http, port: 80}]
  db:
    ports: [{name: mysql, port: 3306, protocol: MYSQL}]
  batch:
    ports: [{name: http, port: 80}]
  agent:
    ports: [{name: http, port: 80}]
"""


def _svc(name, selector, ports, annotations=None):
    meta = {"name": name, **({"annotations": annotations} if annotations else {})}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"selector": selector, "ports": ports}}


def _deploy(name, labels, port, pod_annotations=None, **spec):
    template = {"metadata": {"labels": labels, **({"annotations": pod_annotations} if pod_annotations else {})},
                "spec": {"serviceAccountName": labels["app"], **spec,
                         "containers": [{"name": "c", "ports": [{"containerPort": port}],
                                         "readinessProbe": {"httpGet": {"path": "/ready", "port": port}}}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "template": template}}


MANIFESTS = [
    _svc("web", {"app": "web", "tier": "front"}, [{"name": "http", "port": 80, "targetPort": 8080}]),
    _deploy("web-v1", {"app": "web", "tier": "front", "version": "v1"}, 8080,
            {"sidecar.istio.io/rewriteAppHTTPProbers": "false"}),
    _deploy("web-canary", {"app": "web", "track": "canary"}, 8080),
    _svc("api", {"app": "api"}, [{"name": "http", "port": 80}], {"prometheus.io/scrape": "true",
                                                                 "prometheus.io/port": "9102"}),
    _deploy("api", {"app": "api"}, 80),
    _svc("db", {"app": "db"}, [{"name": "http-db", "port": 3306}]),
    _deploy("db", {"app": "db"}, 3306),
    _svc("batch", {"app": "batch"}, [{"name": "http", "port": 80}]),
    _deploy("batch", {"app": "batch"}, 80, {"sidecar.istio.io/inject": "false"}),
    _svc("agent", {"app": "agent"}, [{"name": "http", "port": 80}]),
    _deploy("agent", {"app": "agent"}, 80, hostNetwork=True),
]


def test_each_kind_of_disagreement_is_found_in_the_environments_it_applies_to(tmp_path, helm_path):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(MANIFESTS, sort_keys=False))
    report = workloads.verify(str(tmp_path / "catalog.yaml"), [str(tmp_path / "app.yaml")], helm=helm_path)
    found = {(f.code, f.subject, f.envs) for f in report.findings}
    both = ("amb", "dev")
    assert found == {
        ("WL002", "Deployment/web-canary", both),  # the catalog's {app: web} picks it, the Service does not
        ("WL040", "Service/web", both),  # v2 labels no pod (subsets; per-version Services)
        ("WL060", "Service/api", both),  # scraped on 9102 that nothing admits
        ("WL030", "Service/db", both),  # http-db: HTTP, the catalog says MYSQL
        ("WL050", "Deployment/web-v1", ("dev",)),  # plaintext probe under STRICT; ambient admits 169.254.7.127
        ("WL070", "Deployment/batch", ("dev",)),  # out of the sidecar mesh in a STRICT namespace
        ("WL080", "Deployment/agent", both),
    }, sorted(found)
    assert report.exit_code == 1


def test_pod_scrape_annotations_need_metrics_only_where_no_sidecar_merges_them(tmp_path, helm_path):
    """productpage's pods ask Prometheus to scrape 9080: a sidecar merges that into 15020, which
    the chart admits; in ambient Prometheus scrapes 9080 itself, which needs services.*.metrics."""
    catalog = imported(tmp_path, BOOKINFO, BOOKINFO / "kiali-graph.json")
    text = catalog.read_text().replace("    metrics: {port: 9080, path: /metrics, scrapeJob: false} # from the "
                                       "prometheus.io annotations, which have Prometheus scrape it\n", "")
    assert "metrics:" not in text
    catalog.write_text(text.replace("environments:\n", "environments:\n  amb:\n    dataPlane: ambient\n"
                                    "    gateway: {https: false}\n", 1))
    report = workloads.verify(str(catalog), [str(BOOKINFO)], helm=helm_path)
    assert [(f.code, f.subject, f.envs) for f in report.findings] == [
        ("WL060", "Deployment/productpage-v1", ("amb",))]
    assert "set services.productpage.metrics: {port: 9080, path: /metrics, scrapeJob: false}" in report.findings[0].message


def test_warnings_alone_do_not_fail_verify_and_sarif_names_the_codes(tmp_path, helm_path):
    """The fixed Sock Shop with one Service port left unnamed: a WL032 warning, exit 0."""
    catalog = imported(tmp_path, SOCKSHOP, DATA / "sockshop" / "kiali-graph.json")
    fixed = fixed_sockshop(tmp_path)
    text = fixed.read_text()
    fixed.write_text(re.sub(r"\n *name: http-metrics(?=\n)", "", text, count=1))
    r = CliRunner().invoke(cli, ["verify", str(catalog), "--workloads", str(fixed), "--format", "sarif"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    results = [(x["ruleId"], x["level"]) for x in run["results"]]
    assert results == [("WL032", "warning")]
    wl = next(rule for rule in run["tool"]["driver"]["rules"] if rule["id"] == "WL032")
    assert wl["helpUri"].endswith("docs/existing-application.md#2-verify-against-the-pods")


def test_workloads_checked_without_verify(tmp_path, helm_path):
    """The library entry (workloads.verify): an unknown environment is a usage error."""
    from chartgen.base.errors import UnknownEnvironment

    catalog = imported(tmp_path, BOOKINFO, BOOKINFO / "kiali-graph.json")
    with pytest.raises(UnknownEnvironment, match="unknown environment 'prod'; the catalog has dev"):
        workloads.verify(str(catalog), [str(BOOKINFO)], ["prod"], helm=helm_path)


def test_check_rendered_gives_located_problems_for_verify(tmp_path, helm_path):
    """The entry point ``chartgen verify --workloads`` calls with the environments it rendered."""
    from chartgen.lifecycle.workspace import Project, render
    from chartgen.catalog.validate import load_catalog

    catalog_path = imported(tmp_path, SOCKSHOP, DATA / "sockshop" / "kiali-graph.json")
    catalog = load_catalog(str(catalog_path))
    rendered = render(Project.from_catalog(catalog, tmp_path), ["dev"], helm=helm_path)
    problems = workloads.check_rendered(rendered, [str(SOCKSHOP)])
    carts = next(p for p in problems if p.path == "Deployment/sock-shop/carts")
    assert (carts.rule, carts.level, carts.line) == ("WL010", "error", 26)
    assert carts.format().endswith("set spec.template.spec.serviceAccountName: carts [WL010]")
    assert {p.level for p in problems} == {"error", "warning"}


def test_a_finding_about_the_catalog_is_located_in_the_catalog(tmp_path, helm_path):
    """A service whose selector picks no workload and no Service of its name: the finding is the
    catalog's, at the line and column of the service's key."""
    catalog = imported(tmp_path, BOOKINFO, BOOKINFO / "kiali-graph.json")
    lines = catalog.read_text().splitlines()
    line = lines.index("  ratings:") + 1
    r = CliRunner().invoke(cli, ["verify", str(catalog), "--workloads", str(SOCKSHOP)])
    assert r.exit_code == 1
    wl001 = [ln for ln in r.stdout.splitlines() if ln.endswith("[WL001]") and ": services.ratings: " in ln]
    assert wl001 == [ln for ln in wl001 if ln.startswith(f"catalog.yaml:{line}:3: error: services.ratings: ")], r.stdout
    assert wl001
