"""Catalog loading and validation: the structural rules (the pydantic model, its errors
turned into located problems) and then the semantic rules of ``chartgen.catalog.rules``.

Every problem is collected, located through the SourceMap and reported at once.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .model import API_VERSION, KIND, PATH_UNION_TAGS, Catalog
from ..base.errors import CatalogError, InvalidEdit, Problem
from .rules import check_semantics
from ..base.reading import decode, nesting_problem, os_error_message
from ..base.yamlsrc import SourceMap, format_path, load_yaml


_TYPE_NAMES = {
    "int_type": "integer", "int_parsing": "integer", "int_from_float": "integer",
    "float_type": "number", "float_parsing": "number", "string_type": "string", "bool_type": "boolean",
    "bool_parsing": "boolean", "dict_type": "a mapping", "list_type": "a list", "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(value) -> str:
    if isinstance(value, bool):
        return "boolean " + ("true" if value else "false")
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _unwrap(tp):
    """Peel Annotated/Optional/list/dict down to the model classes a path can reach."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _unwrap(arg)
    return tp


def _fields_at(loc: tuple) -> list[str]:
    """Field names of the model found at ``loc`` (for "did you mean")."""
    tp = Catalog
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            tp = field.annotation
            continue
        origin = typing.get_origin(tp)
        if origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's synthetic loc parts (function-after[...], union tags)."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and "(" in p or p.startswith("function-")
                                                                or p in PATH_UNION_TAGS)))


def _key_problem(err: dict, loc: tuple, smap: SourceMap) -> Problem:
    """A mapping key itself is invalid: point at the key."""
    line, col = smap.key_pos(loc)
    text = err["msg"]
    if err.get("ctx", {}).get("expected"):
        text = f"expected {err['ctx']['expected']}, got {err['ctx'].get('got', repr(err.get('input')))}"
    elif err["type"] == "string_pattern_mismatch":
        text = f"expected a key matching {err['ctx']['pattern']}, got {_describe(err.get('input'))}"
    return Problem(smap.file, line, col, format_path(loc[:-1]), f"key '{loc[-1]}': {text}", err["type"])


def _missing(err: dict, loc: tuple, smap: SourceMap) -> Problem:
    line, col = smap.value_pos(loc[:-1])
    return Problem(smap.file, line, col, format_path(loc[:-1]), f"required key '{loc[-1]}' is missing", "required")


def _unknown_key(err: dict, loc: tuple, smap: SourceMap) -> Problem:
    line, col = smap.key_pos(loc)
    known = _fields_at(loc[:-1])
    hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    msg = f"unknown key '{loc[-1]}'"
    if hint:
        msg += f" (did you mean '{hint[0]}'?)"
    elif known:
        msg += f" (expected one of: {', '.join(known)})"
    return Problem(smap.file, line, col, format_path(loc[:-1]), msg, "unknown-key")


def _enum(err: dict, value) -> str:
    return f"expected one of {err.get('ctx', {}).get('expected', '')}, got {_describe(value)}"


def _length(err: dict, value) -> str:
    msg = err["msg"].replace("List should", "expected a list that should").replace("Dictionary should",
                                                                                     "expected a mapping that should")
    return f"{msg}, got {_describe(value)}" if not isinstance(value, (list, dict)) else msg


_BOUNDS = {"ge": "≥", "le": "≤", "gt": ">", "lt": "<"}


def _range(err: dict, value) -> str:
    bound = " and ".join(f"{_BOUNDS.get(k, '<')} {v}" for k, v in err.get("ctx", {}).items())
    return f"expected a number {bound}, got {_describe(value)}"


def _pattern(err: dict, value) -> str:
    return f"expected a string matching {err['ctx']['pattern']}, got {_describe(value)}"


def _type(err: dict, value) -> str:
    return f"expected {_TYPE_NAMES[err['type']]}, got {_describe(value)}"


# pydantic's error type -> (the catalog rule it reports, its message); any other type is
# reported as is (the catalog model's own rules, chartgen.catalog.model, raise their rule id)
PYDANTIC_RULES = {
    **{etype: ("type", _type) for etype in _TYPE_NAMES},
    "literal_error": ("enum", _enum),
    "too_short": ("length", _length),
    "too_long": ("length", _length),
    **{etype: ("range", _range) for etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than")},
    "string_pattern_mismatch": ("pattern", _pattern),
    "string_too_short": ("length", lambda err, value: f"expected a non-empty string, got {_describe(value)}"),
}
_LOCATED_AT_PARENT = {"missing": _missing, "extra_forbidden": _unknown_key}


def _problem_from_error(err: dict, smap: SourceMap) -> Problem:
    loc = _clean_loc(err["loc"])
    if loc and loc[-1] == "[key]":
        return _key_problem(err, loc[:-1], smap)
    if err["type"] in _LOCATED_AT_PARENT:
        return _LOCATED_AT_PARENT[err["type"]](err, loc, smap)
    line, col = smap.value_pos(loc)
    rule, message = PYDANTIC_RULES.get(err["type"], (err["type"], lambda err, value: err["msg"]))
    return Problem(smap.file, line, col, format_path(loc), message(err, err.get("input")), rule)


def _problems_from_pydantic(exc: ValidationError, smap: SourceMap) -> list[Problem]:
    return [_problem_from_error(err, smap) for err in exc.errors(include_url=False)]


def parse_edited(text: str, file: str) -> Catalog:
    """The catalog an in-place edit's text parses to; ``InvalidEdit`` (nothing written) if the
    edit would leave it invalid."""
    try:
        return parse_catalog(text, file)[0]
    except CatalogError as exc:
        raise InvalidEdit(exc.problems) from None


def parse_catalog(text: str, file: str = "catalog.yaml") -> tuple[Catalog, SourceMap]:
    """Parse and validate catalog text. Raises CatalogError with every problem."""
    try:
        return _parse_catalog(text, file)
    except RecursionError:
        raise nesting_problem(file, "catalog") from None


def _parse_catalog(text: str, file: str) -> tuple[Catalog, SourceMap]:
    data, smap, problems = load_yaml(text, file)
    if problems and data is None:
        raise CatalogError(problems)
    if not isinstance(data, dict):
        raise CatalogError([Problem(file, 1, 1, "", f"expected a mapping (the catalog), got {_describe(data)}", "type")])
    structural: list[Problem] = []
    pruned: set[str] = set()
    catalog = None
    for attempt in range(8):
        try:
            catalog = Catalog.model_validate(data)
            break
        except ValidationError as exc:
            if attempt == 0:  # only the first pass speaks of the user's file
                structural = _problems_from_pydantic(exc, smap)
            data, cut = _prune(data, exc)
            if not cut:
                break
            pruned |= cut
    if catalog is None:
        raise CatalogError(problems + structural)
    problems += structural + check_semantics(catalog, smap, assumed=pruned)
    if problems:
        raise CatalogError(problems)
    return catalog, smap


_PRUNABLE = ("services", "environments", "externalServices")
_SETTINGS = ("defaults", "metadata", "versions", "istio", "observability")


def _prune(data: dict, exc: ValidationError) -> tuple[dict, set[str]]:
    """Drop the smallest parts that failed structurally (a service's field, an environment's
    field, …) so that the semantic rules can still run on everything else. Returns the
    pruned data and the names of services/environments touched (empty: nothing could be)."""
    data = copy.deepcopy(data)
    cut: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = [p for p in _clean_loc(err["loc"]) if p != "[key]"]
        if loc and loc[0] in ("apiVersion", "kind"):
            data[loc[0]] = API_VERSION if loc[0] == "apiVersion" else KIND
            cut.add(loc[0])
        elif _stand_in_port(data, loc):
            cut.add(str(loc[1]))
        else:
            depth = _prune_depth(loc, err["type"])
            if depth == 0:
                return data, set()
            if _drop(data, loc, depth):
                cut.add(str(loc[1]))
            elif depth == 2 and isinstance(data.get(loc[0]), dict):
                return data, set()
    return data, cut


def _stand_in_port(data: dict, loc: list) -> bool:
    """Keep a service with a broken port: stand a neutral placeholder in for the port."""
    if not (len(loc) >= 4 and loc[0] == "services" and loc[2] == "ports" and isinstance(loc[3], int)):
        return False
    try:
        data["services"][loc[1]]["ports"][loc[3]] = {"name": f"invalid-{loc[3]}", "port": 65535 - loc[3]}
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _prune_depth(loc: list, etype: str) -> int:
    """How many parts of ``loc`` name what to drop (0: nothing can be)."""
    if len(loc) >= 2 and loc[0] in _PRUNABLE:
        return _entry_depth(loc, etype)
    if len(loc) >= 2 and loc[0] in _SETTINGS:
        return 2 if etype != "missing" else 0
    return 0


def _entry_depth(loc: list, etype: str) -> int:
    """Within a service, environment or external service: the broken field (an environment's
    service override's field; a gateway's field, not the gateway, whose defaults would raise
    more), or the whole entry when a required part is broken."""
    if etype == "missing" or (loc[0] == "services" and len(loc) >= 3 and loc[2] == "ports"):
        depth = 2
    elif len(loc) >= 4 and loc[0] == "environments" and loc[2] == "gateway":
        depth = 4
    elif len(loc) >= 5 and loc[0] == "environments" and loc[2] == "services":
        depth = 5
    else:
        depth = 3
    depth = min(depth, len(loc))
    while depth > 2 and not isinstance(loc[depth - 1], str):
        depth -= 1
    return depth


def _drop(data: dict, loc: list, depth: int) -> bool:
    """Delete ``loc[:depth]`` from ``data``; False if it is not there."""
    parent = data
    for part in loc[: depth - 1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if isinstance(parent, dict) and loc[depth - 1] in parent:
        del parent[loc[depth - 1]]
        return True
    return False


def load_catalog(path: str | Path) -> Catalog:
    """Load and validate the catalog at ``path``."""
    return parse_catalog(read_catalog_text(path), str(path))[0]


def read_catalog_text(path: str | Path) -> str:
    """The catalog's text; an unreadable or non-UTF-8 file is a located problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError([Problem(str(path), 0, 0, "", os_error_message(exc, path, "read the catalog"), "io")]) from None
    return decode(data, str(path), "catalog")


