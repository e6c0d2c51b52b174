"""Command-line conventions every command keeps: the catalog as an argument, --debug
anywhere, NO_COLOR and --color/--no-color, one stream convention, valid SARIF."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chartgen.catalog.rules import RULES
from chartgen.catalog.rules.doc import DOC_PATH as CATALOG_RULES_DOC
from chartgen.analyzer.sarif import catalog_rule
from conftest import FIXTURES, ROOT, run_cli
from helpers.sarif import sarif_errors

INVALID = FIXTURES / "invalid"
ANSI = "\x1b["
# the corpus's golden output of several-mistakes.yaml: file:line:col: error: path: message [rule]
EXPECTED = (INVALID / "several-mistakes.err").read_text().splitlines()
PORT_LINE = next(line for line in EXPECTED if line.endswith("[port-range]"))


def _located(line: str) -> tuple[str, int, int, str]:
    file, ln, col, _ = line.split(":", 3)
    return line.rsplit("[", 1)[1].rstrip("]"), int(ln), int(col), file


@pytest.mark.parametrize("args", [["validate"], ["canary", "status"], ["istio", "upgrade", "status"], ["diff", "--stat"], ["lint"],
                                  ["generate", "--check"], ["package"], ["graph"], ["export", "argocd"]])
def test_every_catalog_command_takes_the_catalog_as_an_argument(args):
    """pre-commit and editors pass the file name: `chartgen validate broken.yaml` reads it."""
    r = run_cli(*args, "several-mistakes.yaml", cwd=INVALID)
    assert r.returncode == 1, r.stderr
    assert PORT_LINE in (r.stdout + r.stderr).splitlines()
    assert "Traceback" not in r.stderr


def test_catalog_argument_and_option_must_agree():
    assert run_cli("validate", "-c", "several-mistakes.yaml", "several-mistakes.yaml", cwd=INVALID).returncode == 1
    r = run_cli("validate", "-c", "other.yaml", "several-mistakes.yaml", cwd=INVALID)
    assert r.returncode == 2 and "two catalogs given" in r.stderr


def test_canary_takes_the_catalog_after_the_service(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "mesh.yaml")
    r = run_cli("canary", "promote", "proxy", "mesh.yaml", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("proxy: v1 90% / v2 10% → v1 75% / v2 25%")
    assert "--- a/mesh.yaml" in r.stdout


@pytest.mark.parametrize("args", [["--debug", "validate", "several-mistakes.yaml"],
                                  ["validate", "--debug", "several-mistakes.yaml"],
                                  ["validate", "several-mistakes.yaml", "--debug"],
                                  ["canary", "--debug", "status", "several-mistakes.yaml"],
                                  ["canary", "status", "several-mistakes.yaml", "--debug"]])
def test_debug_is_accepted_wherever_it_is_put(args):
    r = run_cli(*args, cwd=INVALID)
    assert r.returncode == 1
    assert "Traceback" in r.stderr


def test_without_debug_no_traceback():
    r = run_cli("canary", "status", "several-mistakes.yaml", cwd=INVALID)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_validate_and_lint_report_catalog_problems_on_stdout():
    """One convention: a command's report goes to stdout; for validate and lint the
    catalog's problems are the report. Other commands treat them as errors (stderr)."""
    for args in (["validate"], ["lint"]):
        r = run_cli(*args, "several-mistakes.yaml", cwd=INVALID)
        assert r.returncode == 1
        assert r.stderr == ""
        lines = r.stdout.splitlines()
        assert lines[-1] == "5 problems found"
        assert all(line.startswith("several-mistakes.yaml:") and line.endswith("]") for line in lines[:-1])
    r = run_cli("generate", "several-mistakes.yaml", cwd=INVALID)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.splitlines()[-1] == "5 problems found"


def test_sarif_of_an_invalid_catalog_is_a_valid_log_of_its_problems():
    r = run_cli("lint", "several-mistakes.yaml", "--format", "sarif", cwd=INVALID)
    assert r.returncode == 1 and r.stderr == ""
    assert sarif_errors(r.stdout) == []
    (run,) = json.loads(r.stdout)["runs"]
    got = [(x["ruleId"], x["locations"][0]["physicalLocation"]["region"]["startLine"],
            x["locations"][0]["physicalLocation"]["region"]["startColumn"],
            x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for x in run["results"]]
    assert got == [_located(line) for line in EXPECTED] and len(got) == 5
    rules = run["tool"]["driver"]["rules"]
    for x in run["results"]:
        assert rules[x["ruleIndex"]]["id"] == x["ruleId"]
        assert rules[x["ruleIndex"]]["helpUri"].startswith("https://")


def test_validate_sarif_describes_each_rule_from_the_rule_table():
    """Each rule of the log: the table's summary, and its own section of docs/catalog-rules.md."""
    r = run_cli("validate", "several-mistakes.yaml", "--format", "sarif", cwd=INVALID)
    assert r.returncode == 1 and r.stderr == ""
    assert sarif_errors(r.stdout) == []
    rules = json.loads(r.stdout)["runs"][0]["tool"]["driver"]["rules"]
    assert sorted(x["id"] for x in rules) == sorted({_located(line)[0] for line in EXPECTED})
    doc = (ROOT / CATALOG_RULES_DOC).read_text(encoding="utf-8")
    for x in rules:
        assert x["shortDescription"]["text"] == RULES[x["id"]].summary
        assert x["helpUri"] == f"https://github.com/bytefreezer/chartgen/blob/main/docs/catalog-rules.md#{x['id']}"
        assert f'<a id="{x["id"]}"></a>' in doc


def test_every_catalog_rule_help_uri_has_its_anchor():
    doc = (ROOT / CATALOG_RULES_DOC).read_text(encoding="utf-8")
    prefix = "https://github.com/bytefreezer/chartgen/blob/main/docs/catalog-rules.md#"
    for rule_id in RULES:
        uri = catalog_rule(rule_id)["helpUri"]
        assert uri.startswith(prefix) and f'<a id="{uri.removeprefix(prefix)}"></a>' in doc, uri


def test_sarif_help_uris_follow_the_docs_url_setting():
    env = dict(os.environ, CHARTGEN_DOCS_URL="https://git.internal/mesh/chartgen/-/blob/v1/")
    r = run_cli("lint", "several-mistakes.yaml", "--format", "sarif", cwd=INVALID, env=env)
    assert sarif_errors(r.stdout) == []
    rules = json.loads(r.stdout)["runs"][0]["tool"]["driver"]["rules"]
    assert {x["helpUri"] for x in rules} == {f"https://git.internal/mesh/chartgen/-/blob/v1/docs/catalog-rules.md#{x['id']}"
                                             for x in rules}


def test_sarif_schema_check_catches_a_relative_help_uri():
    """The check the SARIF tests rely on does fail on what code scanning rejects."""
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": [
        {"id": "CG101", "helpUri": "docs/lint-rules.md#CG101"}]}}, "results": []}]}
    assert sarif_errors(json.dumps(log)) == ["runs/0/tool/driver/rules/0/helpUri: 'docs/lint-rules.md#CG101' is not a 'uri'"]


def _on_a_terminal(args, cwd, env) -> str:
    """Run chartgen with stdout on a pseudo-terminal; what it wrote there."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "chartgen", *args], cwd=cwd, env=env, stdout=child,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.integration  # a real process writing to a real pseudo-terminal
def test_diff_colours_on_a_terminal_unless_no_color(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert ANSI in _on_a_terminal(["diff", "--stat"], tmp_path, env)
    assert ANSI not in _on_a_terminal(["diff", "--stat"], tmp_path, {**env, "NO_COLOR": "1"})
    assert ANSI not in _on_a_terminal(["diff", "--stat", "--no-color"], tmp_path, env)
    # an empty NO_COLOR does not count (no-color.org)
    assert ANSI in _on_a_terminal(["diff", "--stat"], tmp_path, {**env, "NO_COLOR": ""})
    # --color wins over NO_COLOR
    assert ANSI in _on_a_terminal(["diff", "--stat", "--color"], tmp_path, {**env, "NO_COLOR": "1"})


def test_diff_colours_a_pipe_only_when_asked(tmp_path):
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert ANSI in run_cli("diff", "--stat", "--color", cwd=tmp_path, env={**env, "NO_COLOR": "1"}).stdout
    assert ANSI not in run_cli("diff", "--stat", cwd=tmp_path, env=env).stdout


def test_validate_speaks_sarif_too():
    r = run_cli("validate", "several-mistakes.yaml", "--format", "sarif", cwd=INVALID)
    assert r.returncode == 1 and r.stderr == "" and sarif_errors(r.stdout) == []
    assert len(json.loads(r.stdout)["runs"][0]["results"]) == 5
    r = run_cli("validate", "--format", "sarif", cwd=ROOT)
    assert r.returncode == 0 and sarif_errors(r.stdout) == []
    assert json.loads(r.stdout)["runs"][0]["results"] == []


def test_sarif_of_a_run_that_cannot_analyse_says_so(tmp_path, monkeypatch):
    """helm missing: the SARIF log still comes, marked as not successful, with the reason."""
    import chartgen.base.toolchain

    assert run_cli("init", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGEN_")}
    env["PATH"] = str(tmp_path)
    monkeypatch.setattr(chartgen.base.toolchain, "_CHECKOUT_ROOT", Path("/nonexistent"))
    r = run_cli("lint", "--no-scanner", "--format", "sarif", cwd=tmp_path, env=env)
    assert r.returncode == 1
    assert sarif_errors(r.stdout) == []
    (run,) = json.loads(r.stdout)["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "helm not found" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert r.stderr.startswith("error: helm not found")
