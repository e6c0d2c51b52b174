"""``chartgen lint``: every check triggered once, the default catalog clean, the output formats.

Real helm and real checkov, no mocks: a missing tool fails these tests, it never skips them.
Triggers are catalog or values overrides (``tests/fixtures/lint/*.yaml``); checks that no
override can reach through the chart (the chart never renders two Gateways, for instance)
are triggered by editing the rendered objects before the analysis.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from helpers.sarif import sarif_errors

from chartgen.analyzer import Project, analyze, lint, render, validate_objects
from chartgen.analyzer.findings import RULES
from chartgen.analyzer.report import to_json, to_sarif, to_text
from chartgen.analyzer.scanner import find_checkov, load_suppressions
from chartgen.lifecycle.workspace import Doc, deep_merge, load_yaml_text
from chartgen.cli import cli
from chartgen.base.errors import ChartgenError
from chartgen.catalog.rules.production import PRODUCTION_GUARDS
from chartgen.base.toolchain import ToolNotFound, find_tool
from chartgen.catalog.validate import parse_catalog

pytestmark = pytest.mark.integration  # lint renders with the real helm and runs checkov

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lint"
MESH = "values/bytefreezer-mesh"


@pytest.fixture(scope="module", autouse=True)
def tools():
    """helm and checkov are required: without them every test here fails."""
    try:
        find_tool("helm")
    except ToolNotFound as exc:
        pytest.fail(f"helm is required for the lint tests: {exc}")
    try:
        find_checkov()
    except ChartgenError as exc:
        pytest.fail(f"checkov is required for the lint tests: {exc}")


def _catalog(patch: dict | None = None):
    data = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    if patch:
        data = deep_merge(data, patch)
    return parse_catalog(yaml.safe_dump(data, sort_keys=False), "catalog.yaml")


_PLANS: dict[str, Project] = {}


def _project(tmp: Path, catalog_patch: dict | None = None, values: dict | None = None) -> Project:
    """The project as `chartgen generate` would write it into an empty directory, plus overrides."""
    key = json.dumps(catalog_patch, sort_keys=True)
    if key not in _PLANS:
        catalog, smap = _catalog(catalog_patch)
        _PLANS[key] = Project.from_catalog(catalog, tmp, source_map=smap)
    planned = _PLANS[key]
    project = Project(planned.catalog, planned.files, planned.catalog_file, planned.notes, planned.source_map)
    for path, patch in (values or {}).items():
        project.files[path] = yaml.safe_dump(deep_merge(load_yaml_text(project.files.get(path, "")), patch))
    return project


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    project = _project(tmp_path_factory.mktemp("base"))
    return project, render(project, project.environments())


@pytest.fixture(scope="module")
def default_result(tmp_path_factory, upstream_repo):
    """The default catalog, every environment, with the scanner, and with the Istio CRD checks:
    istio/base comes from the real upstream charts served on 127.0.0.1 (the mirror)."""
    return lint(_project(tmp_path_factory.mktemp("default"), {"helmfile": {"chartMirror": upstream_repo}}))


def codes(findings) -> set[str]:
    """The codes of the findings, without the behaviour family (VFY, tested in test_verify*):
    a mutation made to trigger one check often also changes what the mesh lets through."""
    return {f.code for f in findings if not f.code.startswith("VFY")}


def mutated(base, env: str, mutate) -> list:
    """Analyse ``env`` after ``mutate(docs)`` edited a copy of the rendered objects."""
    project, rendered = base
    docs = [Doc(copy.deepcopy(d.obj), d.source, d.start, d.end) for d in rendered[env].docs]
    mutate(docs)
    return analyze(project, replace(rendered[env], docs=docs))


def find(docs, kind: str, name: str | None = None, namespace: str | None = None) -> Doc:
    return next(d for d in docs if d.kind == kind and (name is None or d.name == name)
                and (namespace is None or d.namespace == namespace))


def clone(docs, doc: Doc, name: str) -> Doc:
    new = Doc(copy.deepcopy(doc.obj), doc.source, 0, 0)
    new.obj["metadata"]["name"] = name
    docs.append(new)
    return new


# --- the default catalog is clean ------------------------------------------------------------------


def test_default_catalog_has_no_findings_in_any_environment(default_result):
    assert default_result.environments == ["dev", "prod"]
    assert [f.format() for f in default_result.findings] == []
    assert default_result.scanner, "checkov must have run"
    assert not [n for n in default_result.notes if "CRD" in n or "istio/base" in n], "the Istio CRD checks must have run"
    assert not default_result.failed(strict=True)


def test_default_catalog_suppressions_are_used_and_explained(default_result):
    suppressions = load_suppressions()
    assert suppressions and all(s.reason for s in suppressions)
    used = {s for _, s in default_result.suppressed}
    assert set(suppressions) == used, "a suppression matches nothing: remove it"
    assert {f.env for f, _ in default_result.suppressed} == {"dev", "prod"}
    assert {f.tool for f, _ in default_result.suppressed} == {"checkov"}


def test_each_default_environment_passes_every_analyzer_check(base):
    project, rendered = base
    for env in project.environments():
        assert analyze(project, rendered[env]) == []


# --- catalog and values overrides ------------------------------------------------------------------------


CASES = sorted(FIXTURES.glob("*.yaml"))
PORT_CODES = {"IST0118", "CG120", "CG121"}  # catalog-level: they point at the catalog's port name


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_override_triggers_its_check(case, tmp_path):
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    project = _project(tmp_path, spec.get("catalog"), spec.get("values"))
    env = spec["env"]
    findings = analyze(project, render(project, [env])[env])
    assert codes(findings) == set(spec["expect"]), [f.format() for f in findings]
    assert all(f.env == env and f.level == RULES[f.code].level for f in findings)
    for f in (f for f in findings if not f.code.startswith("VFY")):  # its template, or the catalog
        assert f.file == "catalog.yaml" if f.code in PORT_CODES else f.file.startswith("charts/bytefreezer-mesh/templates/")
        assert f.line > 0


def test_fixtures_cover_every_values_reachable_check():
    covered = set()
    for case in CASES:
        covered |= set(yaml.safe_load(case.read_text(encoding="utf-8"))["expect"])
    assert {"IST0101", "IST0118", "IST0123", "IST0130", "IST0131", "IST0161", "IST0162", "IST0173", "IST0174",
            "CG101", "CG104", "CG105", "CG106", "CG108", "CG109", "CG110", "CG111", "CG120", "CG121", "CG150"} <= covered


# each production check's fixture, and the catalog rule whose opt-in lets lint accept it too
OPTED_IN = {"cg101-permissive-production": "production-mtls", "cg104-chaos-production": "chaos-in-production",
            "cg105-plaintext": "production-http", "cg109-allow-any": "production-egress",
            "cg110-http-jwks": "production-jwks", "cg111-wildcard-host": "production-wildcard-host"}


@pytest.mark.parametrize("case", sorted(OPTED_IN))
def test_production_check_yields_to_the_catalogs_opt_in(case, tmp_path):
    spec = yaml.safe_load((FIXTURES / f"{case}.yaml").read_text(encoding="utf-8"))
    env = spec["env"]
    catalog = copy.deepcopy(spec.get("catalog") or {})
    catalog.setdefault("environments", {}).setdefault(env, {})[PRODUCTION_GUARDS[OPTED_IN[case]]] = True
    project = _project(tmp_path, catalog, spec.get("values"))
    findings = analyze(project, render(project, [env])[env])
    assert not codes(findings) & set(spec["expect"]), [f.format() for f in findings]


# --- checks reached by editing the rendered objects -----------------------------------------------------


def test_schema_kubernetes_reports_every_error():
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x", "namespace": "a"},
          "spec": {"podSelecter": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": [80]}]}]}}
    findings = validate_objects([np], "dev")
    assert sorted(f.message for f in findings) == [
        "spec.ingress[0].ports[0].port: [80] is not valid under any of the given schemas",
        "spec: 'podSelector' is a required property",
        "spec: Additional properties are not allowed ('podSelecter' was unexpected)",
    ]
    assert codes(findings) == {"K8S-SCHEMA"}


def test_schema_istio_types_unknown_fields_cel_and_kinds():
    from helpers.istio import istio_crds

    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "v", "namespace": "a"},
          "spec": {"hosts": ["a"], "http": [{"timeout": "500us", "retries": {"attemps": 2},
                                              "route": [{"destination": {"host": "a"}, "weight": "90"}]}]}}
    ef = {"apiVersion": "networking.istio.io/v1", "kind": "EnvoyFilter", "metadata": {"name": "e"}, "spec": {}}
    findings = validate_objects([vs, ef], "dev", istio=istio_crds())
    assert codes(findings) == {"IST0106", "CRD-CEL"}
    messages = sorted(f.message for f in findings)
    assert any(m.startswith("spec.http[0].timeout: ") and "greater than 1ms" in m for m in messages)
    assert any(m.startswith("spec.http[0].route[0].weight:") and "integer" in m for m in messages)
    assert any(m.startswith("spec.http[0].retries.attemps: unknown field") for m in messages)
    assert any("no CustomResourceDefinition for EnvoyFilter in networking.istio.io/v1" in m for m in messages)
    assert validate_objects([vs, ef], "dev") == [], "without the CRDs, Istio kinds are not schema-checked"


def test_schema_accepts_the_default_render(base):
    from helpers.istio import istio_crds

    _, rendered = base
    for env, r in rendered.items():
        assert validate_objects(r.docs, env, istio=istio_crds()) == []


def test_ist0101_missing_subset_and_gateway(base):
    def mutate(docs):
        find(docs, "DestinationRule", "bytefreezer-proxy").spec.pop("subsets")
        find(docs, "VirtualService", "bytefreezer-piper-ingress").spec["gateways"] = ["istio-ingress/nope"]
    findings = mutated(base, "dev", mutate)
    assert codes(findings) == {"IST0101"}
    text = " ".join(f.message for f in findings)
    assert "subset 'v2'" in text and "gateway not found: 'istio-ingress/nope'" in text


def test_ist0109_two_mesh_virtual_services(base):
    findings = mutated(base, "dev", lambda docs: clone(docs, find(docs, "VirtualService", "bytefreezer-piper"), "piper-2"))
    assert codes(findings) == {"IST0109"} and len(findings) == 2


def test_ist0112_destination_port_on_a_multi_port_service(tmp_path):
    project = _project(tmp_path, {"services": {"receiver": {"ports": [
        {"name": "http", "port": 3000, "protocol": "HTTP"}, {"name": "grpc", "port": 9000, "protocol": "GRPC"}]}}})
    rendered = render(project, ["dev"])["dev"]
    assert analyze(project, rendered) == []  # the chart always sets the port
    vs = find(rendered.docs, "VirtualService", "bytefreezer-receiver")
    for rule in vs.spec["http"]:
        for route in rule["route"]:
            route["destination"].pop("port")
    assert codes(analyze(project, rendered)) == {"IST0112"}


def test_ist0132_host_not_on_gateway(base):
    findings = mutated(base, "dev", lambda docs: find(docs, "VirtualService", "bytefreezer-piper-ingress")
                       .spec.update(hosts=["other.dev.bytefreezer.local"]))
    assert codes(findings) == {"IST0132"}


def test_ist0145_conflicting_gateways(base):
    findings = mutated(base, "prod", lambda docs: clone(docs, find(docs, "Gateway"), "second-gateway"))
    assert codes(findings) == {"IST0145"}


def test_ist0151_envoyfilter_without_priority(base):
    findings = mutated(base, "prod", lambda docs: find(docs, "EnvoyFilter", "bytefreezer-gateway-ratelimit")
                       .spec.pop("priority"))
    assert codes(findings) == {"IST0151"}


def test_ist0160_two_selectorless_telemetries(base):
    findings = mutated(base, "dev", lambda docs: clone(docs, find(docs, "Telemetry"), "another"))
    assert codes(findings) == {"IST0160"} and len(findings) == 2


def test_cg102_missing_deny_all(base):
    findings = mutated(base, "prod", lambda docs: docs.remove(find(docs, "AuthorizationPolicy", "deny-all")))
    assert codes(findings) == {"CG102"}
    assert findings[0].object == "Namespace/bytefreezer-prod"
    assert findings[0].file.endswith("templates/authorizationpolicy.yaml")


def test_cg103_open_allow_rules(base):
    def mutate(docs):
        rules = find(docs, "AuthorizationPolicy", "allow-metrics-scraping").spec["rules"]
        rules.append({"to": [{"operation": {"paths": ["/"]}}]})
        rules.append({"from": [{"source": {}}]})
        rules.append({"from": [{"source": {"principals": ["*"]}}]})
    findings = mutated(base, "prod", mutate)
    assert len([f for f in findings if f.code == "CG103"]) == 3
    # an empty source is not only open: Istio's webhook refuses it
    assert codes(findings) == {"CG103", "ValidateAuthorizationPolicy"}


def test_cg106_workload_without_sidecar(base):
    findings = mutated(base, "dev", lambda docs: docs.remove(find(docs, "Sidecar", "bytefreezer-piper")))
    assert codes(findings) == {"CG106"}
    assert findings[0].object == "Service/bytefreezer-dev/bytefreezer-piper"


def test_cg107_missing_network_default_deny(base):
    findings = mutated(base, "dev", lambda docs: docs.remove(find(docs, "NetworkPolicy", "default-deny", "localstack")))
    assert codes(findings) == {"CG107"}
    assert "ingress and egress" in findings[0].message


# --- the scanner ----------------------------------------------------------------------------------------


def test_scanner_finding_is_reported_against_its_template(tmp_path):
    project = _project(tmp_path, values={f"{MESH}/dev.yaml": {"test": {"image": "curlimages/curl:latest"}}})
    result = lint(project, ["dev"])
    scanned = [f for f in result.findings if f.tool == "checkov"]
    assert scanned and all(f.code.startswith("CKV_K8S_") for f in scanned)
    assert {f.object for f in scanned} == {"Pod/istio-system/bytefreezer-mesh-test-routes"}
    assert all(f.file == "charts/bytefreezer-mesh/templates/tests/test-routes.yaml" and f.line > 1 for f in scanned)
    assert result.failed()


def test_suppressions_need_a_reason():
    with pytest.raises(ChartgenError, match="reason"):
        load_suppressions("suppressions:\n  - check: CKV_K8S_8\n    resource: Pod/*/*\n")


# --- output formats and the command ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def warned(base):
    """A result with one warning (IST0123) in dev, as `lint` would return it."""
    findings = mutated(base, "dev", lambda docs: find(docs, "Namespace", "localstack").meta["labels"]
                       .update({"istio.io/rev": "canary"}))
    from chartgen.analyzer.runner import LintResult

    return LintResult(["dev", "prod"], sorted(findings))


def test_text_format(warned):
    assert to_text(warned) == ("dev Namespace/localstack: warning: both istio-injection=enabled and "
                               "istio.io/rev=canary are set; keep one [IST0123]\n")


def test_json_format(warned):
    data = json.loads(to_json(warned))
    assert data["valid"] is True and data["environments"] == ["dev", "prod"]
    assert data["summary"] == {"errors": 0, "warnings": 1, "infos": 0, "suppressed": 0}
    (f,) = data["findings"]
    assert {k: f[k] for k in ("env", "kind", "namespace", "name", "code", "level")} == {
        "env": "dev", "kind": "Namespace", "namespace": "", "name": "localstack", "code": "IST0123", "level": "warning"}
    assert f["file"] == "charts/bytefreezer-mesh/templates/namespace.yaml"


def test_sarif_format(warned, base):
    project, _ = base
    text = to_sarif(warned)
    assert sarif_errors(text) == []
    sarif = json.loads(text)
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"]
    doc = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["helpUri"] == f"https://github.com/bytefreezer/chartgen/blob/main/docs/lint-rules.md#{rule['id']}"
        assert f'<a id="{rule["id"]}"></a>' in doc
    assert {r["id"] for r in driver["rules"]} >= set(RULES)
    (result,) = run["results"]
    assert result["ruleId"] == "IST0123" and result["level"] == "warning"
    assert "IST0123" not in result["message"]["text"] and "localstack" in result["message"]["text"]
    (loc,) = result["locations"]
    physical = loc["physicalLocation"]
    uri = physical["artifactLocation"]["uri"]
    assert uri == "charts/bytefreezer-mesh/templates/namespace.yaml"
    template = project.files[uri].splitlines()
    assert template[physical["region"]["startLine"] - 1].strip() == "kind: Namespace"


def _workdir(tmp_path: Path) -> Path:
    shutil.copy(CATALOG, tmp_path / "catalog.yaml")
    return tmp_path


def test_cli_json_and_sarif_without_scanner(tmp_path):
    work = _workdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["lint", "-c", str(work / "catalog.yaml"), "--no-scanner", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["valid"] and data["findings"] == [] and data["scanner"] is None
    res = runner.invoke(cli, ["lint", "-c", str(work / "catalog.yaml"), "--no-scanner", "--format", "sarif",
                              "--env", "prod"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["runs"][0]["results"] == []


def test_cli_strict_fails_on_a_warning_in_a_user_values_file(tmp_path):
    work = _workdir(tmp_path)
    (work / MESH).mkdir(parents=True)
    (work / MESH / "dev.yaml").write_text("namespaces:\n  labels:\n    istio.io/rev: canary\n", encoding="utf-8")
    runner = CliRunner()
    args = ["lint", "-c", str(work / "catalog.yaml"), "--no-scanner", "--env", "dev"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stdout.splitlines() if "[IST0123]" in line]
    assert lines and all(re.fullmatch(r"dev Namespace/[a-z-]+: warning: .* \[IST0123\]", line) for line in lines)
    assert runner.invoke(cli, args + ["--strict"]).exit_code == 1


def test_cli_errors_exit_1_and_unknown_env_is_a_usage_error(tmp_path):
    work = _workdir(tmp_path)
    (work / MESH).mkdir(parents=True)
    (work / MESH / "prod.yaml").write_text("environment:\n  mtlsMode: PERMISSIVE\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["lint", "-c", str(work / "catalog.yaml"), "--no-scanner", "--env", "prod"])
    assert res.exit_code == 1 and "[CG101]" in res.stdout
    res = runner.invoke(cli, ["lint", "-c", str(work / "catalog.yaml"), "--env", "staging"])
    assert res.exit_code == 2 and "staging" in res.output


def test_cli_missing_checkov_is_an_error_not_a_skip(tmp_path, monkeypatch):
    work = _workdir(tmp_path)
    monkeypatch.setenv("CHARTGEN_CHECKOV", str(tmp_path / "no-checkov"))
    res = CliRunner().invoke(cli, ["lint", "-c", str(work / "catalog.yaml")])
    assert res.exit_code == 1 and "checkov" in res.output and "--no-scanner" in res.output


def test_the_kubernetes_fast_path_agrees_with_the_full_validator(base, monkeypatch, tmp_path):
    from chartgen.analyzer import schema

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _, rendered = base
    k8s = [d.obj for d in rendered["prod"].docs if not schema.is_istio(d.obj)]
    bad = copy.deepcopy(next(o for o in k8s if o["kind"] == "NetworkPolicy"))
    bad["spec"]["podSelecter"] = {}
    objs = k8s + [bad]
    monkeypatch.setattr(schema, "FAST_AFTER", 10**9)
    expected = validate_objects(objs, "prod")
    monkeypatch.setattr(schema, "FAST_AFTER", 0)
    assert validate_objects(objs, "prod") == expected
    assert [f.message for f in expected] == ["spec: Additional properties are not allowed ('podSelecter' was unexpected)"]
    assert schema._k8s_fast("1.33", "networking.k8s.io/v1", "NetworkPolicy") is not None


def test_the_fast_manifest_parser_reads_what_pyyaml_reads(base):
    from chartgen.lifecycle.workspace import ManifestLoader, _manifest_parser

    parse, _ = _manifest_parser()
    _, rendered = base
    for r in rendered.values():
        chunks = [c for c in re.split(r"^---[ \t]*$", r.text, flags=re.M) if c.strip()]
        slow = [yaml.load(c, Loader=ManifestLoader) for c in chunks]  # noqa: S506 - a safe loader
        assert [parse(c) for c in chunks] == slow
        assert [d.obj for d in r.docs] == [o for o in slow if isinstance(o, dict)]


def test_the_scanner_sees_only_what_it_judges_once_per_shape_with_the_same_findings(base, tmp_path):
    """checkov gets no Istio kind and one object per shape; every finding still reaches every
    object of that shape, exactly as when every object is scanned."""
    from chartgen.analyzer.scanner import collect, scan_set, start_checkov
    from chartgen.lifecycle.workspace import split_documents

    _, rendered = base
    r = rendered["prod"]
    pod = find(r.docs, "Pod")
    lines = r.text.split("\n")
    pod_text = "\n".join(lines[pod.start - 1:pod.end])
    copies = [pod_text.replace(f"name: {pod.name}", f"name: {pod.name}-copy{i}") for i in range(3)]
    text = r.text.rstrip("\n") + "\n" + "".join(f"---\n{c}\n" for c in copies)
    r = replace(r, text=text, docs=split_documents(text, "charts"))
    assert len([d for d in r.docs if d.kind == "Pod"]) == 4

    results = {}
    for dedupe in (True, False):
        manifest_text, groups = scan_set(r, dedupe=dedupe)
        path = tmp_path / f"scan-{dedupe}.yaml"
        path.write_text(manifest_text, encoding="utf-8")
        scan = start_checkov(find_checkov(), [path])
        results[dedupe] = sorted(collect(scan, {"prod": path}, {"prod": groups}))
        assert "networking.istio.io" not in manifest_text and "security.istio.io" not in manifest_text
        if dedupe:
            assert manifest_text.count("\nkind: Pod") == 1
    assert results[True] == results[False]
    pods = {f.name for f in results[True] if f.kind == "Pod"}
    assert pods == {pod.name} | {f"{pod.name}-copy{i}" for i in range(3)}
    assert all(f.file == pod.source for f in results[True] if f.kind == "Pod")


def test_the_checkov_driver_finds_what_the_checkov_command_finds(base, tmp_path):
    """The driver imports only checkov's Kubernetes runner (not the Terraform checks): its
    findings on the full rendered chart, every object scanned, are the command's."""
    from chartgen.analyzer.scanner import Scan, _start_cli, collect, scan_set, start_checkov

    _, rendered = base
    results = {}
    for env in ("dev", "prod"):
        manifest_text, groups = scan_set(rendered[env], dedupe=False)
        path = tmp_path / f"{env}.yaml"
        path.write_text(manifest_text, encoding="utf-8")
        checkov = find_checkov()
        driver = start_checkov(checkov, [path])
        assert driver.driver
        command = Scan(checkov, [path], _start_cli(checkov, [path]), False)
        results[env] = [sorted(collect(scan, {env: path}, {env: groups})) for scan in (driver, command)]
        assert results[env][0] == results[env][1]
    assert any(results[env][0] for env in results)  # the chart has findings to compare


# --- Kubernetes' limits -------------------------------------------------------------------------


def test_limits_name_an_oversize_mesh_object_and_its_service(base):
    def grow(docs):
        vs = find(docs, "VirtualService", "bytefreezer-receiver")
        vs.obj["metadata"].setdefault("annotations", {})["x"] = "a" * (260 * 1024)

    findings = [f for f in mutated(base, "dev", grow) if f.code.startswith("CG14")]
    assert [(f.code, f.kind, f.name) for f in findings] == [("CG143", "VirtualService", "bytefreezer-receiver")]
    assert "services.receiver in environment dev" in findings[0].message
    assert findings[0].file.endswith("virtualservice.yaml") or findings[0].file.startswith("charts/")


def test_limits_see_the_argo_client_side_apply_and_the_flux_values_configmaps(tmp_path):
    big = {"server": {"extra": "a" * (1024 * 1024 + 10)}}
    project = _project(tmp_path, values={"values/prometheus/dev.yaml": big})
    rendered = render(project, ["dev"])
    found = {(f.code, f.kind, f.name) for f in analyze(project, rendered["dev"]) if f.code.startswith("CG14")}
    # the catalog has the Flux export: its values ConfigMap of prometheus is over 1 MiB
    assert ("CG141", "ConfigMap", "prometheus-values") in found
    assert not any(name == "prometheus-server" for _, _, name in found)  # the SLO rules are small
