"""chartgen as a package: a missing optional part is one line with the exact install command,
`chartgen doctor` says what was found where, `chartgen init` writes a .gitignore, and the
built wheel works outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, run_cli

WITHOUT_LINT_EXTRA = "import sys; sys.modules['kubernetes_validate'] = None; from chartgen.cli import main; main()"


def _run_without_lint_extra(*args, cwd, env=None, path=None):
    code = WITHOUT_LINT_EXTRA if path is None else f"import sys; sys.path.insert(0, {str(path)!r}); " + WITHOUT_LINT_EXTRA
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.integration  # a real process whose import of the lint extra fails
def test_lint_without_the_lint_extra_is_one_line_with_the_install_command():
    r = _run_without_lint_extra("lint", "several-mistakes.yaml", cwd=FIXTURES / "invalid")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("error: chartgen lint (Kubernetes schemas) needs kubernetes-validate, from chartgen's `lint` "
                        "extra: pip install 'chartgen[lint]' (with pipx: pipx inject chartgen kubernetes-validate)\n")


@pytest.mark.integration  # a real process whose import of the lint extra fails
def test_other_commands_do_not_need_the_lint_extra(tmp_path):
    r = _run_without_lint_extra("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _run_without_lint_extra("generate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "charts" / "shop-mesh" / "Chart.yaml").is_file()


@pytest.mark.integration  # runs every tool's --version
def test_doctor_reports_each_part_and_where_it_was_found():
    r = run_cli("doctor", "--format", "json", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    tools = {t["name"]: t for t in report["tools"]}
    assert set(tools) == {"helm", "helm3", "helmfile", "kubectl", "dot", "checkov", "git"}
    helm = tools["helm"]
    assert helm["found"] and helm["source"] == "tools" and helm["path"].endswith("/.tools/bin/helm")
    assert helm["version"].startswith("v4.")
    (kv,) = report["python"]
    assert kv["name"] == "kubernetes-validate" and kv["found"] and kv["version"]
    text = run_cli("doctor", cwd=ROOT).stdout
    assert "helm  " in text and helm["path"] in text and "(from .tools/bin)" in text


@pytest.mark.integration  # a real process with an empty PATH; runs the tools it finds
def test_doctor_names_the_install_command_of_what_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGEN_")}
    env["PATH"] = str(tmp_path)
    env["CHARTGEN_HELM"] = str(tmp_path / "no-helm")
    r = subprocess.run([sys.executable, "-m", "chartgen", "doctor"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith("  ")}
    assert "missing" in lines["dot"] and "sudo apt-get install graphviz" in lines["dot"]
    assert "missing" in lines["git"]


def test_init_writes_a_gitignore_and_keeps_an_existing_one(tmp_path):
    r = run_cli("init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / ".gitignore").read_text() == "# chartgen\n.chartgen.lock\n*.chartgen-tmp\n/dist/\n"
    (tmp_path / ".gitignore").write_text("node_modules/\n/dist/")
    assert run_cli("init", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n/dist/\n\n# chartgen\n.chartgen.lock\n*.chartgen-tmp\n"
    assert run_cli("init", "--force", cwd=tmp_path).returncode == 0  # nothing more to add
    assert (tmp_path / ".gitignore").read_text().count("# chartgen") == 1


def test_generated_files_are_not_ignored_and_the_lock_is(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    (tmp_path / ".chartgen.lock").touch()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "shop-mesh-0.1.0.tgz").touch()
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    assert ".chartgen.lock" not in status and "dist/" not in status
    assert "charts/shop-mesh/Chart.yaml" in status and "helmfile.yaml" in status


def test_repository_ignores_build():
    assert "/build/" in (ROOT / ".gitignore").read_text().splitlines()


def test_pyproject_license_is_spdx():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "Apache-2.0"
    assert any(req.startswith("setuptools>=77") for req in data["build-system"]["requires"])


@pytest.mark.integration
def test_the_wheel_works_outside_the_checkout(tmp_path):
    """Built by pip (no deprecation banner), installed apart from the checkout: init, generate,
    graph, doctor and the lint-extra message all work from the installed package."""
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "wheel"), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "deprecated" not in build.stderr.lower() and "license" not in build.stderr.lower(), build.stderr
    (whl,) = (tmp_path / "wheel").glob("chartgen-*.whl")
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(whl)],
                          capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr
    work = tmp_path / "mesh"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTGEN_")}
    env["PATH"] = "/usr/bin:/bin"
    for args in (["init"], ["generate"], ["graph", "--env", "dev"]):
        r = _run_without_lint_extra(*args, cwd=work, env=env, path=site)
        assert r.returncode == 0, (args, r.stderr)
    where = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r}); "
                            "import chartgen; print(chartgen.__file__)"], capture_output=True, text=True, cwd=work)
    assert where.stdout.startswith(str(site))  # the installed package, not the checkout
    r = _run_without_lint_extra("doctor", cwd=work, env=env, path=site)
    assert r.returncode == 0, r.stderr
    assert "kubernetes-validate  --  missing" in r.stdout and "pip install 'chartgen[lint]'" in r.stdout
    helm = [line for line in r.stdout.splitlines() if line.strip().startswith("helm ")][0]
    assert "missing" in helm and "https://helm.sh/docs/intro/install/" in helm  # no .tools next to an installed wheel
    r = _run_without_lint_extra("lint", cwd=work, env=env, path=site)
    assert r.returncode == 1 and "pip install 'chartgen[lint]'" in r.stderr and "Traceback" not in r.stderr
