"""The generated mesh chart through the real helm binaries, for every environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from chartgen.catalog.mesh import env_views
from chartgen.chart.render import ChartMeta, build_chart
from chartgen.catalog.validate import load_catalog
from helpers.meshrender import write_chart
from conftest import ROOT

pytestmark = pytest.mark.integration  # renders the chart with the real helm 4 and helm 3

GOLDEN = Path(__file__).resolve().parent / "golden" / "bytefreezer"
ENVS = ["dev", "prod"]
KUBE_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "catalog.yaml")


@pytest.fixture(scope="module")
def chart_dir(tmp_path_factory, catalog) -> Path:
    """The chart as generate writes it (version pinned so goldens survive bumps), plus env values."""
    return write_chart(catalog, tmp_path_factory.mktemp("chart"), name="bytefreezer-mesh")


def helm_run(binary, args, env, check=True):
    r = subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and r.returncode != 0:
        pytest.fail(f"{Path(binary).name} {' '.join(args)} failed:\n{r.stderr}")
    return r


def render(binary, chart_dir, env_name, env, extra=()):
    args = ["template", "bytefreezer-mesh", str(chart_dir), "-n", "istio-system", "--kube-version", KUBE_VERSION,
            "-f", str(chart_dir.parent / f"{env_name}.yaml"), *extra]
    return helm_run(binary, args, env)


def objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def rendered(chart_dir, helm, helm_env) -> dict[str, list[dict]]:
    return {e: objects(render(helm, chart_dir, e, helm_env).stdout) for e in ENVS}


def find(docs, kind, name=None, namespace=None):
    out = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
           and (namespace is None or d["metadata"].get("namespace") == namespace)]
    return out


def one(docs, kind, name, namespace=None):
    found = find(docs, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


# --- helm 4 and helm 3 ------------------------------------------------------------------------


@pytest.mark.parametrize("binary", ["helm", "helm3"])
@pytest.mark.parametrize("env_name", ENVS)
def test_lint_strict_and_template(binary, env_name, chart_dir, helm_env, request):
    exe = request.getfixturevalue(binary)
    helm_run(exe, ["lint", "--strict", str(chart_dir), "-f", str(chart_dir.parent / f"{env_name}.yaml")], helm_env)
    docs = objects(render(exe, chart_dir, env_name, helm_env).stdout)
    assert len(docs) > 40


@pytest.mark.parametrize("env_name", ENVS)
def test_helm3_and_helm4_render_the_same(env_name, chart_dir, helm, helm3, helm_env):
    # the texts differ in blank lines between documents; the objects must not
    assert objects(render(helm, chart_dir, env_name, helm_env).stdout) == objects(render(helm3, chart_dir, env_name, helm_env).stdout)


@pytest.mark.parametrize("env_name", ENVS)
def test_helm4_install_dry_run_client(env_name, chart_dir, helm, helm_env):
    r = helm_run(helm, ["install", "bytefreezer-mesh", str(chart_dir), "-n", "istio-system", "--dry-run=client",
                        "-f", str(chart_dir.parent / f"{env_name}.yaml")], helm_env)
    assert "STATUS: pending-install" in r.stdout
    assert f"http{'s' if env_name == 'prod' else ''}://proxy.{env_name}.bytefreezer.local" in r.stdout  # NOTES


@pytest.mark.parametrize("env_name", ENVS)
def test_golden_render(env_name, chart_dir, helm, helm_env, golden):
    golden(GOLDEN / f"{env_name}.yaml", render(helm, chart_dir, env_name, helm_env).stdout)


@pytest.mark.parametrize("env_name", ENVS)
def test_every_object_passes_schema_validation(env_name, rendered):
    from chartgen.analyzer.schema import validate_objects
    from chartgen.analyzer.webhook import validate
    from helpers.istio import istio_crds

    findings = validate_objects(rendered[env_name], istio=istio_crds())
    findings += [(d["kind"], d["metadata"]["name"], e) for d in rendered[env_name] for e in validate(d)]
    assert findings == [], "\n".join(str(f) for f in findings)


def test_a_values_typo_is_rejected_by_the_schema(chart_dir, helm, helm_env):
    r = helm_run(helm, ["template", "x", str(chart_dir), "-f", str(chart_dir.parent / "dev.yaml"),
                        "--set", "services.proxy.timout=3s"], helm_env, check=False)
    assert r.returncode != 0
    assert "timout" in r.stderr and "additional properties" in r.stderr.lower()
    r = helm_run(helm, ["template", "x", str(chart_dir), "--set", "environment.mtlsMode=OFF"], helm_env, check=False)
    assert r.returncode != 0 and "mtlsMode" in r.stderr


def test_build_is_deterministic(catalog):
    assert build_chart(catalog, ChartMeta()) == build_chart(load_catalog(ROOT / "catalog.yaml"), ChartMeta())


# --- the original description's figures -------------------------------------------------------


def http_rules(docs, name, ns):
    return one(docs, "VirtualService", name, ns)["spec"]["http"]


def test_canary_90_10_and_ab_rule_first(rendered):
    for env in ENVS:
        ns = f"bytefreezer-{env}"
        rules = http_rules(rendered[env], "bytefreezer-proxy", ns)
        assert [r["name"] for r in rules] == ["beta-testers", "default"]
        assert rules[0]["match"] == [{"headers": {"x-bytefreezer-beta": {"exact": "true"}}}]
        assert rules[0]["route"][0]["destination"]["subset"] == "v2"
        weights = {r["destination"]["subset"]: r["weight"] for r in rules[-1]["route"]}
        assert weights == {"v1": 90, "v2": 10}
        dr = one(rendered[env], "DestinationRule", "bytefreezer-proxy", ns)
        assert {s["name"]: s["labels"] for s in dr["spec"]["subsets"]} == {"v1": {"version": "v1"}, "v2": {"version": "v2"}}


def test_chaos_only_in_dev(rendered):
    dev_rules = http_rules(rendered["dev"], "bytefreezer-receiver", "bytefreezer-dev")
    first = dev_rules[0]
    assert first["match"] == [{"headers": {"x-chaos-test": {"exact": "true"}}}]
    assert first["fault"] == {"delay": {"percentage": {"value": 50.0}, "fixedDelay": "2s"},
                              "abort": {"percentage": {"value": 10.0}, "httpStatus": 503}}
    ingress = http_rules(rendered["dev"], "bytefreezer-receiver-ingress", "bytefreezer-dev")
    assert "fault" in ingress[0]
    for docs in (rendered["prod"],):
        for vs in find(docs, "VirtualService"):
            assert all("fault" not in r for r in vs["spec"].get("http", []))


def test_mtls_permissive_dev_strict_prod(rendered):
    modes = {env: {d["metadata"]["namespace"]: d["spec"]["mtls"]["mode"] for d in find(rendered[env], "PeerAuthentication")}
             for env in ENVS}
    assert modes == {"dev": {"bytefreezer-dev": "PERMISSIVE", "localstack": "PERMISSIVE"},
                     "prod": {"bytefreezer-prod": "STRICT"}}


def test_ports_hosts_paths_and_timeouts(rendered):
    dev = rendered["dev"]
    expected = {"proxy": (8080, "/api", "15s"), "receiver": (3000, "/data", "60s"), "piper": (4000, "/pipeline", "120s")}
    for svc, (port, path, timeout) in expected.items():
        vs = one(dev, "VirtualService", f"bytefreezer-{svc}-ingress", "bytefreezer-dev")
        assert vs["spec"]["hosts"] == [f"{svc}.dev.bytefreezer.local"]
        default = vs["spec"]["http"][-1]
        # a bare string path is a prefix on whole segments: the path itself, and below it
        assert default["match"] == [{"uri": {"exact": path}}, {"uri": {"prefix": path + "/"}}]
        assert default["route"][0]["destination"]["port"]["number"] == port
        assert default["timeout"] == timeout
    ls = one(dev, "VirtualService", "localstack-internal-ingress", "localstack")
    assert ls["spec"]["http"][-1]["match"][0]["port"] == 4566
    assert ls["spec"]["http"][-1]["route"][0]["destination"]["port"]["number"] == 4566
    assert http_rules(rendered["prod"], "bytefreezer-proxy", "bytefreezer-prod")[-1]["timeout"] == "15s"


def test_gateways_http_in_dev_https_with_redirect_in_prod(rendered):
    dev = one(rendered["dev"], "Gateway", "bytefreezer-gateway", "istio-ingress")["spec"]
    assert dev["selector"] == {"istio": "ingress"}
    assert sorted(s["port"]["number"] for s in dev["servers"]) == [80, 4566]
    assert all("tls" not in s for s in dev["servers"])
    prod = one(rendered["prod"], "Gateway", "bytefreezer-gateway", "istio-ingress")["spec"]
    by_port = {s["port"]["number"]: s for s in prod["servers"]}
    assert by_port[443]["tls"] == {"mode": "SIMPLE", "credentialName": "bytefreezer-prod-tls"}
    assert by_port[80]["tls"] == {"httpsRedirect": True}
    assert set(by_port) == {80, 443}


def test_aws_goes_to_localstack_only_in_dev(rendered):
    se = one(rendered["dev"], "ServiceEntry", "aws-external")["spec"]
    assert se["hosts"] == ["*.amazonaws.com"] and se["location"] == "MESH_EXTERNAL" and se["resolution"] == "NONE"
    assert se["exportTo"]
    vs = one(rendered["dev"], "VirtualService", "aws-redirect")["spec"]
    assert vs["hosts"] == ["*.amazonaws.com"]
    dest = vs["http"][0]["route"][0]["destination"]
    assert dest == {"host": "localstack-internal.localstack.svc.cluster.local", "port": {"number": 4566}}
    assert find(rendered["prod"], "VirtualService", "aws-redirect") == []
    env_cm = {d["metadata"]["namespace"]: d["data"] for d in find(rendered["dev"], "ConfigMap") if "AWS_ENDPOINT_URL" in d.get("data", {})}
    assert env_cm["bytefreezer-dev"]["AWS_ENDPOINT_URL"] == "http://localstack-internal.localstack.svc.cluster.local:4566"


def test_sidecar_per_workload_lists_exactly_its_dependencies(rendered):
    jaeger = "observability/jaeger.observability.svc.cluster.local"
    dev = {d["metadata"]["name"]: sorted(d["spec"]["egress"][0]["hosts"]) for d in find(rendered["dev"], "Sidecar")}
    assert set(dev) == {"bytefreezer-proxy", "bytefreezer-receiver", "bytefreezer-piper", "localstack-internal"}
    assert dev["bytefreezer-proxy"] == sorted(["istio-system/*", jaeger,
                                               "bytefreezer-dev/bytefreezer-receiver.bytefreezer-dev.svc.cluster.local"])
    assert dev["bytefreezer-receiver"] == sorted(["istio-system/*", jaeger, "bytefreezer-dev/*.amazonaws.com",
                                                  "localstack/localstack-internal.localstack.svc.cluster.local"])
    assert dev["localstack-internal"] == sorted(["istio-system/*", jaeger])
    prod = {d["metadata"]["name"]: sorted(d["spec"]["egress"][0]["hosts"]) for d in find(rendered["prod"], "Sidecar")}
    assert prod["bytefreezer-piper"] == sorted(["istio-system/*", jaeger, "bytefreezer-prod/*.amazonaws.com"])
    assert all(d["spec"]["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY" for d in find(rendered["prod"], "Sidecar"))


def test_deny_by_default_and_edges_by_principal(rendered):
    dev = rendered["dev"]
    for ns in ("bytefreezer-dev", "localstack"):
        assert one(dev, "AuthorizationPolicy", "deny-all", ns)["spec"] == {}
    edge = one(dev, "AuthorizationPolicy", "allow-bytefreezer-proxy-to-bytefreezer-receiver", "bytefreezer-dev")["spec"]
    assert edge["action"] == "ALLOW"
    assert edge["rules"][0]["from"] == [{"source": {"principals": ["cluster.local/ns/bytefreezer-dev/sa/bytefreezer-proxy"]}}]
    gw = one(dev, "AuthorizationPolicy", "allow-gateway-to-bytefreezer-proxy", "bytefreezer-dev")["spec"]
    assert gw["rules"][0]["from"] == [{"source": {"principals": ["cluster.local/ns/istio-ingress/sa/istio-ingress"]}}]
    for ap in find(dev, "AuthorizationPolicy") + find(rendered["prod"], "AuthorizationPolicy"):
        for rule in ap["spec"].get("rules", []):
            assert rule.get("from"), ap["metadata"]["name"]
            for src in rule["from"]:
                assert "*" not in src["source"].get("principals", []) and "*" not in src["source"].get("namespaces", [])


def test_network_policies_default_deny_and_dns(rendered):
    for env in ENVS:
        for np in find(rendered[env], "NetworkPolicy", "default-deny"):
            assert np["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        namespaces = {d["metadata"]["namespace"] for d in find(rendered[env], "NetworkPolicy", "default-deny")}
        assert f"bytefreezer-{env}" in namespaces


def test_service_accounts_do_not_automount_tokens(rendered):
    sas = find(rendered["dev"], "ServiceAccount")
    assert {s["metadata"]["name"] for s in sas} == {"bytefreezer-proxy", "bytefreezer-receiver", "bytefreezer-piper"}
    assert all(s["automountServiceAccountToken"] is False for s in sas)


def test_namespaces_have_one_injection_label_and_are_kept(rendered):
    for ns in find(rendered["dev"], "Namespace"):
        labels = ns["metadata"]["labels"]
        assert labels["istio-injection"] == "enabled" and "istio.io/rev" not in labels
        assert ns["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_rate_limits_and_telemetry(rendered):
    prod = rendered["prod"]
    names = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in find(prod, "EnvoyFilter")}
    assert len(names) == 3  # proxy, receiver and the gateway
    for ef in find(prod, "EnvoyFilter"):
        assert ef["apiVersion"] == "networking.istio.io/v1alpha3"
        assert isinstance(ef["spec"]["priority"], int)
        assert "listener" in ef["spec"]["configPatches"][0]["match"]
    tel = {env: one(rendered[env], "Telemetry", "mesh-default", "istio-system")["spec"] for env in ENVS}
    assert tel["dev"]["tracing"][0]["randomSamplingPercentage"] == 100
    assert tel["prod"]["tracing"][0]["randomSamplingPercentage"] == 1
    assert tel["dev"]["tracing"][0]["providers"] == [{"name": "jaeger"}]


def test_observability_configmaps(rendered):
    """The chart's one object in the add-ons' namespace is its Grafana dashboard; the SLO
    alert rules reach Prometheus through the prometheus release's values only."""
    in_obs = find(rendered["dev"], "ConfigMap", namespace="observability")
    assert [d["metadata"]["name"] for d in in_obs] == ["bytefreezer-mesh-dashboard"]
    assert in_obs[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert not any("alerting_rules.yml" in (d.get("data") or {}) for env in ENVS for d in find(rendered[env], "ConfigMap"))


def test_api_versions(rendered):
    allowed = {
        "networking.istio.io/v1", "security.istio.io/v1", "telemetry.istio.io/v1", "networking.istio.io/v1alpha3",
        "v1", "networking.k8s.io/v1",
    }
    for env in ENVS:
        for d in rendered[env]:
            assert d["apiVersion"] in allowed, d["kind"]
            if d["apiVersion"] == "networking.istio.io/v1alpha3":
                assert d["kind"] == "EnvoyFilter"


def test_environments_in_catalog_match(catalog):
    assert [v.name for v in env_views(catalog)] == ENVS


def test_jwt_on_the_gateway_when_an_issuer_is_named(chart_dir, helm, helm_env):
    docs = objects(render(helm, chart_dir, "prod", helm_env, extra=[
        "--set", "gateway.jwt.enabled=true", "--set", "gateway.jwt.issuer=https://auth.bytefreezer.local",
        "--set", "gateway.jwt.jwksUri=https://auth.bytefreezer.local/.well-known/jwks.json"]).stdout)
    ra = one(docs, "RequestAuthentication", find(docs, "RequestAuthentication")[0]["metadata"]["name"], "istio-ingress")
    assert ra["apiVersion"] == "security.istio.io/v1"
    assert ra["spec"]["selector"] == {"matchLabels": {"istio": "ingress"}}
    assert ra["spec"]["jwtRules"][0]["issuer"] == "https://auth.bytefreezer.local"
    deny = one(docs, "AuthorizationPolicy", "require-jwt", "istio-ingress")["spec"]
    assert deny["action"] == "DENY"
    assert deny["rules"] == [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}]
    plain = objects(render(helm, chart_dir, "prod", helm_env).stdout)
    assert find(plain, "RequestAuthentication") == []


def test_revision_label_instead_of_injection_label(chart_dir, helm, helm_env):
    docs = objects(render(helm, chart_dir, "dev", helm_env, extra=["--set", "istio.revision=1-30"]).stdout)
    for ns in find(docs, "Namespace"):
        labels = ns["metadata"]["labels"]
        assert labels["istio.io/rev"] == "1-30" and "istio-injection" not in labels
