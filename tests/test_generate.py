"""The regeneration lifecycle: versions, changelog, --check, diff, safe and serialised writes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chartgen.base.errors import ChartgenError
from chartgen.lifecycle.generate import generate
from conftest import ROOT, run_cli, run_cli_process

CHART = "charts/bytefreezer-mesh"


OUTPUTS = (CHART, "values", "helmfile.yaml", "gitops")


def tree(root: Path, only: tuple[str, ...] | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` (or only under the ``only`` paths), lock excluded.
    Walking only the outputs keeps the repository's .venv and .tools out of it."""
    starts = [root / o for o in only] if only else [root]
    out = {}
    for start in starts:
        paths = [start] if start.is_file() else sorted(start.rglob("*"))
        for p in paths:
            if p.is_file() and p.name != ".chartgen.lock":
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def chart_yaml(root: Path) -> dict:
    return yaml.safe_load((root / CHART / "Chart.yaml").read_text())


def edit(root: Path, old: str, new: str):
    path = root / "catalog.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_committed_output_is_current():
    r = run_cli("generate", "--check", cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_generated_tree_equals_the_committed_one(repo_copy):
    """Both directions: no file missing, none extra, none different. The version history
    lives in the chart's state file, so the fresh tree starts from the committed one."""
    state = repo_copy / CHART / ".chartgen-state.json"
    state.parent.mkdir(parents=True)
    state.write_bytes((ROOT / CHART / ".chartgen-state.json").read_bytes())
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    generated = repo_copy
    committed = tree(ROOT, OUTPUTS)
    fresh = {k: v for k, v in tree(generated).items() if k != "catalog.yaml"}
    assert fresh == committed


def test_two_runs_are_byte_identical(repo_copy, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    (other / "catalog.yaml").write_text((repo_copy / "catalog.yaml").read_text())
    generate(repo_copy / "catalog.yaml")
    generate(other / "catalog.yaml")
    assert tree(repo_copy) == tree(other)


def test_unchanged_catalog_bumps_nothing_and_touches_nothing(generated):
    before = {p: p.stat().st_mtime_ns for p in generated.rglob("*") if p.is_file()}
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0 and "nothing written" in r.stdout
    after = {p: p.stat().st_mtime_ns for p in generated.rglob("*") if p.is_file() and p.name != ".chartgen.lock"}
    assert after == {p: t for p, t in before.items() if p.name != ".chartgen.lock"}
    assert chart_yaml(generated)["version"] == "0.1.0"


def test_setting_change_is_a_patch_with_a_readable_changelog(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    chart = chart_yaml(generated)
    assert chart["version"] == "0.1.1"
    assert "receiver: timeout 60s → 90s" in r.stdout
    changes = yaml.safe_load(chart["annotations"]["artifacthub.io/changes"])
    assert {"kind": "changed", "description": "receiver: timeout 60s → 90s"} in changes
    changelog = (generated / CHART / "CHANGELOG.md").read_text()
    assert "## 0.1.1\n\n- receiver: timeout 60s → 90s" in changelog
    assert "## 0.1.0" in changelog


def test_adding_a_service_is_minor(generated):
    text = (generated / "catalog.yaml").read_text()
    text = text.replace("\n  localstack:\n", "\n  archiver:\n    ports:\n      - {name: http, port: 5000}\n    calls: [receiver]\n\n  localstack:\n", 1)
    (generated / "catalog.yaml").write_text(text)
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert chart_yaml(generated)["version"] == "0.2.0"
    assert "archiver: added" in r.stdout


def test_removing_a_service_is_major(generated):
    text = (generated / "catalog.yaml").read_text()
    start = text.index("  piper:\n")
    end = text.index("  localstack:\n")
    (generated / "catalog.yaml").write_text(text[:start] + text[end:])
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert chart_yaml(generated)["version"] == "1.0.0"
    assert "piper: removed" in r.stdout


def test_removing_a_path_is_major_and_env_specific_changes_name_the_env(generated):
    edit(generated, "      paths: [/api]", "      paths: [/v1]")
    r = run_cli("generate", cwd=generated)
    assert chart_yaml(generated)["version"] == "1.0.0"
    assert "proxy: path /api removed" in r.stdout and "proxy: path /v1 added" in r.stdout
    edit(generated, "        timeout: 15s\n        retries: {attempts: 2", "        timeout: 20s\n        retries: {attempts: 2")
    r = run_cli("generate", cwd=generated)
    assert chart_yaml(generated)["version"] == "1.0.1"
    assert "prod: proxy: timeout 15s → 20s" in r.stdout


def _as_if_released_by_an_older_chartgen(root: Path, **over) -> None:
    """Rewrite the state as an older chartgen would have left it: other fingerprints (its
    templates differed) and ``over`` (such as an older template revision)."""
    import json

    path = root / CHART / ".chartgen-state.json"
    state = json.loads(path.read_text())
    state["fingerprint"] = "0" * 64
    state["parts"]["templates"] = "1" * 64
    state.update(over)
    path.write_text(json.dumps(state))


def test_a_release_regenerated_by_a_newer_chartgen_says_what_it_changes(generated):
    from chartgen import __version__
    from chartgen.lifecycle.versioning import TEMPLATE_REVISION, TEMPLATE_REVISIONS

    _as_if_released_by_an_older_chartgen(generated)
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    entry = (generated / CHART / "CHANGELOG.md").read_text().split("## ")[1]
    assert entry == (f"0.1.1\n\n- regenerated by chartgen {__version__}: templates changed; the rendered objects for "
                     f"the committed values are unchanged (the templates render the same objects, template revision "
                     f"{TEMPLATE_REVISION})\n\n")
    assert "chart templates updated" not in (generated / CHART / "CHANGELOG.md").read_text()
    # released with an older template revision: what the newer ones change, each
    _as_if_released_by_an_older_chartgen(generated, templateRevision=TEMPLATE_REVISION - 1)
    run_cli("generate", cwd=generated)
    entry = (generated / CHART / "CHANGELOG.md").read_text().split("## ")[1]
    latest = TEMPLATE_REVISIONS[-1]
    from chartgen.lifecycle.versioning import MINOR, PATCH
    assert entry.startswith({PATCH: "0.1.2", MINOR: "0.2.0"}[latest.level] + "\n\n- ") and \
        f"- chartgen {__version__}, template revision {latest.number}: {latest.text}\n" in entry


def test_forced_version_and_never_backwards(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 61s\n")
    r = run_cli("generate", "--version", "2.0.0", cwd=generated)
    assert r.returncode == 0 and chart_yaml(generated)["version"] == "2.0.0"
    edit(generated, "    timeout: 61s\n", "    timeout: 62s\n")
    before = tree(generated)
    r = run_cli("generate", "--version", "1.5.0", cwd=generated)
    assert r.returncode == 1 and "never go backwards" in r.stderr
    assert {k: v for k, v in tree(generated).items() if k != "catalog.yaml"} == {k: v for k, v in before.items() if k != "catalog.yaml"}


def test_check_fails_on_stale_output_and_passes_on_fresh(generated):
    assert run_cli("generate", "--check", cwd=generated).returncode == 0
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    r = run_cli("generate", "--check", cwd=generated)
    assert r.returncode == 1
    assert f"stale: {CHART}/Chart.yaml" in r.stderr and "out of date" in r.stderr
    (generated / CHART / "templates" / "stray.yaml").write_text("kind: Stray\n")
    r = run_cli("generate", "--check", cwd=generated)
    assert f"stale: {CHART}/templates/stray.yaml" in r.stderr
    assert run_cli("generate", cwd=generated).returncode == 0
    assert not (generated / CHART / "templates" / "stray.yaml").exists()
    assert run_cli("generate", "--check", cwd=generated).returncode == 0


def test_diff_shows_summary_then_unified_diff(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    before = tree(generated)
    r = run_cli("diff", "--exit-code", "--no-color", cwd=generated)
    assert r.returncode == 1
    out = r.stdout
    assert out.startswith(f"{CHART}: 0.1.0 → 0.1.1 (patch)\n  - receiver: timeout 60s → 90s\n")
    assert f"--- a/{CHART}/values.yaml" in out and "-    timeout: 60s" in out and "+    timeout: 90s" in out
    assert "\x1b[" not in out
    assert tree(generated) == before  # diff writes nothing
    assert run_cli("diff", cwd=generated).returncode == 0


def test_diff_after_a_one_off_chart_mirror_says_why_and_names_the_catalog_setting(generated):
    mirror = "oci://registry.internal/charts"
    assert run_cli("generate", "--chart-mirror", mirror, cwd=generated).returncode == 0
    r = run_cli("diff", "--stat", "--no-color", cwd=generated)
    assert r.returncode == 0 and "  changed: helmfile.yaml" in r.stdout
    assert f"helmfile.yaml and the GitOps exports pull every chart from the mirror {mirror}" in r.stderr
    assert f"set helmfile.chartMirror: {mirror} in the catalog" in r.stderr
    # the same mirror named in the catalog: nothing to change, nothing to explain
    catalog = generated / "catalog.yaml"
    assert "\nhelmfile:" not in catalog.read_text()
    catalog.write_text(catalog.read_text() + f"\nhelmfile:\n  chartMirror: {mirror}\n")
    r = run_cli("diff", "--stat", cwd=generated)
    assert r.stdout.strip() == "no changes" and "mirror" not in r.stderr, r.stdout + r.stderr
    # another edit than the mirror: no note
    assert run_cli("generate", cwd=generated).returncode == 0
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    r = run_cli("diff", "--stat", cwd=generated)
    assert "helmfile.yaml" not in r.stdout and "note:" not in r.stderr


def test_failure_after_rendering_leaves_the_tree_byte_identical(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    before = tree(generated)

    def boom():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        generate(generated / "catalog.yaml", before_commit=boom)
    after = tree(generated)
    assert {k: v for k, v in after.items() if k != "catalog.yaml"} == {k: v for k, v in before.items() if k != "catalog.yaml"}
    assert not list(generated.rglob("*.chartgen-tmp"))


def test_invalid_catalog_writes_nothing(generated):
    before = tree(generated)
    edit(generated, "port: 8080", "port: 0")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 1 and "[port-range]" in r.stderr
    assert {k: v for k, v in tree(generated).items() if k != "catalog.yaml"} == {k: v for k, v in before.items() if k != "catalog.yaml"}


@pytest.mark.integration  # real processes contending for the lock
def test_concurrent_runs_are_serialised(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    procs = [subprocess.Popen([sys.executable, "-m", "chartgen", "generate"], cwd=generated,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert chart_yaml(generated)["version"] == "0.1.1"  # bumped once, not three times
    assert run_cli("generate", "--check", cwd=generated).returncode == 0
    assert not list(generated.rglob("*.chartgen-tmp"))


@pytest.mark.integration  # a real process waiting for the lock
def test_lock_held_by_another_process_is_waited_for(generated):
    import fcntl

    fd = os.open(generated / ".chartgen.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
        p = subprocess.Popen([sys.executable, "-m", "chartgen", "generate"], cwd=generated,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = p.stderr.readline()  # blocks until the run reaches the lock (however loaded the machine)
        import time

        time.sleep(0.5)
        assert p.poll() is None  # still waiting
    finally:
        os.close(fd)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, first + err
    assert "another chartgen run is writing" in first


def test_user_values_survive_regeneration(generated):
    path = generated / "values" / "bytefreezer-mesh" / "dev.yaml"
    text = path.read_text()
    path.write_text(text.replace("environment:\n", "# my note about dev\nenvironment:\n", 1) + "myTeamKey: kept\n")
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    assert run_cli("generate", cwd=generated).returncode == 0
    after = path.read_text()
    assert "# my note about dev" in after and "myTeamKey: kept" in after


def test_generate_error_for_bad_forced_version(generated):
    with pytest.raises(ChartgenError):
        generate(generated / "catalog.yaml", options=__import__("chartgen.lifecycle.generate", fromlist=["Options"]).Options(version="x"))


def test_helmfile_settings_in_the_catalog_survive_regeneration(generated):
    text = (generated / "catalog.yaml").read_text()
    text = text.replace("# helmfile:\n#   chartMirror: oci://registry.internal/charts      # air-gapped: every remote chart from one mirror\n",
                        "helmfile:\n  chartMirror: https://charts.internal.example/mirror\n")
    (generated / "catalog.yaml").write_text(text)
    assert run_cli("generate", cwd=generated).returncode == 0
    docs = list(yaml.safe_load_all((generated / "helmfile.yaml").read_text()))
    assert docs[1]["repositories"] == [{"name": "mirror", "url": "https://charts.internal.example/mirror"}]
    assert {r["chart"] for r in docs[1]["releases"] if r["name"] == "istiod"} == {"mirror/istiod"}
    # a later run (e.g. a canary step) regenerates with the same settings
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    assert run_cli("generate", cwd=generated).returncode == 0
    assert "mirror/istiod" in (generated / "helmfile.yaml").read_text()
    # a flag overrides the catalog for one run
    assert run_cli("generate", "--chart-mirror", "oci://other.example/charts", cwd=generated).returncode == 0
    assert "other.example/charts" in (generated / "helmfile.yaml").read_text()


@pytest.mark.integration  # a fresh process, as a user would run it
def test_generate_keeps_no_code_in_the_cache_and_runs_with_an_unwritable_one(repo_copy, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    assert run_cli_process("generate", cwd=repo_copy, env=env).returncode == 0
    assert not [p for p in cache.rglob("*") if p.is_file()]  # the values validator is built in memory
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a cache "directory" below a file cannot be created, even by root
    edit(repo_copy, "    timeout: 60s\n", "    timeout: 91s\n")
    r = run_cli_process("generate", cwd=repo_copy, env={**env, "XDG_CACHE_HOME": str(blocked / "cache")})
    assert r.returncode == 0, r.stderr


def test_interrupt_after_rendering_leaves_the_tree_byte_identical(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 90s\n")
    before = tree(generated)

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(generated / "catalog.yaml", before_commit=interrupt)
    assert {k: v for k, v in tree(generated).items() if k != "catalog.yaml"} == \
        {k: v for k, v in before.items() if k != "catalog.yaml"}
    assert not list(generated.rglob("*.chartgen-tmp"))


def test_forced_version_is_never_reused_for_different_content(generated):
    edit(generated, "    timeout: 60s\n", "    timeout: 61s\n")
    r = run_cli("generate", "--version", "0.1.0", cwd=generated)
    assert r.returncode == 1 and "never reused" in r.stderr
    assert chart_yaml(generated)["version"] == "0.1.0"
    # the same version with unchanged content is a no-op
    edit(generated, "    timeout: 61s\n", "    timeout: 60s\n")
    r = run_cli("generate", "--version", "0.1.0", cwd=generated)
    assert r.returncode == 0 and "nothing written" in r.stdout
