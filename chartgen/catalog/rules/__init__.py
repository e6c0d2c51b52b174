"""The catalog's rules, one small check per rule, in one table (``RULES``).

``check_semantics`` runs every check of the table on a structurally valid catalog and
returns the located problems. docs/catalog-rules.md is generated from the table
(``chartgen.catalog.rules.doc``). To add a rule: register it in the module of its concern with
``rule(...)`` (id, one-line summary, a failing and a passing example) and decorate its check.
"""

from __future__ import annotations

from ..model import Catalog
from ...base.errors import Problem
from ...base.yamlsrc import SourceMap, format_path
# the order of the imports is the order of the table (and of docs/catalog-rules.md)
from . import model, names, identities, environments, production, traffic, dataplane, revisions  # noqa: F401, I001  (they register the rules)
from .context import Context
from .registry import CATALOG, ENVIRONMENT, LAYER, RULES, SERVICE, Hit, Rule, checks, example_catalog

__all__ = ["RULES", "Hit", "Rule", "check_semantics", "example_catalog"]


def _hits(ctx: Context):
    """(rule id, hit) of every check: per catalog, per environment, per layer, per service."""
    for rule_id, fn in checks(CATALOG):
        yield from ((rule_id, h) for h in fn(ctx))
    env_checks = checks(ENVIRONMENT)
    for name, env in ctx.catalog.environments.items():
        for rule_id, fn in env_checks:
            yield from ((rule_id, h) for h in fn(ctx, name, env))
    layer_checks, service_checks = checks(LAYER), checks(SERVICE)
    for layer in ctx.layers:
        for rule_id, fn in layer_checks:
            yield from ((rule_id, h) for h in fn(ctx, layer))
        for key, svc in layer.services.items():
            for rule_id, fn in service_checks:
                yield from ((rule_id, h) for h in fn(ctx, layer, key, svc))


def check_semantics(catalog: Catalog, smap: SourceMap, assumed: set[str] = frozenset()) -> list[Problem]:
    """Every semantic problem of ``catalog``, located in ``smap`` (once each, in check order).
    ``assumed``: names dropped for structural errors, which are not reported again."""
    ctx = Context(catalog, smap, frozenset(assumed))
    out: dict[Problem, None] = {}
    for rule_id, hit in _hits(ctx):
        line, col = smap.key_pos(hit.loc) if hit.key else smap.value_pos(hit.loc)
        out.setdefault(Problem(smap.file, line, col, format_path(hit.loc), hit.message, rule_id))
    return list(out)
