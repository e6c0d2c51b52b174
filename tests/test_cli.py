"""The command line: exit codes, streams, formats, help. `run_cli` runs it in the test's
process; the tests marked integration run the real `python -m chartgen` process."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from chartgen.cli import cli
from conftest import FIXTURES, ROOT, run_cli, run_cli_process


def test_validate_ok_on_default_catalog():
    r = run_cli("validate", "-c", str(ROOT / "catalog.yaml"))
    assert r.returncode == 0, r.stderr
    assert "ok (4 services, 2 environments)" in r.stdout
    assert r.stderr == ""


def test_validate_reports_every_problem_on_stdout_with_exit_1():
    r = run_cli("validate", "-c", "several-mistakes.yaml", cwd=FIXTURES / "invalid")
    assert r.returncode == 1
    assert r.stderr == ""
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "5 problems found"
    assert all(line.startswith("several-mistakes.yaml:") for line in lines[:-1])
    assert "Traceback" not in r.stderr


def test_validate_json_format():
    r = run_cli("validate", "-c", "several-mistakes.yaml", "--format", "json", cwd=FIXTURES / "invalid")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["valid"] is False
    assert {p["rule"] for p in doc["problems"]} == {"canary-weights", "enum", "https-credential", "port-range", "unknown-service"}
    assert all({"file", "line", "col", "path", "message", "rule", "level"} <= set(p) for p in doc["problems"])


def test_missing_catalog_is_a_clean_error():
    r = run_cli("validate", "-c", "no-such-catalog.yaml", cwd=FIXTURES)
    assert r.returncode == 1
    assert "no-such-catalog.yaml: error: cannot read the catalog" in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.integration  # the real process: the entry point, its exit codes and streams
def test_python_m_chartgen_is_the_program_run_cli_runs():
    for args, cwd in ((["validate", "-c", "several-mistakes.yaml"], FIXTURES / "invalid"),
                      (["validate", "-c", str(ROOT / "catalog.yaml")], None),
                      (["validate", "--format", "xml"], None),
                      (["--debug", "validate", "-c", "several-mistakes.yaml"], FIXTURES / "invalid")):
        real, here = run_cli_process(*args, cwd=cwd), run_cli(*args, cwd=cwd)
        assert (real.returncode, real.stdout) == (here.returncode, here.stdout), args
        if "--debug" in args:  # the traceback's frames differ (the runner's own); the shape does not
            assert real.stderr.startswith("Traceback") and here.stderr.startswith("Traceback")
        else:
            assert real.stderr == here.stderr, args


def test_usage_error_exits_2():
    r = run_cli("validate", "--format", "xml")
    assert r.returncode == 2
    assert "Invalid value for '--format'" in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = run_cli("--debug", "validate", "-c", "several-mistakes.yaml", cwd=FIXTURES / "invalid")
    assert r.returncode == 1 and "Traceback" in r.stderr


@pytest.mark.parametrize("command", ["validate", "generate", "diff", "graph", "doctor", "schema", "init", "version",
                                     "lint", "package", "publish", "canary", "export", "istio"])
def test_every_command_help_has_an_example(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mesh" / "catalog.yaml"
    r = run_cli("init", str(target))
    assert r.returncode == 0, r.stderr
    assert target.read_text().startswith("# yaml-language-server")
    assert run_cli("validate", "-c", str(target)).returncode == 0
    target.write_text("mine\n")
    r = run_cli("init", str(target))
    assert r.returncode == 1 and "exists" in r.stderr
    assert target.read_text() == "mine\n"


def test_schema_command_prints_the_committed_schema():
    r = run_cli("schema")
    assert r.returncode == 0
    assert r.stdout == (ROOT / "schemas" / "catalog.schema.json").read_text()
    assert run_cli("schema", "--check", str(ROOT / "schemas" / "catalog.schema.json")).returncode == 0


@pytest.mark.integration
def test_version_reports_helm_and_helmfile():
    r = run_cli("version", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("chartgen 0.1.0\n")
    assert "helm v4.3.1" in r.stdout
    assert "helm3 v3.15.3" in r.stdout
    assert "helmfile 0.166.0" in r.stdout


@pytest.mark.integration
def test_version_honours_chartgen_helm(tmp_path):
    fake = tmp_path / "helm"
    shutil.copy(ROOT / ".tools" / "bin" / "helm3", fake)
    import os

    r = run_cli("version", cwd=ROOT, env={**os.environ, "CHARTGEN_HELM": str(fake)})
    assert f"helm v3.15.3 ({fake}, from env)" in r.stdout
