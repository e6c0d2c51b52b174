"""``chartgen istio upgrade``: the catalog edits of each step, their refusals, and what the
release graph (helmfile, GitOps exports, lint, graph) makes of revisions and tags.

The whole upgrade against the real charts is tests/test_istio_upgrade_path.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from chartgen.releases.helmfile import release_plan
from chartgen.catalog.validate import load_catalog

from conftest import ROOT, run_cli

BYTEFREEZER = ROOT / "catalog.yaml"
AMBIENT = ROOT / "examples" / "ambient" / "catalog.yaml"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


VERSION_FILES = ("Chart.yaml", "CHANGELOG.md", ".chartgen-state.json", "README.md")


def _without_version_files(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The tree but the chart's version files (every step moves the chart's version)."""
    return {k: v for k, v in tree.items() if not (k.startswith("charts/") and k.rsplit("/", 1)[-1] in VERSION_FILES)}


def _catalog(tmp_path: Path, src: Path = BYTEFREEZER, generate: bool = True) -> Path:
    """``src`` at Istio 1.29.6 with the revision 1-29-6 and the tag prod-stable (a comment on it)."""
    text = src.read_text(encoding="utf-8").replace("\n  istio: 1.30.3\n", "\n  istio: 1.29.6\n", 1)
    block = "  revisions: {1-29-6: 1.29.6}\n  tags: {prod-stable: 1-29-6}   # keep me\n"
    if "\nistio:\n" in text:
        text = re.sub(r"\n  revision: .*\n", "\n" + block, text, count=1)
    else:
        text = text.replace("\nobservability:", "\nistio:\n" + block + "\nobservability:", 1)
    assert "# keep me" in text and "istio: 1.29.6" in text
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "catalog.yaml").write_text(text, encoding="utf-8")
    if generate:
        proc = run_cli("generate", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    return tmp_path


STEPS = ("start", "promote", "finish", "abort")


def _run(root: Path, *args: str, code: int = 0, every: bool = True):
    """``chartgen istio upgrade ARGS``; a step without --env gets --every-environment (the
    catalogs have a production environment) unless ``every`` is False."""
    if every and args[0] in STEPS and "--env" not in args:
        args = (*args, "--every-environment")
    proc = run_cli("istio", "upgrade", *args, cwd=root)
    assert proc.returncode == code, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def _releases(root: Path) -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((root / "helmfile.yaml").read_text(encoding="utf-8")) if d]
    return {r["name"]: r for d in docs for r in d.get("releases") or []}


def _values(root: Path, path: str) -> dict:
    return yaml.safe_load((root / "values" / path).read_text(encoding="utf-8")) or {}


# --- start ---------------------------------------------------------------------------------------


def test_start_adds_a_second_istiod_and_moves_nothing(tmp_path):
    root = _catalog(tmp_path)
    version_before = yaml.safe_load((root / "charts/bytefreezer-mesh/Chart.yaml").read_text())["version"]
    proc = _run(root, "start", "1.30.3")
    assert "istiod 1-30-3 (1.30.3) beside 1-29-6" in proc.stdout
    text = (root / "catalog.yaml").read_text(encoding="utf-8")
    assert "revisions: {1-29-6: 1.29.6, 1-30-3: 1.30.3}" in text and "# keep me" in text
    assert "  istio: 1.30.3\n" in text  # versions.istio: the newest revision
    rel = _releases(root)
    assert rel["istiod-1-29-6"]["version"] == "1.29.6" and rel["istiod-1-30-3"]["version"] == "1.30.3"
    assert rel["istiod-1-30-3"]["needs"] == ["istio-system/istio-base", "istio-system/istiod-1-29-6"]
    assert rel["istio-base"]["version"] == rel["istio-ingress"]["version"] == "1.30.3"
    assert set(rel["istio-ingress"]["needs"]) == {"istio-system/istiod-1-29-6", "istio-system/istiod-1-30-3"}
    assert {"istio-system/istiod-1-29-6", "istio-system/istiod-1-30-3"} <= set(rel["bytefreezer-mesh"]["needs"])
    # the tag stays: only the old istiod serves it; the gateway and namespaces keep prod-stable
    assert _values(root, "istiod-1-29-6/prod.yaml")["revisionTags"] == ["prod-stable"]
    assert "revisionTags" not in _values(root, "istiod-1-30-3/prod.yaml")
    assert _values(root, "istiod-1-30-3/common.yaml")["revision"] == "1-30-3"
    assert _values(root, "istio-ingress/prod.yaml")["revision"] == "prod-stable"
    assert _values(root, "istio-base/prod.yaml")["defaultRevision"] == "1-29-6"
    chart = yaml.safe_load((root / "charts/bytefreezer-mesh/Chart.yaml").read_text())
    assert chart["version"] != version_before
    assert chart["version"] in (root / "charts/bytefreezer-mesh/CHANGELOG.md").read_text()


def test_dry_run_writes_nothing(tmp_path):
    root = _catalog(tmp_path)
    before = _tree(root)
    proc = _run(root, "start", "1.30.3", "--dry-run")
    assert "dry run: nothing written" in proc.stdout and "+  istio: 1.30.3" in proc.stdout
    assert "helmfile.yaml" in proc.stdout
    assert _tree(root) == before


@pytest.mark.parametrize("version, message", [
    ("1.29.6", "not newer than the running 1.29.6"),
    ("1.32.0", "skips minor versions"),
    ("2.0.0", "skips minor versions"),
    ("1.30", "expected a version such as 1.30.3"),
])
def test_start_refuses(tmp_path, version, message):
    root = _catalog(tmp_path)
    before = _tree(root)
    proc = _run(root, "start", version, code=1)
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(root) == before


def test_start_refuses_the_one_revision_form_and_a_second_upgrade(tmp_path):
    (tmp_path / "catalog.yaml").write_text(BYTEFREEZER.read_text(encoding="utf-8"), encoding="utf-8")
    proc = _run(tmp_path, "start", "1.31.0", code=1)
    assert "no revisions yet" in proc.stderr and "istio.revisions" in proc.stderr
    root = _catalog(tmp_path / "r")
    _run(root, "start", "1.30.3")
    proc = _run(root, "start", "1.31.0", code=1)
    assert "from 1-29-6 to 1-30-3 is under way" in proc.stderr


def test_ambient_environments_start_together(tmp_path):
    """ztunnel and istio-cni have one chart version: one ambient environment alone cannot move."""
    root = _catalog(tmp_path, AMBIENT, generate=False)
    before = (root / "catalog.yaml").read_text(encoding="utf-8")
    proc = _run(root, "start", "1.30.3", "--env", "prod", code=1)
    assert "[istio-shared-version]" in proc.stderr and "ambient environment 'dev'" in proc.stderr
    assert (root / "catalog.yaml").read_text(encoding="utf-8") == before


def test_a_step_without_env_that_changes_production_must_say_so(tmp_path):
    root = _catalog(tmp_path)
    before = _tree(root)
    proc = _run(root, "start", "1.30.3", code=2, every=False)
    assert "production environment(s) prod" in proc.stderr and "--every-environment" in proc.stderr
    assert "Nothing was written" in proc.stderr and _tree(root) == before
    proc = _run(root, "start", "1.30.3", "--dry-run", every=False)
    assert "warning: without --env this start changes the control plane of production environment(s) prod" in proc.stderr
    assert _tree(root) == before
    proc = _run(root, "start", "1.30.3", "--env", "dev")  # names dev; the shared charts move in prod too
    assert "move from 1.29.6 to 1.30.3 in prod too" in proc.stdout
    _run(root, "abort", "--env", "dev")
    proc = _run(root, "status", every=False)  # reading needs nothing
    assert proc.returncode == 0


# --- promote, finish ------------------------------------------------------------------------------


def test_promote_a_namespace_then_the_tag_then_the_gateway_then_finish(tmp_path):
    root = _catalog(tmp_path)
    _run(root, "promote", code=1)  # nothing to promote before start
    _run(root, "start", "1.30.3")
    proc = _run(root, "promote", "--namespace", "nowhere", code=1)
    assert "unknown namespace nowhere" in proc.stderr
    _run(root, "promote", "--namespace", "bytefreezer-prod")
    assert _values(root, "bytefreezer-mesh/prod.yaml")["istio"]["namespaceRevisions"] == {"bytefreezer-prod": "1-30-3"}
    assert "namespaces: {bytefreezer-prod: 1-30-3}" in (root / "catalog.yaml").read_text(encoding="utf-8")

    proc = _run(root, "promote")
    assert "restart" in proc.stdout
    text = (root / "catalog.yaml").read_text(encoding="utf-8")
    assert "tags: {prod-stable: 1-30-3}   # keep me" in text and "namespaces:" not in text
    assert "gateway: 1-29-6" in text
    assert _values(root, "istiod-1-30-3/prod.yaml")["revisionTags"] == ["prod-stable"]
    assert "revisionTags" not in _values(root, "istiod-1-29-6/prod.yaml")
    assert _values(root, "istio-ingress/prod.yaml")["revision"] == "1-29-6"
    assert _values(root, "istio-base/prod.yaml")["defaultRevision"] == "1-30-3"
    status = json.loads(_run(root, "status", "--env", "prod", "--format", "json").stdout)
    env = status["environments"][0]
    assert env["tags"] == {"prod-stable": "1-30-3"} and env["gateway"] == {"label": "1-29-6", "revision": "1-29-6"}
    assert env["namespaces"]["bytefreezer-prod"] == {"label": "prod-stable", "revision": "1-30-3"}
    assert "promote --gateways" in env["next"] and "restart" in status["note"]

    proc = _run(root, "finish", code=1)
    assert "gateway still on 1-29-6" in proc.stderr
    _run(root, "promote", "--gateways")
    assert "gateway:" not in (root / "catalog.yaml").read_text(encoding="utf-8").split("gatewayRelease")[0]
    proc = _run(root, "finish")
    assert "helm uninstall istiod-1-29-6 -n istio-system --kube-context bytefreezer-prod" in proc.stdout
    text = (root / "catalog.yaml").read_text(encoding="utf-8")
    assert "revisions: {1-30-3: 1.30.3}" in text and "# keep me" in text
    assert "istiod-1-29-6" not in _releases(root) and not (root / "values/istiod-1-29-6").exists()
    assert "next: `chartgen istio upgrade start VERSION`" in _run(root, "status").stdout


def test_promote_one_tag_of_two(tmp_path):
    root = _catalog(tmp_path)
    text = (root / "catalog.yaml").read_text(encoding="utf-8")
    (root / "catalog.yaml").write_text(text.replace("{prod-stable: 1-29-6}", "{prod-stable: 1-29-6, canary: 1-29-6}"))
    _run(root, "start", "1.30.3")
    _run(root, "promote", "--tag", "nope", code=1)
    _run(root, "promote", "--tag", "canary")
    assert "{prod-stable: 1-29-6, canary: 1-30-3}" in (root / "catalog.yaml").read_text(encoding="utf-8")
    assert _values(root, "istiod-1-30-3/dev.yaml")["revisionTags"] == ["canary"]


# --- abort ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [(), (("promote", "--namespace", "bytefreezer-prod"),),
                                   (("promote",),), (("promote",), ("promote", "--gateways"))],
                         ids=["start", "namespace", "tag", "gateway"])
@pytest.mark.parametrize("env", [None, "prod"])
def test_abort_gives_back_the_catalog_and_tree_of_before(tmp_path, steps, env):
    root = _catalog(tmp_path)
    before = _without_version_files(_tree(root))
    flag = ("--env", env) if env else ()
    _run(root, "start", "1.30.3", *flag)
    for step in steps:
        _run(root, *step, *flag)
    proc = _run(root, "abort", *flag)
    assert "helm uninstall istiod-1-30-3 -n istio-system" in proc.stdout
    assert ("first, then `helmfile sync`" in proc.stdout)
    after = _without_version_files(_tree(root))
    assert len(after) > 100
    assert [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)] == []


def test_abort_keeps_a_values_file_with_keys_of_yours(tmp_path):
    root = _catalog(tmp_path)
    _run(root, "start", "1.30.3")
    mine = root / "values/istiod-1-30-3/prod.yaml"
    mine.write_text(mine.read_text() + "pilot: {resources: {requests: {cpu: 2}}}\n")
    proc = _run(root, "abort")
    assert "kept values/istiod-1-30-3/prod.yaml" in proc.stdout
    assert mine.exists() and not (root / "values/istiod-1-30-3/common.yaml").exists()


def test_nothing_to_abort_or_finish_without_an_upgrade(tmp_path):
    root = _catalog(tmp_path)
    for step in ("abort", "finish"):
        proc = _run(root, step, code=1)
        assert "no upgrade under way" in proc.stderr


# --- the release graph ----------------------------------------------------------------------------


def test_exports_follow_the_revisions(tmp_path):
    root = _catalog(tmp_path)
    _run(root, "start", "1.30.3", "--env", "prod")
    _run(root, "promote", "--env", "prod")
    catalog = load_catalog(root / "catalog.yaml")
    plan = release_plan(catalog, chart_dir="./charts/bytefreezer-mesh")
    waves = plan.waves()
    assert waves["istio-base"] < waves["istiod-1-29-6"] < waves["istiod-1-30-3"] < waves["istio-ingress"]
    new = next(r for r in plan.releases if r.name == "istiod-1-30-3")
    assert new.envs == ("prod",)
    app = yaml.safe_load((root / "gitops/argocd/prod/istiod-1-30-3.yaml").read_text())
    ignored = {d["name"] for d in app["spec"]["ignoreDifferences"]}
    assert ignored == {"istio-sidecar-injector-1-30-3", "istio-validator-1-30-3-istio-system",
                       "istio-revision-tag-prod-stable"}
    assert not (root / "gitops/argocd/dev/istiod-1-30-3.yaml").exists()
    flux = yaml.safe_load((root / "gitops/flux/prod/istiod-1-30-3.yaml").read_text())
    assert {d["name"] for d in flux["spec"]["dependsOn"]} == {"istio-base", "istiod-1-29-6"}
    graph = run_cli("graph", "--env", "prod", cwd=root).stdout
    assert "bytefreezer-prod → prod-stable (1-30-3)" in graph and "gateway → 1-29-6" in graph


@pytest.mark.integration
def test_lint_warns_of_a_gateway_left_on_the_revision_being_removed(tmp_path):
    from chartgen.analyzer import Project, analyze, render
    from chartgen.catalog.validate import parse_catalog

    root = _catalog(tmp_path)
    _run(root, "start", "1.30.3")
    _run(root, "promote")
    text = (root / "catalog.yaml").read_text(encoding="utf-8")
    catalog, smap = parse_catalog(text, "catalog.yaml")
    project = Project.from_catalog(catalog, root, source_map=smap)
    rendered = render(project, ["prod"])["prod"]
    findings = analyze(project, rendered)
    assert [(f.code, f.level) for f in findings] == [("CG151", "warning")]
    assert findings[0].file == "catalog.yaml" and findings[0].line > 0
    _run(root, "promote", "--gateways")
    catalog, smap = parse_catalog((root / "catalog.yaml").read_text(encoding="utf-8"), "catalog.yaml")
    project = Project.from_catalog(catalog, root, source_map=smap)
    assert analyze(project, render(project, ["prod"])["prod"]) == []


def test_validate_and_lint_refuse_a_skipped_minor(tmp_path):
    root = _catalog(tmp_path, generate=False)
    path = root / "catalog.yaml"
    path.write_text(path.read_text().replace("revisions: {1-29-6: 1.29.6}", "revisions: {1-26-1: 1.26.1, 1-29-6: 1.29.6}"))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "1-26-1" in t)
    for command in ("validate", "lint"):
        proc = run_cli(command, cwd=root)
        assert proc.returncode == 1
        assert f"catalog.yaml:{line}:" in proc.stdout and "1.26.1 → 1.29.6" in proc.stdout
        assert "[istio-skipped-minor]" in proc.stdout


def test_status_of_the_one_revision_form(tmp_path):
    (tmp_path / "catalog.yaml").write_text(BYTEFREEZER.read_text(encoding="utf-8"), encoding="utf-8")
    out = _run(tmp_path, "status", "--env", "dev").stdout
    assert "dev (one revision):" in out and "revision default: Istio 1.30.3, release istiod" in out
    assert "namespace bytefreezer-dev: istio-injection=enabled → default" in out
    assert "adopt revisions first" in out
