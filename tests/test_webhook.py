"""The port of Istio 1.30.3's validating webhook, checked against Istio's own test tables.

``fixtures/webhook/istio-1.30.3-validation.json`` holds the table cases of
``pkg/config/validation/validation_test.go`` and ``envoyfilter/envoyfilter_test.go`` at tag
1.30.3 of istio/istio (Apache-2.0),
converted from Go literals to the JSON form of the objects (see the README beside it). Each
case runs the ported function it was written for and must be admitted or rejected exactly as
Istio's test expects; warnings are not checked (the webhook admits with warnings).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chartgen.analyzer import webhook as w

TABLES = json.loads((Path(__file__).parent / "fixtures" / "webhook" / "istio-1.30.3-validation.json")
                    .read_text(encoding="utf-8"))


def _obj(kind: str, group: str, spec, name: str = "foo", namespace: str = "bar", annotations=None, labels=None):
    meta = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": meta, "spec": spec or {}}


def _kind(kind: str, group: str = "networking.istio.io"):
    def run(case, value):
        return w.validate(_obj(kind, group, value, annotations=case.get("annotations"), labels=case.get("labels"),
                               name=case.get("configName") or ("name" if kind == "AuthorizationPolicy" else "foo"),
                               namespace="namespace" if kind == "AuthorizationPolicy" else "bar"))
    return run


def _gen(fn):
    return lambda case, value: list(fn(value))


def _err(fn):
    return lambda case, value: [e for e in [fn(value)] if e]


# test name -> (input field, runner returning the errors)
RUNNERS = {
    "TestValidateGateway": ("in", _kind("Gateway")),
    "TestValidateServer": ("in", _gen(w.validate_server)),
    "TestValidateServerPort": ("in", lambda case, v: list(w.validate_server_port(v, case.get("bind") or ""))),
    "TestValidateTlsOptions": ("in", _gen(w.validate_tls_options)),
    "TestValidateCORSPolicy": ("in", _gen(w.validate_cors_policy)),
    "TestValidateHTTPStatus": ("in", _err(w.validate_http_status)),
    "TestValidateHTTPFaultInjectionAbort": ("in", lambda case, v: list(w.validate_http_fault_injection(
        {"abort": v} if v is not None else None)) if v is not None else []),
    "TestValidateHTTPFaultInjectionDelay": ("in", lambda case, v: list(w.validate_http_fault_injection(
        {"delay": v})) if v is not None else []),
    "TestValidateHTTPRetry": ("in", _gen(w.validate_http_retry)),
    "TestValidateHTTPRewrite": ("in", _gen(w.validate_http_rewrite)),
    "TestValidateUriRegexRewrite": ("in", lambda case, v: list(w.validate_http_rewrite({"uriRegexRewrite": v}))
                                    if v is not None else []),
    "TestValidatePortName": ("name", _err(w.validate_port_name)),
    "TestValidateHTTPRedirect": ("redirect", _gen(w.validate_http_redirect)),
    "TestValidateHTTPDirectResponse": ("directResponse", _gen(w.validate_http_direct_response)),
    "TestValidateDestination": ("destination", _gen(w.validate_destination)),
    "TestValidateHTTPRoute": ("route", lambda case, v: list(w.validate_http_route(v, False))),
    "TestValidateRouteDestination": ("routes", _gen(w.validate_route_destinations)),
    "TestValidateVirtualService": ("in", lambda case, v: w.validate(_obj("VirtualService", "networking.istio.io", v,
                                                                         namespace=""))),
    "TestValidateDestinationRule": ("in", _kind("DestinationRule")),
    "TestValidateTrafficPolicy": ("in", lambda case, v: list(w.validate_traffic_policy("", v))),
    "TestValidateConnectionPool": ("in", _gen(w.validate_connection_pool)),
    "TestValidateLoadBalancer": ("in", _gen(w.validate_load_balancer)),
    "TestValidateOutlierDetection": ("in", _gen(w.validate_outlier_detection)),
    "TestValidateServiceEntries": ("in", _kind("ServiceEntry")),
    "TestValidateAuthorizationPolicy": ("in", _kind("AuthorizationPolicy", "security.istio.io")),
    "TestValidateSidecar": ("in", _kind("Sidecar")),
    "TestValidateRequestAuthentication": ("in", _kind("RequestAuthentication", "security.istio.io")),
    "TestValidatePeerAuthentication": ("in", _kind("PeerAuthentication", "security.istio.io")),
    "Test_validateExportTo": ("exportTo", lambda case, v: w.validate_export_to(
        case.get("namespace", ""), v, bool(case.get("isServiceEntry")), bool(case.get("isDestinationRuleWithSelector")))),
    "TestValidateTelemetry": ("in", _kind("Telemetry", "telemetry.istio.io")),
    "TestValidateHTTPHeaderValue": ("input", _err(w.validate_http_header_value)),
    "TestStrictValidateHTTPHeaderName": ("name", _err(w.validate_strict_http_header_name)),
    "TestValidateEnvoyFilter": ("in", lambda case, v: w.validate({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": {"name": "foo", "namespace": "bar"}, "spec": v or {}})),
    "TestValidateHTTPHeaderName": ("name", _err(w.validate_http_header_name_or_jwt_claim_route)),
}

# Cases whose verdict needs what the port deliberately leaves out (see chartgen/analyzer/webhook.py).
NOT_PORTED = {
    ("TestValidateTelemetry", "invalid message"): "a spec of another Go type; a CRD object cannot be one",
    ("TestValidateEnvoyFilter", "invalid patch value"): "patch values are decoded as Envoy protobufs",
    ("TestValidateEnvoyFilter", "deprecated config"): "patch values are decoded as Envoy protobufs",
}


def _valid(case: dict) -> bool:
    for key in ("valid",):
        if key in case:
            return bool(case[key])
    if "wantErr" in case:
        return not case["wantErr"]
    for key in ("out", "err", "expected", "error"):
        if key in case:
            return not case[key]
    return True  # a table whose cases omit the verdict expects success


CASES = [pytest.param(test, case, id=f"{test}:{case.get('name', case.get('input', i))}")
         for test, table in TABLES.items() for i, case in enumerate(table["cases"])]


@pytest.mark.parametrize("test, case", CASES)
def test_istio_table_case(test, case):
    field, run = RUNNERS[test]
    reason = NOT_PORTED.get((test, case.get("name")))
    if reason:
        pytest.skip(f"not ported: {reason}")
    errors = run(case, case.get(field))
    want = _valid(case)
    assert (not errors) == want, f"{test} {case.get('name')!r}: want valid={want}, got {errors}"


def test_every_table_has_both_verdicts_and_most_cases_converted():
    total = sum(len(t["cases"]) for t in TABLES.values())
    skipped = sum(t["skipped"] for t in TABLES.values())
    assert total >= 500 and skipped <= total // 20
    for test, table in TABLES.items():
        verdicts = {_valid(c) for c in table["cases"]}
        assert verdicts == {True, False} or len(table["cases"]) < 3, test


def test_findings_carry_the_istio_check_name():
    vs = _obj("VirtualService", "networking.istio.io", {"hosts": ["a.b"], "http": [
        {"retries": {"attempts": 0, "retryOn": "5xx"}, "route": [{"destination": {"host": "a.b"}}]}]})
    assert w.validate(vs) == [("validateHTTPRetry", "http retry policy configured when attempts are set to 0 (disabled)")]
    vs["spec"]["http"][0]["retries"] = {"attempts": 0}
    assert w.validate(vs) == []


def test_every_check_name_is_a_documented_lint_rule():
    from chartgen.analyzer.findings import RULES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for name in w.CHECKS:
        assert name in RULES
        assert f'<a id="{name}"></a>' in doc, name


def test_wrongly_typed_fields_read_as_absent_not_as_crashes():
    weird = {"hosts": "a", "http": [{"route": "x", "retries": [1], "timeout": 5, "match": [None, 3]}], "tcp": {}}
    errors = w.validate(_obj("VirtualService", "networking.istio.io", weird))
    assert ("ValidateVirtualService", "http, tcp or tls must be provided in virtual service") not in errors
    assert errors  # the route is missing
