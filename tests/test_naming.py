"""Names as written: a service's Kubernetes name is its catalog key unless the catalog says
otherwise (naming.prefix, or the service's serviceName)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from chartgen.base.errors import CatalogError
from chartgen.catalog.validate import load_catalog
from conftest import ROOT, run_cli


def _starter(tmp_path, extra: str = ""):
    r = run_cli("init", "catalog.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    path = tmp_path / "catalog.yaml"
    if extra:
        path.write_text(path.read_text() + extra)
    return path


def test_starter_catalog_names_services_by_their_keys_and_shows_the_setting(tmp_path):
    path = _starter(tmp_path)
    text = path.read_text()
    assert "# naming:\n#   prefix: shop-\n" in text
    c = load_catalog(path)
    from chartgen.chart.values import chart_values

    svcs = chart_values(c)["services"]
    assert svcs["frontend"]["serviceName"] == "frontend"
    assert svcs["frontend"]["selector"] == {"app": "frontend"}
    assert svcs["orders"]["serviceAccount"]["name"] == "orders"


def test_naming_prefix_applies_to_every_service_without_its_own_name(tmp_path):
    path = _starter(tmp_path, "naming:\n  prefix: shop-\n")
    from chartgen.chart.values import chart_values

    svcs = chart_values(load_catalog(path))["services"]
    assert svcs["frontend"]["serviceName"] == "shop-frontend"
    assert svcs["frontend"]["selector"] == {"app": "shop-frontend"}


def test_bytefreezer_states_its_prefix():
    c = load_catalog(ROOT / "catalog.yaml")
    assert c.naming.prefix == "bytefreezer-"
    from chartgen.chart.values import chart_values

    names = {k: s["serviceName"] for k, s in chart_values(c)["services"].items()}
    assert names == {"proxy": "bytefreezer-proxy", "receiver": "bytefreezer-receiver", "piper": "bytefreezer-piper",
                     "localstack": "localstack-internal"}


@pytest.mark.parametrize("prefix, rule", [("Shop-", "pattern"), ("-shop", "pattern")])
def test_a_prefix_that_cannot_start_a_name_is_refused(tmp_path, prefix, rule):
    path = _starter(tmp_path, f"naming:\n  prefix: '{prefix}'\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (p,) = info.value.problems
    assert (p.path, p.rule) == ("naming.prefix", rule)
    assert p.line == len(path.read_text().splitlines())


def test_a_prefixed_name_longer_than_63_is_refused_at_the_service(tmp_path):
    prefix = "a" * 40
    path = _starter(tmp_path, f"naming:\n  prefix: {prefix}\n")
    text = path.read_text().replace("  orders:\n", "  orders-and-their-many-many-lines:\n")
    text = text.replace("calls: [orders]", "calls: [orders-and-their-many-many-lines]")
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (p,) = info.value.problems
    assert p.rule == "dns-1123" and p.path == "services.orders-and-their-many-many-lines"
    assert "longer than 63" in p.message


@pytest.mark.integration
def test_rendered_routes_point_at_services_named_as_written(tmp_path, helm, helm_env):
    _starter(tmp_path)
    r = run_cli("generate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([helm, "template", "m", str(tmp_path / "charts" / "shop-mesh"), "-f",
                          str(tmp_path / "values" / "shop-mesh" / "dev.yaml")],
                         capture_output=True, text=True, env=helm_env, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    hosts = {rt["destination"]["host"] for d in docs if d["kind"] == "VirtualService"
             for http in d["spec"].get("http", []) for rt in http.get("route", [])}
    assert "frontend.shop-dev.svc.cluster.local" in hosts
    assert not any(h.startswith("shop-") for h in hosts)
    selectors = [d["spec"]["selector"]["matchLabels"] for d in docs
                 if d["kind"] == "AuthorizationPolicy" and d["spec"].get("selector")]
    assert {"app": "orders"} in selectors
