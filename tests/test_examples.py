"""The example catalogs under examples/: each validates, generates into its own directory,
renders with the real helm (values layered as the helmfile does), lints clean (with checkov),
and renders what it says: rule kinds per protocol, matches, alerts on the right metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from helpers.meshrender import KUBE_VERSION, crd_violations, istio_crdset, one
from helpers.slo import service_alerts
from helpers.pathmatch import authz_admits, route_admits

pytestmark = pytest.mark.integration

EXAMPLES = ROOT / "examples"


def chartgen(*args, cwd):
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


_GENERATED: dict[str, tuple] = {}


def generated(name, tmp_path_factory, helm, helm_env):
    """(directory, {env: rendered objects}) of an example generated into its own directory."""
    if name in _GENERATED:
        return _GENERATED[name]
    work = tmp_path_factory.mktemp(name)
    shutil.copy(EXAMPLES / name / "catalog.yaml", work / "catalog.yaml")
    r = chartgen("validate", "catalog.yaml", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    r = chartgen("generate", "catalog.yaml", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    data = yaml.safe_load((work / "catalog.yaml").read_text())
    mesh = data["metadata"]["name"]
    chart = work / "charts" / f"{mesh}-mesh"
    assert (chart / "Chart.yaml").is_file()
    rendered = {}
    for env in data["environments"]:
        values = work / "values" / chart.name
        r = subprocess.run([helm, "template", chart.name, str(chart), "-n", "istio-system", "--kube-version",
                            KUBE_VERSION, "-f", str(values / "common.yaml"), "-f", str(values / f"{env}.yaml")],
                           capture_output=True, text=True, env=helm_env, timeout=120)
        assert r.returncode == 0, r.stderr
        rendered[env] = [d for d in yaml.safe_load_all(r.stdout) if d]
    _GENERATED[name] = (work, rendered)
    return _GENERATED[name]


@pytest.fixture(scope="module")
def grpc_shop(tmp_path_factory, helm, helm_env):
    return generated("grpc-shop", tmp_path_factory, helm, helm_env)


@pytest.fixture(scope="module")
def bookstore(tmp_path_factory, helm, helm_env):
    return generated("bookstore", tmp_path_factory, helm, helm_env)


@pytest.mark.parametrize("name", ["grpc-shop", "bookstore", "bookinfo"])
def test_example_is_up_to_date_and_lints_clean(name, tmp_path_factory, helm, helm_env):
    work, _ = generated(name, tmp_path_factory, helm, helm_env)
    assert chartgen("generate", "--check", "catalog.yaml", cwd=work).returncode == 0
    r = chartgen("lint", "catalog.yaml", "--format", "json", "--strict", cwd=work)
    report = json.loads(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert report["findings"] == [], report["findings"]


def _alerts(work: Path, env: str) -> dict[str, str]:
    data = yaml.safe_load((work / "values" / "prometheus" / "generated" / f"slo-rules-{env}.yaml").read_text())
    return {f"{svc}:{alert}": expr for (svc, alert), expr in service_alerts(data["serverFiles"]["alerting_rules.yml"]).items()}


def test_grpc_shop_routes_each_protocol(grpc_shop):
    work, rendered = grpc_shop
    dev, prod = rendered["dev"], rendered["prod"]
    kinds = {vs["metadata"]["name"]: sorted(set(vs["spec"]) & {"http", "tcp", "tls"})
             for vs in dev if vs["kind"] == "VirtualService" and not vs["spec"].get("gateways")}
    assert kinds == {"frontend": ["http"], "catalog": ["http"], "cart": ["http"], "checkout": ["http"],
                     "payment": ["tls"], "shipping": ["http"], "email": ["http"], "recommendations": ["http"],
                     "ads": ["http"], "redis": ["tcp"], "orders-db": ["tcp"], "catalog-db": ["tcp"]}
    redis = one(dev, "VirtualService", "redis")["spec"]["tcp"]
    assert [(d["destination"]["subset"], d["weight"]) for d in redis[0]["route"]] == [("v6", 80), ("v7", 20)]
    payment = one(dev, "VirtualService", "payment")["spec"]["tls"]
    assert payment[0]["match"] == [{"sniHosts": ["payment.shop-dev.svc.cluster.local"]}]
    cart = one(dev, "VirtualService", "cart")["spec"]["http"]
    assert [r["name"] for r in cart] == ["unavailable", "new-checkout-flow", "default"]
    assert cart[0]["fault"]["abort"]["grpcStatus"] == "UNAVAILABLE"
    assert cart[1]["match"] == [{"headers": {"x-beta": {"exact": "true"}}, "uri": {"exact": "/shop.Cart/PlaceOrder"}}]
    assert "deadline-exceeded" in cart[2]["retries"]["retryOn"] and "resource-exhausted" in cart[2]["retries"]["retryOn"]
    assert [r["name"] for r in one(prod, "VirtualService", "cart")["spec"]["http"]] == ["new-checkout-flow", "default"]
    assert one(dev, "VirtualService", "shipping")["spec"]["http"][0]["retries"]["retryOn"] == "unavailable,resource-exhausted"
    assert one(dev, "VirtualService", "ads")["spec"]["http"][0]["retries"] == {"attempts": 0}
    email = one(dev, "VirtualService", "email")["spec"]["http"]
    assert [(r["match"], r["route"][0]["destination"]["port"]["number"]) for r in email] == [
        ([{"port": 50051}], 50051), ([{"port": 8081}], 8081)]
    for tcp_only in ("redis", "orders-db", "catalog-db", "payment"):
        assert "timeout" not in json.dumps(one(dev, "VirtualService", tcp_only))
    _assert_grpc_shop_alerts(_alerts(work, "dev"))


def _assert_grpc_shop_alerts(alerts: dict[str, str]) -> None:
    """TCP services alert on closed connections and have no latency alert; gRPC on its status."""
    for tcp in ("redis", "payment", "orders-db"):
        assert "istio_tcp_connections_closed_total" in alerts[f"{tcp}:ServiceHighErrorRatio"]
    assert not {a for a in alerts if a.endswith("LatencyP99")} & {
        f"{s}:ServiceHighLatencyP99" for s in ("redis", "payment", "orders-db", "catalog-db")}
    assert 'grpc_response_status!="0"' in alerts["cart:ServiceHighErrorRatio"] and "cart:ServiceHighLatencyP99" in alerts
    assert 'response_code=~"5.."' in alerts["frontend:ServiceHighErrorRatio"]
    assert "grpc_response_status" not in alerts["frontend:ServiceHighErrorRatio"]


SAMPLES = ["/", "/login", "/login/", "/login/x", "/loginx", "/login?next=/", "/logout", "/productpage",
           "/productpage/1", "/static", "/static/", "/static/css/site.css", "/staticX", "/api/v1/products"]
ADMITTED = {"/login", "/login?next=/", "/logout", "/productpage", "/static/", "/static/css/site.css"}


def test_bookstore_exact_paths_and_per_user_routing(bookstore):
    _, rendered = bookstore
    for env, docs in rendered.items():
        vs = one(docs, "VirtualService", "productpage-ingress")
        ap = one(docs, "AuthorizationPolicy", "allow-gateway-to-productpage")
        assert ap["spec"]["rules"][0]["to"][0]["operation"]["paths"] == ["/login", "/logout", "/productpage", "/static/*"]
        for path in SAMPLES:
            assert route_admits(vs, path) == authz_admits(ap, path) == (path in ADMITTED), (env, path)
        reviews = one(docs, "VirtualService", "reviews")["spec"]["http"]
        assert [(r["name"], r["route"][0]["destination"]["subset"]) for r in reviews] == [
            ("jason", "v2"), ("testers", "v3"), ("default", "v1")]
        assert reviews[0]["match"] == [{"headers": {"end-user": {"exact": "jason"}}}]
        assert "group=testers" in reviews[1]["match"][0]["headers"]["cookie"]["regex"]


@pytest.fixture(scope="module")
def istio_crds(upstream_charts):
    return istio_crdset(upstream_charts)


@pytest.mark.parametrize("name", ["grpc-shop", "bookstore", "bookinfo"])
def test_example_objects_are_admitted_by_the_istio_crds(name, istio_crds, tmp_path_factory, helm, helm_env):
    """Every Istio object the example renders (tcp and tls routes, gRPC aborts, exact and regex
    paths, {attempts: 0}) passes Istio 1.30.3's CRD schemas and CEL rules."""
    _, rendered = generated(name, tmp_path_factory, helm, helm_env)
    for env, docs in rendered.items():
        checked, violations = crd_violations(istio_crds, docs)
        assert checked >= 10 and violations == [], (env, violations)
