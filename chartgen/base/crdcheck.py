"""Validate objects against CustomResourceDefinitions the way a Kubernetes API server does.

For each object of a kind the set knows:

1. the object's metadata is checked as for any custom resource (name, namespace, labels);
2. the structural schema of the served version is walked: schema ``default``s are applied
   first (to a copy), unknown fields are rejected (strict field validation, what ``kubectl``
   asks for), then types, ``nullable``, enums, formats, patterns (RE2), bounds, list types
   and the ``oneOf``/``anyOf``/``allOf``/``not`` value validations;
3. every ``x-kubernetes-validations`` CEL rule is evaluated on the defaulted value
   (``cel-python``, with the Kubernetes CEL library functions the CRDs use: ``url()``,
   ``isURL()``, ``getScheme()``…, the string extensions ``substring``, ``split``…,
   ``isIP()``…). Transition rules (those reading ``oldSelf``) only run on updates and are
   skipped: every object here is a create.

Schemas are compiled once per (apiVersion, kind) and each CEL rule once per text; the
result of a rule is cached per value it judged, so thousands of similar objects cost little.

    crds = CRDSet.from_files([path])
    crds.knows("networking.istio.io/v1", "VirtualService")
    crds.validate(obj)  # [] when admitted, else [CRDViolation(path, message, rule), ...]

``rule`` is the CEL expression for a rule violation, or the schema keyword that failed
(``type``, ``required``, ``unknown field``, ``enum``, ``pattern``, ``oneOf``, …).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import re2
import yaml

from .schema_validators import compiled_validator
from .naming import parse_request_uri
from .usercache import load as load_entry, save as save_entry

__all__ = ["CRDSet", "CRDViolation"]


@dataclass(frozen=True, order=True)
class CRDViolation:
    path: str  # where, as the API server prints it (``spec.http[0].timeout``)
    message: str
    rule: str  # the CEL rule, or the schema keyword that failed

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# --- CEL: the Kubernetes library functions (shims for cel-python) -------------------------------

_CEL_LOCK = threading.Lock()  # the caches below are shared
_CEL_ENV = None
_PROGRAMS: dict[str, Any] = {}  # rule text -> program (or the compile error)
_RESULTS: dict[tuple[str, str], str | None] = {}  # (rule, value) -> None (passed) or why it failed
_RESULTS_MAX = 200_000
# Verdicts kept across runs (load_verdicts / save_verdicts), by _verdict_digest: a lint whose
# objects' rule inputs were all judged before never builds cel-python's parser (most of its
# CRD checks' time).
_SAVED: dict[str, str | None] = {}
_FRESH: dict[str, str | None] = {}  # worked out by this process, not saved yet
_SAVED_MAX = 100_000

_CEL_KEYWORDS = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
                 "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}
_CEL_IDENT = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _escape_property(name: str) -> str:
    """Kubernetes' escaping of property names in CEL (``namespace`` -> ``__namespace__``)."""
    if name in _CEL_KEYWORDS:
        return f"__{name}__"
    if _CEL_IDENT.fullmatch(name) and "__" not in name:
        return name
    out = name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__")
    return out.replace("/", "__slash__")


def _cel_functions() -> dict:
    from celpy import celtypes as t  # start-up: cel-python (lark) costs about 150 ms; only CEL rules need it

    S, I, B, L = t.StringType, t.IntType, t.BoolType, t.ListType

    def url(s):
        return parse_request_uri(str(s))

    def isURL(s):
        try:
            parse_request_uri(str(s))
        except ValueError:
            return B(False)
        return B(True)

    def getScheme(u):
        return S(u.scheme)

    def getHost(u):
        return S(u.host)

    def getHostname(u):
        host = u.host
        if host.startswith("["):
            return S(host[1:host.find("]")])
        return S(host.rpartition(":")[0] if ":" in host else host)

    def getPort(u):
        host = u.host
        tail = host[host.find("]") + 1:] if host.startswith("[") else host
        return S(tail.rpartition(":")[2] if ":" in tail else "")

    def getEscapedPath(u):
        return S(u.path)

    def getQuery(u):
        out: dict = {}
        for part in u.query.split("&") if u.query else []:
            key, _, value = part.partition("=")
            out.setdefault(S(key), []).append(S(value))
        return t.MapType({k: L(v) for k, v in out.items()})

    def substring(s, start, end=None):
        s = str(s)
        start = int(start)
        end = len(s) if end is None else int(end)
        if start < 0 or end > len(s) or start > end:
            raise ValueError(f"substring({start}, {end}) out of range for a string of {len(s)}")
        return S(s[start:end])

    def charAt(s, i):
        s, i = str(s), int(i)
        if i < 0 or i > len(s):
            raise ValueError("index out of range")
        return S(s[i:i + 1])

    def split(s, sep, limit=None):
        parts = str(s).split(str(sep)) if limit is None or int(limit) < 0 else \
            ([] if int(limit) == 0 else str(s).split(str(sep), int(limit) - 1))
        return L([S(p) for p in parts])

    def indexOf(s, sub, start=0):
        if isinstance(s, list):
            return I(next((i for i, x in enumerate(s) if x == sub), -1))
        return I(str(s).find(str(sub), int(start)))

    def lastIndexOf(s, sub, end=None):
        if isinstance(s, list):
            return I(max((i for i, x in enumerate(s) if x == sub), default=-1))
        return I(str(s).rfind(str(sub), 0, None if end is None else int(end) + len(str(sub))))

    def lowerAscii(s):
        return S("".join(c.lower() if c.isascii() else c for c in str(s)))

    def upperAscii(s):
        return S("".join(c.upper() if c.isascii() else c for c in str(s)))

    def replace(s, old, new, n=None):
        return S(str(s).replace(str(old), str(new), -1 if n is None else int(n)))

    def trim(s):
        return S(str(s).strip())

    def join(items, sep=""):
        return S(str(sep).join(str(x) for x in items))

    def isSorted(items):
        return B(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))

    def _ip(s):
        s = str(s)
        if "%" in s:
            raise ValueError("IP address with a zone")
        addr = ipaddress.ip_address(s)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            raise ValueError("IPv4-mapped IPv6 address")
        return addr

    def isIP(s):
        try:
            _ip(s)
        except ValueError:
            return B(False)
        return B(True)

    def isCIDR(s):
        try:
            ipaddress.ip_network(str(s), strict=False)
        except ValueError:
            return B(False)
        return B("/" in str(s))

    return {f.__name__: f for f in (url, isURL, getScheme, getHost, getHostname, getPort, getEscapedPath, getQuery,
                                    substring, charAt, split, indexOf, lastIndexOf, lowerAscii, upperAscii, replace,
                                    trim, join, isSorted, isIP, isCIDR)}


_FUNCTIONS: dict | None = None


def _environment():
    """One CEL environment for the process. The interpreted runner: cel-python's compiled
    runner gets ``has()`` wrong (it answers a Python bool, and true for absent fields)."""
    global _CEL_ENV, _FUNCTIONS
    if _CEL_ENV is None:
        import celpy  # start-up: cel-python (lark) costs about 150 ms; only CEL rules need it

        logging.getLogger("celpy").setLevel(logging.CRITICAL)
        _FUNCTIONS = _cel_functions()
        _CEL_ENV = celpy.Environment()
    return _CEL_ENV


def _program(rule: str):
    """The compiled program of a rule (cached per text); an Exception when it does not compile."""
    prog = _PROGRAMS.get(rule)
    if prog is None:
        env = _environment()
        try:
            prog = env.program(env.compile(rule), functions=_FUNCTIONS)
        except Exception as exc:  # noqa: BLE001 - a rule we cannot compile is reported, not raised
            prog = exc
        _PROGRAMS[rule] = prog
    return prog


def _short_error(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    text = str(args[0]) if args else str(exc)
    inner = args[2] if len(args) > 2 and isinstance(args[2], tuple) and args[2] else None
    if inner and text in ("evaluation error", "no such overload", "return error for overflow"):
        text = f"{text}: {inner[0]}"
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 160 else text[:157] + "..."


def _evaluate(rule: str, value: Any, to_cel) -> tuple[bool, str]:
    """(passed, error): error is set when the rule could not be evaluated."""
    prog = _program(rule)
    if isinstance(prog, Exception):
        return False, f"rule does not compile: {_short_error(prog)}"
    try:
        with _CEL_LOCK:
            result = prog.evaluate({"self": to_cel(value)})
    except Exception as exc:  # noqa: BLE001 - CELEvalError and friends
        return False, _short_error(exc)
    if isinstance(result, Exception):
        return False, _short_error(result)
    return bool(result), ""


def cel_check(rule: str, value: Any) -> bool:
    """Evaluate one CEL rule with ``self`` = ``value`` (plain JSON-like data); for tests and probes."""
    import celpy  # start-up: cel-python (lark) costs about 150 ms; only CEL rules need it

    passed, error = _evaluate(rule, value, celpy.json_to_cel)
    if error:
        raise ValueError(error)
    return passed


# --- the compiled schema -----------------------------------------------------------------------------

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_OBJECT_META = {"name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
                "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                "deletionGracePeriodSeconds", "managedFields", "selfLink"}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


CHECKED_FORMATS = {"ipv4", "ipv6", "cidr", "byte", "date-time", "date", "uuid"}


class _Node:
    """One schema node, compiled."""

    __slots__ = ("type", "props", "required", "items", "addl", "closed", "preserve", "int_or_string", "nullable",
                 "enum", "fmt", "pattern", "minimum", "maximum", "xmin", "xmax", "min_len", "max_len", "min_items",
                 "max_items", "min_props", "max_props", "list_type", "map_keys", "default", "rules", "one_of",
                 "any_of", "all_of", "not_", "embedded", "cel_names", "interesting", "defaults")

    def __init__(self, s: dict):
        s = s if isinstance(s, dict) else {}
        self.type = s.get("type")
        self.props = {k: _Node(v) for k, v in (s.get("properties") or {}).items()}
        self.required = list(s.get("required") or [])
        addl = s.get("additionalProperties")
        self.addl = _Node(addl) if isinstance(addl, dict) else None
        self.preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
        self.embedded = bool(s.get("x-kubernetes-embedded-resource"))
        self.closed = self.addl is None and addl is not True and not self.preserve and \
            (self.type == "object" or bool(self.props))
        self.items = _Node(s["items"]) if isinstance(s.get("items"), dict) else None
        self.int_or_string = bool(s.get("x-kubernetes-int-or-string"))
        self.nullable = bool(s.get("nullable"))
        self.enum = s.get("enum")
        self.fmt = s.get("format")
        self.pattern = s.get("pattern")
        self.minimum, self.maximum = s.get("minimum"), s.get("maximum")
        self.xmin, self.xmax = bool(s.get("exclusiveMinimum")), bool(s.get("exclusiveMaximum"))
        self.min_len, self.max_len = s.get("minLength"), s.get("maxLength")
        self.min_items, self.max_items = s.get("minItems"), s.get("maxItems")
        self.min_props, self.max_props = s.get("minProperties"), s.get("maxProperties")
        self.list_type = s.get("x-kubernetes-list-type")
        self.map_keys = list(s.get("x-kubernetes-list-map-keys") or [])
        self.default = s.get("default", _Node)
        self.rules = _compile_rules(s.get("x-kubernetes-validations") or [])
        self.one_of = s.get("oneOf")
        self.any_of = s.get("anyOf")
        self.all_of = s.get("allOf")
        self.not_ = s.get("not")
        self.cel_names = {k: _escape_property(k) for k in self.props}
        self._summarise_children()

    def _summarise_children(self) -> None:
        children = list(self.props.values()) + [n for n in (self.items, self.addl) if n is not None]
        # what the fast path leaves to the walk: CEL rules, list types, value formats
        self.interesting = bool(self.rules) or self.list_type in ("set", "map") or self.fmt in CHECKED_FORMATS \
            or any(c.interesting for c in children)
        self.defaults = self.default is not _Node or any(c.defaults for c in children)


def _compile_rules(validations: list) -> list[tuple]:
    """The ``x-kubernetes-validations`` checked on create: (rule, message, messageExpression,
    fieldPath, the fields the rule reads or None)."""
    rules = []
    for r in validations:
        text = str(r.get("rule", ""))
        if not text or re.search(r"\boldSelf\b", text):
            continue  # transition rules run on updates only
        message_expr = str(r.get("messageExpression") or "")
        rules.append((text, str(r.get("message") or ""), message_expr, str(r.get("fieldPath") or ""),
                      None if message_expr else _fields_read(text)))
    return rules


_SELF_FIELD = re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")
_SELF = re.compile(r"\bself\b")
PRESENT = "<present>"  # what a field read only through has() is judged with


def _fields_read(rule: str) -> tuple[tuple[str, bool], ...] | None:
    """The fields of ``self`` a rule reads, when it reads nothing else of ``self`` (its verdict
    then depends on those fields only, and is cached per their values), each with whether the
    rule only asks ``has()`` of it (then only its presence matters); else None."""
    fields = _SELF_FIELD.findall(rule)
    if len(_SELF.findall(rule)) != len(fields) or not fields:
        return None
    out = []
    for f in sorted(set(fields)):
        reads = len(re.findall(rf"\bself\.{f}\b(?!\s*\()", rule))
        out.append((f, reads == len(re.findall(rf"\bhas\(\s*self\.{f}\s*\)", rule))))
    return tuple(out)


# Rules applied to every label, host or port of every object, written in Python: the same
# verdicts as cel-python (tests/test_crdcheck.py compares them), a thousand times faster.
# None: the value is not of the kind the rule expects; CEL decides.
NATIVE_RULES = {
    '!self.contains("*")': lambda v: "*" not in v if isinstance(v, str) else None,
    'self.all(key, !key.contains("*"))': lambda v: all("*" not in k for k in v) if isinstance(v, dict) else None,
    "self.all(key, key.size() != 0)": lambda v: all(len(k) != 0 for k in v) if isinstance(v, dict) else None,
    'self != "*"': lambda v: v != "*" if isinstance(v, str) else None,
    "0 < self && self <= 65535": lambda v: 0 < v <= 65535 if isinstance(v, int) and not isinstance(v, bool) else None,
}


def _type_ok(t: str | None, value: Any, int_or_string: bool) -> bool:
    if int_or_string:
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if t is None:
        return True
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or \
            (isinstance(value, float) and value.is_integer())
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, (str, datetime.date))
    return isinstance(value, _TYPES.get(t, object))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, (str, datetime.date)):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fmt_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "ipv4":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
        if fmt == "ipv6":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
        if fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
        if fmt == "date-time":
            return bool(_DATE_TIME.fullmatch(value))
        if fmt == "date":
            datetime.date.fromisoformat(value)
            return True
        if fmt == "uuid":
            return bool(re.fullmatch(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", value))
    except ValueError:
        return False
    return True  # int32, int64, double… and formats the API server does not check


_PATTERNS: dict[str, Any] = {}


def re2_compile(pattern: str):
    """``pattern`` compiled by RE2 (what Go's regexp and Envoy accept); ValueError with RE2's
    reason otherwise. Cached; RE2's own logging of bad patterns is off."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        options = re2.Options()
        options.log_errors = False
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "invalid regular expression"
            compiled = ValueError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason))
        _PATTERNS[pattern] = compiled
    if isinstance(compiled, ValueError):
        raise compiled
    return compiled


def _pattern_ok(pattern: str, value: str) -> bool:
    try:
        return re2_compile(pattern).search(value) is not None
    except ValueError:
        return False


def _matches(schema: Any, value: Any) -> bool:
    """Whether ``value`` satisfies a value-validation schema (the branches of oneOf/anyOf/allOf/not)."""
    if not isinstance(schema, dict):
        return True
    if "type" in schema and not _type_ok(schema["type"], value, False):
        return False
    if isinstance(value, dict) and not _matches_object(schema, value):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, str) and "pattern" in schema and not _pattern_ok(schema["pattern"], value):
        return False
    if not _matches_compositions(schema, value):
        return False
    if "items" in schema and isinstance(value, list):
        return all(_matches(schema["items"], v) for v in value)
    return True


def _matches_object(schema: dict, value: dict) -> bool:
    if any(k not in value for k in schema.get("required") or []):
        return False
    return all(_matches(sub, value[k]) for k, sub in (schema.get("properties") or {}).items() if k in value)


def _matches_compositions(schema: dict, value: Any) -> bool:
    if "not" in schema and _matches(schema["not"], value):
        return False
    if "anyOf" in schema and not any(_matches(s, value) for s in schema["anyOf"]):
        return False
    if "allOf" in schema and not all(_matches(s, value) for s in schema["allOf"]):
        return False
    return "oneOf" not in schema or sum(1 for s in schema["oneOf"] if _matches(s, value)) == 1


def _exclusive_keys(one_of: list) -> list[str] | None:
    """The keys of the ``at most one of`` pattern Istio's CRDs use for oneof fields, else None."""
    keys: list[str] = []
    for branch in one_of:
        if not isinstance(branch, dict):
            return None
        if set(branch) == {"required"} and len(branch["required"]) == 1:
            keys.append(branch["required"][0])
        elif set(branch) == {"not"} and set(branch["not"]) == {"anyOf"}:
            for b in branch["not"]["anyOf"]:
                if not (isinstance(b, dict) and set(b) == {"required"}):
                    return None
        else:
            return None
    return keys


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Run:
    """One validation: the violations found so far."""

    __slots__ = ("out",)

    def __init__(self):
        self.out: list[CRDViolation] = []

    def add(self, path: str, message: str, rule: str) -> None:
        self.out.append(CRDViolation(path, message, rule))

    # The walk returns the (possibly defaulted) value; ``ok`` tells whether its type matched.
    def walk(self, node: _Node, value: Any, path: str) -> tuple[Any, bool]:
        if value is None:
            if node.nullable:
                return value, True
            if node.type is None and not node.int_or_string and not node.props:
                return value, True
            self.add(path, f"Invalid value: \"null\": {path or 'value'} in body must be of type "
                           f"{'integer or string' if node.int_or_string else node.type}", "type")
            return value, False
        if not _type_ok(node.type, value, node.int_or_string):
            want = "integer or string" if node.int_or_string else node.type
            self.add(path, f"Invalid value: \"{_type_name(value)}\": {path or 'value'} in body must be of type {want}",
                     "type")
            return value, False
        if isinstance(value, dict):
            value = self._object(node, value, path)
        elif isinstance(value, list):
            value = self._array(node, value, path)
        else:
            self._scalar(node, value, path)
        self._compositions(node, value, path)
        if node.rules:
            self._cel(node, value, path)
        return value, True

    def _object(self, node: _Node, value: dict, path: str) -> dict:
        out = value
        missing_defaults = [(k, sub) for k, sub in node.props.items() if k not in value and sub.default is not _Node]
        if missing_defaults:
            out = dict(value)
            for k, sub in missing_defaults:
                out[k] = json.loads(json.dumps(sub.default))
        for k, v in list(out.items()):
            sub = node.props.get(k)
            if sub is None:
                sub = node.addl
            if sub is None:
                if node.closed and not (node.embedded and k in ("apiVersion", "kind", "metadata")):
                    self.add(_join(path, str(k)), f"unknown field \"{_join(path, str(k))}\"", "unknown field")
                continue
            new, _ = self.walk(sub, v, _join(path, str(k)))
            if new is not v:
                if out is value:
                    out = dict(value)
                out[k] = new
        for k in node.required:
            if k not in out:
                self.add(_join(path, k), "Required value", "required")
        self._size(path, len(out), node.min_props, node.max_props, "properties", "Properties")
        return out

    def _array(self, node: _Node, value: list, path: str) -> list:
        out = value
        if node.items is not None:
            for i, v in enumerate(value):
                new, _ = self.walk(node.items, v, f"{path}[{i}]")
                if new is not v:
                    if out is value:
                        out = list(value)
                    out[i] = new
        self._size(path, len(out), node.min_items, node.max_items, "items", "Items")
        self._list_type(node, out, path)
        return out

    def _size(self, path: str, n: int, low: int | None, high: int | None, what: str, keyword: str) -> None:
        """minProperties/maxProperties or minItems/maxItems, in the API server's words."""
        if low is not None and n < low:
            self.add(path, f"Invalid value: {n}: {path} in body should have at least {low} {what}", f"min{keyword}")
        if high is not None and n > high:
            self.add(path, f"Too many: {n}: must have at most {high} items", f"max{keyword}")

    def _list_type(self, node: _Node, out: list, path: str) -> None:
        if node.list_type == "set":
            seen: list = []
            for i, v in enumerate(out):
                if v in seen:
                    self.add(f"{path}[{i}]", f"Duplicate value: {json.dumps(v, default=str)}", "x-kubernetes-list-type")
                seen.append(v)
        elif node.list_type == "map" and node.map_keys:
            seen_keys: set = set()
            for i, v in enumerate(out):
                if not isinstance(v, dict):
                    continue
                key = tuple(json.dumps(v.get(k), default=str) for k in node.map_keys)
                if key in seen_keys:
                    shown = ", ".join(f"{k}: {v.get(k)!r}" for k in node.map_keys)
                    self.add(f"{path}[{i}]", f"Duplicate value: {{{shown}}}", "x-kubernetes-list-map-keys")
                seen_keys.add(key)

    def light(self, node: _Node, value: Any, path: str) -> None:
        """After the structural fast path passed: only the parts it cannot judge (CEL rules,
        list types, formats), visiting only the subtrees that hold some."""
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                sub = node.props.get(k) or node.addl
                if sub is not None and sub.interesting:
                    self.light(sub, v, _join(path, str(k)))
        elif isinstance(value, list):
            if node.items is not None and node.items.interesting:
                for i, v in enumerate(value):
                    self.light(node.items, v, f"{path}[{i}]")
            self._list_type(node, value, path)
        elif isinstance(value, str) and node.fmt in CHECKED_FORMATS and not _fmt_ok(node.fmt, value):
            self.add(path, f"Invalid value: {json.dumps(value)}: {path} in body must be of type {node.fmt}", "format")
        if node.rules:
            self._cel(node, value, path)

    def _scalar(self, node: _Node, value: Any, path: str) -> None:
        if node.enum is not None and value not in node.enum:
            allowed = ", ".join(json.dumps(e) for e in node.enum)
            self.add(path, f"Unsupported value: {json.dumps(value, default=str)}: supported values: {allowed}", "enum")
        if isinstance(value, str):
            self._string(node, value, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(node, value, path)

    def _string(self, node: _Node, value: str, path: str) -> None:
        if node.max_len is not None and len(value) > node.max_len:
            self.add(path, f"Too long: may not be more than {node.max_len} bytes", "maxLength")
        if node.min_len is not None and len(value) < node.min_len:
            self.add(path, f"Invalid value: {json.dumps(value)}: {path} in body should be at least {node.min_len} "
                           "chars long", "minLength")
        if node.pattern and not _pattern_ok(node.pattern, value):
            self.add(path, f"Invalid value: {json.dumps(value)}: {path} in body should match '{node.pattern}'",
                     "pattern")
        if node.fmt and not _fmt_ok(node.fmt, value):
            self.add(path, f"Invalid value: {json.dumps(value)}: {path} in body must be of type {node.fmt}",
                     "format")

    def _number(self, node: _Node, value: int | float, path: str) -> None:
        if node.minimum is not None and (value < node.minimum or (node.xmin and value == node.minimum)):
            op = "greater than" if node.xmin else "greater than or equal to"
            self.add(path, f"Invalid value: {value}: {path} in body should be {op} {node.minimum}", "minimum")
        if node.maximum is not None and (value > node.maximum or (node.xmax and value == node.maximum)):
            op = "less than" if node.xmax else "less than or equal to"
            self.add(path, f"Invalid value: {value}: {path} in body should be {op} {node.maximum}", "maximum")

    def _one_of(self, node: _Node, value: Any, path: str) -> None:
        matched = sum(1 for s in node.one_of if _matches(s, value))
        if matched == 1:
            return
        keys = _exclusive_keys(node.one_of)
        if keys is not None and isinstance(value, dict):
            given = [k for k in keys if k in value]
            self.add(path, f"Invalid value: \"object\": only one of {', '.join(keys)} may be set "
                           f"(set: {', '.join(given)})", "oneOf")
        else:
            self.add(path, "Invalid value: \"object\": must validate one and only one schema (oneOf). "
                           f"Found {matched} valid alternatives", "oneOf")

    def _compositions(self, node: _Node, value: Any, path: str) -> None:
        if node.one_of is not None:
            self._one_of(node, value, path)
        if node.any_of is not None and not any(_matches(s, value) for s in node.any_of):
            if not (node.int_or_string and all(set(s) <= {"type"} for s in node.any_of if isinstance(s, dict))):
                self.add(path, "Invalid value: must validate at least one schema (anyOf)", "anyOf")
        if node.all_of is not None and not all(_matches(s, value) for s in node.all_of):
            self.add(path, "Invalid value: must validate all the schemas (allOf)", "allOf")
        if node.not_ is not None and _matches(node.not_, value):
            self.add(path, "Invalid value: must not validate the schema (not)", "not")

    def _cel(self, node: _Node, value: Any, path: str) -> None:
        whole_key: list = []
        converted: dict = {}

        for rule, message, message_expr, field_path, fields in node.rules:
            native = NATIVE_RULES.get(rule)
            verdict = native(value) if native is not None else None
            if verdict is not None:
                outcome = None if verdict else (message or f"failed rule: {rule}")
            else:
                judged = _judged(node, value, fields)
                if judged is value:
                    if not whole_key:
                        whole_key.append(_canonical(value))
                    key = whole_key[0]
                else:
                    key = _canonical(judged)
                outcome = _cel_outcome(node, value, judged, key, (rule, message, message_expr), converted)
            if outcome is not None:
                where = path + field_path if field_path.startswith((".", "[")) else path
                self.add(where, f"Invalid value: \"{_type_name(value)}\": {outcome}", rule)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _judged(node: _Node, value: Any, fields: tuple[tuple[str, bool], ...] | None) -> Any:
    """What a rule's verdict depends on: the fields it reads (only their presence for those it
    asks ``has()`` of), else the whole value."""
    if fields is None or not isinstance(value, dict):
        return value
    raw = {node_name: k for k, node_name in node.cel_names.items()}
    judged = {}
    for f, presence_only in fields:
        name = raw.get(f, f)
        if name in value:
            judged[name] = PRESENT if presence_only else value[name]
    return judged


def _cel_outcome(node: _Node, value: Any, judged: Any, key: str, rule_text: tuple[str, str, str],
                 converted: dict) -> str | None:
    """The failure message of a CEL rule on ``judged`` (None: it passed), cached by (rule, key);
    ``converted`` holds the CEL values already built for this node."""
    rule, message, message_expr = rule_text
    cache_key = (rule, key)
    outcome = _RESULTS.get(cache_key, _Node)
    if outcome is not _Node:
        return outcome
    digest = _verdict_digest(rule_text, key)
    outcome = _SAVED.get(digest, _Node)
    if outcome is _Node:
        outcome = _FRESH[digest] = _cel_verdict(node, value, judged, key, rule_text, converted)
    if len(_RESULTS) >= _RESULTS_MAX:
        _RESULTS.clear()
    _RESULTS[cache_key] = outcome
    return outcome


def _cel_verdict(node: _Node, value: Any, judged: Any, key: str, rule_text: tuple[str, str, str],
                 converted: dict) -> str | None:
    """The failure message of a CEL rule on ``judged`` (None: it passed), evaluated."""
    rule, message, message_expr = rule_text
    if key not in converted:
        converted[key] = _to_cel(node, judged)

    def to_cel(_ignored, _key=key):
        return converted[_key]

    passed, error = _evaluate(rule, judged, to_cel)
    if passed:
        outcome = None
    elif error:
        outcome = f"rule could not be evaluated ({error})"
    else:
        outcome = _message(message_expr, value, lambda _v: _to_cel(node, value)) or message or f"failed rule: {rule}"
    return outcome


def _verdict_digest(rule_text: tuple[str, str, str], key: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (*rule_text, key):
        digest.update((part or "").encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _verdicts_fingerprint() -> str:
    """What a saved verdict depends on besides its rule and value: this module (its CEL
    functions and shims) and cel-python's version."""
    from importlib.metadata import PackageNotFoundError, version  # start-up: about 35 ms; only saving or loading verdicts needs it

    try:
        cel = version("cel-python")
    except PackageNotFoundError:
        cel = ""
    return hashlib.sha256(Path(__file__).read_bytes() + cel.encode()).hexdigest()


VERDICTS = "cel-verdicts"


def load_verdicts(path: Path) -> None:
    """The CEL verdicts an earlier run saved at ``path`` (ignored when this module or
    cel-python changed since, or the entry fails ``usercache.load``'s checks). A verdict is
    ``true`` (passed) or the failure's message; an entry of any other value is left out, so
    that rule is evaluated again."""
    data = load_entry(path, VERDICTS, _verdicts_fingerprint())
    if not isinstance(data, dict):
        return
    _SAVED.update({digest: None if verdict is True else verdict for digest, verdict in data.items()
                   if isinstance(digest, str) and (verdict is True or (isinstance(verdict, str) and verdict))})


def fresh_verdicts() -> dict[str, str | None]:
    """The verdicts this process worked out and has not saved yet (a forked worker hands them
    to its parent, which ``add_verdicts`` and saves them)."""
    return dict(_FRESH)


def add_verdicts(verdicts: dict[str, str | None]) -> None:
    _FRESH.update(verdicts)


def save_verdicts(path: Path) -> None:
    """Keep the verdicts worked out since the last save at ``path`` for the next run (written
    atomically; an unwritable cache is no error)."""
    if not _FRESH:
        return
    verdicts = {**_SAVED, **_FRESH} if len(_SAVED) + len(_FRESH) <= _SAVED_MAX else dict(_FRESH)
    if not save_entry(path, VERDICTS, _verdicts_fingerprint(),
                      {digest: True if outcome is None else outcome for digest, outcome in verdicts.items()}):
        return
    _SAVED.update(_FRESH)
    _FRESH.clear()


def _message(expression: str, value: Any, to_cel) -> str:
    if not expression:
        return ""
    prog = _program(expression)
    if isinstance(prog, Exception):
        return ""
    try:
        with _CEL_LOCK:
            out = prog.evaluate({"self": to_cel(value)})
    except Exception:  # noqa: BLE001
        return ""
    return str(out) if isinstance(out, str) else ""


def _to_cel(node: _Node | None, value: Any):
    """CEL values with Kubernetes' property-name escaping (``namespace`` -> ``__namespace__``)."""
    from celpy import celtypes as t  # start-up: cel-python (lark) costs about 150 ms; only CEL rules need it

    if isinstance(value, dict):
        names = node.cel_names if node is not None else {}
        out = {}
        for k, v in value.items():
            sub = node.props.get(k) if node is not None else None
            if sub is None and node is not None:
                sub = node.addl
            out[t.StringType(names.get(k, k))] = _to_cel(sub, v)
        return t.MapType(out)
    if isinstance(value, list):
        sub = node.items if node is not None else None
        return t.ListType([_to_cel(sub, v) for v in value])
    if isinstance(value, bool):
        return t.BoolType(value)
    if isinstance(value, int):
        return t.IntType(value)
    if isinstance(value, float):
        return t.DoubleType(value)
    if value is None:
        return None
    return t.StringType(str(value))


# --- metadata -----------------------------------------------------------------------------------------


def _check_metadata(meta: Any, run: _Run, namespaced: bool) -> None:
    if not isinstance(meta, dict):
        run.add("metadata", "Required value: name or generateName is required", "required")
        return
    for k in meta:
        if k not in _OBJECT_META:
            run.add(f"metadata.{k}", f"unknown field \"metadata.{k}\"", "unknown field")
    _check_name(meta, run)
    ns = meta.get("namespace")
    if ns is not None and namespaced and (len(str(ns)) > 63 or not _DNS_LABEL.fullmatch(str(ns))):
        run.add("metadata.namespace", f"Invalid value: {json.dumps(str(ns))}: a lowercase RFC 1123 label must consist "
                                      "of lower case alphanumeric characters or '-'", "metadata")
    labels = _string_map(meta, "labels", run)
    if labels is not None:
        for v in labels.values():
            if not isinstance(v, str) or (v and (len(v) > 63 or not _LABEL_NAME.fullmatch(v))):
                run.add("metadata.labels", f"Invalid value: {json.dumps(v, default=str)}: a valid label must be "
                                            "an empty string or consist of alphanumeric characters, '-', '_' or "
                                            "'.', and must start and end with an alphanumeric character", "metadata")
    annotations = _string_map(meta, "annotations", run)
    if annotations is not None:
        for k, v in annotations.items():
            if not isinstance(v, str):
                run.add(f"metadata.annotations.{k}", "Invalid value: annotation values must be strings", "type")
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > 256 * 1024:
            run.add("metadata.annotations", f"Too long: must have at most {256 * 1024} bytes", "metadata")


def _check_name(meta: dict, run: _Run) -> None:
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        run.add("metadata.name", "Required value: name or generateName is required", "required")
    elif name is not None:
        name = str(name)
        if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            run.add("metadata.name", f"Invalid value: {json.dumps(name)}: a lowercase RFC 1123 subdomain must consist "
                                     "of lower case alphanumeric characters, '-' or '.', and must start and end with "
                                     "an alphanumeric character", "metadata")


def _string_map(meta: dict, field: str, run: _Run) -> dict | None:
    """``metadata.labels`` or ``metadata.annotations`` with each key checked as a qualified name;
    None when absent or not a map (that is reported)."""
    value = meta.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        run.add(f"metadata.{field}", "Invalid value: must be a map of strings", "type")
        return None
    for k in value:
        if not _qualified_name_ok(str(k)):
            run.add(f"metadata.{field}", f"Invalid value: {json.dumps(str(k))}: name part must consist of "
                                         "alphanumeric characters, '-', '_' or '.'", "metadata")
    return value


def _qualified_name_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


# --- the set -----------------------------------------------------------------------------------------


@dataclass
class _Version:
    schema: dict
    served: bool
    namespaced: bool
    preserve_all: bool
    compiled: _Node | None = None
    fast: Any = None  # the structural fast path (a fastjsonschema validator), once built; False: none
    seen: int = 0  # objects validated so far (the fast path is built for kinds seen often)


FAST_AFTER = 20  # objects of one kind before its structural fast path is built


# keywords left out of the structural schema: documentation, and what the walk checks
_LEFT_OUT = frozenset({"description", "nullable", "format", "default", "example", "externalDocs", "title"})


def _json_schema(s: Any, root: bool = False) -> Any:
    """The structural part of a CRD schema as plain JSON Schema (draft 7): what fastjsonschema
    compiles for the fast path. Rules, list types, formats and defaults are left out: the walk
    checks those (``_Run.light``)."""
    if not isinstance(s, dict):
        return s
    out = {k: _json_schema_entry(k, v) for k, v in s.items()
           if not k.startswith("x-kubernetes-") and k not in _LEFT_OUT}
    _kubernetes_extensions(s, out, root)
    return out


def _json_schema_entry(k: str, v: Any) -> Any:
    if k == "properties":
        return {pk: _json_schema(pv) for pk, pv in v.items()}
    if k in ("items", "not") or (k == "additionalProperties" and isinstance(v, dict)):
        return _json_schema(v)
    if k in ("oneOf", "anyOf", "allOf"):
        return [_json_schema(x) for x in v]
    return v


def _kubernetes_extensions(s: dict, out: dict, root: bool) -> None:
    """What the API server's structural schema implies beyond plain JSON Schema."""
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    elif s.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    props = out.setdefault("properties", {}) if root or s.get("x-kubernetes-embedded-resource") else None
    if props is not None:
        for implicit in ("apiVersion", "kind", "metadata"):
            props.setdefault(implicit, {})
    closed = (s.get("type") == "object" or "properties" in s) and not s.get("x-kubernetes-preserve-unknown-fields")
    if closed and "additionalProperties" not in s:
        out["additionalProperties"] = False


def _fast_validator(version: _Version):
    """A compiled structural validator for ``version`` (built in this process, never read from
    the user's cache); False when it cannot be had."""
    if version.fast is None:
        version.fast = False
        try:
            version.fast = _compile_cached(_json_schema(version.schema, root=True)) if not version.preserve_all \
                else False
        except Exception:  # noqa: BLE001 - no fast path: the walk does everything
            version.fast = False
    return version.fast


def _compile_cached(schema: dict):
    return compiled_validator(schema, name="crd structural validator")


class CRDSet:
    """The CRDs an API server would have installed; validates objects of their kinds."""

    def __init__(self, versions: dict[tuple[str, str], _Version]):
        self._versions = versions

    @classmethod
    def from_documents(cls, docs: Iterable[Any]) -> CRDSet:
        versions: dict[tuple[str, str], _Version] = {}
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            if not str(doc.get("apiVersion", "")).startswith("apiextensions.k8s.io/"):
                continue
            spec = doc.get("spec") or {}
            group = str(spec.get("group", ""))
            kind = str((spec.get("names") or {}).get("kind", ""))
            namespaced = spec.get("scope", "Namespaced") == "Namespaced"
            preserve = bool(spec.get("preserveUnknownFields"))
            common = ((spec.get("validation") or {}).get("openAPIV3Schema")) or {}
            for v in spec.get("versions") or [{"name": spec.get("version"), "served": True}]:
                if not isinstance(v, dict) or not v.get("name"):
                    continue
                schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or common
                versions[(f"{group}/{v['name']}" if group else str(v["name"]), kind)] = \
                    _Version(schema, bool(v.get("served", True)), namespaced, preserve)
        return cls(versions)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> CRDSet:
        docs: list = []
        for p in paths:
            text = Path(p).read_text(encoding="utf-8")
            docs += [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))]
        return cls.from_documents(docs)

    def knows(self, api_version: str, kind: str) -> bool:
        return (str(api_version), str(kind)) in self._versions

    def kinds(self) -> list[tuple[str, str]]:
        return sorted(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def _compiled(self, version: _Version) -> _Node:
        if version.compiled is None:
            root = _Node(version.schema)
            # the API server owns apiVersion, kind and metadata at the root
            for implicit in ("apiVersion", "kind", "metadata"):
                root.props.setdefault(implicit, _Node({}))
            if version.preserve_all:
                root.closed = False
            version.compiled = root
        return version.compiled

    def validate(self, obj: dict) -> list[CRDViolation]:
        """Every reason the API server would refuse to create ``obj`` ([] when it admits it)."""
        if not isinstance(obj, dict):
            return [CRDViolation("", "an object must be a map", "type")]
        key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        version = self._versions.get(key)
        if version is None:
            return [CRDViolation("", f"no CustomResourceDefinition for {key[1]} in {key[0]}", "kind")]
        if not version.served:
            return [CRDViolation("apiVersion", f"version {key[0]} of {key[1]} is not served", "served")]
        run = _Run()
        _check_metadata(obj.get("metadata"), run, version.namespaced)
        body = {k: v for k, v in obj.items() if k != "metadata"}
        root = self._compiled(version)
        version.seen += 1
        fast = _fast_validator(version) if version.seen > FAST_AFTER and not root.defaults else None
        if fast:
            try:
                fast(body)
            except Exception:  # noqa: BLE001 - any refusal: the full walk says why, every reason
                fast = None
        if fast:
            run.light(root, body, "")
        else:
            run.walk(root, body, "")
        return sorted(set(run.out), key=lambda v: (v.path, v.rule, v.message))
