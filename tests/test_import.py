"""``chartgen import``: the manifest reader, the catalog it writes from Bookinfo and the Sock
Shop (published manifests, tests/data/workloads/README.md), re-import in place, calls from
Kiali and Prometheus exports, and what cannot be mapped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.application import callgraph, importer, manifests
from chartgen.cli import cli
from chartgen.catalog.validate import parse_catalog

DATA = Path(__file__).parent / "data" / "workloads"
BOOKINFO = DATA / "bookinfo"
SOCKSHOP = DATA / "sockshop" / "complete-demo.yaml"


def _import(*paths, calls=None, existing=None):
    found = manifests.require(manifests.read([str(p) for p in paths]))
    edges = callgraph.parse(Path(calls).read_text(), str(calls)) if calls else None
    return importer.import_catalog(found, edges, existing)


def services_of(text):
    return yaml.safe_load(text)["services"]


# --- the reader ------------------------------------------------------------------------------


def test_reader_keeps_positions_lists_and_stdin():
    stream = """\
# Source: chart/templates/a.yaml
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: a}
    spec: {selector: {app: a}, ports: [{port: 80}]}
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
spec:
  template:
    metadata: {labels: {app: a}}
    spec:
      containers: [{name: a, ports: [{containerPort: 8080}]}]
"""
    found = manifests.read(["-"], stdin=io.StringIO(stream))
    assert [o.ref for o in found.objects] == ["Service/a", "Deployment/a"]
    svc, dep = found.objects
    assert svc.where("spec", "ports", 0, "port") == "<stdin>:8:47"
    assert dep.where("spec", "template", "spec", "containers") == "<stdin>:19:19"
    assert dep.service_account == "default"
    assert manifests.workload_selector(dep) == {"app": "a"}  # no matchLabels: the pod labels


def test_reader_reports_yaml_errors_located():
    found = manifests.parse("kind: Service\nmetadata: {name: [}\n", "bad.yaml")
    assert found.problems and found.problems[0].file == "bad.yaml" and found.problems[0].line == 2
    with pytest.raises(Exception) as exc:
        manifests.require(found)
    assert "bad.yaml:2:" in str(exc.value.problems[0].format())


# --- Bookinfo ---------------------------------------------------------------------------------


def test_bookinfo_import_validates_with_versions_accounts_calls_and_exposure():
    result = _import(BOOKINFO, calls=BOOKINFO / "kiali-graph.json")
    parse_catalog(result.text, "catalog.yaml")
    svcs = services_of(result.text)
    assert list(svcs) == ["details", "ratings", "reviews", "productpage"]
    assert svcs["reviews"]["versions"] == {"v1": {}, "v2": {}, "v3": {}}
    assert svcs["reviews"]["serviceAccount"] == {"name": "bookinfo-reviews", "create": False}
    assert svcs["productpage"]["calls"] == ["details", "reviews"]
    assert svcs["reviews"]["calls"] == ["ratings"]
    assert svcs["productpage"]["expose"] == {"paths": ["/"]}  # the ingress gateway calls it
    assert svcs["productpage"]["metrics"] == {"port": 9080, "path": "/metrics", "scrapeJob": False}
    assert "naming" not in yaml.safe_load(result.text)  # app/version: the defaults
    # the per-version Services of bookinfo-versions.yaml are noted, not services
    assert sum("per-version Service" in n for n in result.notes) == 6
    assert result.guessed == []


def test_reimport_keeps_edits_comments_and_order():
    first = _import(BOOKINFO, calls=BOOKINFO / "kiali-graph.json").text
    edited = first.replace("  details:\n", "  details:\n    timeout: 3s  # mine\n") + "# the end\n"
    again = _import(BOOKINFO, calls=BOOKINFO / "kiali-graph.json", existing=edited)
    assert again.text == edited
    assert again.lines[0] == "updated service details from Service/details"


def test_reimport_does_not_bring_back_what_the_user_removed():
    first = _import(BOOKINFO, calls=BOOKINFO / "kiali-graph.json").text
    edited = first.replace("    weights: {v1: 100, v2: 0, v3: 0} # all to v1: chartgen routes versions by weight; "
                           "split as you need\n", "")
    assert edited != first
    assert _import(BOOKINFO, calls=BOOKINFO / "kiali-graph.json", existing=edited).text == edited


def test_reimport_updates_what_the_manifests_changed():
    first = _import(BOOKINFO).text
    changed = (BOOKINFO / "bookinfo.yaml").read_text().replace("  - port: 9080\n    name: http\n  selector:\n"
                                                                "    app: ratings",
                                                                "  - port: 9080\n    name: http\n    targetPort: 9081\n"
                                                                "  selector:\n    app: ratings")
    found = manifests.parse(changed, "bookinfo.yaml")
    again = importer.import_catalog(found, None, first)
    assert services_of(again.text)["ratings"]["ports"] == [{"name": "http", "port": 9080, "targetPort": 9081,
                                                             "protocol": "HTTP"}]
    assert services_of(again.text)["details"] == services_of(first)["details"]


def test_no_calls_says_how_to_add_them():
    result = _import(BOOKINFO)
    assert not any("calls" in s for s in services_of(result.text).values())
    assert "--calls FILE" in result.text


# --- the Sock Shop ----------------------------------------------------------------------------


def test_sockshop_import_guesses_protocols_and_uses_the_label_convention():
    result = _import(SOCKSHOP, calls=DATA / "sockshop" / "kiali-graph.json")
    catalog, _ = parse_catalog(result.text, "catalog.yaml")
    doc = yaml.safe_load(result.text)
    assert doc["naming"] == {"selectorLabel": "name"}
    assert doc["environments"]["dev"]["namespace"] == "sock-shop"
    svcs = doc["services"]
    assert len(svcs) == 14 and all("selector" not in s for s in svcs.values())
    assert svcs["front-end"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8079, "protocol": "HTTP"}]
    assert svcs["front-end"]["expose"] == {"paths": ["/"]}  # a NodePort Service
    assert svcs["catalogue-db"]["ports"][0]["protocol"] == "MYSQL"
    assert svcs["carts-db"]["ports"][0]["protocol"] == "MONGO"
    assert svcs["session-db"]["ports"][0]["protocol"] == "REDIS"
    # Istio's <protocol>[-suffix] names: the Service's name kept as the suffix
    assert [(p["name"], p["protocol"]) for p in svcs["rabbitmq"]["ports"]] == [("tcp-rabbitmq", "TCP"),
                                                                               ("http-exporter", "HTTP")]
    assert "protocol guessed from port 3306 (MySQL)" in result.text
    # every pod runs as 'default': the catalog keeps one identity per service and says what to set
    assert "serviceAccount" not in svcs["carts"]
    assert "set serviceAccountName: carts" in result.text
    assert catalog.services["orders"].calls == ["carts", "orders-db", "payment", "shipping", "user"]


def test_what_cannot_be_mapped_is_said():
    text = """\
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: shop}
spec: {type: ExternalName, externalName: api.pay.example, ports: [{port: 443, name: https}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cron, namespace: shop}
spec:
  selector: {matchLabels: {app: cron}}
  template: {metadata: {labels: {app: cron}}, spec: {containers: [{name: c}]}}
"""
    result = importer.import_catalog(manifests.parse(text, "app.yaml"))
    doc = yaml.safe_load(result.text)
    assert list(doc["services"]) == ["web"]
    assert doc["services"]["web"]["ports"][0]["targetPort"] == 8080  # the named port resolved
    assert doc["externalServices"] == {"payments": {"hosts": ["api.pay.example"], "ports": [
        {"name": "https", "port": 443, "protocol": "HTTPS"}]}}
    notes = "\n".join(result.notes)
    assert "Service/shop/db (app.yaml:1:1): headless" in notes
    assert "Service/shop/legacy (app.yaml:6:1): no selector" in notes
    assert "Deployment/shop/cron (app.yaml:30:1): no Service selects it" in notes


# --- calls ------------------------------------------------------------------------------------


def test_prometheus_query_result_gives_the_same_calls():
    series = [("productpage-v1", "details-v1", "details", "5"), ("productpage-v1", "reviews-v2", "reviews", "3"),
              ("reviews-v2", "ratings-v1", "ratings", "1"), ("reviews-v1", "ratings-v1", "ratings", "0")]
    doc = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"source_workload": s, "source_workload_namespace": "bookinfo", "destination_workload": d,
                    "destination_workload_namespace": "bookinfo", "destination_service_name": n},
         "value": [1764900000, v]} for s, d, n, v in series]}}
    calls = callgraph.parse(json.dumps(doc), "prom.json")
    assert len(calls) == 3  # the zero series is no call
    found = manifests.read([str(BOOKINFO / "bookinfo.yaml")])
    svcs = services_of(importer.import_catalog(found, calls).text)
    assert svcs["productpage"]["calls"] == ["details", "reviews"] and svcs["reviews"]["calls"] == ["ratings"]


def test_calls_file_that_is_neither_is_refused():
    with pytest.raises(callgraph.CallsError, match="x.json: expected a Kiali graph export"):
        callgraph.parse('{"nodes": []}', "x.json")


# --- the command ------------------------------------------------------------------------------


def test_import_command_writes_a_catalog_and_a_summary(tmp_path):
    out = tmp_path / "catalog.yaml"
    r = CliRunner().invoke(cli, ["import", str(SOCKSHOP), "--calls",
                                                 str(DATA / "sockshop" / "kiali-graph.json"), "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    parse_catalog(out.read_text(), "catalog.yaml")
    assert "added service front-end from Service/sock-shop/front-end" in r.stderr
    assert "14 service(s) written to" in r.stderr and "15 guessed protocol(s)" in r.stderr


def test_import_command_refuses_manifests_without_services(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    r = CliRunner().invoke(cli, ["import", str(tmp_path)])
    assert r.exit_code == 1 and "nothing to import" in r.stderr


def test_exposure_from_ingress_virtualservice_and_httproute_and_rollouts():
    text = """\
apiVersion: v1
kind: Service
metadata: {name: shop}
spec: {selector: {app: shop}, ports: [{name: http, port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: shop}
spec: {template: {metadata: {labels: {app: shop}}, spec: {containers: [{name: s}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: v1
kind: Service
metadata: {name: docs}
spec: {selector: {app: docs}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - host: store.example.com
      http:
        paths:
          - {path: /cart, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
          - {path: /login, pathType: Exact, backend: {service: {name: shop, port: {number: 80}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  gateways: [istio-system/public]
  http: [{match: [{uri: {prefix: /v1}}], route: [{destination: {host: api.default.svc.cluster.local}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: docs}
spec:
  hostnames: [docs.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /guide}}], backendRefs: [{name: docs, port: 80}]}]
"""
    doc = yaml.safe_load(importer.import_catalog(manifests.parse(text, "app.yaml")).text)["services"]
    assert doc["shop"]["expose"] == {"host": "store", "paths": ["/cart", {"exact": "/login"}]}
    assert doc["api"]["expose"] == {"paths": ["/v1"]}  # host api: the key already
    assert doc["docs"]["expose"] == {"paths": ["/guide"]}
    assert doc["api"]["ports"][0]["protocol"] == "GRPC"


def test_kubectl_list_owned_objects_stand_behind_their_owner():
    """``kubectl get all -o yaml``: the ReplicaSet and Pods of a Deployment are not workloads of
    their own (no second version, no note)."""
    owned = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d9f", "controller": True}]}
    items = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w"}]}}}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d9f", **owned},
         "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "5d9f"}},
                               "spec": {"containers": [{"name": "w"}]}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-5d9f-abc", "labels": {
            "app": "web", "pod-template-hash": "5d9f"}, **owned}, "spec": {"containers": [{"name": "w"}]}},
    ]
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})
    result = importer.import_catalog(manifests.parse(text, "all.yaml"))
    assert services_of(result.text) == {"web": {"ports": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}
    assert result.lines == ["added service web from Service/web"] and result.notes == []


def test_reimport_finds_services_under_the_catalogs_own_keys():
    """A catalog with naming.prefix: the Service shop-orders is its service 'orders'."""
    existing = """\
apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: shop, domain: shop.example}
naming: {prefix: shop-}
environments:
  dev: {gateway: {https: false}}
services:
  orders:  # ours
    ports: [{name: http, port: 80}]
"""
    text = """\
apiVersion: v1
kind: Service
metadata: {name: shop-orders}
spec: {selector: {app: shop-orders}, ports: [{name: http, port: 80, targetPort: 8080}]}
"""
    result = importer.import_catalog(manifests.parse(text, "app.yaml"), None, existing)
    assert list(services_of(result.text)) == ["orders"]
    assert services_of(result.text)["orders"]["ports"][0]["targetPort"] == 8080
    assert "orders:  # ours" in result.text


def test_udp_ports_are_said_not_imported():
    text = """\
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports: [{name: dns-udp, port: 53, protocol: UDP}, {name: tcp-dns, port: 53}]
"""
    result = importer.import_catalog(manifests.parse(text, "app.yaml"))
    assert services_of(result.text)["dns"]["ports"] == [{"name": "tcp-dns", "port": 53, "protocol": "TCP"}]
    assert "Service/dns (app.yaml:6:11): port 53/UDP not imported: the mesh carries TCP only" in result.notes


def test_a_shared_service_account_is_not_written_but_said():
    """Two services whose pods run as one account: the catalog gives each its own (a shared one
    is refused), and the comment names the Deployments and the serviceAccountName to set."""
    def pair(name):
        return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 80}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{serviceAccountName: shop, containers: [{{name: c}}]}}
---
"""
    result = importer.import_catalog(manifests.parse(pair("web") + pair("api"), "app.yaml"))
    svcs = services_of(result.text)
    assert "serviceAccount" not in svcs["web"] and "serviceAccount" not in svcs["api"]
    assert ("the pods run as 'shop' (shared with api; Deployment/web): set serviceAccountName: web"
            in result.text)


def test_an_account_the_manifests_do_not_create_is_created_by_the_chart():
    text = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {serviceAccountName: web-runner, containers: [{name: c}]}
"""
    result = importer.import_catalog(manifests.parse(text, "app.yaml"))
    assert services_of(result.text)["web"]["serviceAccount"] == {"name": "web-runner", "create": True}
    assert "the manifests do not create it: the chart does" in result.text


def test_namespaces_the_most_common_is_the_environments_the_others_per_service():
    def svc(name, ns):
        return (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n"
                f"spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 80}}]}}\n---\n")
    text = svc("web", "shop") + svc("cart", "shop") + svc("pay", "payments")
    doc = yaml.safe_load(importer.import_catalog(manifests.parse(text, "app.yaml")).text)
    assert doc["metadata"]["name"] == "shop" and doc["environments"]["dev"]["namespace"] == "shop"
    assert doc["services"]["pay"]["namespace"] == "payments" and "namespace" not in doc["services"]["web"]
