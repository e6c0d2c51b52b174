"""Versions that mean releases: the chart version is computed against the last release (the
committed state, or the version recorded by `chartgen package` / `publish`), so the edits
between two releases make one bump and one changelog entry of their net changes."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from chartgen import lifecycle
from chartgen.lifecycle import MAJOR, MINOR, PATCH, Change, Release
from conftest import ROOT, run_cli

CHART = "charts/bytefreezer-mesh"


# --- the pure model ------------------------------------------------------------------------------


def _model(ports):
    svc = {"enabled": True, "ports": ports, "expose": {"enabled": False}, "weights": {}}
    return {"dev": {"services": {"api": svc}}}


def test_a_port_renamed_with_the_same_number_and_protocol_is_not_a_removal():
    old = _model([{"name": "http", "number": 8080, "protocol": "HTTP"}])
    new = _model([{"name": "http-api", "number": 8080, "protocol": "HTTP"}])
    assert lifecycle.compare(old, new) == [Change(PATCH, "dev: api: port http renamed to http-api (8080/HTTP)")]
    other = _model([{"name": "grpc", "number": 8080, "protocol": "GRPC"}])
    assert lifecycle.level_of(lifecycle.compare(old, other)) == MAJOR


def test_next_version_is_against_the_release():
    release = Release("1.2.0", _model([{"name": "http", "number": 80, "protocol": "HTTP"}]), "fp-1")
    same = release.model
    assert lifecycle.next_version(release, same, "fp-1") == ("1.2.0", [])
    more = _model([{"name": "http", "number": 80, "protocol": "HTTP"}, {"name": "grpc", "number": 90, "protocol": "GRPC"}])
    version, changes = lifecycle.next_version(release, more, "fp-2")
    assert version == "1.3.0" and [c.level for c in changes] == [MINOR]
    assert lifecycle.next_version(None, more, "fp-2") == ("0.1.0", [Change(MINOR, "initial version")])
    with pytest.raises(lifecycle.ReleaseError, match="never go backwards"):
        lifecycle.next_version(release, more, "fp-2", forced="1.1.9")
    with pytest.raises(lifecycle.ReleaseError, match="never reused"):
        lifecycle.next_version(release, more, "fp-2", forced="1.2.0")
    assert lifecycle.next_version(release, more, "fp-2", forced="2.0.0")[0] == "2.0.0"


def test_history_keeps_releases_and_one_entry_for_the_unreleased_version():
    history = [{"version": "1.3.0", "changes": ["old draft"]}, {"version": "1.2.0", "changes": ["b"]},
               {"version": "1.1.0", "changes": ["a"]}]
    release = Release("1.2.0", {}, "fp")
    got = lifecycle.history_since(history, release, "1.2.1", [Change(PATCH, "c")])
    assert got == [{"version": "1.2.1", "changes": ["c"]}, history[1], history[2]]
    assert lifecycle.history_since(history, release, "1.2.0", []) == history[1:]


def test_latest_release_wins():
    a, b = Release("0.3.0", None, None), Release("0.10.0", None, None)
    assert lifecycle.last_release(a, None, b) is b
    assert lifecycle.last_release(None, None) is None


def test_first_release_is_added_in_artifacthub(repo_copy):
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    chart = yaml.safe_load((repo_copy / CHART / "Chart.yaml").read_text())
    assert yaml.safe_load(chart["annotations"]["artifacthub.io/changes"]) == [
        {"kind": "added", "description": "initial version"}]


# --- through git and the real command ------------------------------------------------------------


def git(root, *args):
    r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def repo(repo_copy):
    """A git repository holding the catalog and its generated output, committed: release 0.1.0."""
    git(repo_copy, "init", "-q")
    git(repo_copy, "config", "user.email", "ci@example.com")
    git(repo_copy, "config", "user.name", "CI")
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-qm", "release 0.1.0")
    return repo_copy


def edit(root, old, new):
    path = root / "catalog.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def version(root) -> str:
    return yaml.safe_load((root / CHART / "Chart.yaml").read_text())["version"]


def changelog(root) -> str:
    return (root / CHART / "CHANGELOG.md").read_text().split("\n", 3)[3]


RECEIVER_PORT = "      - {name: http, port: 3000, protocol: HTTP}\n"


@pytest.mark.integration
def test_edits_between_two_releases_make_one_bump(repo):
    gen = lambda: run_cli("generate", cwd=repo)  # noqa: E731
    edit(repo, "    timeout: 120s", "    timeout: 90s")  # piper: a setting (patch)
    assert gen().returncode == 0 and version(repo) == "0.1.1"
    r = gen()
    assert r.returncode == 0 and "nothing written" in r.stdout
    text = (repo / "catalog.yaml").read_text()
    assert RECEIVER_PORT in text
    edit(repo, RECEIVER_PORT, RECEIVER_PORT + "      - {name: grpc, port: 3001, protocol: GRPC}\n")  # minor
    r = gen()
    assert r.returncode == 0, r.stderr
    assert version(repo) == "0.2.0"  # one bump of the highest level, not 0.1.1 then 0.2.0
    assert "0.1.1 → 0.2.0 (minor since release 0.1.0)" in r.stdout
    log = changelog(repo)
    assert log.count("## ") == 2 and "## 0.2.0" in log and "## 0.1.1" not in log
    assert "piper: timeout 120s → 90s" in log and "receiver: port grpc (3001) added" in log
    # a further setting before the release joins the same entry, same version
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert gen().returncode == 0 and version(repo) == "0.2.0"
    assert "piper: timeout 120s → 100s" in changelog(repo)
    assert run_cli("generate", "--check", cwd=repo).returncode == 0


@pytest.mark.integration
def test_a_change_and_its_revert_make_no_bump(repo):
    committed = (repo / CHART / "Chart.yaml").read_text()
    edit(repo, RECEIVER_PORT, RECEIVER_PORT + "      - {name: grpc, port: 3001, protocol: GRPC}\n")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.2.0"
    git(repo, "checkout", "-q", "catalog.yaml")
    r = run_cli("generate", cwd=repo)
    assert r.returncode == 0 and "0.2.0 → 0.1.0 (back to the release: no changes since)" in r.stdout
    assert (repo / CHART / "Chart.yaml").read_text() == committed
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.integration
def test_each_commit_is_a_release(repo):
    edit(repo, "    timeout: 120s", "    timeout: 90s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.1"
    git(repo, "commit", "-qam", "release 0.1.1")
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.2"
    assert changelog(repo).count("## ") == 3


@pytest.mark.integration
def test_package_records_the_release(repo, helm, tmp_path):
    """Packaged but not committed: the packaged version is a release, never reused."""
    edit(repo, "    timeout: 120s", "    timeout: 90s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.1"
    env = {**__import__("os").environ, "CHARTGEN_HELM": helm}
    r = run_cli("package", "-d", str(tmp_path / "dist"), cwd=repo, env=env)
    assert r.returncode == 0, r.stderr
    state = json.loads((repo / CHART / ".chartgen-state.json").read_text())
    assert state["release"]["version"] == "0.1.1"
    assert run_cli("generate", "--check", cwd=repo).returncode == 0  # recording it is part of the output
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert run_cli("generate", cwd=repo).returncode == 0
    assert version(repo) == "0.1.2"  # against the packaged 0.1.1, not the committed 0.1.0
    log = changelog(repo)
    assert "## 0.1.2\n\n- piper: timeout 90s → 100s" in log and "## 0.1.1\n\n- piper: timeout 120s → 90s" in log


def test_the_committed_bytefreezer_state_is_the_release():
    r = run_cli("generate", "--check", cwd=ROOT)
    assert r.returncode == 0, r.stderr


@pytest.mark.integration
def test_two_canary_steps_without_a_release_are_one_entry(repo):
    for _ in range(2):
        r = run_cli("canary", "promote", "proxy", cwd=repo)
        assert r.returncode == 0, r.stderr
    assert "0.1.1 (patch since release 0.1.0; its changes updated)" in r.stdout
    assert version(repo) == "0.1.1"
    log = changelog(repo)
    assert "## 0.1.1\n\n- proxy: canary v2 10% → 50%\n" in log and log.count("## ") == 2
