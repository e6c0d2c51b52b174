"""Canary releases and A/B routing: `chartgen canary`, the catalog edits it makes, and the
VirtualServices the generated chart renders through the real helm binary."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.catalog.edit import edit_weights
from chartgen.cli import cli
from conftest import ROOT

CHART = "bytefreezer-mesh"
KUBE_VERSION = "1.33.0"
COMMENTS = [  # lines of the repo catalog that every edit must keep
    "    weights: {v1: 90, v2: 10}       # canary: 10 % to v2",
    "    routes:                         # A/B: beta testers always get v2",
    "versions:                           # pinned charts; Istio 1.30.x (avoid 1.30.0: ring-hash bug)",
    "# Every service inherits these unless it says otherwise.",
    "    sessionAffinity:                # consistent hash on a cookie",
]


def chartgen(*args, ok=True, input=None):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False, input=input)
    if ok:
        assert r.exit_code == 0, f"chartgen {' '.join(args)} → {r.exit_code}\n{r.output}"
    return r


@pytest.fixture
def repo(generated) -> Path:
    """The repo's catalog in a fresh directory, generated (a copy of one generated tree)."""
    return generated


@pytest.fixture
def terminal(monkeypatch):
    """`chartgen canary` at a terminal that answers yes: a change of the service's own weights
    moves prod (production: true) too, and a terminal is asked before that."""
    import chartgen.commands.common as common

    monkeypatch.setattr(common, "interactive", lambda: True)
    return "y\n"


def write_variant(root: Path, mutate) -> Path:
    """The repo catalog, changed by ``mutate(data)``, at root/catalog.yaml (comments dropped)."""
    data = yaml.safe_load((ROOT / "catalog.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = root / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def render(root: Path, env_name: str, helm: str, helm_env: dict) -> list[dict]:
    """`helm template` of the generated chart with the environment's values file."""
    args = [helm, "template", CHART, str(root / "charts" / CHART), "-n", "istio-system",
            "--kube-version", KUBE_VERSION, "-f", str(root / "values" / CHART / f"{env_name}.yaml")]
    r = subprocess.run(args, capture_output=True, text=True, env=helm_env, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def vs(docs: list[dict], name: str) -> dict:
    found = [d for d in docs if d["kind"] == "VirtualService" and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one VirtualService/{name}, found {len(found)}"
    return found[0]


def rule_names(v: dict) -> list[str]:
    return [r["name"] for r in v["spec"]["http"]]


def rule(v: dict, name: str) -> dict:
    return next(r for r in v["spec"]["http"] if r["name"] == name)


def split(r: dict) -> dict[str, int]:
    return {d["destination"].get("subset", "-"): d.get("weight", 100) for d in r["route"]}


def assert_istio_schema(docs: list[dict]) -> None:
    """Every VirtualService passes Istio 1.30.3's CRD schema and CEL rules, and its webhook."""
    from chartgen.analyzer.schema import validate_objects
    from chartgen.analyzer.webhook import validate
    from helpers.istio import istio_crds

    objs = [d for d in docs if d["kind"] == "VirtualService"]
    assert objs
    problems = list(validate_objects(objs, istio=istio_crds()))
    problems += [(d["metadata"]["name"], e) for d in objs for e in validate(d)]
    assert not problems, problems


# --- A/B routes, mirror and rule order in the rendered chart ---------------------------------------

AB_ROUTES = [
    {"name": "beta-testers", "match": {"headers": {"x-bytefreezer-beta": {"exact": "true"}}}, "version": "v2"},
    {"name": "canary-cookie", "match": {"cookie": {"name": "bytefreezer-canary", "value": "always"}}, "version": "v2"},
    {"name": "mobile", "match": {"headers": {"user-agent": {"prefix": "BytefreezerMobile/"}}}, "version": "v2"},
    {"name": "tenants", "match": {"headers": {"x-tenant": {"regex": "^(acme|globex)$"}}}, "version": "v1"},
    {"name": "beta-api", "match": {"path": {"prefix": "/api/v2"}, "queryParams": {"beta": {"exact": "1"}},
                                   "headers": {"x-region": {"exact": "eu"}}}, "version": "v2"},
]


def _ab_catalog(data):
    proxy = data["services"]["proxy"]
    proxy["routes"] = AB_ROUTES
    proxy["mirror"] = {"version": "v2", "percent": 5}
    receiver = data["services"]["receiver"]  # has a fault: faults, then A/B, then the default
    receiver["versions"] = {"v1": {"labels": {"version": "v1"}}, "v2": {"labels": {"version": "v2"}}}
    receiver["weights"] = {"v1": 80, "v2": 20}
    receiver["routes"] = [{"name": "ingest-canary", "match": {"cookie": {"name": "ingest", "value": "v2.beta"}},
                           "version": "v2"}]
    receiver["mirror"] = {"version": "v2", "percent": 12.5}


@pytest.fixture(scope="module")
def ab_rendered(tmp_path_factory, helm, helm_env) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("ab")
    path = write_variant(root, _ab_catalog)
    chartgen("generate", "-c", str(path))
    return {env: render(root, env, helm, helm_env) for env in ("dev", "prod")}


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_ab_rules_in_order_then_weighted_default_with_mirror(ab_rendered, env_name):
    v = vs(ab_rendered[env_name], "bytefreezer-proxy")
    assert rule_names(v) == [r["name"] for r in AB_ROUTES] + ["default"]
    ns = f"bytefreezer-{env_name}"
    host = f"bytefreezer-proxy.{ns}.svc.cluster.local"
    for r in AB_ROUTES:
        assert rule(v, r["name"])["route"] == [
            {"destination": {"host": host, "port": {"number": 8080}, "subset": r["version"]}}]
        assert "mirror" not in rule(v, r["name"])
    default = rule(v, "default")
    assert "match" not in default
    assert split(default) == {"v1": 90, "v2": 10}
    assert default["mirror"] == {"host": host, "port": {"number": 8080}, "subset": "v2"}
    assert default["mirrorPercentage"] == {"value": 5.0}


def test_ab_match_shapes(ab_rendered):
    v = vs(ab_rendered["prod"], "bytefreezer-proxy")
    assert rule(v, "beta-testers")["match"] == [{"headers": {"x-bytefreezer-beta": {"exact": "true"}}}]
    assert rule(v, "mobile")["match"] == [{"headers": {"user-agent": {"prefix": "BytefreezerMobile/"}}}]
    assert rule(v, "tenants")["match"] == [{"headers": {"x-tenant": {"regex": "^(acme|globex)$"}}}]
    # a combination is one HTTPMatchRequest: every condition ANDed
    assert rule(v, "beta-api")["match"] == [{"headers": {"x-region": {"exact": "eu"}}, "uri": {"prefix": "/api/v2"},
                                             "queryParams": {"beta": {"exact": "1"}}}]
    (cookie,) = rule(v, "canary-cookie")["match"]
    regex = cookie["headers"]["cookie"]["regex"]
    assert list(cookie) == ["headers"] and list(cookie["headers"]) == ["cookie"]
    for header, hit in [("bytefreezer-canary=always", True), ("a=1; bytefreezer-canary=always", True),
                        ("bytefreezer-canary=always; b=2", True), ("bytefreezer-canary=alwaysx", False),
                        ("xbytefreezer-canary=always", False), ("bytefreezer-canary=never", False)]:
        assert bool(re.match(regex, header)) is hit, (regex, header)
    # a '.' in the cookie value is literal
    receiver = vs(ab_rendered["prod"], "bytefreezer-receiver")
    rx = rule(receiver, "ingest-canary")["match"][0]["headers"]["cookie"]["regex"]
    assert re.match(rx, "ingest=v2.beta") and not re.match(rx, "ingest=v2xbeta")


def test_ingress_rules_keep_order_and_add_the_exposed_path(ab_rendered):
    v = vs(ab_rendered["prod"], "bytefreezer-proxy-ingress")
    assert rule_names(v) == [r["name"] for r in AB_ROUTES] + ["default"]
    # the exposed /api is a prefix on whole segments: /api itself and everything under /api/
    beta = {"x-bytefreezer-beta": {"exact": "true"}}
    assert rule(v, "beta-testers")["match"] == [{"headers": beta, "uri": {"exact": "/api"}},
                                                {"headers": beta, "uri": {"prefix": "/api/"}}]
    assert rule(v, "default")["match"] == [{"uri": {"exact": "/api"}}, {"uri": {"prefix": "/api/"}}]
    assert rule(v, "default")["mirrorPercentage"] == {"value": 5.0}


def test_ingress_keeps_a_routes_own_path(ab_rendered):
    v = vs(ab_rendered["prod"], "bytefreezer-proxy-ingress")
    assert [m["uri"] for m in rule(v, "beta-api")["match"]] == [{"prefix": "/api/v2"}]


def test_faults_first_in_dev_then_ab_then_default(ab_rendered):
    dev = vs(ab_rendered["dev"], "bytefreezer-receiver")
    assert rule_names(dev) == ["chaos-test", "ingest-canary", "default"]
    assert "fault" in dev["spec"]["http"][0]
    assert not any("fault" in r for r in dev["spec"]["http"][1:])
    assert split(rule(dev, "default")) == {"v1": 80, "v2": 20}
    assert rule(dev, "default")["mirrorPercentage"] == {"value": 12.5}
    prod = vs(ab_rendered["prod"], "bytefreezer-receiver")  # chaos: false
    assert rule_names(prod) == ["ingest-canary", "default"]
    ingress = vs(ab_rendered["dev"], "bytefreezer-receiver-ingress")
    assert rule_names(ingress) == ["chaos-test", "ingest-canary", "default"]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_virtualservices_pass_istio_schema(ab_rendered, env_name):
    assert_istio_schema(ab_rendered[env_name])


def test_schema_check_catches_unknown_fields(ab_rendered):
    bad = yaml.safe_load(yaml.safe_dump(vs(ab_rendered["prod"], "bytefreezer-proxy")))
    bad["spec"]["http"][-1]["mirrorPercentage"]["percent"] = 5  # not a field of Percent
    with pytest.raises(AssertionError, match="percent"):
        assert_istio_schema([bad])


@pytest.mark.parametrize("step", [10, 25, 50, 100])
def test_canary_step_renders(repo, step, helm, helm_env, terminal):
    chartgen("canary", "set", "proxy", "--weights", f"v1={100 - step},v2={step}", "-c", str(repo / "catalog.yaml"),
             input=terminal)
    for env_name in ("dev", "prod"):
        docs = render(repo, env_name, helm, helm_env)
        v = vs(docs, "bytefreezer-proxy")
        assert rule_names(v) == ["beta-testers", "default"]
        # a version at 0 % is left out of the route: Istio needs the weights to sum to 100
        assert split(rule(v, "default")) == ({"v2": 100} if step == 100 else {"v1": 100 - step, "v2": step})
        assert_istio_schema(docs)
    status = chartgen("canary", "status", "-c", str(repo / "catalog.yaml")).output
    assert re.search(rf"^proxy\s+dev,prod\s+v1,v2\s+v1 {100 - step}% / v2 {step}%\s+"
                     rf"{[10, 25, 50, 100].index(step) + 1}/4 \({step}%\)", status, re.M), status


# --- promote / rollback ------------------------------------------------------------------------------


def _weights_line(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("    weights:")]


def _version(root: Path) -> str:
    return yaml.safe_load((root / "charts" / CHART / "Chart.yaml").read_text())["version"]


def _check_edit(before: str, after: str, weights: str):
    """Only the weights line changed, and its comment is still there."""
    b, a = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b)
    changed = [i for i, (x, y) in enumerate(zip(b, a)) if x != y]
    assert len(changed) <= 1
    assert _weights_line(after) == [f"    weights: {weights}       # canary: 10 % to v2"]
    for line in COMMENTS[1:]:
        assert line + "\n" in a


def test_promote_through_every_step_then_refuse_then_rollback(repo, terminal):
    catalog = repo / "catalog.yaml"
    original = catalog.read_text()
    assert all(line + "\n" in original for line in COMMENTS)
    version = _version(repo)
    assert version == "0.1.0"
    expected = [(25, "0.1.1"), (50, "0.1.2"), (100, "0.1.3")]
    old_pct = 10
    for step, new_version in expected:
        _assert_promoted(repo, old_pct, step, version, new_version)
        version, old_pct = new_version, step
    changelog = (repo / "charts" / CHART / "CHANGELOG.md").read_text()
    assert "- proxy: canary v2 10% → 25%" in changelog
    assert "- proxy: canary v2 25% → 50%" in changelog

    before = catalog.read_text()
    mtime = catalog.stat().st_mtime_ns
    r = chartgen("canary", "promote", "proxy", "-c", str(catalog), ok=False)
    assert r.exit_code == 1
    assert "already at 100%" in r.output and "rollback" in r.output
    assert catalog.read_text() == before and catalog.stat().st_mtime_ns == mtime
    assert _version(repo) == "0.1.3"

    out = chartgen("canary", "rollback", "proxy", "-c", str(catalog), input=terminal).output
    _check_edit(before, catalog.read_text(), "{v1: 100, v2: 0}")
    assert _version(repo) == "0.1.4"
    assert "→ 0.1.4 (patch)" in out
    assert "proxy: canary v2 100% → 0%" in out
    # everything but the weights line is the original file, byte for byte
    a, b = original.splitlines(keepends=True), catalog.read_text().splitlines(keepends=True)
    assert [i for i, (x, y) in enumerate(zip(a, b)) if x != y] == [original.splitlines().index(COMMENTS[0])]
    assert "nothing to change" in chartgen("canary", "rollback", "proxy", "-c", str(catalog)).output
    assert chartgen("generate", "-c", str(catalog), "--check").exit_code == 0


def _assert_promoted(repo, old_pct: int, step: int, version: str, new_version: str) -> None:
    """One ``canary promote``: only the weights line changes, a patch version with its changelog entry."""
    catalog = repo / "catalog.yaml"
    before = catalog.read_text()
    old_step = _weights_line(before)
    out = chartgen("canary", "promote", "proxy", "-c", str(catalog), input="y\n").output
    assert "also changes production environment(s) prod; continue?" in out
    after = catalog.read_text()
    _check_edit(before, after, f"{{v1: {100 - step}, v2: {step}}}")
    assert old_step != _weights_line(after)
    assert _version(repo) == new_version
    assert f"charts/{CHART}: {version} → {new_version} (patch)" in out
    changelog = (repo / "charts" / CHART / "CHANGELOG.md").read_text()
    head = changelog.split("## ")[1]
    assert head.startswith(f"{new_version}\n")
    assert f"- proxy: canary v2 {old_pct}% → {step}%" in head
    changes = yaml.safe_load(yaml.safe_load((repo / "charts" / CHART / "Chart.yaml").read_text())
                             ["annotations"]["artifacthub.io/changes"])
    assert [c["description"] for c in changes] == [head.split("- ", 1)[1].strip()]
    assert changes[0]["kind"] == "changed"


def test_promote_in_one_environment(repo, helm, helm_env):
    catalog = repo / "catalog.yaml"
    before = catalog.read_text()
    chartgen("canary", "promote", "proxy", "--env", "prod", "-c", str(catalog))
    after = catalog.read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ["        weights: {v1: 75, v2: 25}"]
    assert after.replace("        weights: {v1: 75, v2: 25}\n", "") == before
    assert "retries: {attempts: 2, perTryTimeout: 5s}\n        weights: {v1: 75, v2: 25}\n\nservices:" in after
    status = chartgen("canary", "status", "-c", str(catalog)).output
    assert re.search(r"^proxy\s+dev\s+v1,v2\s+v1 90% / v2 10%\s+1/4 \(10%\)", status, re.M), status
    assert re.search(r"^proxy\s+prod\s+v1,v2\s+v1 75% / v2 25%\s+2/4 \(25%\)", status, re.M), status
    assert split(rule(vs(render(repo, "prod", helm, helm_env), "bytefreezer-proxy"), "default")) == {"v1": 75, "v2": 25}
    assert split(rule(vs(render(repo, "dev", helm, helm_env), "bytefreezer-proxy"), "default")) == {"v1": 90, "v2": 10}
    # the next promotion in prod edits the override it created
    chartgen("canary", "promote", "proxy", "--env", "prod", "-c", str(catalog))
    assert "        weights: {v1: 50, v2: 50}\n" in catalog.read_text()
    assert _weights_line(catalog.read_text()) == [COMMENTS[0]]


def _dev_only_canary(data):
    """The trial's catalog: the canary plan on the service, its weights only in dev; prod
    (production: true) declares the versions and follows the service's (absent) weights."""
    proxy = data["services"]["proxy"]
    del proxy["weights"]
    data["environments"]["dev"].setdefault("services", {})["proxy"] = {"weights": {"v1": 90, "v2": 10}}


@pytest.mark.parametrize("args", [["promote", "proxy"], ["set", "proxy", "--weights", "v1=60,v2=40"]])
def test_a_change_that_would_move_prod_unnamed_is_refused_when_not_interactive(tmp_path, args):
    catalog = write_variant(tmp_path, _dev_only_canary)
    chartgen("generate", "-c", str(catalog))
    before = _tree(tmp_path)
    r = chartgen("canary", *args, "-c", str(catalog), ok=False)
    assert r.exit_code == 2, r.output
    assert ("proxy: without --env this would change the weights of production environment(s) prod" in r.output
            and "--env ENV" in r.output and "Nothing was written" in r.output), r.output
    assert _tree(tmp_path) == before


def test_promote_names_the_environment_or_asks_at_a_terminal(tmp_path, monkeypatch):
    catalog = write_variant(tmp_path, _dev_only_canary)
    chartgen("generate", "-c", str(catalog))
    # the trial: `promote proxy` meant dev, and would have started the canary in prod
    out = chartgen("canary", "promote", "proxy", "--env", "dev", "-c", str(catalog)).output
    assert "proxy (dev): v1 90% / v2 10% → v1 75% / v2 25%" in out
    status = chartgen("canary", "status", "--env", "prod", "-c", str(catalog)).output
    assert re.search(r"^proxy\s+prod\s+v1,v2\s+v1 100% / v2 0%", status, re.M), status
    import chartgen.commands.common as common

    monkeypatch.setattr(common, "interactive", lambda: True)
    before = _tree(tmp_path)
    r = chartgen("canary", "promote", "proxy", "-c", str(catalog), input="n\n", ok=False)
    assert r.exit_code == 2 and "continue? [y/N]" in r.output and _tree(tmp_path) == before
    out = chartgen("canary", "promote", "proxy", "-c", str(catalog), input="y\n").output
    assert "proxy: v1 100% / v2 0% → v1 90% / v2 10%" in out  # the stable version had it all
    assert "    weights: {v1: 90, v2: 10}" in catalog.read_text()


def test_versions_without_weights_route_the_stable_version_as_graph_and_status_say(tmp_path, helm, helm_env):
    """prod declares v1 and v2 without weights: the VirtualService routes explicitly to the
    stable subset (never the plain host, which would balance over both versions' pods), and the
    graph and `canary status` say the same split."""
    from chartgen.graph.diagram import build_graph, mermaid
    from chartgen.catalog.validate import load_catalog

    catalog = write_variant(tmp_path, _dev_only_canary)
    chartgen("generate", "-c", str(catalog))
    default = rule(vs(render(tmp_path, "prod", helm, helm_env), "bytefreezer-proxy"), "default")
    assert [d["destination"].get("subset") for d in default["route"]] == ["v1"]
    assert split(default) == {"v1": 100}
    assert split(rule(vs(render(tmp_path, "dev", helm, helm_env), "bytefreezer-proxy"), "default")) == {"v1": 90, "v2": 10}
    graph = mermaid(build_graph(load_catalog(catalog), "prod"))
    assert "proxy v1</b><br/>weight 100%" in graph and "proxy v2</b><br/>weight 0%" in graph, graph
    status = chartgen("canary", "status", "--env", "prod", "-c", str(catalog)).output
    assert re.search(r"^proxy\s+prod\s+v1,v2\s+v1 100% / v2 0%\s+0/4 \(0%\)", status, re.M), status


def test_without_weights_the_canarys_stable_version_or_the_first_listed_gets_everything():
    from chartgen.catalog.mesh import implicit_weights
    from chartgen.catalog.model import Canary

    assert implicit_weights(["v1", "v2", "v3"], None) == {"v1": 100, "v2": 0, "v3": 0}
    assert implicit_weights(["v1", "v2"], Canary(stable="v2", candidate="v1")) == {"v1": 0, "v2": 100}


def _tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [["promote", "proxy"], ["rollback", "proxy"], ["promote", "proxy", "--env", "prod"],
                                  ["set", "proxy", "--weights", "v1=60,v2=40"]])
def test_dry_run_writes_nothing(repo, args):
    tree = _tree(repo)
    dir_mtime = repo.stat().st_mtime_ns
    out = chartgen("canary", *args, "--dry-run", "-c", str(repo / "catalog.yaml")).output
    assert _tree(repo) == tree
    assert repo.stat().st_mtime_ns == dir_mtime
    assert "dry run: nothing written" in out
    assert "--- a/catalog.yaml\n+++ b/catalog.yaml\n" in out
    assert "-    weights: {v1: 90, v2: 10}       # canary: 10 % to v2" in out or "--env" in args
    assert f"+++ b/values/{CHART}/" in out or f"+++ b/charts/{CHART}/values.yaml" in out
    if "--env" not in args:
        assert f"charts/{CHART}: 0.1.0 → 0.1.1 (patch)" in out


@pytest.mark.parametrize(("weights", "message"), [
    ("v1=75,v3=25", "unknown version 'v3' of service 'proxy'"),
    ("v1=75,v2=20", "expected weights that sum to 100, got 95"),
    ("v1=75,v2=x", "expected a whole number 0–100 for v2, got 'x'"),
    ("v1=150,v2=-50", "expected a whole number 0–100 for v1, got 150"),
    ("v1=60,v1=40", "version 'v1' given twice"),
    ("v1", "expected VERSION=PERCENT, got 'v1'"),
])
def test_set_rejects_bad_weights(repo, weights, message):
    catalog = repo / "catalog.yaml"
    before = catalog.read_text()
    r = chartgen("canary", "set", "proxy", "--weights", weights, "-c", str(catalog), ok=False)
    assert r.exit_code == 2
    assert message in r.output
    assert catalog.read_text() == before


def test_unknown_service_and_service_without_canary(repo):
    catalog = str(repo / "catalog.yaml")
    r = chartgen("canary", "promote", "proxi", "-c", catalog, ok=False)
    assert r.exit_code == 1 and "unknown service 'proxi' (did you mean 'proxy'?)" in r.output
    r = chartgen("canary", "rollback", "piper", "-c", catalog, ok=False)
    assert r.exit_code == 1 and "service 'piper' has no canary" in r.output
    r = chartgen("canary", "promote", "proxy", "--env", "staging", "-c", catalog, ok=False)
    assert r.exit_code == 1 and "unknown environment 'staging'" in r.output


def test_edit_keeps_block_style_and_appends_new_versions():
    text = ("services:\n  api:\n    versions: {a: {}, b: {}, c: {}}\n    weights:   # split\n"
            "      b: 10    # candidate\n      a: 90\n    canary: {stable: a, candidate: b}\n")
    out = edit_weights(text, "api", {"a": 70, "b": 20, "c": 10})
    assert out == ("services:\n  api:\n    versions: {a: {}, b: {}, c: {}}\n    weights:   # split\n"
                   "      b: 20    # candidate\n      a: 70\n      c: 10\n    canary: {stable: a, candidate: b}\n")
    # a service without weights gets them after its versions, in flow style
    out = edit_weights("services:\n  api:\n    versions: {a: {}}\n    timeout: 1s\n", "api", {"a": 100})
    assert out == "services:\n  api:\n    versions: {a: {}}\n    weights: {a: 100}\n    timeout: 1s\n"


# --- validation: located errors ----------------------------------------------------------------------


def _located(tmp_path, old: str, new: str):
    text = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    r = chartgen("validate", "-c", str(path), ok=False)
    assert r.exit_code == 1, r.output
    return str(path), text, r.output


def _pos(text: str, needle: str, nth: int = 0) -> str:
    """'line:col' (1-based) of the nth occurrence of needle."""
    idx = -1
    for _ in range(nth + 1):
        idx = text.index(needle, idx + 1)
    line = text.count("\n", 0, idx) + 1
    return f"{line}:{idx - (text.rfind(chr(10), 0, idx) + 1) + 1}"


def test_shadowed_route_is_located(tmp_path):
    path, text, out = _located(
        tmp_path, "      - name: beta-testers\n",
        "      - name: all-beta\n        match:\n          headers:\n            x-bytefreezer-beta: {prefix: \"t\"}\n"
        "        version: v2\n      - name: beta-testers\n")
    assert (f"{path}:{_pos(text, 'name: beta-testers')}: error: services.proxy.routes[1]: rule 'beta-testers' is "
            f"unreachable: rule 'all-beta' before it matches every request it matches [route-shadowed]") in out


def test_catch_all_route_is_located(tmp_path):
    path, text, out = _located(tmp_path, "        match:\n          headers:\n            x-bytefreezer-beta: {exact: \"true\"}\n",
                               "        match: {}\n")
    line, col = _pos(text, "match: {}").split(":")
    assert (f"{path}:{line}:{int(col) + len('match: ')}: error: services.proxy.routes[0].match: rule 'beta-testers' matches every "
            f"request, so the default route is unreachable [route-shadowed]") in out


def test_path_prefix_slash_is_a_catch_all(tmp_path):
    path, text, out = _located(tmp_path, "          headers:\n            x-bytefreezer-beta: {exact: \"true\"}\n",
                               "          path: {prefix: /}\n")
    assert "[route-shadowed]" in out


@pytest.mark.parametrize(("old", "new", "needle", "where"), [
    ("weights: {v1: 90, v2: 10}", "weights: {v1: 90, v3: 10}", "v3: 10", "services.proxy.weights.v3: unknown version 'v3'"),
    ("        version: v2\n", "        version: v4\n", "v4", "services.proxy.routes[0].version: unknown version 'v4'"),
    ("      candidate: v2", "      candidate: v9", "v9", "services.proxy.canary.candidate: unknown version 'v9'"),
    ("    calls: [receiver]\n\n  receiver:", "    mirror: {version: v7}\n    calls: [receiver]\n\n  receiver:",
     "v7}", "services.proxy.mirror.version: unknown version 'v7'"),
])
def test_unknown_version_is_located(tmp_path, old, new, needle, where):
    path, text, out = _located(tmp_path, old, new)
    assert f"{path}:{_pos(text, needle)}: error: {where}" in out
    assert "[unknown-version]" in out


@pytest.mark.parametrize("steps", ["[10, 50, 25, 100]", "[10, 25, 50]", "[25, 25, 100]"])
def test_bad_steps_are_located(tmp_path, steps):
    path, text, out = _located(tmp_path, "steps: [10, 25, 50, 100]", f"steps: {steps}")
    assert (f"{path}:{_pos(text, steps)}: error: services.proxy.canary.steps: expected steps that rise and end at "
            f"100, got {steps} [canary-steps]") in out


def test_an_invalid_catalog_is_not_edited(repo):
    catalog = repo / "catalog.yaml"
    text = catalog.read_text().replace("      candidate: v2", "      candidate: v1")  # stable == candidate
    catalog.write_text(text)
    os.utime(catalog, ns=(1, 1))
    r = chartgen("canary", "set", "proxy", "--weights", "v1=50,v2=50", "-c", str(catalog), ok=False)
    assert r.exit_code == 1 and "[canary-steps]" in r.output
    assert catalog.read_text() == text and catalog.stat().st_mtime_ns == 1
