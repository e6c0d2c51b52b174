"""``lifecycle.workspace.render_texts``: helm renders every environment as separate processes
while chartgen works in Python (the deferred values check, the caller's ``meanwhile``), with
Go's GC target set for helm unless the user set one; a failure on either side stops helm.
A stand-in helm (a shell script) makes the timing certain: it waits for a file that only
``meanwhile`` writes, so a render that did not overlap would never finish."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chartgen.base.errors import RenderError
from chartgen.catalog.validate import load_catalog
from chartgen.lifecycle.workspace import HELM_GOGC, Project, render_texts

pytestmark = pytest.mark.integration  # runs real processes

ROOT = Path(__file__).resolve().parent.parent

# Records its pid and GOGC, waits (at most 20 s) for $GO_ON, then prints one object naming them.
FAKE_HELM = """#!/bin/sh
echo $$ >> "$PIDS"
i=0
while [ ! -e "$GO_ON" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
[ -e "$GO_ON" ] || { echo 'never told to go on' >&2; exit 7; }
printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: gogc-%s\\n' "${GOGC:-unset}"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return Project.from_catalog(load_catalog(ROOT / "catalog.yaml"), tmp_path_factory.mktemp("plan"))


@pytest.fixture
def fake_helm(tmp_path, monkeypatch) -> Path:
    helm = tmp_path / "helm"
    helm.write_text(FAKE_HELM, encoding="utf-8")
    helm.chmod(0o755)
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    monkeypatch.setenv("GO_ON", str(tmp_path / "go-on"))
    monkeypatch.delenv("GOGC", raising=False)
    return helm


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _started(tmp_path: Path, count: int) -> int:
    """How many stand-in helms have started, waiting (at most 10 s) for ``count``."""
    pids = tmp_path / "pids"
    for _ in range(100):
        if pids.is_file() and len(pids.read_text().split()) >= count:
            break
        time.sleep(0.1)
    return len(pids.read_text().split()) if pids.is_file() else 0


def test_meanwhile_runs_while_every_environment_renders(project, fake_helm, tmp_path):
    envs = project.environments()
    seen = {}

    def meanwhile():
        seen["started"] = _started(tmp_path, len(envs))  # every helm runs while this thread works
        (tmp_path / "go-on").touch()

    texts = render_texts(project, envs, tmp_path / "scratch", helm=str(fake_helm), meanwhile=meanwhile)
    assert seen["started"] == len(envs) > 1
    assert sorted(texts) == sorted(envs)
    assert all(f"name: gogc-{HELM_GOGC}" in text for text in texts.values())


def test_a_gogc_the_user_set_is_kept(project, fake_helm, tmp_path, monkeypatch):
    monkeypatch.setenv("GOGC", "50")
    (tmp_path / "go-on").touch()
    texts = render_texts(project, ["dev"], tmp_path / "scratch", helm=str(fake_helm))
    assert "name: gogc-50" in texts["dev"]


def test_a_failing_pending_check_stops_helm_and_is_raised(project, fake_helm, tmp_path):
    """The plan's deferred check (``Project.load`` defers the values' schema check) raises its
    own error, as it did before helm ran; the renders are stopped, not left to time out."""
    def broken_values():
        _started(tmp_path, len(project.environments()))
        raise RenderError("generated values for dev break the chart schema: boom")

    project.pending_checks.append(broken_values)
    with pytest.raises(RenderError, match="boom"):
        render_texts(project, project.environments(), tmp_path / "scratch", helm=str(fake_helm))
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == len(project.environments()) and not any(_alive(p) for p in pids)
    assert not project.pending_checks  # run once


def test_load_defers_the_values_check_to_the_render(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text((ROOT / "catalog.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    loaded = Project.load(catalog)
    assert len(loaded.pending_checks) == 1
    loaded.run_pending_checks()  # the generated values pass the chart's schema
    assert not loaded.pending_checks
    assert not Project.from_catalog(load_catalog(catalog), tmp_path).pending_checks


def test_a_worker_parses_only_what_the_parent_did_not(project):
    """lint's and verify's forked workers take the parent's ``Rendered``: parsed there when
    checkov needed the objects (then not parsed again), else parsed in the worker."""
    from chartgen.lifecycle.workspace import assemble, parsed

    text = ("---\n# Source: x/templates/namespace.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n"
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    bare = assemble(project, {"dev": text}, parse=False)["dev"]
    assert not bare.parsed and bare.docs == [] and "extra" not in bare.known_namespaces
    done = parsed(project, bare)
    assert done.parsed and [d.kind for d in done.docs] == ["Namespace", "ConfigMap"]
    assert "extra" in done.known_namespaces and done.mesh_values == bare.mesh_values
    full = assemble(project, {"dev": text})["dev"]
    assert parsed(project, full) is full
    assert [(d.obj, d.source, d.start, d.end) for d in full.docs] == [(d.obj, d.source, d.start, d.end) for d in done.docs]
