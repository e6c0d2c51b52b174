"""`chartgen graph`: the mesh as Mermaid and Graphviz DOT, drawn by the real `dot`."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from chartgen.graph.diagram import Edge, build_graph, dot, mark_flows, mermaid, readme_graph
from chartgen.catalog.validate import load_catalog
from conftest import ROOT, run_cli

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "catalog.yaml")


def test_one_environment(catalog):
    g = build_graph(catalog, "dev")
    nodes = {n.id: n for n in g.nodes}
    assert set(nodes) == {"mesh", "gateway", "svc__proxy", "svc__receiver", "svc__piper", "svc__localstack",
                          "ver__proxy__v1", "ver__proxy__v2", "ext__aws"}
    assert "mTLS PERMISSIVE" in nodes["mesh"].lines and "chaos on" in nodes["mesh"].lines
    assert "HTTP *.dev.bytefreezer.local" in nodes["gateway"].lines
    assert nodes["ver__proxy__v1"].lines[:2] == ["weight 90%", "canary stable"]
    assert nodes["ver__proxy__v2"].lines[:2] == ["weight 10%", "canary candidate"]
    assert nodes["svc__receiver"].chaos and not nodes["svc__proxy"].chaos
    assert nodes["svc__proxy"].lines[0] == "Service bytefreezer-proxy"
    edges = set(g.edges)
    assert Edge("gateway", "svc__proxy", "ingress", "proxy /api") in edges
    assert Edge("svc__proxy", "ver__proxy__v2", "ab", "A/B beta-testers: x-bytefreezer-beta=true") in edges
    assert Edge("svc__proxy", "svc__receiver", "call") in edges
    assert Edge("ext__aws", "svc__localstack", "redirect", "redirected to :4566") in edges


def test_production_has_no_chaos_and_no_redirect(catalog):
    g = build_graph(catalog, "prod")
    nodes = {n.id: n for n in g.nodes}
    assert "svc__localstack" not in nodes and not any(n.chaos for n in g.nodes)
    assert "mTLS STRICT" in nodes["mesh"].lines
    assert not [e for e in g.edges if e.kind == "redirect"]
    assert "HTTP → HTTPS redirect" in nodes["gateway"].lines


def _admitted_calls(env: str) -> set[tuple[str, str]]:
    """The calls the golden render (helm's output) admits: an ALLOW AuthorizationPolicy from a
    service to a service, and a ServiceEntry whose hosts are in the caller's Sidecar egress."""
    import yaml

    docs = [d for d in yaml.safe_load_all((ROOT / "tests" / "golden" / "bytefreezer" / f"{env}.yaml").read_text()) if d]
    short = lambda name: name.removeprefix("bytefreezer-").removesuffix("-internal").removesuffix("-external")  # noqa: E731
    allowed = set()
    for d in docs:
        name = d["metadata"]["name"]
        if d["kind"] == "AuthorizationPolicy" and "-to-" in name and not name.startswith("allow-gateway-"):
            src, dst = name.removeprefix("allow-").split("-to-")
            allowed.add(("svc__" + short(src), "svc__" + short(dst)))
    entries = [d for d in docs if d["kind"] == "ServiceEntry"]
    for d in (d for d in docs if d["kind"] == "Sidecar"):
        hosts = {h.split("/", 1)[1] for eg in d["spec"]["egress"] for h in eg["hosts"]}
        allowed |= {("svc__" + short(d["metadata"]["name"]), "ext__" + short(se["metadata"]["name"]))
                    for se in entries if set(se["spec"]["hosts"]) <= hosts}
    return allowed


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_call_is_drawn_externals_included(catalog, env):
    """Each call edge is one the rendered chart admits, and each admitted call is drawn."""
    g = build_graph(catalog, env)
    drawn = {(e.src, e.dst) for e in g.edges if e.kind == "call"}
    assert ("svc__piper", "ext__aws") in drawn and ("svc__receiver", "ext__aws") in drawn
    assert "ext__aws" in {n.id for n in g.nodes}
    assert drawn == _admitted_calls(env)


def test_mark_flows_labels_denied_calls_and_adds_unintended_ones(catalog):
    g = build_graph(catalog, "prod")
    marked = mark_flows(g, {("svc__piper", "ext__aws"): "denied by the rendered mesh",
                            ("gateway", "svc__proxy"): ":80/api denied",
                            ("svc__nothing", "svc__piper"): "unknown node: ignored"},
                        {("svc__receiver", "svc__piper"): "allowed but not in the catalog"})
    edges = set(marked.edges)
    assert Edge("svc__piper", "ext__aws", "denied", "✗ denied by the rendered mesh") in edges
    assert Edge("gateway", "svc__proxy", "denied", "proxy /api ✗ :80/api denied") in edges
    assert Edge("svc__receiver", "svc__piper", "unintended", "✗ allowed but not in the catalog") in edges
    assert not any(e.src == "svc__nothing" for e in edges)
    assert Edge("svc__piper", "ext__aws", "call") not in edges
    assert len(edges) == len(g.edges) + 1 and marked.nodes == g.nodes
    assert mark_flows(g, {}) == g


def test_marked_flows_are_drawn_dashed_red_and_orange(catalog):
    g = mark_flows(build_graph(catalog, "prod"), {("svc__piper", "ext__aws"): "denied"},
                   {("svc__receiver", "svc__piper"): "allowed"})
    mm = mermaid(g).splitlines()
    arrows = [line for line in mm if " -->" in line or " -.->" in line or " ==>" in line]
    denied = next(i for i, line in enumerate(arrows) if line.startswith("  svc__piper -.->") and "ext__aws" in line)
    extra = next(i for i, line in enumerate(arrows) if line.startswith("  svc__receiver -.->") and "svc__piper" in line)
    assert f"  linkStyle {denied} stroke:#c0392b,stroke-width:2px,stroke-dasharray:6 4" in mm
    assert f"  linkStyle {extra} stroke:#d35400,stroke-width:2px,stroke-dasharray:2 3" in mm
    assert not any(line.startswith("  linkStyle") for line in mermaid(build_graph(catalog, "prod")).splitlines())
    d = dot(g)
    assert '"svc__piper" -> "ext__aws" [style=dashed, color="#c0392b", fontcolor="#c0392b", penwidth=2, label="✗ denied"];' in d
    assert '"svc__receiver" -> "svc__piper" [style=dotted, color="#d35400"' in d


def test_whole_catalog_marks_what_not_every_environment_has(catalog):
    g = build_graph(catalog)
    nodes = {n.id: n for n in g.nodes}
    assert nodes["svc__localstack"].title == "localstack [dev]"
    assert nodes["svc__proxy"].title == "proxy"
    assert "mTLS PERMISSIVE [dev]" in nodes["mesh"].lines and "mTLS STRICT [prod]" in nodes["mesh"].lines
    assert "data plane sidecar" in nodes["mesh"].lines  # both: no mark
    assert any(line.startswith("chaos chaos-test:") and line.endswith("[dev]") for line in nodes["svc__receiver"].lines)
    # the redirect exists wherever localstack does: no mark needed on the edge
    assert Edge("ext__aws", "svc__localstack", "redirect", "redirected to :4566") in g.edges


def test_output_is_deterministic(catalog):
    assert mermaid(build_graph(catalog)) == mermaid(build_graph(load_catalog(ROOT / "catalog.yaml")))
    assert dot(build_graph(catalog, "dev")) == dot(build_graph(catalog, "dev"))


def test_chart_readme_embeds_the_mermaid_graph(catalog):
    text = (ROOT / "charts" / "bytefreezer-mesh" / "README.md").read_text()
    assert readme_graph(text) == mermaid(build_graph(catalog))


HOSTILE = 'a"]) --> x; click x "javascript:alert(1)" `\\N\\G #quot; <b>'


def _hostile_catalog(tmp_path):
    text = (ROOT / "catalog.yaml").read_text()
    old = 'x-bytefreezer-beta: {exact: "true"}'
    assert old in text
    hostile = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    path = tmp_path / "catalog.yaml"
    path.write_text(text.replace(old, f'x-bytefreezer-beta: {{exact: "{hostile}"}}'))
    return path


def test_catalog_strings_cannot_break_out_of_a_mermaid_label(tmp_path):
    text = mermaid(build_graph(load_catalog(_hostile_catalog(tmp_path)), "dev"))
    (line,) = [x for x in text.splitlines() if "A/B beta-testers" in x]
    label = line.split('|"', 1)[1].rsplit('"|', 1)[0]
    assert '"' not in label and "`" not in label and "<" not in label
    assert line.endswith(" ver__proxy__v2")
    assert "click x" not in [x.strip()[:7] for x in text.splitlines()]




def _svg(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def _titles(svg: ET.Element, cls: str) -> set[str]:
    return {g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g") if g.get("class") == cls}


def _texts(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text")]


@pytest.mark.integration
def test_svg_drawn_by_graphviz_has_every_node_and_edge(tmp_path):
    out = tmp_path / "dev.svg"
    r = run_cli("graph", "--env", "dev", "--format", "svg", "-o", str(out), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    svg = _svg(out.read_bytes())
    assert _titles(svg, "node") == {"mesh", "gateway", "svc__proxy", "svc__receiver", "svc__piper", "svc__localstack",
                                    "ver__proxy__v1", "ver__proxy__v2", "ext__aws"}
    edges = _titles(svg, "edge")
    assert {"gateway->svc__proxy", "svc__proxy->ver__proxy__v2", "ext__aws->svc__localstack",
            "svc__proxy->svc__receiver"} <= edges
    texts = _texts(svg)
    assert "weight 90%" in texts and "A/B beta-testers: x-bytefreezer-beta=true" in texts
    assert "redirected to :4566" in texts
    # chaos drawn in red
    receiver = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "node" and g.find(f"{SVG}title").text == "svc__receiver"]
    assert receiver[0].find(f"{SVG}path").get("stroke") == "#c0392b"


@pytest.mark.integration
def test_hostile_strings_are_drawn_literally_by_graphviz(tmp_path):
    path = _hostile_catalog(tmp_path)
    r = run_cli("graph", str(path), "--env", "dev", "--format", "svg")
    assert r.returncode == 0, r.stderr
    texts = _texts(_svg(r.stdout.encode()))
    assert f"A/B beta-testers: x-bytefreezer-beta={HOSTILE}" in texts


@pytest.mark.integration
def test_png_and_dot_output(tmp_path):
    r = run_cli("graph", "--format", "png", "-o", str(tmp_path / "g.png"), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run_cli("graph", "--format", "dot", cwd=ROOT)
    assert r.returncode == 0
    check = subprocess.run([shutil.which("dot"), "-Tcanon"], input=r.stdout, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_missing_graphviz_is_a_one_line_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CHARTGEN_DOT"}
    env["PATH"] = str(tmp_path)  # no dot here
    r = run_cli("graph", "--format", "svg", cwd=ROOT, env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "sudo apt-get install graphviz" in r.stderr and "--format dot or mermaid" in r.stderr


def test_unknown_environment_is_a_usage_error():
    r = run_cli("graph", "--env", "staging", cwd=ROOT)
    assert r.returncode == 2 and "unknown environment 'staging'" in r.stderr


def test_diff_shows_the_graph_change(repo_copy):
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    path = repo_copy / "catalog.yaml"
    path.write_text(path.read_text().replace("weights: {v1: 90, v2: 10}", "weights: {v1: 75, v2: 25}", 1))
    r = run_cli("diff", "--graph", "--no-color", cwd=repo_copy)
    assert r.returncode == 0, r.stderr
    changed = [x for x in r.stdout.splitlines() if x[:1] in "+-" and not x.startswith(("+++", "---"))]
    assert changed == ['-  ver__proxy__v1(["<b>proxy v1</b><br/>weight 90%<br/>canary stable"])',
                       '-  ver__proxy__v2(["<b>proxy v2</b><br/>weight 10%<br/>canary candidate"])',
                       '+  ver__proxy__v1(["<b>proxy v1</b><br/>weight 75%<br/>canary stable"])',
                       '+  ver__proxy__v2(["<b>proxy v2</b><br/>weight 25%<br/>canary candidate"])']
    assert run_cli("diff", "--graph", "--exit-code", cwd=repo_copy).returncode == 1
