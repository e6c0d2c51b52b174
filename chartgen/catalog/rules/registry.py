"""The table of catalog rules: each rule an id, a one-line summary, a catalog that breaks it
and the same catalog fixed, and the small functions that check it.

A check is a pure function that yields ``Hit``s (a catalog path and a message); the runner
(``chartgen.catalog.rules.check_semantics``) locates each hit in the source and tags it with the
rule's id. Rules with no check are enforced by the catalog model (``chartgen.catalog.model``) or
by the YAML reader (``chartgen.base.yamlsrc``): they are listed so that every rule id chartgen
can report is documented (docs/catalog-rules.md is generated from this table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Where a check runs: once per catalog, per environment, per layer (the environment-neutral
# layer and each environment, every service resolved), or per service of a layer.
CATALOG, ENVIRONMENT, LAYER, SERVICE = "catalog", "environment", "layer", "service"
SCOPES = (CATALOG, ENVIRONMENT, LAYER, SERVICE)
# What enforces a rule: the semantic checks below, the catalog model, or the YAML reader.
SEMANTIC, MODEL, READER = "semantic", "model", "reader"


@dataclass(frozen=True)
class Hit:
    """One located problem, before it is placed in the source: ``loc`` is the catalog path;
    ``key`` points at the mapping key of ``loc`` rather than at its value."""

    loc: tuple
    message: str
    key: bool = False


Check = Callable[..., Iterable[Hit]]


@dataclass
class Rule:
    id: str
    summary: str
    section: str
    fail: str | None  # a catalog (or the parts of one that matter, see example_catalog)
    ok: str
    source: str = SEMANTIC
    note: str = ""  # when no catalog text can show the rule broken (fail is None): how it happens
    model_too: bool = False  # a semantic rule whose id the catalog model reports as well
    checks: list[tuple[str, Check]] = field(default_factory=list)


RULES: dict[str, Rule] = {}

# What every example gets unless it has its own (see example_catalog)
EXAMPLE_HEAD = "apiVersion: chartgen.io/v1\nkind: ServiceCatalog\n"
EXAMPLE_METADATA = "metadata: {name: shop, domain: shop.example}\n"
EXAMPLE_SERVICES = "services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
EXAMPLE_ENVIRONMENTS = "environments:\n  dev: {gateway: {https: false}}\n"


def example_catalog(text: str) -> str:
    """A whole catalog from an example: apiVersion, kind and metadata, the example, then a
    web service and a dev environment, each part unless the example has its own."""

    def has(key: str) -> bool:
        return re.search(rf"^{key}:", text, re.M) is not None

    head = ("" if has("apiVersion") else EXAMPLE_HEAD) + ("" if has("metadata") else EXAMPLE_METADATA)
    tail = ("" if has("services") else EXAMPLE_SERVICES) + ("" if has("environments") else EXAMPLE_ENVIRONMENTS)
    return head + text + tail


def rule(id: str, summary: str, *, section: str, fail: str | None, ok: str, source: str = SEMANTIC,
         scope: str | None = None, note: str = "", model_too: bool = False):
    """Register a rule. With ``scope``, a decorator that registers its first check."""
    if id in RULES:
        raise ValueError(f"rule {id} is registered twice")
    RULES[id] = Rule(id, summary, section, fail, ok, source, note, model_too=model_too)
    if scope is None:
        return None
    return check(id, scope)


def check(id: str, scope: str):
    """A decorator that adds a check to rule ``id`` (a rule may be checked at several scopes)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    def register(fn: Check) -> Check:
        RULES[id].checks.append((scope, fn))
        return fn

    return register


def checks(scope: str) -> list[tuple[str, Check]]:
    """(rule id, check) of every check at ``scope``, in the table's order."""
    return [(r.id, fn) for r in RULES.values() for s, fn in r.checks if s == scope]
