"""Chart metadata and README: the licence as the catalog states it, an install line that
works, and the values table with each key's default."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
import yaml

from chartgen.base.errors import CatalogError
from chartgen.catalog.validate import load_catalog
from conftest import ROOT, run_cli


def _starter(tmp_path, license_line: str | None = None):
    assert run_cli("init", "catalog.yaml", cwd=tmp_path).returncode == 0
    path = tmp_path / "catalog.yaml"
    if license_line is not None:
        text = path.read_text()
        path.write_text(text.replace("  description: Istio mesh for the shop services\n",
                                     f"  description: Istio mesh for the shop services\n  license: {license_line}\n"))
    return path


def _chart_yaml(tmp_path) -> dict:
    r = run_cli("generate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load((tmp_path / "charts" / "shop-mesh" / "Chart.yaml").read_text())


@pytest.mark.parametrize("spdx", ["MIT", "MIT OR Apache-2.0", "(MIT OR Apache-2.0) AND BSD-3-Clause",
                                  "GPL-2.0-only WITH Classpath-exception-2.0", "LicenseRef-Internal"])
def test_metadata_license_flows_to_artifacthub(tmp_path, spdx):
    _starter(tmp_path, f"'{spdx}'")
    assert _chart_yaml(tmp_path)["annotations"]["artifacthub.io/license"] == spdx


def test_no_license_states_none(tmp_path):
    _starter(tmp_path)
    assert "artifacthub.io/license" not in _chart_yaml(tmp_path)["annotations"]


def test_bytefreezer_states_apache():
    chart = yaml.safe_load((ROOT / "charts" / "bytefreezer-mesh" / "Chart.yaml").read_text())
    assert chart["annotations"]["artifacthub.io/license"] == "Apache-2.0"
    assert load_catalog(ROOT / "catalog.yaml").metadata.license == "Apache-2.0"


@pytest.mark.parametrize("bad", ["Apache 2", "MIT OR", "(MIT", "MIT and Apache-2.0"])
def test_a_license_that_is_not_spdx_is_refused(tmp_path, bad):
    path = _starter(tmp_path, f"'{bad}'")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (p,) = info.value.problems
    assert (p.path, p.rule) == ("metadata.license", "spdx")
    assert p.line == 12  # the license line, after the description


def _readme(root) -> str:
    return (root / "charts" / "bytefreezer-mesh" / "README.md").read_text()


def test_readme_install_lines_name_files_that_exist():
    text = _readme(ROOT)
    assert "values-<env>.yaml" not in text
    files = re.findall(r"-f (\S+)", text)
    assert files, "the README shows no values file"
    for f in files:
        assert (ROOT / f).is_file(), f


def test_readme_values_table_has_defaults():
    text = _readme(ROOT)
    assert "| key | type | default | description |" in text
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| \w+ \| (.*?) \| ", text, re.M)}
    values = yaml.safe_load((ROOT / "charts" / "bytefreezer-mesh" / "values.yaml").read_text())
    assert rows["gateway.httpsRedirect"] == "`true`" and values["gateway"]["httpsRedirect"] is True
    assert rows["observability.namespace"] == '`"observability"`'
    assert rows["gateway"] == "—"  # a section: its keys have their own rows
    assert rows["services.<name>.retries.retryOn"] == '`"5xx,reset,connect-failure,refused-stream"`'  # the catalog's defaults
    assert rows["services.<name>.serviceName"] == "(per entry)"


@pytest.mark.integration
def test_readme_install_lines_work_with_helm(helm, helm_env):
    """Every `helm install` line of the chart README, as `helm template`, from the repository root."""
    block = _readme(ROOT).split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [line.split("#", 1)[0] for line in block.splitlines() if line.startswith("helm install")]
    assert len(lines) == 2
    for line in lines:
        args = shlex.split(line)
        r = subprocess.run([helm, "template", *args[2:]], cwd=ROOT, capture_output=True, text=True, env=helm_env,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert "kind: Gateway" in r.stdout
