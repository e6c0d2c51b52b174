"""Guards behind the catalog model: what holds even when a string gets past validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartgen import naming
from chartgen.errors import RenderError
from chartgen.helmfile import build_helmfile, dump_helmfile
from chartgen.validate import load_catalog

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "catalog.yaml")


@pytest.mark.parametrize("payload", ['{{ exec "sh" (list "-c" "touch pwned") }}', "a }} b", "ctx\nreleases: []"])
def test_helmfile_emitter_refuses_template_delimiters_from_any_source(catalog, payload):
    docs = build_helmfile(catalog, chart_dir="./charts/x")
    docs[0]["environments"]["dev"]["kubeContext"] = payload
    with pytest.raises(RenderError, match="environments.dev.kubeContext"):
        dump_helmfile(docs)


def test_helmfile_emitter_keeps_its_own_environment_file_names(catalog):
    text = dump_helmfile(build_helmfile(catalog, chart_dir="./charts/x"))
    assert "{{ .Environment.Name }}" in text


@pytest.mark.parametrize("value", ["https://x/{{ exec }}", "oci://r.example/c\nreleases: []", "ftp://x/y",
                                   "https://u:p@x/y", "https://x/a b"])
def test_chart_mirror_problems(value):
    assert naming.chart_mirror_problem(value)


@pytest.mark.parametrize("value", ["https://charts.example/mirror/", "oci://registry.internal:5000/charts",
                                   "http://127.0.0.1:8080"])
def test_chart_mirrors_accepted(value):
    assert naming.chart_mirror_problem(value) is None


@pytest.mark.parametrize("value", ["a.example\n", "a" * 64 + ".example", ".".join(["a" * 63] * 4) + "x"])
def test_hosts_refused(value):
    assert not naming.is_host(value)
