"""What the API server or helm would refuse is refused by chartgen first, located: versions
helm's semver cannot parse (catalog, ``generate --version``, a state file, a bump past the
last number) and an env whose ConfigMap would be over 1 MiB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli

from chartgen.lifecycle import versioning as lifecycle
from chartgen.base import naming

ROOT = Path(__file__).resolve().parent.parent.parent
LOCATED = re.compile(r"^catalog\.yaml:\d+:\d+: error: \S+: .+ \[[a-z0-9-]+\]$")

# what `helm package` (helm 4, Masterminds/semver v3) says of each Chart.yaml version
HELM_ACCEPTS = ["1.30.3", "18446744073709551615.0.0", "1.0.0-0a", "1.0.0--1", "1.0.0-rc.1+b.01", "0.0.0-0"]
HELM_REFUSES = ["18446744073709551616.0.0", "0.18446744073709551616.0", "1.0.0-01", "1.0.0-a..b", "1.0.0-.",
                "1.0.0+a..b", "1.0.0-a.", "1.0.0+.", "01.0.0", "1.0", "v1.0.0"]


@pytest.mark.parametrize("version", HELM_ACCEPTS)
def test_versions_helm_accepts(version):
    assert naming.is_version(version)


@pytest.mark.parametrize("version", HELM_REFUSES)
def test_versions_helm_refuses(version):
    assert not naming.is_version(version)
    with pytest.raises(ValueError):
        lifecycle.parse_version(version)


def test_a_bump_past_the_last_number_is_refused():
    with pytest.raises(lifecycle.ReleaseError, match="cannot be raised"):
        lifecycle.checked_bump("18446744073709551615.0.0", lifecycle.MAJOR)
    assert lifecycle.checked_bump("18446744073709551614.0.0", lifecycle.MAJOR) == "18446744073709551615.0.0"


def test_a_state_file_version_helm_cannot_parse_is_never_used(generated):
    [state_path] = generated.glob("charts/*/.chartgen-state.json")
    state = json.loads(state_path.read_text())
    state["version"] = "18446744073709551616.0.0"
    state_path.write_text(json.dumps(state))
    text = (generated / "catalog.yaml").read_text()
    (generated / "catalog.yaml").write_text(text.replace("    timeout: 60s\n", "    timeout: 61s\n", 1))
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert "is corrupt (no valid version: '18446744073709551616.0.0')" in r.stderr
    [chart_yaml] = generated.glob("charts/*/Chart.yaml")
    version = re.search(r"(?m)^version: (\S+)", chart_yaml.read_text()).group(1)
    assert naming.is_version(version) and version != "18446744073709551616.0.0"


def test_an_env_too_large_for_its_configmap_is_a_located_error(tmp_path):
    text = (ROOT / "tests/hostile/cases/env-value-template/catalog.yaml").read_text()
    big = "x" * 2_000_000
    text = text.replace("      MOTD: 'Hello {{ .Values.name }}'\n", f"      MOTD: '{big}'\n")
    assert big in text
    (tmp_path / "catalog.yaml").write_text(text)
    r = run_cli("validate", cwd=tmp_path)
    assert r.returncode == 1
    lines = [line for line in r.stdout.splitlines() if line.startswith("catalog.yaml:")]
    assert len(lines) == 1 and LOCATED.match(lines[0]), r.stdout
    assert lines[0].startswith("catalog.yaml:20:13: error: services.web.env.MOTD:") and "[configmap-size]" in lines[0]
    assert "1,048,576" in lines[0]


def test_an_env_just_within_the_limit_is_accepted(tmp_path):
    text = (ROOT / "tests/hostile/cases/env-value-template/catalog.yaml").read_text()
    text = text.replace("      GREETING: '{{ exec \"sh\" (list \"-c\" \"touch pwned\") }}'\n", "")
    used = len("MOTD")
    text = text.replace("      MOTD: 'Hello {{ .Values.name }}'\n", f"      MOTD: '{'x' * (1024 * 1024 - used)}'\n")
    (tmp_path / "catalog.yaml").write_text(text)
    r = run_cli("validate", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
