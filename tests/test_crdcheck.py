"""chartgen.base.crdcheck: structural schema, defaults, and the CRDs' CEL rules, as an API server
applies them. The Istio cases use the CRDs of the real istio/base 1.30.3 chart
($CHARTGEN_UPSTREAM_CHARTS); the others use small CRDs written here."""

from __future__ import annotations

import copy
import json
import tarfile

import pytest
import yaml

from chartgen.base.crdcheck import CRDSet, CRDViolation, cel_check


def crd(schema: dict, kind: str = "Widget", group: str = "example.com", version: str = "v1", **spec) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{kind.lower()}s.{group}"},
            "spec": {"group": group, "names": {"kind": kind, "plural": f"{kind.lower()}s"}, "scope": "Namespaced",
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": schema}}}}],
                     **spec}}


def widget(spec, name="w") -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": "ns"},
            "spec": spec}


def rules(violations: list[CRDViolation]) -> list[str]:
    return [v.rule for v in violations]


# --- the API ----------------------------------------------------------------------------------------------


def test_knows_and_ignores_other_documents():
    crds = CRDSet.from_documents([crd({"type": "object"}), {"kind": "ConfigMap"}, None, "text"])
    assert crds.knows("example.com/v1", "Widget")
    assert not crds.knows("example.com/v2", "Widget")
    assert not crds.knows("example.com/v1", "Gadget")
    assert crds.validate({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}})[0].rule == "kind"


def test_from_files_reads_multi_document_yaml(tmp_path):
    path = tmp_path / "crds.yaml"
    path.write_text(yaml.safe_dump_all([crd({"type": "object"}), crd({"type": "object"}, kind="Gadget")]))
    crds = CRDSet.from_files([path])
    assert crds.knows("example.com/v1", "Widget") and crds.knows("example.com/v1", "Gadget")


def test_unserved_version_is_refused():
    doc = crd({"type": "object"})
    doc["spec"]["versions"][0]["served"] = False
    assert rules(CRDSet.from_documents([doc]).validate(widget({}))) == ["served"]


# --- structural schema --------------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "mode": {"type": "string", "enum": ["A", "B"]},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
        "port": {"x-kubernetes-int-or-string": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "maybe": {"type": "string", "nullable": True},
        "items": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"},
                                                                              "v": {"type": "integer"}}},
                  "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "maxItems": 3},
        "addr": {"type": "string", "format": "ipv4"},
    },
}


@pytest.fixture(scope="module")
def widgets() -> CRDSet:
    return CRDSet.from_documents([crd(SCHEMA)])


def test_a_valid_object_is_admitted(widgets):
    ok = {"size": 3, "mode": "A", "name": "abc", "port": "http", "labels": {"a": "b"},
          "free": {"anything": {"goes": [1]}}, "maybe": None, "items": [{"k": "a", "v": 1}, {"k": "b"}],
          "tags": ["x", "y"], "addr": "10.0.0.1"}
    assert widgets.validate(widget(ok)) == []
    assert widgets.validate(widget({**ok, "port": 8080})) == []


@pytest.mark.parametrize("spec, path, rule", [
    ({"size": 3, "colour": "red"}, "spec.colour", "unknown field"),
    ({"size": 3, "items": [{"k": "a", "x": 1}]}, "spec.items[0].x", "unknown field"),
    ({}, "spec.size", "required"),
    ({"size": "3"}, "spec.size", "type"),
    ({"size": True}, "spec.size", "type"),
    ({"size": 0}, "spec.size", "minimum"),
    ({"size": 11}, "spec.size", "maximum"),
    ({"size": 3, "mode": "C"}, "spec.mode", "enum"),
    ({"size": 3, "name": "ABC"}, "spec.name", "pattern"),
    ({"size": 3, "name": "abcdef"}, "spec.name", "maxLength"),
    ({"size": 3, "port": 1.5}, "spec.port", "type"),
    ({"size": 3, "labels": {"a": 1}}, "spec.labels.a", "type"),
    ({"size": 3, "mode": None}, "spec.mode", "type"),
    ({"size": 3, "items": [{"k": "a"}, {"k": "a"}]}, "spec.items[1]", "x-kubernetes-list-map-keys"),
    ({"size": 3, "tags": ["x", "x"]}, "spec.tags[1]", "x-kubernetes-list-type"),
    ({"size": 3, "tags": ["a", "b", "c", "d"]}, "spec.tags", "maxItems"),
    ({"size": 3, "addr": "10.0.0.300"}, "spec.addr", "format"),
])
def test_schema_violations(widgets, spec, path, rule):
    found = widgets.validate(widget(spec))
    assert [(v.path, v.rule) for v in found] == [(path, rule)], found


def test_unknown_top_level_field_and_bad_metadata(widgets):
    obj = widget({"size": 1}, name="Not_A_Name")
    obj["spek"] = {}
    obj["metadata"]["labels"] = {"ok": "fine", "bad key!": "x"}
    found = {(v.path, v.rule) for v in widgets.validate(obj)}
    assert found == {("spek", "unknown field"), ("metadata.name", "metadata"), ("metadata.labels", "metadata")}


def test_every_error_is_reported_not_only_the_first(widgets):
    found = widgets.validate(widget({"size": 0, "mode": "C", "colour": 1}))
    assert sorted(rules(found)) == ["enum", "minimum", "unknown field"]


def test_one_of_names_the_exclusive_fields():
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
              "oneOf": [{"not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}},
                        {"required": ["a"]}, {"required": ["b"]}]}
    crds = CRDSet.from_documents([crd(schema)])
    assert crds.validate(widget({})) == [] and crds.validate(widget({"a": "x"})) == []
    (v,) = crds.validate(widget({"a": "x", "b": "y"}))
    assert v.rule == "oneOf" and "only one of a, b may be set" in v.message


# --- defaults and CEL ------------------------------------------------------------------------------------------


def test_defaults_are_applied_before_the_rules():
    schema = {"type": "object", "properties": {
        "kind": {"type": "string", "default": "Service"},
        "port": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.kind == 'Service' ? has(self.port) : true",
                                      "message": "a Service reference needs a port"}]}
    crds = CRDSet.from_documents([crd(schema)])
    (v,) = crds.validate(widget({}))  # kind defaults to Service, so the rule applies
    assert v.path == "spec" and v.message.endswith("a Service reference needs a port")
    assert crds.validate(widget({"port": 80})) == []
    assert crds.validate(widget({"kind": "Other"})) == []


def test_defaults_do_not_change_the_callers_object():
    schema = {"type": "object", "properties": {"a": {"type": "object", "properties": {
        "b": {"type": "string", "default": "x"}}}}}
    crds = CRDSet.from_documents([crd(schema)])
    obj = widget({"a": {}})
    before = copy.deepcopy(obj)
    assert crds.validate(obj) == []
    assert obj == before


def test_transition_rules_are_skipped_on_create():
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"},
                                                             {"rule": "self.size() < 4", "message": "short"}]}
    crds = CRDSet.from_documents([crd(schema)])
    assert crds.validate(widget("abc")) == []
    assert [v.rule for v in crds.validate(widget("abcd"))] == ["self.size() < 4"]


def test_field_path_and_message_expression():
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "x-kubernetes-validations": [{"rule": "self.a != 'x'", "fieldPath": ".a",
                                            "messageExpression": "'a may not be ' + self.a"}]}
    (v,) = CRDSet.from_documents([crd(schema)]).validate(widget({"a": "x"}))
    assert v.path == "spec.a" and v.message.endswith("a may not be x")


def test_property_names_are_escaped_like_kubernetes():
    schema = {"type": "object", "properties": {"namespace": {"type": "string"}, "x-y": {"type": "string"}},
              "x-kubernetes-validations": [{"rule": "!has(self.__namespace__) || self.__namespace__ != self.x__dash__y"}]}
    crds = CRDSet.from_documents([crd(schema)])
    assert crds.validate(widget({"namespace": "a", "x-y": "b"})) == []
    assert len(crds.validate(widget({"namespace": "a", "x-y": "a"}))) == 1


def test_a_rule_that_cannot_be_evaluated_is_a_violation():
    schema = {"type": "object", "properties": {"v": {"type": "string"}},
              "x-kubernetes-validations": [{"rule": "self.v != ''"}]}
    (v,) = CRDSet.from_documents([crd(schema)]).validate(widget({}))
    assert "could not be evaluated" in v.message


@pytest.mark.parametrize("rule, value, expected", [
    ('url(self).getScheme() in ["http", "https"]', "https://example.com/keys", True),
    ('url(self).getScheme() in ["http", "https"]', "ftp://example.com/keys", False),
    ('url(self).getHost() == "a.b:8080" && url(self).getHostname() == "a.b" && url(self).getPort() == "8080"',
     "http://a.b:8080/x", True),
    ('url(self).getEscapedPath() == "/p/q"', "https://h/p/q?x=1", True),
    ("isURL(self)", "https://example.com", True),
    ("isURL(self)", "/absolute/path", True),
    ("isURL(self)", "relative/path", False),
    ("isURL(self)", "http://host:port/", False),
    ('isURL(self) ? url(self).getScheme() == "oci" : isURL("http://" + self)', "registry.io/plugin:1", True),
    ('self.substring(7, 8) == "/"', "unix:///var/run/sock", True),
    ('self.substring(7, 8) == "/"', "unix://@abstract", False),
    ('self.split("/")[0] == "a"', "a/b/c", True),
    ('self.lowerAscii() == "abc" && self.upperAscii() == "ABC"', "aBc", True),
    ('self.indexOf("b") == 1 && self.lastIndexOf("b") == 3', "abcb", True),
    ('self.replace("-", "_") == "a_b"', "a-b", True),
    ('self.trim() == "x"', "  x ", True),
    ("isIP(self)", "10.1.2.3", True),
    ("isIP(self)", "2001:db8::1", True),
    ("isIP(self)", "example.com", False),
    ("isIP(self)", "010.1.2.3", False),
    ("isCIDR(self)", "10.0.0.0/8", True),
    ("[1, 2, 3].isSorted() && ![2, 1].isSorted()", "", True),
    ("duration(self) >= duration('1ms')", "0.5s", True),
    ("duration(self) >= duration('1ms')", "1h30m", True),
    ("duration(self) >= duration('1ms')", "500us", False),
])
def test_kubernetes_cel_library(rule, value, expected):
    assert cel_check(rule, value) is expected


def test_rule_results_are_cached_per_value():
    from chartgen.base import crdcheck

    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 4 && self.startsWith('q')"}]}
    crds = CRDSet.from_documents([crd(schema)])
    crdcheck._RESULTS.clear()
    for _ in range(50):
        assert len(crds.validate(widget("abcdef"))) == 1
        assert crds.validate(widget("qq")) == []
    assert len([k for k in crdcheck._RESULTS if k[0] == schema["x-kubernetes-validations"][0]["rule"]]) == 2


@pytest.fixture
def fresh_verdicts(monkeypatch):
    """The CEL caches of this process emptied for the test (and left as they were after it)."""
    from chartgen.base import crdcheck

    for name in ("_RESULTS", "_SAVED", "_FRESH"):
        monkeypatch.setattr(crdcheck, name, {})
    return crdcheck


def test_saved_verdicts_answer_a_later_run_without_evaluating(fresh_verdicts, tmp_path, monkeypatch):
    crdcheck = fresh_verdicts
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "too long"}]}
    crds = CRDSet.from_documents([crd(schema)])
    first = [crds.validate(widget(v)) for v in ("abcdef", "ab")]
    assert [len(v) for v in first] == [1, 0] and "too long" in first[0][0].message
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = tmp_path / "chartgen" / "cel-verdicts.json"
    crdcheck.save_verdicts(path)
    assert path.is_file() and not crdcheck._FRESH

    # a later process: nothing in memory, and no evaluation allowed
    for name in ("_RESULTS", "_SAVED"):
        monkeypatch.setattr(crdcheck, name, {})
    monkeypatch.setattr(crdcheck, "_cel_verdict", lambda *a: pytest.fail("evaluated a saved verdict"))
    crdcheck.load_verdicts(path)
    again = CRDSet.from_documents([crd(schema)])
    assert [again.validate(widget(v)) for v in ("abcdef", "ab")] == first


def test_saved_verdicts_of_another_version_are_ignored(fresh_verdicts, tmp_path, monkeypatch):
    crdcheck = fresh_verdicts
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "too long"}]}
    crds = CRDSet.from_documents([crd(schema)])
    crds.validate(widget("abcdef"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = tmp_path / "chartgen" / "cel-verdicts.json"
    crdcheck.save_verdicts(path)
    saved = crdcheck._SAVED.copy()
    crdcheck._SAVED.clear()
    crdcheck._RESULTS.clear()
    with monkeypatch.context() as m:
        m.setattr(crdcheck, "_verdicts_fingerprint", lambda: "another chartgen or cel-python")
        crdcheck.load_verdicts(path)
    assert not crdcheck._SAVED
    assert "too long" in crds.validate(widget("abcdef"))[0].message
    crdcheck.load_verdicts(path)  # the same entry, read by the version that wrote it
    assert crdcheck._SAVED == saved and set(saved.values()) == {"too long"}


# --- Istio 1.30.3's own CRDs and rules ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def istio_docs(upstream_charts) -> list:
    with tarfile.open(upstream_charts / "base-1.30.3.tgz") as tar:
        text = tar.extractfile("base/files/crd-all.gen.yaml").read().decode()
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def istio(istio_docs) -> CRDSet:
    return CRDSet.from_documents(istio_docs)


def _rules_of(node, out: set):
    if isinstance(node, dict):
        for r in node.get("x-kubernetes-validations") or []:
            out.add(r["rule"])
        for v in node.values():
            _rules_of(v, out)
    elif isinstance(node, list):
        for v in node:
            _rules_of(v, out)


def test_every_istio_rule_compiles(istio_docs):
    from chartgen.base.crdcheck import _program

    found: set = set()
    _rules_of(istio_docs, found)
    assert len(found) >= 30
    broken = {r: p for r in found if isinstance(p := _program(r), Exception)}
    assert broken == {}


def test_istio_kinds_chartgen_emits_are_known(istio):
    for api, kind in [("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"),
                      ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "ServiceEntry"),
                      ("networking.istio.io/v1", "Sidecar"), ("security.istio.io/v1", "AuthorizationPolicy"),
                      ("security.istio.io/v1", "PeerAuthentication"), ("security.istio.io/v1", "RequestAuthentication"),
                      ("telemetry.istio.io/v1", "Telemetry"), ("networking.istio.io/v1alpha3", "EnvoyFilter")]:
        assert istio.knows(api, kind), (api, kind)


def obj(api: str, kind: str, spec: dict, name: str = "x") -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


NET, SEC, TEL = "networking.istio.io/v1", "security.istio.io/v1", "telemetry.istio.io/v1"

# (kind, valid spec, invalid spec, the rule family the invalid one breaks)
ISTIO_CASES = [
    ("duration >= 1ms", NET, "VirtualService",
     {"hosts": ["a"], "http": [{"timeout": "2s", "route": [{"destination": {"host": "a"}}]}]},
     {"hosts": ["a"], "http": [{"timeout": "500us", "route": [{"destination": {"host": "a"}}]}]},
     "duration(self) >= duration('1ms')"),
    ("oneOf uri match", NET, "VirtualService",
     {"hosts": ["a"], "http": [{"match": [{"uri": {"exact": "/login"}}], "route": [{"destination": {"host": "a"}}]}]},
     {"hosts": ["a"], "http": [{"match": [{"uri": {"exact": "/login", "prefix": "/"}}],
                                "route": [{"destination": {"host": "a"}}]}]},
     "oneOf"),
    ("unknown field", NET, "DestinationRule",
     {"host": "a", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
     {"host": "a", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL", "sni": "x", "bogus": True}}},
     "unknown field"),
    ("enum", NET, "DestinationRule",
     {"host": "a", "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}},
     {"host": "a", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}},
     "enum"),
    ("label key wildcard", NET, "DestinationRule",
     {"host": "a", "workloadSelector": {"matchLabels": {"app": "a"}}},
     {"host": "a", "workloadSelector": {"matchLabels": {"app*": "a"}}},
     'self.all(key, !key.contains("*"))'),
    ("label value wildcard", SEC, "PeerAuthentication",
     {"selector": {"matchLabels": {"app": "a"}}, "mtls": {"mode": "STRICT"}},
     {"selector": {"matchLabels": {"app": "a*"}}, "mtls": {"mode": "STRICT"}},
     '!self.contains("*")'),
    ("portLevelMtls needs a selector", SEC, "PeerAuthentication",
     {"selector": {"matchLabels": {"app": "a"}}, "portLevelMtls": {"8080": {"mode": "DISABLE"}}},
     {"portLevelMtls": {"8080": {"mode": "DISABLE"}}},
     "has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? "
     "self.selector.matchLabels : {}).size() > 0) : true"),
    ("portLevelMtls port range", SEC, "PeerAuthentication",
     {"selector": {"matchLabels": {"app": "a"}}, "portLevelMtls": {"65535": {"mode": "DISABLE"}}},
     {"selector": {"matchLabels": {"app": "a"}}, "portLevelMtls": {"70000": {"mode": "DISABLE"}}},
     "self.all(key, 0 < int(key) && int(key) <= 65535)"),
    ("selector xor targetRefs", SEC, "AuthorizationPolicy",
     {"selector": {"matchLabels": {"app": "a"}}},
     {"selector": {"matchLabels": {"app": "a"}}, "targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io",
                                                                  "name": "gw"}]},
     "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1"),
    ("serviceAccounts exclusive", SEC, "AuthorizationPolicy",
     {"rules": [{"from": [{"source": {"serviceAccounts": ["shop/web"]}}]}]},
     {"rules": [{"from": [{"source": {"serviceAccounts": ["shop/web"], "namespaces": ["shop"]}}]}]},
     None),
    ("jwksUri scheme", SEC, "RequestAuthentication",
     {"jwtRules": [{"issuer": "https://id.example.com", "jwksUri": "https://id.example.com/keys"}]},
     {"jwtRules": [{"issuer": "https://id.example.com", "jwksUri": "ftp://id.example.com/keys"}]},
     'url(self).getScheme() in ["http", "https"]'),
    ("jwks xor jwksUri", SEC, "RequestAuthentication",
     {"jwtRules": [{"issuer": "i", "jwks": "{}"}]},
     {"jwtRules": [{"issuer": "i", "jwks": "{}", "jwksUri": "https://id.example.com/keys"}]},
     "(has(self.jwksUri) ? 1 : 0) + (has(self.jwks_uri) ? 1 : 0) + (has(self.jwks) ? 1 : 0) <= 1"),
    ("hostname not a wildcard", NET, "ServiceEntry",
     {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
      "resolution": "DNS"},
     {"hosts": ["*"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}], "resolution": "DNS"},
     'self != "*"'),
    ("duplicate ports", NET, "ServiceEntry",
     {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"},
                                              {"number": 80, "name": "http", "protocol": "HTTP"}],
      "resolution": "DNS"},
     {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"},
                                              {"number": 443, "name": "https", "protocol": "HTTPS"}],
      "resolution": "DNS"},
     "self.all(l1, self.exists_one(l2, l1.number == l2.number))"),
    ("port range", NET, "ServiceEntry",
     {"hosts": ["api.example.com"], "ports": [{"number": 65535, "name": "tcp", "protocol": "TCP"}],
      "resolution": "DNS"},
     {"hosts": ["api.example.com"], "ports": [{"number": 0, "name": "tcp", "protocol": "TCP"}], "resolution": "DNS"},
     "0 < self && self <= 65535"),
    ("NONE resolution without endpoints", NET, "ServiceEntry",
     {"hosts": ["db.internal"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}], "resolution": "STATIC",
      "endpoints": [{"address": "10.0.0.5"}]},
     {"hosts": ["db.internal"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}],
      "endpoints": [{"address": "10.0.0.5"}]},
     '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true'),
    ("CIDR addresses only with NONE/STATIC", NET, "ServiceEntry",
     {"hosts": ["db.internal"], "addresses": ["10.0.0.0/24"], "ports": [{"number": 5432, "name": "tcp",
                                                                         "protocol": "TCP"}], "resolution": "NONE"},
     {"hosts": ["db.internal"], "addresses": ["10.0.0.0/24"], "ports": [{"number": 5432, "name": "tcp",
                                                                         "protocol": "TCP"}], "resolution": "DNS"},
     None),
    ("unix socket address", NET, "ServiceEntry",
     {"hosts": ["uds.local"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}], "resolution": "STATIC",
      "endpoints": [{"address": "unix:///var/run/app.sock"}]},
     {"hosts": ["uds.local"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}], "resolution": "STATIC",
      "endpoints": [{"address": "unix://var/run/app.sock"}]},
     'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true'),
    ("credentialName xor credentialNames", NET, "Gateway",
     {"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 443, "name": "https",
                                                                     "protocol": "HTTPS"},
                                                            "hosts": ["a.example.com"],
                                                            "tls": {"mode": "SIMPLE", "credentialName": "cert"}}]},
     {"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 443, "name": "https",
                                                                     "protocol": "HTTPS"},
                                                            "hosts": ["a.example.com"],
                                                            "tls": {"mode": "SIMPLE", "credentialName": "cert",
                                                                    "credentialNames": ["a", "b"]}}]},
     "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1"),
    ("tag override UPSERT needs a value", TEL, "Telemetry",
     {"metrics": [{"overrides": [{"tagOverrides": {"team": {"operation": "UPSERT", "value": "'shop'"}}}]}]},
     {"metrics": [{"overrides": [{"tagOverrides": {"team": {"operation": "REMOVE", "value": "'shop'"}}}]}]},
     '((has(self.operation) ? self.operation : "") == "REMOVE") ? !has(self.value) : true'),
    ("sidecar idle timeout", NET, "Sidecar",
     {"egress": [{"hosts": ["./*"]}], "inboundConnectionPool": {"http": {"idleTimeout": "30s"}}},
     {"egress": [{"hosts": ["./*"]}], "inboundConnectionPool": {"http": {"idleTimeout": "0s"}}},
     "duration(self) >= duration('1ms')"),
]


@pytest.mark.parametrize("case", ISTIO_CASES, ids=[c[0] for c in ISTIO_CASES])
def test_istio_rule_families(istio, case):
    _, api, kind, good, bad, rule = case
    assert istio.validate(obj(api, kind, good)) == []
    found = istio.validate(obj(api, kind, bad))
    assert found, f"{kind} {bad} was admitted"
    if rule is not None:
        assert rule in rules(found), found


def test_envoy_filter_patch_value_is_free_form(istio):
    spec = {"workloadSelector": {"labels": {"app": "a"}},
            "configPatches": [{"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND"},
                               "patch": {"operation": "INSERT_BEFORE",
                                         "value": {"name": "envoy.filters.http.local_ratelimit",
                                                   "typed_config": {"any": {"thing": [1, 2]}}}}}]}
    assert istio.validate(obj("networking.istio.io/v1alpha3", "EnvoyFilter", spec)) == []
    spec["configPatches"][0]["match"]["waypoint"] = {"portNumber": 80}
    assert istio.validate(obj("networking.istio.io/v1alpha3", "EnvoyFilter", spec))


@pytest.mark.parametrize("rule", sorted(__import__("chartgen.base.crdcheck", fromlist=["NATIVE_RULES"]).NATIVE_RULES))
def test_rules_written_in_python_agree_with_cel(rule):
    from chartgen.base.crdcheck import NATIVE_RULES

    samples = ["", "a", "*", "a*b", "*.example.com", "api.example.com", {}, {"app": "x"}, {"app*": "x"}, {"": "x"},
               {"a": "1", "b*": "2"}, 0, 1, 80, 65535, 65536, -1]
    checked = 0
    for value in samples:
        native = NATIVE_RULES[rule](value)
        if native is None:
            continue
        assert native is cel_check(rule, value), (rule, value)
        checked += 1
    assert checked >= 3


def test_presence_only_fields_are_judged_by_presence():
    from chartgen.base import crdcheck

    rule = "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1"
    assert crdcheck._fields_read(rule) == (("a", True), ("b", True))
    assert crdcheck._fields_read("has(self.a) && self.a.size() > 2") == (("a", False),)
    assert crdcheck._fields_read("self.all(k, k != '')") is None
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
              "x-kubernetes-validations": [{"rule": rule, "message": "one of a, b"}]}
    crds = CRDSet.from_documents([crd(schema)])
    crdcheck._RESULTS.clear()
    for i in range(20):
        assert crds.validate(widget({"a": f"v{i}"})) == []
        assert len(crds.validate(widget({"a": f"v{i}", "b": "w"}))) == 1
    assert len([k for k in crdcheck._RESULTS if k[0] == rule]) == 2


def test_the_structural_fast_path_gives_the_walks_verdicts(istio_docs, monkeypatch, tmp_path):
    """Kinds seen often get a compiled structural validator; an object it passes only gets the
    rule/list/format checks, an object it refuses gets the full walk. Same findings as the walk."""
    from chartgen.base import crdcheck

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    walk = CRDSet.from_documents(istio_docs)
    monkeypatch.setattr(crdcheck, "FAST_AFTER", 0)
    fast = CRDSet.from_documents(istio_docs)
    objects = [obj(api, kind, spec) for _, api, kind, good, bad, _ in ISTIO_CASES for spec in (good, bad)]
    objects.append(widget({}))  # unknown kind
    monkeypatch.setattr(crdcheck, "FAST_AFTER", 10**9)
    expected = [walk.validate(o) for o in objects]
    monkeypatch.setattr(crdcheck, "FAST_AFTER", 0)
    assert [fast.validate(o) for o in objects] == expected
    assert sum(1 for v in fast._versions.values() if v.fast) >= 8  # the fast path really ran
    assert not (tmp_path / "chartgen").exists()  # built in memory: no code is kept in the cache
