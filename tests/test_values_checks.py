"""The chart's own checks, through the real helm: values that break a check of
chartgen/chart/invariants.py make ``helm template`` fail with exactly that check's message, and the
checks the schema states are refused by the schema (the templates no longer repeat them)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from chartgen.chart.invariants import BY_ID
from chartgen.catalog.validate import load_catalog
from conftest import ROOT
from helpers.meshrender import write_chart

pytestmark = pytest.mark.integration  # renders the chart with the real helm

ENV = "dev"


def go_printf(fmt: str, args: tuple) -> str:
    """Go's fmt.Sprintf for the verbs the checks use (%s %d %v %q of plain ASCII)."""
    it = iter(args)

    def one(m):
        value = next(it)
        return json.dumps(value) if m.group(0) == "%q" else str(value)

    return re.sub(r"%[sdvq]", one, fmt)


# check id -> (values over the dev environment's, the arguments of its message)
CASES = {
    "unique-keys": ({"externalServices": {"proxy": {
        "enabled": True, "namespace": "", "hosts": ["x.example.com"], "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}],
        "exportTo": ["."], "redirect": {"enabled": False, "service": "", "port": 0}, "envVar": ""}}}, ("proxy",)),
    "https-credential": ({"gateway": {"https": True, "credentialName": ""}}, ()),
    "weights-version": ({"services": {"proxy": {"weights": {"v2": None, "v3": 10}}}}, ("proxy", "v3", "proxy")),
    "weights-sum": ({"services": {"proxy": {"weights": {"v2": 20}}}}, ("proxy", 110)),
    "route-version": ({"services": {"proxy": {"routes": [
        {"name": "r", "match": [{"headers": {"x": {"exact": "1"}}}], "version": "v9"}]}}}, ("proxy", 0, "r", "v9", "proxy")),
    "mirror-version": ({"services": {"proxy": {"mirror": {"enabled": True, "version": "v9", "percent": 5}}}},
                       ("proxy", "v9", "proxy")),
    "fault-action": ({"services": {"proxy": {"faults": [{"name": "f", "match": []}]}}}, ("proxy", 0, "f")),
    "selector": (None, ("proxy",)),  # every label of the proxy's selector removed (below)
    "exposed-http-port": ({"services": {"proxy": {"ports": [{"name": "tcp", "number": 8080, "protocol": "TCP"}]}}},
                          ("proxy",)),
    "gateway-port": ({"services": {"proxy": {"expose": {"gatewayPort": 4567}}}}, ("proxy", 4567)),
    "redirect-service": ({"externalServices": {"aws": {"redirect": {"service": "nope"}}}}, ("aws", "nope")),
    "redirect-port": ({"externalServices": {"aws": {"redirect": {"port": 4567}}}}, ("aws", 4567, "localstack")),
    "unknown-call": ({"services": {"proxy": {"calls": ["nobody"]}}}, ("proxy", "nobody")),
    "https-extra-port-credential": ({"gateway": {"extraPorts": [
        {"name": "https-localstack", "number": 4566, "protocol": "HTTPS"}]}}, ()),
    "jwt-issuer": ({"gateway": {"jwt": {"enabled": True, "issuer": "", "jwksUri": "https://idp.example.com/jwks"}}}, ()),
    "jwt-jwks-uri": ({"gateway": {"jwt": {"enabled": True, "issuer": "https://idp.example.com", "jwksUri": ""}}}, ()),
}

# what the templates used to check as well and the schema states: the schema refuses it
SCHEMA_CASES = {
    "no ports": {"services": {"proxy": {"ports": []}}},
    "no exposed paths": {"services": {"proxy": {"expose": {"paths": []}}}},
    "no external hosts": {"externalServices": {"aws": {"hosts": []}}},
    "a route without a match": {"services": {"proxy": {"routes": [{"name": "r", "match": [], "version": "v2"}]}}},
    "a fault delay without fixedDelay": {"services": {"proxy": {"faults": [{"name": "f", "match": [],
                                                                            "delay": {"percent": 5}}]}}},
    "an empty trust domain": {"istio": {"trustDomain": ""}},
    "an empty tracing provider": {"observability": {"tracingProvider": ""}},
    "a version without labels": {"services": {"proxy": {"versions": {"v2": {"labels": None}}}}},
}


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    return write_chart(load_catalog(ROOT / "catalog.yaml"), tmp_path_factory.mktemp("chart"))


def helm_template(helm, helm_env, chart, overlay: dict, tmp_path):
    extra = tmp_path / "overlay.yaml"
    extra.write_text(yaml.safe_dump(overlay))
    return subprocess.run([helm, "template", "mesh", str(chart), "-n", "istio-system", "-f", str(chart.parent / f"{ENV}.yaml"),
                           "-f", str(extra)], capture_output=True, text=True, env=helm_env, timeout=120)


def test_every_check_has_a_case():
    assert set(CASES) == set(BY_ID)


@pytest.mark.parametrize("check", sorted(CASES))
def test_values_breaking_a_check_fail_with_its_message(helm, helm_env, chart, tmp_path, check):
    overlay, args = CASES[check]
    if overlay is None:
        selector = yaml.safe_load((chart / "values.yaml").read_text())["services"]["proxy"]["selector"]
        overlay = {"services": {"proxy": {"selector": {k: None for k in selector}}}}
    r = helm_template(helm, helm_env, chart, overlay, tmp_path)
    assert r.returncode != 0
    assert go_printf(BY_ID[check].message, args) in r.stderr, r.stderr


@pytest.mark.parametrize("what", sorted(SCHEMA_CASES))
def test_what_the_schema_states_is_refused_by_the_schema(helm, helm_env, chart, tmp_path, what):
    r = helm_template(helm, helm_env, chart, SCHEMA_CASES[what], tmp_path)
    assert r.returncode != 0
    assert "schema" in r.stderr.lower() and "execution error" not in r.stderr, r.stderr


def test_the_unbroken_values_render(helm, helm_env, chart, tmp_path):
    assert helm_template(helm, helm_env, chart, {}, tmp_path).returncode == 0
