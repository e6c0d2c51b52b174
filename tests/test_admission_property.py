"""Validation and lint agree: a catalog that ``validate`` accepts never renders an Istio object
that Istio 1.30.3's CRDs (schema + CEL rules) or its validating webhook would reject.

Hypothesis draws catalogs over the settings that reach Istio objects (ports and protocols,
timeouts, retries, versions and weights, A/B routes, faults, mirrors, exposed paths, pools,
outlier detection, JWT, external services), including values at and past Istio's limits. Each
catalog that validates is rendered with the real helm for every environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chartgen.catalog.model import PROTOCOLS
from chartgen.analyzer import Project, render
from chartgen.analyzer.webhook import validate as webhook_validate
from chartgen.base.errors import ChartgenError
from chartgen.catalog.validate import parse_catalog

pytestmark = pytest.mark.integration

DURATIONS = ["1ms", "500ms", "0.5s", "1.5s", "2s", "30s", "1m", "1h", "1.0005s", "100us", "0s", "0.0001s", "90m"]
RETRY_ON = ["5xx", "5xx,reset", "gateway-error,connect-failure", "503", "retriable-4xx,deadline-exceeded",
            "cancelled,unavailable", "600", "bogus"]
STRINGS = ["true", "v2", "/", "", "a b", "^(acme|globex)$", "(?i)beta", "a{1001}", "x.*", "é", "%HOSTNAME%"]


def string_match():
    return st.one_of(st.builds(lambda v: {"exact": v}, st.sampled_from(STRINGS)),
                     st.builds(lambda v: {"prefix": v}, st.sampled_from(STRINGS)),
                     st.builds(lambda v: {"regex": v}, st.sampled_from(STRINGS)))


def match():
    return st.fixed_dictionaries({}, optional={
        "headers": st.dictionaries(st.sampled_from(["x-beta", "user-agent", "x-tenant"]),
                                   string_match(), min_size=1, max_size=2),
        "path": string_match(),
        "queryParams": st.dictionaries(st.sampled_from(["beta", "v"]), string_match(), min_size=1, max_size=1),
    })


@st.composite
def service(draw, key: str, externals: list[str]):
    first = draw(st.sampled_from(["HTTP", "HTTP", "HTTP2", "GRPC", "TCP", "TLS", "REDIS"]))
    protocols = [first] + draw(st.lists(st.sampled_from([p for p in PROTOCOLS if p != first]), max_size=1))
    ports = [{"name": f"{p.lower()}-{i}" if i else p.lower(), "port": 8080 + i, "protocol": p}
             for i, p in enumerate(protocols)]
    svc: dict = {"ports": ports}
    if first not in ("HTTP", "HTTP2", "GRPC"):  # HTTP-only settings are refused there (validate's job)
        _l4_settings(draw, svc)
        return svc
    if draw(st.booleans()):
        svc["timeout"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        svc["retries"] = _retries(draw)
    _versions(draw, svc)
    if draw(st.booleans()):
        svc["faults"] = [_fault(draw, first)]
    if draw(st.booleans()):
        svc["expose"] = {"host": key, "paths": draw(st.lists(st.one_of(
            st.sampled_from(["/", "/api", "/api/", "/login"]),
            st.builds(lambda v: {"exact": v}, st.sampled_from(["/login", "/p/"])),
            st.builds(lambda v: {"prefix": v}, st.sampled_from(["/static", "/"])),
            st.builds(lambda v: {"regex": v}, st.sampled_from(["/item/[0-9]+", "/(a|b)"]))), min_size=1, max_size=2,
            unique_by=lambda p: yaml.safe_dump(p)))}
    _traffic_policy(draw, svc)
    if externals and draw(st.booleans()):
        svc["calls"] = externals[:1]
    return svc


def _l4_settings(draw, svc: dict) -> None:
    """A TCP/TLS service: versions with weights, a TCP connection pool."""
    if draw(st.booleans()):
        svc["versions"] = {"v1": {"labels": {"version": "v1"}}, "v2": {"labels": {"version": "v2"}}}
        w = draw(st.integers(0, 100))
        svc["weights"] = {"v1": w, "v2": 100 - w}
    if draw(st.booleans()):
        svc["connectionPool"] = {"tcp": {"maxConnections": draw(st.integers(1, 1000)),
                                         "connectTimeout": draw(st.sampled_from(DURATIONS))}}


def _retries(draw) -> dict:
    retries = {"attempts": draw(st.integers(0, 5))}
    if draw(st.booleans()):
        retries["perTryTimeout"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        retries["retryOn"] = draw(st.sampled_from(RETRY_ON))
    return retries


def _versions(draw, svc: dict) -> None:
    """Versions, and with them weights, an A/B route and a mirror."""
    versions = draw(st.sampled_from([[], ["v1"], ["v1", "v2"]]))
    if not versions:
        return
    svc["versions"] = {v: {"labels": {"version": v}} for v in versions}
    if len(versions) == 2 and draw(st.booleans()):
        w = draw(st.integers(0, 100))
        svc["weights"] = {"v1": w, "v2": 100 - w}
    if draw(st.booleans()):
        svc["routes"] = [{"name": "ab", "match": draw(match()), "version": versions[-1]}]
    if len(versions) == 2 and draw(st.booleans()):
        svc["mirror"] = {"version": "v2", "percent": draw(st.sampled_from([0, 0.00001, 0.5, 10, 100]))}


def _fault(draw, first: str) -> dict:
    fault: dict = {"name": "chaos"}
    if draw(st.booleans()):
        fault["delay"] = {"percent": draw(st.sampled_from([0, 0.00005, 50, 100])),
                          "fixedDelay": draw(st.sampled_from(DURATIONS))}
    if draw(st.booleans()) or "delay" not in fault:
        abort = {"percent": draw(st.sampled_from([1, 10, 100]))}
        if draw(st.booleans()) or first != "GRPC":
            abort["httpStatus"] = draw(st.sampled_from([200, 404, 503, 599, 600]))
        else:
            abort["grpcStatus"] = draw(st.sampled_from(["UNAVAILABLE", "INTERNAL", "NOT_FOUND"]))
        fault["abort"] = abort
    if draw(st.booleans()):
        fault["match"] = draw(match())
    return fault


def _traffic_policy(draw, svc: dict) -> None:
    """Connection pool, outlier detection, load balancer, rate limit."""
    if draw(st.booleans()):
        svc["connectionPool"] = {"tcp": {"maxConnections": draw(st.integers(1, 1000)),
                                         "connectTimeout": draw(st.sampled_from(DURATIONS))},
                                 "http": {"idleTimeout": draw(st.sampled_from(DURATIONS)),
                                          "maxRetries": draw(st.integers(0, 10))}}
    if draw(st.booleans()):
        svc["outlierDetection"] = {"consecutive5xxErrors": draw(st.integers(0, 10)),
                                   "interval": draw(st.sampled_from(DURATIONS)),
                                   "baseEjectionTime": draw(st.sampled_from(DURATIONS)),
                                   "maxEjectionPercent": draw(st.integers(0, 100))}
    if draw(st.booleans()):
        svc["loadBalancer"] = draw(st.sampled_from(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"]))
    if draw(st.booleans()):
        svc["rateLimit"] = {"requests": draw(st.integers(1, 1000)), "per": draw(st.sampled_from(["1s", "1m", "500ms"]))}


@st.composite
def catalog(draw):
    keys = draw(st.lists(st.sampled_from(["api", "web", "cache", "auth"]), min_size=1, max_size=3, unique=True))
    externals = ["payments"] if draw(st.booleans()) else []
    services = {}
    for k in keys:
        services[k] = draw(service(k, externals))
    data = {
        "apiVersion": "chartgen.io/v1", "kind": "ServiceCatalog",
        "metadata": {"name": "prop", "domain": "prop.example"},
        "environments": {
            "dev": {"namespace": "prop-dev", "hostSuffix": "dev.prop.example", "chaos": True, "mtls": "PERMISSIVE",
                    "gateway": {"https": False}},
            "prod": {"production": True, "namespace": "prop-prod", "hostSuffix": "prod.prop.example",
                     "mtls": "STRICT", "gateway": {"https": True, "credentialName": "prop-tls", "httpsRedirect": True}},
        },
        "services": services,
    }
    if externals:
        data["externalServices"] = {"payments": {"hosts": [draw(st.sampled_from(["api.pay.example", "*.pay.example"]))],
                                                 "ports": [{"name": "https", "port": 443, "protocol": "TLS"}]}}
    if draw(st.booleans()):
        data["environments"]["prod"]["gateway"]["jwt"] = {
            "issuer": "https://id.example",
            "jwksUri": draw(st.sampled_from(["https://id.example/keys", "http://id/keys", "ftp://id.example/keys",
                                             "id.example/keys", "https://id.example:port/keys"]))}
    return data


def _rejections(project: Project, crds) -> list[str]:
    out = []
    with tempfile.TemporaryDirectory(prefix="chartgen-prop-") as tmp:
        rendered = render(project, project.environments(), Path(tmp))
    for env, r in rendered.items():
        for doc in r.docs:
            if not str(doc.api).split("/")[0].endswith(".istio.io"):
                continue
            where = f"{env} {doc.kind}/{doc.name}"
            out += [f"{where}: CRD {v}" for v in crds.validate(doc.obj)]
            out += [f"{where}: webhook {check}: {message}" for check, message in webhook_validate(doc.obj)]
    return out


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=catalog())
def test_a_catalog_that_validates_renders_only_admitted_objects(data, tmp_path_factory):
    from helpers.istio import istio_crds

    crds = istio_crds()
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        cat, smap = parse_catalog(text, "catalog.yaml")
    except ChartgenError:
        event("validate refuses the catalog")
        return  # nothing is rendered
    event("validate accepts the catalog: rendered and checked")
    project = Project.from_catalog(cat, tmp_path_factory.mktemp("prop"), source_map=smap)
    rejected = _rejections(project, crds)
    assert rejected == [], "validate accepted a catalog Istio would refuse:\n" + text + "\n" + "\n".join(rejected)
