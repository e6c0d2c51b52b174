"""The chart's values contract is written once: the values model and the invariants table are
the source; the schema, the template defaults and the contract doc follow from them and must
stay in step (`pytest --update-golden` rewrites the generated files)."""

from __future__ import annotations

import json
import re

import fastjsonschema
import pytest
import yaml
from pydantic import ValidationError, create_model

from chartgen.base.errors import CatalogError
from chartgen.chart.invariants import BY_ID, INVARIANTS
from chartgen.catalog.mesh import env_views
from chartgen.catalog.validate import load_catalog, parse_catalog
from chartgen.chart.values import chart_values
from chartgen.chart.values_model import NOTES, ChartValues, ValuesModel
from chartgen.chart.values_contract import ENTRY_DEFAULTS, GENERATED, _walk, entry_defaults, values_schema
from chartgen.chart.values_schema import VALUES_SCHEMA
from conftest import ROOT

TEMPLATES = ROOT / "chartgen" / "chart" / "static" / "templates"

VERB = re.compile(r"%[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]")


def test_each_invariant_message_takes_exactly_its_arguments():
    for inv in INVARIANTS:
        verbs = [v for v in VERB.findall(inv.message) if v != "%%"]
        assert len(verbs) == len(inv.args), (inv.id, verbs, inv.args)
        assert all(v[-1] in "sdqv" for v in verbs), (inv.id, verbs)


def test_invariant_ids_are_unique():
    assert len(BY_ID) == len(INVARIANTS)


# --- the values model and what is generated from it -------------------------------------------

CATALOGS = ["catalog.yaml", "examples/ambient/catalog.yaml", "examples/bookstore/catalog.yaml",
            "examples/grpc-shop/catalog.yaml"]
JSON_TYPES = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "array": list, "object": dict}


@pytest.fixture(scope="module")
def emitted():
    """The values chartgen emits for the default catalog and the examples, every layer."""
    out = {}
    for rel in CATALOGS:
        catalog = load_catalog(ROOT / rel)
        for view in [None, *env_views(catalog)]:
            out[f"{rel}:{view.name if view else 'values.yaml'}"] = chart_values(catalog, view)
    return out


@pytest.fixture(scope="module")
def schema_check():
    return fastjsonschema.compile(VALUES_SCHEMA)


@pytest.mark.parametrize("rel", sorted(GENERATED))
def test_the_generated_files_are_in_step(golden, rel):
    """`python -m chartgen.chart.values_contract` (or pytest --update-golden) rewrites them."""
    golden(ROOT / rel, GENERATED[rel]())


def test_chartgen_reads_the_models_schema_and_the_chart_ships_it():
    assert VALUES_SCHEMA == values_schema()
    shipped = json.loads((ROOT / "charts" / "bytefreezer-mesh" / "values.schema.json").read_text())
    shipped.pop("$comment")
    assert shipped == VALUES_SCHEMA


def test_emitted_values_fit_the_model_and_the_schema(emitted, schema_check):
    for values in emitted.values():
        ChartValues.model_validate(values)  # strict: no coercion, no unknown key
        schema_check(values)


BROKEN = [
    ("unknown key", lambda v: v["services"]["proxy"].update(timout="3s")),
    ("duration", lambda v: v["services"]["proxy"].update(timeout="3 seconds")),
    ("weight over 100", lambda v: v["services"]["proxy"].update(weights={"v1": 101})),
    ("protocol", lambda v: v["services"]["proxy"]["ports"][0].update(protocol="UDP")),
    ("no ports", lambda v: v["services"]["proxy"].update(ports=[])),
    ("mtls mode", lambda v: v["environment"].update(mtlsMode="OFF")),
    ("two string conditions", lambda v: v["services"]["proxy"]["routes"][0]["match"][0].update(
        uri={"exact": "/a", "prefix": "/b"})),
    ("abort with both statuses", lambda v: v["services"]["proxy"].update(
        faults=[{"name": "f", "match": [], "abort": {"percent": 1, "httpStatus": 503, "grpcStatus": "INTERNAL"}}])),
    ("service name", lambda v: v["services"]["proxy"].update(serviceName="Proxy")),
    ("env key", lambda v: v["env"].update({"1X": "y"})),
]


@pytest.mark.parametrize("what,breaks", BROKEN, ids=[b[0] for b in BROKEN])
def test_model_and_schema_refuse_the_same(emitted, schema_check, what, breaks):
    values = json.loads(json.dumps(emitted["catalog.yaml:prod"]))
    breaks(values)
    with pytest.raises(ValidationError):
        ChartValues.model_validate(values)
    with pytest.raises(fastjsonschema.JsonSchemaException):
        schema_check(values)


def _schema_at(path: str) -> dict:
    return next(s for p, s, _ in _walk(VALUES_SCHEMA) if p == path)


def _agrees(default, schema: dict, where: str):
    """A template default has the type the schema gives its key, and only the schema's keys."""
    assert isinstance(default, JSON_TYPES[schema.get("type", "object")]), where
    assert not (isinstance(default, bool) and schema.get("type") in ("integer", "number")), where
    if isinstance(default, dict) and default:
        props = schema["properties"]
        assert set(default) <= set(props), where
        for k, v in default.items():
            _agrees(v, props[k], f"{where}.{k}")


def _define(text: str, name: str) -> str:
    """The body of a {{- define "name" -}} … {{- end -}} of a helper template."""
    return text.split(f'{{{{- define "{name}" -}}}}\n', 1)[1].split("{{- end -}}", 1)[0]


@pytest.mark.parametrize("helper,key,model", ENTRY_DEFAULTS, ids=[e[1] for e in ENTRY_DEFAULTS])
def test_template_defaults_agree_with_the_schema(helper, key, model):
    """The defaults as helm reads them (the committed helper, parsed as YAML) are the model's,
    give every key of the entry a default, in schema order, of the type the schema says."""
    defaults = yaml.safe_load(_define((TEMPLATES / "_contract.tpl").read_text(), helper))
    assert defaults == entry_defaults(model), helper
    entry = VALUES_SCHEMA["properties"][key]["additionalProperties"]
    assert list(defaults) == list(entry["properties"]), helper
    for k, v in defaults.items():
        _agrees(v, _schema_at(f"{key}.<name>.{k}"), f"{key}.<name>.{k}")


@pytest.mark.parametrize("default", [True, 2, "30s", ["a"], {"enabled": True}])
def test_a_template_default_that_is_not_empty_is_refused(default):
    """The templates fill defaults in with sprig's merge, which replaces an entry's empty value
    (false, 0, "") with the default: a non-empty default would override what a user states."""
    model = create_model("Entry", __base__=ValuesModel, key=(type(default), default))
    with pytest.raises(ValueError, match=r"Entry\.key.* is not empty"):
        entry_defaults(model)


def test_empty_template_defaults_are_accepted():
    model = create_model("Entry", __base__=ValuesModel, on=(bool, False), n=(int, 0), s=(str, ""),
                         xs=(list, []), m=(dict, {}))
    assert entry_defaults(model) == {"on": False, "n": 0, "s": "", "xs": [], "m": {}}


def test_notes_name_keys_of_the_values():
    paths = {p for p, _s, _same in _walk(VALUES_SCHEMA)}
    assert set(NOTES) <= paths, set(NOTES) - paths


FAIL_CALL = re.compile(r'include "chartgen\.fail" \(dict "check" "([a-z0-9-]+)"(?: "args" \(list (.*)\))?\) -?}}')


def test_templates_fail_only_through_the_invariants_table():
    """Every check the templates make is a check of the table, called with as many arguments as
    its message takes; every check of the table is made; no other fail or required on the values
    (what the schema states is left to the schema)."""
    used: dict[str, int] = {}
    for path in sorted(TEMPLATES.rglob("*")):
        if not path.is_file() or path.name == "_contract.tpl":
            continue
        text = path.read_text()
        for m in FAIL_CALL.finditer(text):
            args = re.findall(r'\([^()]*\)|"[^"]*"|\$[\w.]+', m.group(2) or "")
            assert len(args) == len(BY_ID[m.group(1)].args), (path.name, m.group(0))
            used[m.group(1)] = used.get(m.group(1), 0) + 1
        fails = [line for line in text.splitlines() if re.search(r"\b(fail|required)\b", line)
                 and "chartgen.fail" not in line and "{{" in line and not line.lstrip().startswith(("{{/*", "Usage"))]
        assert fails in ([], ['{{- fail "dashboards/services.json is missing from the chart" }}']), (path.name, fails)
    assert set(used) == set(BY_ID)


def _edit(path: str, value):
    """A catalog edit: set (or, with None, delete) the key at a dotted path of catalog.yaml."""
    def apply(c: dict):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = c
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return apply


# check id -> a catalog.yaml edit that breaks it at the catalog level
CATALOG_CASES = {
    "unique-keys": _edit("externalServices.proxy", {"hosts": ["x.example.com"],
                                                    "ports": [{"name": "http", "port": 80, "protocol": "HTTP"}]}),
    "https-credential": _edit("environments.prod.gateway.credentialName", None),
    "weights-version": _edit("services.proxy.weights", {"v1": 90, "v3": 10}),
    "weights-sum": _edit("services.proxy.weights", {"v1": 90, "v2": 20}),
    "route-version": _edit("services.proxy.routes.0.version", "v9"),
    "mirror-version": _edit("services.proxy.mirror", {"version": "v9", "percent": 5}),
    "fault-action": _edit("services.receiver.faults.0", {"name": "chaos-test"}),
    "exposed-http-port": _edit("services.piper.ports.0.protocol", "TCP"),
    "gateway-port": _edit("services.localstack.expose.gatewayPort", 4567),
    "redirect-service": _edit("externalServices.aws.redirectTo.service", "nope"),
    "redirect-port": _edit("externalServices.aws.redirectTo.port", 4567),
    "unknown-call": _edit("services.proxy.calls", ["nobody"]),
    "jwt-issuer": _edit("environments.prod.gateway.jwt", {"issuer": "", "jwksUri": "https://idp.example.com/jwks"}),
    "jwt-jwks-uri": _edit("environments.prod.gateway.jwt", {"issuer": "https://idp.example.com", "jwksUri": ""}),
}


def test_every_check_the_catalog_can_break_has_a_case():
    assert set(CATALOG_CASES) == {inv.id for inv in INVARIANTS if inv.catalog_rule}


@pytest.mark.parametrize("check", sorted(CATALOG_CASES))
def test_the_catalog_refuses_what_a_check_refuses_with_its_rule(check):
    data = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    CATALOG_CASES[check](data)
    with pytest.raises(CatalogError) as err:
        parse_catalog(yaml.safe_dump(data, sort_keys=False))
    assert BY_ID[check].catalog_rule in {p.rule for p in err.value.problems}, err.value.problems


# --- one model per shape: the values sections that share a catalog model's name ---------------

# Sections named like a catalog model but shaped for the templates (an absent setting is written
# as its empty value, '' or 0, and sections carry `enabled`); each reason says how they differ.
DIFFERENT_SHAPES = {
    "Expose": "adds `enabled`; gatewayPort 0 is the main port (the catalog leaves it out)",
    "ExternalService": "the resolved entry: namespace, exportTo, the redirect as a section, envVar",
    "Fault": "its match is a list of Istio HTTPMatchRequests (the catalog: one Match)",
    "Gateway": "the whole ingress: api, name, namespace, selector, service; '' for no credentialName",
    "Jwt": "adds `enabled`",
    "Metrics": "adds `enabled`; port 0 and path '' when the service declares no metrics",
    "Mirror": "adds `enabled`; '' and 0 for no mirror",
    "RateLimit": "Envoy's token bucket (maxTokens, tokensPerFill, fillInterval) from requests/per/burst",
    "Retries": "every key written; '' for no perTryTimeout",
    "Route": "its match is a list of Istio HTTPMatchRequests (the catalog: one Match)",
    "Service": "the resolved service of one environment (no canary, slo or environments; the waypoint)",
    "ServiceAccount": "create and name, both written (the catalog's are optional)",
}
# a common key the values schema leaves looser than the catalog (follow-up: tightening it
# changes the chart's values.schema.json)
LOOSER = {
    ("Mirror", "version"),  # any string, where the catalog wants a DNS label
    ("Metrics", "path"),  # PLAIN_PATH refuses spaces only; the catalog refuses all whitespace
}


def _bounds(model) -> dict[str, dict]:
    """Each key's schema bounds (minimum, maximum, pattern), through an optional's anyOf."""
    out = {}
    for key, prop in model.model_json_schema().get("properties", {}).items():
        out[key] = {b: v for candidate in (prop, *prop.get("anyOf", [])) for b, v in candidate.items()
                    if b in ("minimum", "maximum", "pattern", "minLength", "maxLength")}
    return out


def _or_empty(catalog_bound: dict, values_bound: dict) -> bool:
    """The values bound is the catalog's widened by the empty value ('' or 0) alone."""
    pattern, widened = catalog_bound.get("pattern"), values_bound.get("pattern")
    if pattern and widened not in (pattern, f"^$|{pattern}", f"^({pattern[1:-1]})?$"):
        return False
    low, values_low = catalog_bound.get("minimum"), values_bound.get("minimum")
    return values_low in (low, 0) and values_bound.get("maximum") == catalog_bound.get("maximum")


def _shared_names() -> list[str]:
    from pydantic import BaseModel

    from chartgen.catalog import model as catalog
    from chartgen.chart import values_model

    def models(module):
        return {n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, BaseModel)
                and v.__module__ in ("chartgen.catalog.model", "chartgen.chart.values_model")}
    return sorted(models(catalog) & models(values_model))


def test_a_shape_the_values_share_with_the_catalog_is_defined_once():
    from chartgen.catalog import model as catalog
    from chartgen.chart import values_model

    shared = _shared_names()
    assert len(shared) >= 18
    derived = [n for n in shared if getattr(values_model, n).catalog_model is getattr(catalog, n)]
    assert set(shared) == set(derived) | set(DIFFERENT_SHAPES), \
        "derive the values section from the catalog model (values_model.catalog_shape) or say how it differs"
    assert not set(derived) & set(DIFFERENT_SHAPES)
    for name in derived:
        assert _bounds(getattr(values_model, name)) == _bounds(getattr(catalog, name)), name
        assert list(getattr(values_model, name).model_fields) == list(getattr(catalog, name).model_fields)


def test_the_shapes_written_twice_have_not_drifted():
    """Where a section is written out for the templates, a key both modules have keeps the
    catalog's bounds (widened only by the empty value that stands for 'not set')."""
    from chartgen.catalog import model as catalog
    from chartgen.chart import values_model

    drifted = []
    for name in DIFFERENT_SHAPES:
        ours, theirs = _bounds(getattr(values_model, name)), _bounds(getattr(catalog, name))
        for key in sorted(set(ours) & set(theirs)):
            if (name, key) not in LOOSER and not _or_empty(theirs[key], ours[key]):
                drifted.append(f"{name}.{key}: catalog {theirs[key]}, values {ours[key]}")
    assert drifted == []


def test_a_derived_shape_follows_the_catalog():
    """A bound changed in the catalog reaches the derived values section."""
    from typing import Annotated

    from pydantic import BaseModel, Field

    from chartgen.chart.values_model import catalog_shape

    class Pool(BaseModel):
        size: Annotated[int, Field(json_schema_extra={"minimum": 2, "maximum": 9})] | None = None
        wait: Annotated[str, Field(json_schema_extra={"pattern": "^[0-9]+s$"})]

    shape = catalog_shape(Pool, {"size": "Pool size.", "wait": "Wait."}, required="none")
    schema = shape.model_json_schema()
    assert schema["properties"]["size"]["anyOf"][0] == {"description": "Pool size.", "maximum": 9, "minimum": 2,
                                                        "type": "integer"}
    assert schema["properties"]["wait"]["pattern"] == "^[0-9]+s$" and schema["required"] == ["wait"]
    assert shape.schema_required == "none" and shape.catalog_model is Pool
