"""The user cache is data, checked before use: nothing read from it runs, a planted or corrupt
entry is ignored and rebuilt, and a cached answer never passes what a fresh one would fail.
Also: every YAML chartgen reads is bounded, and lint's background work fails in the open."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import marshal
import os
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from conftest import _limited, run_cli

from chartgen.base import usercache

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "chartgen"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "chartgen"


# --- 6: nothing read from the cache is executed ------------------------------------------------


def test_no_module_of_chartgen_loads_code_objects_or_pickles():
    """marshal / pickle / shelve are how cached code or objects get run; chartgen uses none."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("marshal", "pickle", "shelve", "dill", "cloudpickle")]
    assert offenders == []


def test_a_planted_code_object_in_the_cache_is_never_run(cache, tmp_path):
    """A code object where a compiled values validator would be cached (the name an earlier
    chartgen used) is not run by generate, generate --check, diff or export."""
    import fastjsonschema

    from chartgen.chart.values_schema import VALUES_SCHEMA

    marker = tmp_path / "pwned"
    payload = compile(f"open({str(marker)!r}, 'w').write('ran')\ndef validate(data): return data\n", "<p>", "exec")
    text = json.dumps(VALUES_SCHEMA, sort_keys=True)
    key = hashlib.sha256("\0".join((text, fastjsonschema.VERSION, sys.version)).encode()).hexdigest()[:20]
    cache.mkdir(parents=True)
    (cache / f"values-validator-{key}.marshal").write_bytes(marshal.dumps(payload))
    project = tmp_path / "project"
    project.mkdir()
    (project / "catalog.yaml").write_text((ROOT / "catalog.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    for args in (["generate"], ["generate", "--check"], ["diff"], ["export", "argocd"]):
        r = run_cli(*args, cwd=project)
        assert "Traceback" not in r.stderr, r.stderr
    assert not marker.exists()


# --- the entry checks -----------------------------------------------------------------------------


def test_an_entry_is_read_back_only_by_its_own_purpose_key_and_version(cache):
    path = cache / "thing.json"
    assert usercache.save(path, "purpose", "key", {"a": [1, "b"]})
    assert usercache.load(path, "purpose", "key") == {"a": [1, "b"]}
    assert usercache.load(path, "purpose", "another key") is None
    assert usercache.load(path, "another purpose", "key") is None
    envelope = json.loads(path.read_text())
    path.write_text(json.dumps({**envelope, "chartgen": "0.0.0-other"}))
    assert usercache.load(path, "purpose", "key") is None
    path.write_text(json.dumps({**envelope, "data": json.dumps({"a": [1, "c"]})}))  # data without its digest
    assert usercache.load(path, "purpose", "key") is None
    path.write_text(json.dumps(envelope))
    assert usercache.load(path, "purpose", "key") == {"a": [1, "b"]}
    assert os.stat(path).st_mode & 0o077 == 0 and os.stat(cache).st_mode & 0o077 == 0


@pytest.mark.parametrize("spoil", ["group-writable", "world-writable", "dir-writable", "link", "owner"])
def test_an_entry_anyone_else_could_have_written_is_ignored(cache, tmp_path, spoil):
    path = cache / "sub" / "thing.json"
    assert usercache.save(path, "p", "k", [1])
    if spoil == "group-writable":
        path.chmod(0o620)
    elif spoil == "world-writable":
        path.chmod(0o602)
    elif spoil == "dir-writable":
        path.parent.chmod(0o777)
    elif spoil == "link":
        real = tmp_path / "elsewhere.json"
        real.write_bytes(path.read_bytes())
        path.unlink()
        path.symlink_to(real)
    else:
        if os.getuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(path, os.getuid() + 4242, -1)
    assert usercache.load(path, "p", "k") is None


# --- 7: the CEL verdicts --------------------------------------------------------------------------


@pytest.fixture
def fresh_verdicts(monkeypatch):
    from chartgen.base import crdcheck

    for name in ("_RESULTS", "_SAVED", "_FRESH"):
        monkeypatch.setattr(crdcheck, name, {})
    return crdcheck


def _widget_crds():
    from chartgen.base.crdcheck import CRDSet

    schema = {"type": "object", "properties": {"spec": {
        "type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "too long"}]}}}
    return CRDSet.from_documents([{
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "spec": {"group": "example.com", "names": {"kind": "Widget"}, "scope": "Namespaced",
                 "versions": [{"name": "v1", "served": True, "schema": {"openAPIV3Schema": schema}}]}}])


WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": "abcdef"}


@pytest.mark.parametrize("forged", [None, False, 0, "", ["x"], {"x": 1}])
def test_a_malformed_cached_verdict_never_hides_a_finding(fresh_verdicts, cache, forged):
    crdcheck = fresh_verdicts
    assert [p.message for p in _widget_crds().validate(WIDGET)] != []
    [digest] = list(crdcheck._FRESH)
    crdcheck._FRESH.clear()
    crdcheck._RESULTS.clear()
    path = cache / "cel-verdicts.json"
    # the verdict in the layout an earlier chartgen read, and in today's envelope
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": crdcheck._verdicts_fingerprint(), "verdicts": {digest: forged}}))
    crdcheck.load_verdicts(path)
    assert "too long" in " ".join(p.message for p in _widget_crds().validate(WIDGET))
    crdcheck._RESULTS.clear()
    usercache.save(path, crdcheck.VERDICTS, crdcheck._verdicts_fingerprint(), {digest: forged})
    crdcheck.load_verdicts(path)
    assert "too long" in " ".join(p.message for p in _widget_crds().validate(WIDGET))


# --- 7: the Istio CRDs --------------------------------------------------------------------------------


def _base_chart(tmp_path: Path, crd_text: str, name: str = "base-1.30.3.tgz") -> Path:
    archive = tmp_path / name
    data = crd_text.encode()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("base/files/crd-all.gen.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return archive


@pytest.mark.integration  # helm pulls istio/base from the real charts served on 127.0.0.1
@pytest.mark.parametrize("corrupt", ["{}", "[]", "null", "[{\"kind\": \"CustomResourceDefinition\"}]", "not json"])
def test_a_corrupt_crd_entry_is_pulled_again_and_gives_no_false_findings(cache, tmp_path, upstream_repo, corrupt,
                                                                        monkeypatch):
    import yaml

    from chartgen.analyzer import Project, istio_crds
    from chartgen.lifecycle.workspace import deep_merge
    from chartgen.catalog.validate import parse_catalog

    monkeypatch.setattr(istio_crds, "_LOADED", {})
    data = deep_merge(yaml.safe_load((ROOT / "catalog.yaml").read_text()), {"helmfile": {"chartMirror": upstream_repo}})
    catalog, smap = parse_catalog(yaml.safe_dump(data, sort_keys=False), "catalog.yaml")
    project = Project.from_catalog(catalog, tmp_path, source_map=smap)
    assert istio_crds.load(project).crds is not None
    entries = list(cache.rglob("crds.json"))
    assert entries
    for entry in entries:
        entry.write_text(corrupt)
    istio_crds._LOADED.clear()
    again = istio_crds.load(project)
    assert again.note is None, again.note
    assert again.crds.knows("networking.istio.io/v1", "VirtualService")
    assert istio_crds._read_cached(istio_crds.chart_source(project)) is not None  # rebuilt


# --- 8: every YAML chartgen reads is bounded ----------------------------------------------------------


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))


def test_an_alias_bomb_in_the_istio_base_chart_is_refused_in_bounded_memory(tmp_path):
    from chartgen.analyzer.istio_crds import crds_from_chart

    archive = _base_chart(tmp_path, BOMB + "kind: CustomResourceDefinition\nbomb: *a9\n")
    with _limited(60, 512 * 1024 * 1024), pytest.raises(ValueError, match="alias bomb"):
        crds_from_chart(archive)


def test_a_crd_of_the_wrong_shape_in_the_chart_is_refused(tmp_path):
    from chartgen.analyzer.istio_crds import crds_from_chart

    archive = _base_chart(tmp_path, "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                                    "metadata: {name: x}\nspec: {group: g, versions: 3}\n")
    with pytest.raises(ValueError, match="without the expected spec"):
        crds_from_chart(archive)


def test_an_alias_bomb_in_helmfile_yaml_is_bounded(tmp_path):
    from chartgen.analyzer.istio_crds import chart_source

    (tmp_path / "helmfile.yaml").write_text(BOMB + "releases:\n- name: istio-base\n  chart: *a9\n")

    class Catalog:
        class versions:
            istio = "1.30.3"

    class FakeProject:
        catalog, files, root = Catalog, {}, tmp_path

    with _limited(60, 512 * 1024 * 1024):
        source = chart_source(FakeProject)
    assert (source.repo_url, source.oci_ref) == (None, None)
    assert source.problem.startswith("helmfile.yaml:") and "alias bomb" in source.problem


# --- 8 / tests: lint's background work ------------------------------------------------------------------


def _lint_project():
    from chartgen.analyzer import Project
    from chartgen.catalog.validate import load_catalog

    return Project.from_catalog(load_catalog(ROOT / "catalog.yaml"), ROOT)


def test_lint_waits_for_its_warm_up_when_rendering_fails(monkeypatch):
    """No thread of lint outlives it: before, a failed lint left its warm-up running (and in
    the test suite, pulling istio/base during the next test)."""
    from chartgen.analyzer import runner

    def slow_crds(project):
        time.sleep(0.5)

    def failing_render(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(runner, "load_istio_crds", slow_crds)
    monkeypatch.setattr(runner, "render_texts", failing_render)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="render failed"):
        runner.lint(_lint_project(), scanner=False)
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []


def test_a_failure_in_the_warm_up_reaches_the_caller(monkeypatch):
    from chartgen.analyzer import runner

    def broken(project):
        raise ValueError("the CRDs could not be read")

    monkeypatch.setattr(runner, "load_istio_crds", broken)
    monkeypatch.setattr(runner, "render_texts", lambda *a, **k: {})
    monkeypatch.setattr(runner, "assemble", lambda project, texts, **_: {})
    with pytest.raises(ValueError, match="the CRDs could not be read"):
        runner.lint(_lint_project(), scanner=False)


def test_a_warm_up_failure_is_one_line_and_a_failing_exit(monkeypatch, tmp_path):
    from chartgen.analyzer import runner

    def broken(project):
        raise ValueError("the CRDs could not be read")

    monkeypatch.setattr(runner, "load_istio_crds", broken)
    monkeypatch.setattr(runner, "render_texts", lambda *a, **k: {})
    monkeypatch.setattr(runner, "assemble", lambda project, texts, **_: {})
    r = run_cli("lint", "--no-scanner", cwd=ROOT)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "the CRDs could not be read" in r.stderr
