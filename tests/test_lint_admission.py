"""Lint admits exactly what a cluster admits: the Istio CRDs of the pinned release, pulled from
the istio/base chart through the helmfile's repository (the real upstream charts served on
127.0.0.1), cached; CEL rules; the webhook port; and one honest line when the chart cannot
be had."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chartgen.analyzer import Project, analyze, lint, render
from chartgen.analyzer import istio_crds
from chartgen.lifecycle.workspace import Doc, deep_merge
from chartgen.cli import cli
from chartgen.catalog.validate import parse_catalog

pytestmark = [pytest.mark.integration, pytest.mark.servers]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    """Each test starts with an empty chartgen cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(istio_crds, "_LOADED", {})
    return tmp_path / "cache" / "chartgen"


def _project(tmp: Path, mirror: str) -> Project:
    data = yaml.safe_load((ROOT / "catalog.yaml").read_text(encoding="utf-8"))
    data = deep_merge(data, {"helmfile": {"chartMirror": mirror}})
    catalog, smap = parse_catalog(yaml.safe_dump(data, sort_keys=False), "catalog.yaml")
    return Project.from_catalog(catalog, tmp, source_map=smap)


def test_crds_come_from_the_pinned_istio_base_through_the_mirror_and_are_cached(tmp_path, upstream_repo,
                                                                                 fresh_cache):
    project = _project(tmp_path, upstream_repo)
    source = istio_crds.chart_source(project)
    assert (source.version, source.repo_url) == ("1.30.3", upstream_repo.rstrip("/"))
    loaded = istio_crds.load(project)
    assert loaded.note is None and loaded.crds is not None
    assert loaded.crds.knows("networking.istio.io/v1", "VirtualService")
    assert loaded.crds.knows("extensions.istio.io/v1alpha1", "TrafficExtension")  # new in 1.30, not in 1.24
    [cached] = fresh_cache.glob("istio-base-1.30.3-*/crds.json")
    assert cached.is_file()
    # the next run from the same source needs no helm: the cache answers
    istio_crds._LOADED.clear()
    again = istio_crds.load(project, helm=str(tmp_path / "no-helm"))
    assert again.note is None and again.crds.knows("security.istio.io/v1", "AuthorizationPolicy")
    # another source (another project's mirror) is never answered from that entry
    istio_crds._LOADED.clear()
    other = istio_crds.load(_project(tmp_path, "http://127.0.0.1:1"))
    assert other.crds is None and "could not be pulled from http://127.0.0.1:1" in other.note


def test_default_catalog_lints_clean_with_the_crds_and_the_webhook(tmp_path, upstream_repo):
    result = lint(_project(tmp_path, upstream_repo), scanner=False)
    assert [f.format() for f in result.findings] == []
    assert not any("CRD" in n or "istio/base" in n for n in result.notes), result.notes


def test_without_the_chart_lint_says_so_in_one_line_and_runs_the_rest(tmp_path):
    project = _project(tmp_path, "http://127.0.0.1:1")
    result = lint(project, ["prod"], scanner=False)
    notes = [n for n in result.notes if "istio/base" in n]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert "could not be pulled from http://127.0.0.1:1" in notes[0] and "checks skipped" in notes[0]
    assert result.findings == []
    # the checks that need no CRDs still run: a webhook rejection is found offline
    rendered = render(project, ["prod"])["prod"]
    docs = [Doc(copy.deepcopy(d.obj), d.source, d.start, d.end) for d in rendered.docs]
    vs = next(d for d in docs if d.kind == "VirtualService" and d.spec.get("http"))
    vs.obj["spec"]["http"][-1]["retries"] = {"attempts": 0, "perTryTimeout": "5s"}
    findings = analyze(project, replace(rendered, docs=docs))
    assert {f.code for f in findings} == {"validateHTTPRetry"}


def test_cli_prints_the_offline_note_on_stderr(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    text = (tmp_path / "catalog.yaml").read_text(encoding="utf-8")
    (tmp_path / "catalog.yaml").write_text(text + "\nhelmfile:\n  chartMirror: http://127.0.0.1:1\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["lint", "-c", str(tmp_path / "catalog.yaml"), "--no-scanner", "--env", "dev",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["notes"] and "Istio CRD schema and CEL checks skipped" in res.stderr


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory, upstream_repo):
    tmp = tmp_path_factory.mktemp("mirrored")
    project = _project(tmp, upstream_repo)
    rendered = render(project, ["dev"])["dev"]
    return project, rendered


def _mutated(mirrored, tmp_path, mutate):
    project, rendered = mirrored
    docs = [Doc(copy.deepcopy(d.obj), d.source, d.start, d.end) for d in rendered.docs]
    mutate(docs)
    crds = istio_crds.load(project)
    assert crds.crds is not None, crds.note
    return analyze(project, replace(rendered, docs=docs), crds.crds)


def _first(docs, kind):
    return next(d for d in docs if d.kind == kind)


def test_a_cel_rule_of_the_pinned_crds_is_reported(mirrored, tmp_path):
    def mutate(docs):
        vs = next(d for d in docs if d.kind == "VirtualService" and d.spec.get("http"))
        vs.obj["spec"]["http"][0]["timeout"] = "500us"
    findings = _mutated(mirrored, tmp_path, mutate)
    cel = [f for f in findings if f.code == "CRD-CEL"]
    assert cel and "must be a valid duration greater than 1ms" in cel[0].message
    assert "duration(self) >= duration('1ms')" in cel[0].message
    assert cel[0].file.startswith("charts/bytefreezer-mesh/templates/")


def test_the_structural_schema_rejects_unknown_fields_and_types(mirrored, tmp_path):
    def mutate(docs):
        dr = _first(docs, "DestinationRule")
        dr.obj["spec"]["trafficPolicy"] = {"loadBalancer": {"simple": "FASTEST"}, "connectionPol": {}}
        pa = _first(docs, "PeerAuthentication")
        pa.obj["spec"]["mtls"] = {"mode": "STRICT", "enabled": "yes"}
    findings = _mutated(mirrored, tmp_path, mutate)
    messages = sorted(f.message for f in findings if f.code == "IST0106")
    assert any(m.startswith("spec.trafficPolicy.connectionPol: unknown field") for m in messages)
    assert any(m.startswith("spec.trafficPolicy.loadBalancer.simple: Unsupported value") for m in messages)
    assert any(m.startswith("spec.mtls.enabled: unknown field") for m in messages)
