"""chartgen.releases.limits: each of the API server's size and length limits, at its boundary."""

from __future__ import annotations

import base64

import pytest

from chartgen.releases.limits import LAST_APPLIED, LIMITS, check_object, check_objects, client_side_apply, json_size
from chartgen.releases.helmfile import release_plan
from chartgen.catalog.validate import load_catalog
from conftest import ROOT


def _cm(data: dict, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "ns", **meta},
            "data": data}


def _limits(obj, **kw) -> set[str]:
    return {p[0] for p in check_object(obj, **kw)}


def test_configmap_data_at_and_over_one_mib():
    key = "k"
    at = _cm({key: "a" * (LIMITS["data"] - len(key))})
    assert "data" not in _limits(at)
    over = _cm({key: "a" * (LIMITS["data"] - len(key) + 1)})
    assert "data" in _limits(over)


def test_secret_data_is_counted_decoded():
    raw = b"a" * LIMITS["data"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"k": base64.b64encode(raw).decode()}}  # 1.33 MiB encoded, 1 MiB decoded
    assert "data" not in _limits(secret)
    secret["data"]["k2"] = base64.b64encode(b"a").decode()
    assert "data" in _limits(secret)


def test_object_over_etcds_request_limit():
    big = _cm({f"k{i}": "a" * 500_000 for i in range(4)})
    assert {"object", "data"} <= _limits(big)


def test_last_applied_only_for_a_client_side_apply():
    obj = _cm({"k": "a" * 200_000})  # under 1 MiB, under 256 KiB
    assert _limits(obj) == set()
    assert _limits(obj, client_side_apply=True) == set()
    obj = _cm({"k": "a" * (LIMITS["annotations"] - 100)})
    assert _limits(obj) == set()
    assert _limits(obj, client_side_apply=True) == {"last-applied"}
    # the annotation holds the object's JSON: its size is what counts
    assert json_size(obj) + len(LAST_APPLIED) > LIMITS["annotations"]


def test_annotations_and_lengths():
    assert _limits(_cm({}, annotations={"a": "x" * LIMITS["annotations"]})) == {"annotations"}
    assert _limits(_cm({}, labels={"a": "x" * 63})) == set()
    assert _limits(_cm({}, labels={"a": "x" * 64})) == {"length"}
    assert _limits(_cm({}, labels={"example.com/" + "k" * 64: "v"})) == {"length"}
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n" * 64}}
    assert _limits(ns) == {"length"}
    assert _limits({**_cm({}), "metadata": {"name": "n" * 64}}) == set()  # a ConfigMap name may be 253


def test_problems_name_the_object_and_the_cause():
    problems = check_objects([_cm({"rules": "a" * (LIMITS["data"] + 1)})], blame=lambda o: "services.*.slo")
    assert [(p.code, p.kind, p.namespace, p.name) for p in problems] == [("CG141", "ConfigMap", "ns", "x")]
    assert problems[0].message.endswith("(services.*.slo)") and "1,048,582 bytes" in problems[0].message


@pytest.mark.parametrize("route,release,expected", [
    ("helmfile", "prometheus", False), ("flux", "prometheus", False), ("argocd", "prometheus", True),
    ("argocd", "istio-base", False)])  # Argo CD applies istio-base server-side
def test_which_route_applies_client_side(route, release, expected):
    plan = release_plan(load_catalog(ROOT / "catalog.yaml"), chart_dir="./charts/x")
    r = next(r for r in plan.releases if r.name == release)
    assert client_side_apply(route, r) is expected
