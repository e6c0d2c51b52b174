"""The ambient data plane and the Gateway API ingress in the model, the values, the helmfile
and the CRD chart (pure Python: no helm here; tests/test_ambient.py renders)."""

from __future__ import annotations

from pathlib import Path

import yaml

from chartgen.catalog.model import Match
from chartgen.chart.gatewayapi import CRD_CHART, build_crd_chart, gateway_api_envs, uses_tcp_routes
from chartgen.releases.helmfile import build_helmfile, build_release_values
from chartgen.catalog.mesh import env_views, l7_needs
from chartgen.catalog.rules.dataplane import gateway_api_prefix_regex, gateway_api_rank
from chartgen.catalog.validate import parse_catalog
from chartgen.chart.values import chart_values

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ambient" / "catalog.yaml"


def _catalog(text: str | None = None, **envs):
    """The ambient example, with environment fields replaced (``dev={"dataPlane": "sidecar"}``)."""
    data = yaml.safe_load(text or EXAMPLE.read_text(encoding="utf-8"))
    for env, fields in envs.items():
        for k, v in fields.items():
            if v is None:
                data["environments"][env].pop(k, None)
            else:
                data["environments"][env][k] = v
    return parse_catalog(yaml.safe_dump(data, sort_keys=False), "catalog.yaml")[0]


def test_rank_follows_istios_gateway_api_order():
    def m(**kw):
        return Match.model_validate(kw)

    exact = gateway_api_rank(m(path={"exact": "/a"}))
    regex_prefix = gateway_api_rank(m(path={"prefix": "/a"}))
    header = gateway_api_rank(m(headers={"x": {"exact": "1"}}))
    default = gateway_api_rank(None)
    assert exact < header < default  # exact paths first; PathPrefix "/" with a header before without
    assert default < regex_prefix  # a catalog prefix is a regex: after every PathPrefix "/"
    assert gateway_api_rank(m(path={"prefix": "/"})) == default
    assert gateway_api_rank(None, ("prefix", "/api")) < gateway_api_rank(None, ("prefix", "/a"))
    assert gateway_api_rank(m(headers={"x": {"exact": "1"}}), ("prefix", "/api")) < gateway_api_rank(
        None, ("prefix", "/api"))


def test_prefix_regex_quotes_like_go():
    assert gateway_api_prefix_regex("/a.b(c)") == r"/a\.b\(c\).*"
    assert gateway_api_prefix_regex("/v1-x") == "/v1-x.*"  # Go's QuoteMeta leaves '-' alone


def test_which_services_need_a_waypoint():
    catalog = _catalog()
    dev = next(v for v in env_views(catalog) if v.name == "dev")
    assert set(l7_needs(dev.enabled["proxy"])) >= {"weights", "routes", "mirror", "timeout", "loadBalancer"}
    assert "sessionAffinity" in l7_needs(dev.enabled["receiver"])
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["defaults"] = {}
    data["services"]["piper"] = {"ports": [{"name": "http", "port": 4000}], "calls": ["localstack"]}
    catalog = parse_catalog(yaml.safe_dump(data), "catalog.yaml")[0]
    dev = next(v for v in env_views(catalog) if v.name == "dev")
    assert l7_needs(dev.enabled["piper"]) == []  # L4 only: no waypoint
    values = chart_values(catalog, dev)
    assert values["services"]["piper"]["waypoint"] == ""
    assert values["services"]["proxy"]["waypoint"] == "waypoint"


def test_versions_without_weights_need_a_waypoint_to_reach_the_stable_version_only():
    """ztunnel balances over every pod of the Service: only a waypoint can send all of the
    traffic to the stable version, as the catalog (versions, no weights) says."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["defaults"] = {}
    data["services"]["piper"] = {"ports": [{"name": "http", "port": 4000}], "calls": ["localstack"],
                                 "versions": {"v1": {}, "v2": {}}}
    catalog = parse_catalog(yaml.safe_dump(data), "catalog.yaml")[0]
    dev = next(v for v in env_views(catalog) if v.name == "dev")
    assert l7_needs(dev.enabled["piper"]) == ["weights"]
    piper = chart_values(catalog, dev)["services"]["piper"]
    assert piper["waypoint"] == "waypoint" and piper["weights"] == {"v1": 100, "v2": 0}


def test_values_of_a_gateway_api_ingress():
    catalog = _catalog()
    prod = next(v for v in env_views(catalog) if v.name == "prod")
    values = chart_values(catalog, prod)
    assert values["environment"]["dataPlane"] == "ambient"
    gw = values["gateway"]
    assert gw["api"] == "gatewayApi"
    assert gw["selector"] == {"gateway.networking.k8s.io/gateway-name": "bytefreezer-gateway"}
    assert gw["serviceAccount"] == gw["service"] == "bytefreezer-gateway-istio"
    sidecar = _catalog(prod={"dataPlane": "sidecar", "ingressApi": None})
    view = next(v for v in env_views(sidecar) if v.name == "prod")
    assert chart_values(sidecar, view)["gateway"]["api"] == "istio"


def test_helmfile_of_a_mixed_catalog_installs_per_environment():
    catalog = _catalog(prod={"dataPlane": "sidecar", "ingressApi": None})
    assert gateway_api_envs(catalog) == ["dev"]
    part1, part2 = build_helmfile(catalog, chart_dir="./charts/bytefreezer-mesh")
    releases = {r["name"]: r for r in part2["releases"]}
    order = [r["name"] for r in part2["releases"]]
    assert order[:6] == ["gateway-api-crds", "istio-base", "istiod", "istio-cni", "ztunnel", "istio-ingress"]
    assert releases["gateway-api-crds"]["chart"] == f"./charts/{CRD_CHART}"
    assert releases["gateway-api-crds"]["condition"] == "gatewayApiCrds.enabled"
    assert releases["istio-cni"]["condition"] == "istioCni.enabled"
    assert releases["ztunnel"]["condition"] == "ztunnel.enabled"
    assert releases["istio-ingress"]["condition"] == "istioIngress.enabled"
    assert releases["bytefreezer-mesh"]["needs"][:3] == ["istio-system/istiod", "istio-system/ztunnel",
                                                         "istio-ingress/istio-ingress"]

    def enabled(env):
        out = {}
        for v in part1["environments"][env]["values"]:
            out.update({k: x["enabled"] for k, x in v.items()})
        return out

    assert enabled("dev") == {"gatewayApiCrds": True, "istioCni": True, "ztunnel": True, "istioIngress": False,
                              "localstack": True}
    assert enabled("prod") == {"gatewayApiCrds": False, "istioCni": False, "ztunnel": False, "istioIngress": True,
                               "localstack": False}
    values = build_release_values(catalog)
    assert values["istiod/dev.yaml"]["profile"] == "ambient" and "profile" not in values["istiod/prod.yaml"]
    assert values["istio-cni/common.yaml"] == {"profile": "ambient"}
    assert "istio-cni/prod.yaml" not in values and "istio-ingress/dev.yaml" not in values


def test_a_sidecar_catalog_gets_no_new_release():
    catalog = _catalog(dev={"dataPlane": "sidecar", "ingressApi": None},
                       prod={"dataPlane": "sidecar", "ingressApi": None})
    names = [r["name"] for r in build_helmfile(catalog, chart_dir="./charts/x")[1]["releases"]]
    assert not {"gateway-api-crds", "istio-cni", "ztunnel"} & set(names)
    assert "istio-ingress" in names


def test_crd_chart_keeps_the_crds_and_adds_tcproute_only_when_used():
    catalog = _catalog()
    assert not uses_tcp_routes(catalog)
    files = build_crd_chart(catalog)
    crds = sorted(f for f in files if f.startswith("files/"))
    assert "files/gateway.networking.k8s.io_httproutes.yaml" in crds
    assert "files/gateway.networking.k8s.io_tcproutes.yaml" not in crds
    for name in crds:
        first = next(d for d in yaml.safe_load_all(files[name]) if d)
        assert first["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep", name
    chart = yaml.safe_load(files["Chart.yaml"])
    assert chart["version"] == "1.5.1" and chart["appVersion"] == "v1.5.1"

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["services"]["cache"] = {"ports": [{"name": "redis", "port": 6379, "protocol": "REDIS"}],
                                 "versions": {"v6": {}, "v7": {}}, "weights": {"v6": 80, "v7": 20}}
    data["defaults"] = {}
    tcp = parse_catalog(yaml.safe_dump(data), "catalog.yaml")[0]
    assert uses_tcp_routes(tcp)
    assert "files/gateway.networking.k8s.io_tcproutes.yaml" in build_crd_chart(tcp)


def test_slo_alerts_read_the_waypoints_metrics_in_ambient():
    from chartgen.releases.observability import slo_alert_rules

    catalog = _catalog(prod={"dataPlane": "sidecar", "ingressApi": None})
    views = {v.name: v for v in env_views(catalog)}
    assert "slo" in l7_needs(views["dev"].enabled["receiver"])
    dev = [r["expr"] for r in slo_alert_rules(catalog, views["dev"])["groups"][0]["rules"]]
    prod = [r["expr"] for r in slo_alert_rules(catalog, views["prod"])["groups"][0]["rules"]]
    assert dev and all('reporter="waypoint"' in e and 'reporter="destination"' not in e for e in dev)
    assert prod and all('reporter="destination"' in e and "waypoint" not in e for e in prod)


def test_a_bare_string_path_is_a_prefix_on_whole_segments():
    from chartgen.catalog.model import path_match

    assert path_match("/static") == ("pathPrefix", "/static")
    assert path_match("/static/") == ("pathPrefix", "/static")  # a trailing "/" is ignored, as Istio trims it
    assert path_match("/static//") == ("pathPrefix", "/static")
    assert path_match("/") == ("prefix", "/") == path_match("//")


def test_a_segment_prefix_ranks_as_istio_ranks_a_path_prefix():
    """Istio converts PathPrefix P to a prefix of len(P) (rank 2): after every exact path, before
    every regex, which a plain string prefix becomes."""

    def m(**kw):
        return Match.model_validate(kw)

    seg = gateway_api_rank(None, ("pathPrefix", "/static"))
    assert gateway_api_rank(m(path={"exact": "/a"})) < seg < gateway_api_rank(None, ("prefix", "/static"))
    assert gateway_api_rank(None, ("pathPrefix", "/static/longer")) < seg < gateway_api_rank(None)
    # a rule's own prefix that covers the exposed segment prefix is narrowed to it
    assert gateway_api_rank(m(path={"prefix": "/st"}), ("pathPrefix", "/static")) == seg
