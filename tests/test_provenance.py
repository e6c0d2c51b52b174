"""Every file chartgen writes under charts/ says it is generated, and a copy of a file of
chartgen's own tree names that file; the header changes nothing else."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from chartgen.chart import gatewayapi, render
from chartgen.base import provenance
from chartgen.base.provenance import GENERATED, copy_header
from chartgen.catalog.validate import load_catalog
from conftest import ROOT
from helpers.meshrender import KUBE_VERSION, write_chart

STATE_FILE = ".chartgen-state.json"  # chartgen's own record of the versions, not a copy


def _without_header(rel: str, text: str) -> str:
    if rel.endswith(".json"):
        lines = text.split("\n")
        kept = [line for line in lines if not line.lstrip().startswith('"$comment": ')]
        assert len(kept) == len(lines) - 1, f"{rel}: expected exactly one $comment member"
        return "\n".join(kept)
    header = copy_header(rel, "", "x")
    count = header.count("\n")
    return text.split("\n", count)[count]


def _says_generated(rel: str, text: str) -> bool:
    if rel.endswith(".json"):
        return json.loads(text).get("$comment", "").startswith(GENERATED)
    return GENERATED in "\n".join(text.split("\n", 3)[:3])


def test_each_chart_file_copied_from_the_package_is_its_source_under_a_header_naming_it():
    files = render.static_chart_files()
    assert len(files) > 20 and any(rel.endswith(".json") for rel, _ in files)
    for rel, text in files:
        source = f"{render.CHART_SOURCE}/{rel}"
        assert f"Source: {source} in chartgen" in text, rel
        assert _says_generated(rel, text), rel
        assert _without_header(rel, text) == (ROOT / source).read_text(encoding="utf-8"), rel


def test_the_copied_templates_name_every_define_after_the_chart():
    """Helm's define names are global across a chart and its subcharts: two generated charts
    (or a chart and a subchart of chartgen's) must not define the same names."""
    def names(catalog_path):
        chart = render.build_chart(load_catalog(ROOT / catalog_path), render.ChartMeta())
        text = "\n".join(t for rel, t in chart.items() if rel.startswith("templates/"))
        return (set(re.findall(r'define "([^"]+)"', text)),
                set(re.findall(r'(?:include|template) "([^"]+)"', text)), text)

    defines, used, text = names("catalog.yaml")
    assert len(defines) > 30 and all(d.startswith("bytefreezer-mesh.") for d in defines), sorted(defines)
    assert used and used <= defines, sorted(used - defines)
    assert not re.search(r'"chartgen\.(?!io/)\w', text)
    assert "chartgen.io/paths" in text  # a label key, not a define name: left as it is
    other, _, _ = names("examples/bookinfo/catalog.yaml")
    assert not defines & other
    assert {d.split(".", 1)[1] for d in defines} == {d.split(".", 1)[1] for d in other}


def test_every_file_of_the_generated_chart_says_it_is_generated():
    chart = render.build_chart(load_catalog(ROOT / "catalog.yaml"), render.ChartMeta())
    assert {"Chart.yaml", "values.yaml", "values.schema.json", ".helmignore", "README.md"} <= set(chart)
    unmarked = sorted(rel for rel, text in chart.items() if rel != STATE_FILE and not _says_generated(rel, text))
    assert not unmarked, f"chart files without the generated header: {unmarked}"
    helmignore = chart[".helmignore"]
    assert _without_header(".helmignore", helmignore) == (ROOT / "chartgen/chart/files/helmignore").read_text()


def test_the_gateway_api_crd_chart_names_each_vendored_file():
    files = gatewayapi.build_crd_chart(load_catalog(ROOT / "examples" / "ambient" / "catalog.yaml"))
    crds = {rel: text for rel, text in files.items() if rel.startswith("files/")}
    assert crds
    for rel, text in files.items():
        assert _says_generated(rel, text), rel
    for rel, text in crds.items():
        name = rel.removeprefix("files/")
        source = next(ROOT.glob(f"chartgen/data/gateway-api/{gatewayapi.GATEWAY_API_VERSION}/*/{name}"))
        assert f"Source: {source.relative_to(ROOT).as_posix()} in chartgen" in text
        assert _without_header(rel, text) == gatewayapi._kept(source.read_text(encoding="utf-8"))


def test_json_comment_goes_after_schema_and_leaves_the_rest_byte_for_byte():
    text = json.dumps({"$schema": "s", "type": "object", "x": [1, 2]}, indent=2) + "\n"
    out = copy_header("values.schema.json", text, "chartgen/x.py")
    assert list(json.loads(out)) == ["$schema", "$comment", "type", "x"]
    assert json.loads(out)["$comment"] == f"{GENERATED} {provenance.copy_note('chartgen/x.py')}"
    assert _without_header("values.schema.json", out) == text
    plain = json.dumps({"a": 1}, indent=4) + "\n"
    assert list(json.loads(copy_header("d.json", plain, "s"))) == ["$comment", "a"]
    with pytest.raises(ValueError):
        copy_header("d.json", "[1, 2]\n", "s")


@pytest.mark.integration
@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_the_template_headers_render_nothing(binary, request, helm_env, tmp_path):
    """The chart renders byte for byte as it does with the package's templates copied bare."""
    helm_path = request.getfixturevalue(binary)
    catalog = load_catalog(ROOT / "catalog.yaml")
    marked = write_chart(catalog, tmp_path / "marked", name="mesh")
    bare = write_chart(catalog, tmp_path / "bare", name="mesh")
    shutil.rmtree(bare / "templates")
    shutil.copytree(ROOT / render.CHART_SOURCE / "templates", bare / "templates")
    assert (marked / "templates" / "_model.tpl").read_text() != (bare / "templates" / "_model.tpl").read_text()

    def rendered(chart, env):
        r = subprocess.run([helm_path, "template", "mesh", str(chart), "-n", "istio-system", "--kube-version",
                            KUBE_VERSION, "-f", str(chart.parent / f"{env}.yaml")],
                           capture_output=True, text=True, env=helm_env, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    for env in sorted(catalog.environments):
        assert rendered(marked, env) == rendered(bare, env), env
