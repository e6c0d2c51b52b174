"""The test suite cannot pass by accident: it has a cache of its own, a missing input fails
under CI rather than skipping, and an exception left in a thread fails the test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from conftest import skip_or_fail_without_upstream

from chartgen.base.usercache import cache_dir


def test_the_suite_never_uses_the_real_user_cache():
    home_cache = Path.home() / ".cache" / "chartgen"
    assert cache_dir() != home_cache
    assert cache_dir().is_relative_to(Path(tempfile.gettempdir()))
    assert cache_dir().parent.name.startswith("chartgen-test-cache-")


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_upstream_chart_repository_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI runs every test"):
        skip_or_fail_without_upstream("$CHARTGEN_UPSTREAM_CHARTS is not set")


def test_a_missing_upstream_chart_repository_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail_without_upstream("$CHARTGEN_UPSTREAM_CHARTS is not set")


def test_unhandled_thread_exceptions_are_errors(pytestconfig):
    """pytest reports an exception left in a thread as a warning; the configuration makes
    that warning an error, so the test that caused it fails."""
    assert "error::pytest.PytestUnhandledThreadExceptionWarning" in pytestconfig.getini("filterwarnings")


def test_ci_run_fails_loudly_without_the_upstream_charts(tmp_path):
    """.ci/run under CI, with neither ../shared/upstream-charts nor the variable: it stops
    before the tests (here, before a `make test` that would fail otherwise: no Makefile) and
    says why."""
    import os
    import shutil
    import subprocess

    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parent.parent / ".ci" / "run", checkout / ".ci" / "run")
    env = {k: v for k, v in os.environ.items() if k != "CHARTGEN_UPSTREAM_CHARTS"}
    r = subprocess.run(["bash", str(checkout / ".ci" / "run")], env={**env, "CI": "true"},
                       capture_output=True, text=True)
    assert (r.returncode, r.stderr.count("\n")) == (1, 1), r.stderr
    assert r.stderr.startswith(".ci/run: error: ../shared/upstream-charts is missing")
