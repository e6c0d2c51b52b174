"""The catalog model: the default catalog, resolution layers, schema, property tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartgen.catalog.model import catalog_json_schema
from chartgen.base.errors import CatalogError
from chartgen.catalog.mesh import env_views
from chartgen.catalog.validate import load_catalog, parse_catalog

ROOT = Path(__file__).resolve().parent.parent
CATALOG_TEXT = (ROOT / "catalog.yaml").read_text()


def test_default_catalog_describes_bytefreezer():
    c = load_catalog(ROOT / "catalog.yaml")
    assert c.metadata.name == "bytefreezer" and c.metadata.domain == "bytefreezer.local"
    ports = {k: [p.port for p in s.ports] for k, s in c.services.items()}
    assert ports == {"proxy": [8080], "receiver": [3000], "piper": [4000], "localstack": [4566]}
    assert c.services["proxy"].expose.paths == ["/api"]
    assert c.services["receiver"].expose.paths == ["/data"]
    assert c.services["piper"].expose.paths == ["/pipeline"]
    assert c.services["proxy"].weights == {"v1": 90, "v2": 10}
    assert c.services["localstack"].environments == ["dev"]
    assert c.environments["dev"].mtls == "PERMISSIVE" and c.environments["prod"].mtls == "STRICT"
    fault = c.services["receiver"].faults[0]
    assert fault.match.headers["x-chaos-test"].exact == "true"
    assert (fault.delay.percent, fault.delay.fixedDelay, fault.abort.percent, fault.abort.httpStatus) == (50, "2s", 10, 503)
    # between them the services use every balancing mode
    lbs = {s.loadBalancer for s in c.services.values()} | {c.defaults.loadBalancer}
    assert {"ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"} <= lbs
    assert c.services["receiver"].sessionAffinity.cookie is not None


def test_environment_views_resolve_layers():
    c = load_catalog(ROOT / "catalog.yaml")
    views = {v.name: v for v in env_views(c)}
    dev, prod = views["dev"], views["prod"]
    assert dev.namespace == "bytefreezer-dev" and prod.namespace == "bytefreezer-prod"
    assert dev.external_host(dev.services["receiver"]) == "receiver.dev.bytefreezer.local"
    assert dev.services["localstack"].enabled and not prod.services["localstack"].enabled
    assert dev.redirect_active("aws") and not prod.redirect_active("aws")
    # prod overrides proxy's timeout and retries; defaults fill what the service leaves out
    assert prod.services["proxy"].spec.timeout == "15s" and prod.services["proxy"].spec.retries.attempts == 2
    assert dev.services["piper"].spec.outlierDetection.consecutive5xxErrors == 5
    # receiver's sessionAffinity drops the inherited ROUND_ROBIN instead of conflicting
    assert dev.services["receiver"].spec.loadBalancer is None
    assert dev.services["receiver"].service_name == "bytefreezer-receiver"
    assert dev.services["localstack"].fqdn(dev.namespace) == "localstack-internal.localstack.svc.cluster.local"


def test_layers_replace_weights_and_merge_settings():
    data = yaml.safe_load(CATALOG_TEXT)
    data["environments"]["prod"]["services"]["piper"] = {
        "connectionPool": {"http": {"maxRetries": 9}},
        "sessionAffinity": {"header": "x-user"},
    }
    data["environments"]["prod"]["services"]["proxy"]["weights"] = {"v1": 100}
    views = {v.name: v for v in env_views(parse_catalog(yaml.safe_dump(data, sort_keys=False))[0])}
    piper, proxy = views["prod"].services["piper"].spec, views["prod"].services["proxy"].spec
    # nested settings merge: the override's http.maxRetries, the defaults' tcp and other http fields
    assert piper.connectionPool.http.maxRetries == 9 and piper.connectionPool.http.http2MaxRequests == 1000
    assert piper.connectionPool.tcp.maxConnections == 100
    # sessionAffinity drops the service's own loadBalancer instead of conflicting
    assert piper.loadBalancer is None and piper.sessionAffinity.header == "x-user"
    # weights replace as a whole (v2 does not survive from the service layer)
    assert proxy.weights == {"v1": 100}
    assert views["dev"].services["proxy"].spec.weights == {"v1": 90, "v2": 10}


def test_committed_schema_matches_the_model():
    committed = json.loads((ROOT / "schemas" / "catalog.schema.json").read_text())
    assert committed == catalog_json_schema(), "run `make schema`"


def test_schema_accepts_the_default_catalog_and_rejects_a_typo():
    schema = catalog_json_schema()
    data = yaml.safe_load(CATALOG_TEXT)
    jsonschema.Draft202012Validator(schema).validate(data)
    data["services"]["proxy"]["timout"] = "3s"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert any("timout" in e.message for e in errors)


def test_catalog_has_a_schema_modeline():
    assert CATALOG_TEXT.splitlines()[0] == "# yaml-language-server: $schema=./schemas/catalog.schema.json"


# --- property-based: random mutations either validate or fail with located errors ---------

_LINES = CATALOG_TEXT.splitlines(keepends=True)
_VALUE_LINES = [i for i, line in enumerate(_LINES) if re.match(r"^\s+[\w-]+: \S", line) and not line.strip().startswith("#")]
_JUNK = st.sampled_from(["-1", "0", "70000", "''", "abc", "true", "null", "[]", "{}", "1.5", "'2s'", "2x", "*", "{a: 1}",
                         "999999999999", "v9", "FASTEST", '"x-y"', "~", "!!binary aGk=", "[1, [2]]"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_VALUE_LINES), _JUNK), min_size=1, max_size=3),
       st.sampled_from(["none", "dup", "indent", "delete"]))
def test_mutations_validate_or_fail_with_located_errors(mutations, structural):
    lines = list(_LINES)
    for index, junk in mutations:
        key = lines[index].split(":", 1)[0]
        lines[index] = f"{key}: {junk}\n"
    index = mutations[0][0]
    if structural == "dup":
        lines.insert(index + 1, lines[index])
    elif structural == "indent":
        lines[index] = "   " + lines[index]
    elif structural == "delete":
        del lines[index]
    text = "".join(lines)
    try:
        parse_catalog(text, "catalog.yaml")
    except CatalogError as exc:
        assert exc.problems
        n_lines = text.count("\n") + 1
        for p in exc.problems:
            assert p.file == "catalog.yaml"
            assert 1 <= p.line <= n_lines and p.col >= 1, p
            assert re.fullmatch(r"[a-z0-9-_]+", p.rule), p
            assert p.format().startswith(f"catalog.yaml:{p.line}:{p.col}: error: ")
