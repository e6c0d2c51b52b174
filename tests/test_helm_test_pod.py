"""The chart's ``helm test`` Pod, as helm renders it, run as the kubelet would (its command,
args and env) with a stand-in ``curl`` that answers a chosen status: each exposed route must
give the status it should, and what the mesh answers itself (403 RBAC, 503 no healthy
upstream or reset, 404 no route, 000 unreachable) fails the test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from chartgen.catalog.validate import load_catalog
from conftest import ROOT
from helpers.meshrender import KUBE_VERSION, write_chart

pytestmark = pytest.mark.integration  # renders the chart with the real helm

# Answers the status of $STUB_CODE, or $STUB_FAIL_CODE for the URL containing $STUB_FAIL_URL;
# "000" is curl's answer when nothing answered (it then exits non-zero and prints 000).
STUB_CURL = """#!/bin/sh
code="$STUB_CODE"
for a in "$@"; do
  case "$a" in
    *"$STUB_FAIL_URL"*) [ -n "$STUB_FAIL_URL" ] && code="$STUB_FAIL_CODE" ;;
  esac
done
printf '%s' "$code"
[ "$code" = "000" ] && exit 7
exit 0
"""

JWT = ["--set", "gateway.jwt.enabled=true", "--set", "gateway.jwt.issuer=https://auth.example.com",
       "--set", "gateway.jwt.jwksUri=https://auth.example.com/jwks.json"]


@pytest.fixture(scope="module")
def chart_dir(tmp_path_factory) -> Path:
    return write_chart(load_catalog(ROOT / "catalog.yaml"), tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="module")
def stub_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("stub")
    (d / "curl").write_text(STUB_CURL)
    (d / "curl").chmod(0o755)
    return d


def _pod(helm, helm_env, chart_dir, env, extra=()) -> dict:
    r = subprocess.run([helm, "template", "mesh", str(chart_dir), "-n", "istio-system", "--kube-version", KUBE_VERSION,
                        "-f", str(chart_dir.parent / f"{env}.yaml"), *extra,
                        "--show-only", "templates/tests/test-routes.yaml"],
                       capture_output=True, text=True, env=helm_env, timeout=120)
    assert r.returncode == 0, r.stderr
    pods = [d for d in yaml.safe_load_all(r.stdout) if d and d["kind"] == "Pod"]
    assert len(pods) == 1
    return pods[0]


def _run(pod: dict, stub_dir: Path, tmp_path: Path, code: str, fail_url: str = "", fail_code: str = ""):
    """The test container's process: its command and args, its env, curl answering ``code``."""
    c = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    env.update(PATH=f"{stub_dir}:/usr/bin:/bin", STUB_CODE=code, STUB_FAIL_URL=fail_url, STUB_FAIL_CODE=fail_code)
    return subprocess.run(c["command"] + c["args"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("code, passes", [
    ("200", True), ("301", True), ("401", True), ("500", True),  # the service answered
    ("000", False), ("404", False), ("403", False), ("502", False), ("503", False), ("504", False),
])
def test_a_route_passes_only_with_a_status_of_the_service(env, code, passes, helm, helm_env, chart_dir, stub_dir,
                                                          tmp_path):
    pod = _pod(helm, helm_env, chart_dir, env)
    urls = pod["spec"]["containers"][0]["args"][0::3]
    assert urls and all(u.startswith(("http://", "https://")) for u in urls)
    r = _run(pod, stub_dir, tmp_path, code)
    assert (r.returncode == 0) is passes, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(urls)  # every route is checked, none stops the others
    assert all(line.startswith("ok   " if passes else "FAIL ") for line in lines), r.stdout


def test_one_denied_route_fails_the_test_and_is_named(helm, helm_env, chart_dir, stub_dir, tmp_path):
    pod = _pod(helm, helm_env, chart_dir, "prod")
    urls = pod["spec"]["containers"][0]["args"][0::3]
    assert len(urls) > 1
    r = _run(pod, stub_dir, tmp_path, "200", fail_url=urls[-1], fail_code="403")
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == f"FAIL {urls[-1]} -> 403 (denied by an AuthorizationPolicy)"
    assert sum(line.startswith("ok   ") for line in r.stdout.splitlines()) == len(urls) - 1
    r = _run(pod, stub_dir, tmp_path, "200", fail_url=urls[0], fail_code="503")
    assert r.returncode == 1 and "no healthy upstream" in r.stdout.splitlines()[0]


@pytest.mark.parametrize("code, passes", [("403", True), ("200", False), ("401", False), ("404", False),
                                          ("000", False)])
def test_with_the_gateway_jwt_an_anonymous_request_must_be_denied(code, passes, helm, helm_env, chart_dir, stub_dir,
                                                                 tmp_path):
    """The test sends no token: require-jwt must deny it (403); a 200 means the JWT is not
    enforced, and fails."""
    pod = _pod(helm, helm_env, chart_dir, "prod", JWT)
    assert {"name": "REQUIRE_JWT", "value": "true"} in pod["spec"]["containers"][0]["env"]
    r = _run(pod, stub_dir, tmp_path, code)
    assert (r.returncode == 0) is passes, r.stdout + r.stderr
    if not passes:
        assert "expected 403: require-jwt denies a request without a token" in r.stdout
