"""Istio 1.30.3's validating webhook, ported: the Go checks an API server asks istiod to run
on every Istio object after the CRD schema and CEL rules have passed.

Ported from ``pkg/config/validation/validation.go``, ``virtualservice.go``,
``header_value_validator.go``, ``agent/validation.go``, ``envoyfilter/envoyfilter.go`` and
``pkg/config/security/security.go`` of istio/istio at tag 1.30.3 (Apache-2.0), for the kinds
chartgen emits: VirtualService, DestinationRule, Gateway, ServiceEntry, Sidecar,
AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Telemetry, EnvoyFilter.
Only what the webhook *rejects* is reported (its warnings admit the object). Each error
carries the name of the Istio function that raises it (``validateHTTPRetry``…), which is
the finding's code; the Python function that ports it has the same name in Python's form
(``validate_http_retry``). Not ported: EnvoyFilter patch values decoded as Envoy protobufs, and
JWKS documents parsed as keys (both need Envoy's and jose's type registries).

Objects are plain dicts as rendered (camelCase field names, the JSON form of the protos);
a field of the wrong type is the schema's finding, so here it reads as absent.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Iterator

from ..base.crdcheck import re2_compile
from ..base.naming import duration_ns, parse_request_uri

Error = tuple[str, str]  # (Istio check name, message)

# --- helpers shared by the checks (pkg/config/labels, pkg/config/host, agent/validation.go) ----------------

_DNS1123_LABEL = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_WILDCARD_LABEL = re.compile(r"^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$")
_QUALIFIED = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS_PREFIX = r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/"
_TAG_KEY = re.compile(rf"^({_DNS_PREFIX})?({_QUALIFIED})$")
_LABEL_VALUE = re.compile(rf"^({_QUALIFIED})?$")
_TCHARS = r"!#$%&'*+\-.^_`|~A-Za-z0-9"
_HEADER_NAME = re.compile(rf"^[{_TCHARS}]+$")
_STRICT_HEADER_NAME = re.compile(r"^[-_A-Za-z0-9]+$")
_HEADER_VALUE = re.compile("^[^\u0000-\u0008\u000A-\u001F\u007F]*$")
_PSEUDO_HEADERS = {":method", ":scheme", ":authority", ":path", ":status"}
_JWT_CLAIM = "@request.auth.claims"
UNIX = "unix://"

RETRY_ON = {"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
            "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
            "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted",
            "unavailable"}
CORS_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"}
GRPC_STATUS = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
               "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
               "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
# Go's net/http StatusText: the codes it names
HTTP_STATUS_TEXT = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304,
                    305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
                    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
                    506, 507, 508, 510, 511}
PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP",
             "http_proxy": "HTTP_PROXY", "http2": "HTTP2", "https": "HTTPS", "tls": "TLS", "mongo": "Mongo",
             "redis": "Redis", "mysql": "MySQL"}
ALLOWED_TARGET_REFS = {("core", "Service"), ("networking.istio.io", "ServiceEntry"),
                       ("gateway.networking.k8s.io", "Gateway"), ("gateway.networking.k8s.io", "GatewayClass")}


# A field of an object read as Go reads it into its struct: absent or of another type, it is
# the zero value of its type ({}, [], "", 0, 0.0).


def _as_dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _as_list(x: Any) -> list:
    return x if isinstance(x, list) else []


def _as_str(x: Any) -> str:
    return x if isinstance(x, str) else ""


def _as_int(x: Any) -> int:
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return x
    if isinstance(x, str) and re.fullmatch(r"-?\d+", x):
        return int(x)
    return 0


def _as_float(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def _errors(check: str, *messages: str | None) -> Iterator[Error]:
    """Go's ``errs = AppendErrors(errs, …)``: each message that is not nil, under ``check``."""
    for message in messages:
        if message:
            yield check, message


def _durations(obj: dict, *keys: str) -> list[str | None]:
    """``ValidateDuration`` of each of ``keys`` that ``obj`` sets."""
    return [validate_duration(obj.get(key)) for key in keys if key in obj]


def protocol(name: Any) -> str:
    return PROTOCOLS.get(_as_str(name).lower(), "Unsupported")


def is_http(p: str) -> bool:
    return p in ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web")


def is_tls(p: str) -> bool:
    return p in ("HTTPS", "TLS")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.fullmatch(value))


def _valid_ip(addr: str) -> bool:
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return "%" not in addr


def validate_duration(value: Any) -> str | None:
    ns = duration_ns(value)
    if ns is None:
        return f"invalid duration {value!r}"
    if ns < 1_000_000:
        return "duration must be greater than 1ms"
    if ns % 1_000_000:
        return "only durations to ms precision are supported"
    return None


def validate_port(port: int) -> str | None:
    return None if 1 <= port <= 65535 else f"port number {port} must be in the range 1..65535"


def _dns_preconditions(name: str) -> str | None:
    if len(name) > 255:
        return f"domain name {name!r} too long (max 255)"
    if not name:
        return "empty domain name not allowed"
    return None


def validate_dns1123_labels(domain: str) -> str | None:
    parts = domain.split(".")
    if re.fullmatch(r"[+-]?\d+", parts[-1]):
        return f"domain name {domain!r} invalid (top level domain {parts[-1]!r} cannot be all-numeric)"
    for i, label in enumerate(parts):
        if i == len(parts) - 1 and label == "":
            return None
        if not is_dns1123_label(label):
            return f"domain name {domain!r} invalid (label {label!r} invalid)"
    return None


def validate_fqdn(fqdn: str) -> str | None:
    return _dns_preconditions(fqdn) or validate_dns1123_labels(fqdn)


def validate_wildcard_domain(domain: str) -> str | None:
    err = _dns_preconditions(domain)
    if err:
        return err
    first, dot, rest = domain.partition(".")
    if not (len(first) <= 63 and _WILDCARD_LABEL.fullmatch(first)):
        return f"domain name {domain!r} invalid (label {first!r} invalid)"
    return validate_dns1123_labels(rest) if dot else None


def validate_wildcard_domain_for_virtual_service_bound_to_gateway(sni: bool, domain: str) -> str | None:
    err = _dns_preconditions(domain)
    if err:
        return err
    if sni and domain.startswith("outbound_"):
        parts = domain.split("_")
        if len(parts) < 4:
            return f"domain name {domain} invalid, should follow 'outbound_.<port>_._.<hostname>' format"
        port, hostname = parts[1].strip("."), parts[3].strip(".")
        if parts[0] != "outbound":
            return f"domain name {domain!r} invalid (label {parts[0]!r} invalid)"
        if not re.search(r"[0-9]", port):
            return f"domain name {domain!r} invalid (label {port!r} invalid)"
        if not re.search(r"[a-zA-Z]", hostname):
            return f"domain name {domain!r} invalid (label {hostname!r} invalid)"
        return None
    return validate_wildcard_domain(domain)


def validate_ip_address(addr: str) -> str | None:
    return None if _valid_ip(addr) else f"{addr} is not a valid IP"


def validate_ip_subnet(subnet: str) -> str | None:
    if subnet.count("/") == 1:
        try:
            ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            return f"{subnet} is not a valid CIDR block"
        return None
    return validate_ip_address(subnet)


def validate_partial_wild_card(host: str) -> str | None:
    if "*" in host and len(host) != 1 and not host.startswith("*."):
        return f"partial wildcard {host!r} not allowed"
    return None


def _hostname_part(hostname: str, is_gateway: bool) -> list[str]:
    errs = []
    if hostname != "*" and "." not in hostname:
        errs.append("short names (non FQDN) are not allowed")
    err = validate_wildcard_domain(hostname)
    if err:
        if not is_gateway:
            errs.append(err)
        if not _valid_ip(hostname):
            errs.append(err)
    err = validate_partial_wild_card(hostname)
    if err:
        errs.append(err)
    return errs


def validate_namespace_slash_wildcard_hostname(hostname: str, is_gateway: bool) -> list[str]:
    ns, slash, host = hostname.partition("/")
    if not slash:
        if is_gateway:
            return _hostname_part(hostname, True)
        return ["host must be of form namespace/dnsName"]
    errs = []
    if not ns or not host:
        errs.append("config namespace and dnsName in host entry cannot be empty")
    allowed = ("*", ".", "~") if not is_gateway else ("*", ".")
    if ns not in allowed and not is_dns1123_label(ns):
        errs.append(f"invalid namespace value {ns!r} in {'gateway' if is_gateway else 'sidecar'}")
    return errs + _hostname_part(host, is_gateway)


def validate_unix_address(addr: str) -> str | None:
    if not addr:
        return "unix address must not be empty"
    if addr.startswith("@"):
        return None
    if not addr.startswith("/") or addr.endswith("/"):
        return f"{addr} is not an absolute path to a file"
    return None


def labels_validate(labels: Any) -> list[str]:
    """pkg/config/labels Instance.Validate."""
    errs = []
    for k, v in _as_dict(labels).items():
        k = str(k)
        m = _TAG_KEY.fullmatch(k)
        if m is None:
            errs.append(f"invalid tag key: {k!r}")
        elif m.group(1) and len(m.group(1)) - 1 > 253:
            errs.append(f"invalid tag key: {k!r} (DNS prefix is too long)")
        elif len(m.group(2)) > 63:
            errs.append(f"invalid tag key: {k!r} (name is too long)")
        if not _LABEL_VALUE.fullmatch(_as_str(v)):
            errs.append(f"invalid tag value: {v!r}")
    return errs


def validate_port_name(name: str) -> str | None:
    return None if is_dns1123_label(name) else f"invalid port name: {name}"


def validate_protocol(proto: str) -> str | None:
    return f"unsupported protocol: {proto}" if proto and protocol(proto) == "Unsupported" else None


def validate_header_value(value: str) -> str | None:
    """Envoy's %VARIABLE% grammar for custom header values (header_value_validator.go): a
    parser with one transition function per state."""
    state, pos, n = "literal", 0, len(value)
    while pos < n:
        state, skip, err = _HEADER_VALUE_STATES[state](value[pos], value[pos + 1] if pos + 1 < n else None)
        if err:
            return err
        pos += 1 + skip
    if state != "literal":
        return f"invalid header configuration. Un-terminated variable expression {value!r}"
    return None


# Each state: (this character, the next one or None) -> (next state, characters to skip, error)
def _hv_literal(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch != "%":
        return "literal", 0, None
    if nxt is None:
        return "literal", 0, "invalid header configuration. Un-escaped %"
    return ("literal", 1, None) if nxt == "%" else ("name", 0, None)


def _hv_name(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    return {"%": "literal", "(": "array"}.get(ch, "name"), 0, None


def _hv_array(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == "[":
        return "string?", 0, None
    return ("array" if ch == " " else "string"), 0, None


def _hv_delim(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == ",":
        return "string?", 0, None
    if ch == "]":
        return "args-end", 0, None
    return "delim", 0, None if ch == " " else "invalid header configuration. Expecting ',', ']', or whitespace"


def _hv_string_start(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == '"':
        return "string", 0, None
    return "string?", 0, None if ch == " " else "invalid header configuration. Expecting '\"'"


def _hv_string(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == "\\":
        if nxt is None:
            return "string", 0, "invalid header configuration. Un-terminated backslash in JSON string"
        return "string", 1, None
    return {")": "var-end", '"': "delim"}.get(ch, "string"), 0, None


def _hv_args_end(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == ")":
        return "var-end", 0, None
    return "args-end", 0, None if ch == " " else \
        "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'"


def _hv_var_end(ch: str, nxt: str | None) -> tuple[str, int, str | None]:
    if ch == "%":
        return "literal", 0, None
    return "var-end", 0, None if ch == " " else "invalid header configuration. Expecting '%' or whitespace after"


_HEADER_VALUE_STATES = {"literal": _hv_literal, "name": _hv_name, "array": _hv_array, "delim": _hv_delim,
                        "string?": _hv_string_start, "string": _hv_string, "args-end": _hv_args_end,
                        "var-end": _hv_var_end}


def validate_http_header_value(value: str) -> str | None:
    if not _HEADER_VALUE.fullmatch(value):
        return f"header value configuration {value} is invalid"
    err = validate_header_value(value)
    return f"header value configuration: {err}" if err else None


def _is_internal_header(name: str) -> bool:
    return name.startswith(":") or name.lower() == "host"


def _is_authority_header(name: str) -> bool:
    return name.lower() in (":authority", "host")


def validate_http_header_with_authority_operation_name(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if _is_internal_header(name) and not _is_authority_header(name):
        return f'invalid header "{name}": header cannot have ":" prefix'
    return None


def validate_http_header_operation_name(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if name.lower() == "host":
        return f'invalid header "{name}": cannot set Host header'
    if _is_internal_header(name):
        return f'invalid header "{name}": header cannot have ":" prefix'
    return None


def _is_jwt_claim_route(name: str) -> bool:
    if not name.lower().startswith(_JWT_CLAIM):
        return False
    rest = name[len(_JWT_CLAIM):]
    return (rest.startswith(".") and len(rest) > 1) or (rest.startswith("[") and rest.endswith("]") and len(rest) > 2)


def validate_http_header_name_or_jwt_claim_route(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if _is_jwt_claim_route(name) or name in _PSEUDO_HEADERS:
        return None
    return None if _HEADER_NAME.fullmatch(name) else f"header name {name} is not a valid header name"


def validate_strict_http_header_name(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    return None if _STRICT_HEADER_NAME.fullmatch(name) else f"header name {name} is not a valid header name"


def validate_cors_http_header_name(name: str) -> str | None:
    if not name:
        return "header name cannot be empty"
    if name == "*":
        return None
    return None if _HEADER_NAME.fullmatch(name) else f"header name {name} is not a valid header name"


def _re2_error(pattern: str) -> str | None:
    """Why RE2 (Envoy's engine; Go's regexp accepts the same language) rejects ``pattern``."""
    try:
        re2_compile(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def validate_string_regexp(pattern: str, where: str) -> str | None:
    if len(pattern) > 1024:
        return f'"{where}": regex is too large, max length allowed is 1024'
    err = _re2_error(pattern)
    if err:
        return f'"{where}": {err}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)'
    return None


def _match_type(sm: dict) -> str | None:
    for k in ("exact", "prefix", "regex"):
        if k in sm:
            return k
    return None


def validate_string_match_regexp(sm: Any, where: str) -> str | None:
    sm = _as_dict(sm)
    if _match_type(sm) != "regex":
        return None
    if not _as_str(sm.get("regex")):
        return f'"{where}": regex string match should not be empty'
    return validate_string_regexp(_as_str(sm.get("regex")), where)


def validate_string_match(sm: Any, where: str) -> str | None:
    sm = _as_dict(sm)
    kind = _match_type(sm)
    if kind == "prefix" and not _as_str(sm.get("prefix")):
        return f'"{where}": prefix string match should not be empty'
    if kind == "regex":
        return validate_string_match_regexp(sm, where)
    return None


def validate_export_to(namespace: str, export_to: Any, is_service_entry: bool, dr_with_selector: bool) -> list[str]:
    entries = [str(e) for e in _as_list(export_to)]
    if not entries:
        return []
    errs, seen = [], set()
    for e in entries:
        key = namespace if e == "." else e
        if key in seen:
            errs.append(f"duplicate entries in exportTo: . and current namespace {namespace}" if key != e
                        else f"duplicate entries in exportTo for entry {e}")
            continue
        if is_service_entry and e == "~":
            seen.add(key)
        elif key in (".", "*"):
            seen.add(key)
        elif key == "~":
            errs.append("exportTo ~ (none) is not allowed for Istio configuration objects")
        elif not is_dns1123_label(key):
            errs.append("only .,*, or a valid DNS 1123 label is allowed as exportTo entry")
        else:
            seen.add(key)
    if dr_with_selector and seen:
        if namespace in seen:
            if len(seen) > 1:
                errs.append("destination rule with workload selector cannot have multiple entries in exportTo")
        else:
            errs.append("destination rule with workload selector cannot have exportTo beyond current namespace")
    if "*" in seen and len(entries) > 1:
        errs.append("cannot have both public (*) and non-public exportTo values for a resource")
    if "~" in seen and len(entries) > 1:
        errs.append("cannot export service entry to no one (~) and someone")
    return errs


def _host_matches(a: str, b: str) -> bool:
    """pkg/config/host Name.Matches."""
    aw, bw = a.startswith("*"), b.startswith("*")
    if aw and bw:
        return b[1:].endswith(a[1:]) if len(a) < len(b) else a[1:].endswith(b[1:])
    if aw:
        return b.endswith(a[1:])
    if bw:
        return a.endswith(b[1:])
    return a == b


def _host_subset_of(a: str, b: str) -> bool:
    """pkg/config/host Name.SubsetOf."""
    aw, bw = a.startswith("*"), b.startswith("*")
    if aw:
        return bw and len(a) >= len(b) and a[1:].endswith(b[1:])
    if bw:
        return a.endswith(b[1:])
    return a == b


# --- shared validators (named: they become finding codes) ---------------------------------------------------


def validate_workload_selector(selector: Any) -> Iterator[Error]:
    if not isinstance(selector, dict):
        return
    for k, v in _as_dict(selector.get("matchLabels")).items():
        k, v = str(k), _as_str(v)
        if k == "":
            yield "validateWorkloadSelector", f'empty key is not supported in selector: "{k}={v}"'
        if "*" in k or "*" in v:
            yield "validateWorkloadSelector", f'wildcard is not supported in selector: "{k}={v}"'


def validate_one_of_selector_type(spec: dict) -> Iterator[Error]:
    count = sum(1 for k in ("selector", "targetRef") if isinstance(spec.get(k), dict)) + \
        (1 if _as_list(spec.get("targetRefs")) else 0)
    if count > 1:
        yield "validateOneOfSelectorType", "only one of targetRefs or workloadSelector can be set"


def validate_policy_target_reference(ref: Any) -> Iterator[Error]:
    if not isinstance(ref, dict):
        return
    if not _as_str(ref.get("name")):
        yield "validatePolicyTargetReference", "targetRef name must be set"
    if _as_str(ref.get("namespace")):
        yield "validatePolicyTargetReference", ("targetRef namespace must not be set; cross namespace referencing "
                                                "is not supported")
    group = _as_str(ref.get("group")) or "core"
    if (group, _as_str(ref.get("kind"))) not in ALLOWED_TARGET_REFS:
        yield "validatePolicyTargetReference", (f"targetRef must be to one of Service, ServiceEntry, Gateway, "
                                                f"GatewayClass but was {_as_str(ref.get('group'))}/{_as_str(ref.get('kind'))}")


def _policy_selectors(spec: dict) -> Iterator[Error]:
    yield from validate_one_of_selector_type(spec)
    yield from validate_workload_selector(spec.get("selector"))
    yield from validate_policy_target_reference(spec.get("targetRef"))
    for ref in _as_list(spec.get("targetRefs")):
        yield from validate_policy_target_reference(ref)


def validate_alpha_workload_selector(selector: Any, check: str) -> Iterator[Error]:
    if not isinstance(selector, dict):
        return
    for k, v in _as_dict(selector.get("labels")).items():
        k, v = str(k), _as_str(v)
        if k == "":
            yield check, f'empty key is not supported in selector: "{k}={v}"'
        if "*" in k or "*" in v:
            yield check, f'wildcard is not supported in selector: "{k}={v}"'


# --- VirtualService --------------------------------------------------------------------------------------------


def _header_ops(headers: Any, check: str) -> Iterator[Error]:
    """Request headers may set the authority; response headers may not."""
    headers = _as_dict(headers)
    yield from _errors(check, *_header_operations(_as_dict(headers.get("request")),
                                                  validate_http_header_with_authority_operation_name))
    yield from _errors(check, *_header_operations(_as_dict(headers.get("response")), validate_http_header_operation_name))


def _header_operations(ops: dict, validate_name) -> Iterator[str | None]:
    for op in ("add", "set"):
        for name, val in _as_dict(ops.get(op)).items():
            yield validate_name(str(name))
            yield validate_http_header_value(_as_str(val))
    for name in _as_list(ops.get("remove")):
        yield validate_http_header_operation_name(_as_str(name))


def validate_http_route_conflict(http: dict, delegate: bool) -> Iterator[Error]:
    c = "validateHTTPRouteConflict"
    route = _as_list(http.get("route"))
    if not delegate and isinstance(http.get("delegate"), dict):  # a root route
        if "redirect" in http:
            yield c, f"root HTTP route {_as_str(http.get('name'))} must not specify redirect"
        if "route" in http:
            yield c, f"root HTTP route {_as_str(http.get('name'))} must not specify route"
        return
    if delegate and "delegate" in http:
        yield c, "delegate HTTP route cannot contain delegate"
    if isinstance(http.get("redirect"), dict):
        yield from _errors(c, *_answered_by_proxy(http, route, "redirect"))
        if "directResponse" in http:
            yield c, "HTTP route rule cannot contain both direct_response and redirect"
    elif isinstance(http.get("directResponse"), dict):
        yield from _errors(c, *_answered_by_proxy(http, route, "direct_response"))
    elif not route:
        yield c, "HTTP route, redirect or direct_response is required"
    if isinstance(http.get("mirror"), dict) and _as_list(http.get("mirrors")):
        yield c, "HTTP route cannot contain both mirror and mirrors"


def _answered_by_proxy(http: dict, route: list, answer: str) -> Iterator[str]:
    """A redirect or direct response is answered by the proxy: no route, fault or rewrite with it."""
    if route:
        yield f"HTTP route cannot contain both route and {answer}"
    if "fault" in http:
        yield f"HTTP route cannot contain both fault and {answer}"
    if "rewrite" in http:
        yield f"HTTP route rule cannot contain both rewrite and {answer}"


def validate_gateway_names(names: Any) -> Iterator[Error]:
    c = "validateGatewayNames"
    for name in _as_list(names):
        name = _as_str(name)
        ns, slash, gw = name.partition("/")
        if not slash:
            yield from _errors(c, validate_fqdn(name))
            return
        if not ns or not gw:
            yield c, "config namespace and gateway name cannot be empty"
        if not is_dns1123_label(ns):
            yield c, f"invalid value for namespace: {ns!r}"
        if not is_dns1123_label(gw):
            yield c, f"invalid value for gateway name: {gw!r}"


def validate_http_route_match_request(http: dict) -> Iterator[Error]:
    c = "validateHTTPRouteMatchRequest"
    matches = [m for m in _as_list(http.get("match")) if isinstance(m, dict)]
    for match in matches:
        yield from _errors(c, *_http_match_headers(match), *_http_match_strings(match))
    for match in matches:
        yield from _errors(c, *_http_match_source(match))


def _http_match_headers(match: dict) -> Iterator[str | None]:
    for name, header in _as_dict(match.get("headers")).items():
        if header is None:
            yield f"header match {name} cannot be null"
        yield validate_http_header_name_or_jwt_claim_route(str(name))
        yield validate_string_match(header, "headers")
    for name, header in _as_dict(match.get("withoutHeaders")).items():
        yield validate_http_header_name_or_jwt_claim_route(str(name))
        if header is not None and _as_dict(header).get("regex") != "*":
            yield validate_string_match(header, "withoutHeaders")


def _http_match_strings(match: dict) -> Iterator[str | None]:
    yield validate_string_match_regexp(match.get("uri"), "uri")
    for key in ("scheme", "method", "authority"):
        yield validate_string_match(match.get(key), key)
    for qp in _as_dict(match.get("queryParams")).values():
        yield validate_string_match(qp, "queryParams")


def _http_match_source(match: dict) -> Iterator[str | None]:
    """The match's port, source labels, gateways and source namespace."""
    if _as_int(match.get("port")):
        yield validate_port(_as_int(match.get("port")))
    yield from labels_validate(match.get("sourceLabels"))
    yield from (m for _, m in validate_gateway_names(match.get("gateways")))
    ns = _as_str(match.get("sourceNamespace"))
    if ns and not is_dns1123_label(ns):
        yield f"sourceNamespace match {ns} is invalid"


def validate_cors_policy(policy: Any) -> Iterator[Error]:
    c = "validateCORSPolicy"
    if not isinstance(policy, dict):
        return
    for origin in _as_list(policy.get("allowOrigins")):
        origin = _as_dict(origin)
        kind = _match_type(origin)
        match = _as_str(origin.get(kind)) if kind else ""
        if not match:
            yield c, f"'{match}' is not a valid match type for CORS allow origins"
            continue
        yield from _errors(c, validate_string_match_regexp(origin, "corsPolicy.allowOrigins"))
    for method in _as_list(policy.get("allowMethods")):
        if _as_str(method) not in CORS_METHODS:
            yield c, f'"{_as_str(method)}" is not a supported HTTP method'
    for key in ("allowHeaders", "exposeHeaders"):
        for name in _as_list(policy.get(key)):
            yield from _errors(c, validate_cors_http_header_name(_as_str(name)))
    if "maxAge" in policy:
        yield from _errors(c, validate_duration(policy.get("maxAge")))
        ns = duration_ns(policy.get("maxAge"))
        if ns is not None and ns % 1_000_000_000:
            yield c, "max_age duration is accurate only to seconds precision"


def validate_percentage(p: Any) -> str | None:
    if not isinstance(p, dict):
        return None
    v = _as_float(p.get("value"))
    if v < 0.0 or v > 100.0 or 0.0 < v < 0.0001:
        return f"percentage {v:g} is neither 0.0, nor in range [0.0001, 100.0]"
    return None


def validate_http_fault_injection(fault: Any) -> Iterator[Error]:
    if not isinstance(fault, dict):
        return
    abort, delay = fault.get("abort"), fault.get("delay")
    if not isinstance(abort, dict) and not isinstance(delay, dict):
        yield "validateHTTPFaultInjection", "HTTP fault injection must have an abort and/or a delay"
    if isinstance(abort, dict):
        c = "validateHTTPFaultInjectionAbort"
        yield from _errors(c, validate_percentage(abort.get("percentage")))
        if "grpcStatus" in abort:
            status = _as_str(abort.get("grpcStatus"))
            if status not in GRPC_STATUS:
                yield c, (f'gRPC status "{status}" is not supported. See https://github.com/grpc/grpc/blob/master/'
                          "doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'")
        elif "http2Error" in abort:
            yield c, "HTTP/2 abort fault injection not supported yet"
        elif "httpStatus" in abort:
            yield from _errors(c, validate_http_status(_as_int(abort.get("httpStatus"))))
    if isinstance(delay, dict):
        c = "validateHTTPFaultInjectionDelay"
        yield from _errors(c, validate_percentage(delay.get("percentage")))
        if "fixedDelay" in delay:
            yield from _errors(c, validate_duration(delay.get("fixedDelay")))
        elif "exponentialDelay" in delay:
            yield from _errors(c, validate_duration(delay.get("exponentialDelay")))
            yield c, "exponentialDelay not supported yet"


def validate_http_status(status: int) -> str | None:
    return f"HTTP status {status} is not in range 200-599" if status < 200 or status > 600 else None


def validate_subset_name(name: str) -> str | None:
    if not name:
        return "subset name cannot be empty"
    return None if is_dns1123_label(name) else f"subset name is invalid: {name}"


def validate_destination(dest: Any) -> Iterator[Error]:
    c = "validateDestination"
    if not isinstance(dest, dict):
        return
    hostname = _as_str(dest.get("host"))
    if hostname == "*":
        yield c, f"invalid destination host {hostname}"
    else:
        yield from _errors(c, validate_wildcard_domain(hostname))
    if _as_str(dest.get("subset")):
        yield from _errors(c, validate_subset_name(_as_str(dest.get("subset"))))
    if isinstance(dest.get("port"), dict):
        yield from _errors(c, validate_port(_as_int(dest["port"].get("number"))))


def validate_http_retry(retries: Any) -> Iterator[Error]:
    c = "validateHTTPRetry"
    if not isinstance(retries, dict):
        return
    attempts = _as_int(retries.get("attempts"))
    if attempts < 0:
        yield c, "attempts cannot be negative"
    if attempts == 0 and ("perTryTimeout" in retries or _as_str(retries.get("retryOn"))
                          or "retryRemoteLocalities" in retries):
        yield c, "http retry policy configured when attempts are set to 0 (disabled)"
    if "perTryTimeout" in retries:
        yield from _errors(c, validate_duration(retries.get("perTryTimeout")))
    retry_on = _as_str(retries.get("retryOn"))
    if retry_on:
        for policy in retry_on.split(","):
            code = int(policy) if re.fullmatch(r"[+-]?\d+", policy) else 0
            if code not in HTTP_STATUS_TEXT and policy not in RETRY_ON:
                yield c, f'"{policy}" is not a valid retryOn policy'
    if "backoff" in retries:
        yield from _errors(c, validate_duration(retries.get("backoff")))


def validate_http_redirect(redirect: Any) -> Iterator[Error]:
    c = "validateHTTPRedirect"
    if not isinstance(redirect, dict):
        return
    if not _as_str(redirect.get("uri")) and not _as_str(redirect.get("authority")) and "port" not in redirect \
            and "derivePort" not in redirect and not _as_str(redirect.get("scheme")):
        yield c, "redirect must specify URI, authority, scheme, or port"
        return
    code = _as_int(redirect.get("redirectCode"))
    if code and (code < 300 or code > 399):
        yield c, f"{code} is not a valid redirect code, must be 3xx"
        return
    scheme = _as_str(redirect.get("scheme"))
    if scheme and scheme not in ("http", "https"):
        yield c, 'invalid redirect scheme, must be "http" or "https"'
        return
    if _as_int(redirect.get("port")) > 0:
        yield from _errors(c, validate_port(_as_int(redirect.get("port"))))


def validate_http_direct_response(dr: Any) -> Iterator[Error]:
    c = "validateHTTPDirectResponse"
    if not isinstance(dr, dict):
        return
    body = _as_dict(dr.get("body"))
    size = len(_as_str(body.get("string"))) if "string" in body else len(_as_str(body.get("bytes")))
    if size > 1024 * 1024:
        yield c, "large direct_responses may impact control plane performance, must be less than 1MB"
    yield from _errors(c, validate_http_status(_as_int(dr.get("status"))))


def validate_http_mirrors(mirrors: Any) -> Iterator[Error]:
    c = "validateHTTPMirrors"
    for m in _as_list(mirrors):
        if m is None:
            yield c, "mirror cannot be null"
            continue
        if not isinstance(_as_dict(m).get("destination"), dict):
            yield c, "destination is required for mirrors"
            continue
        yield from ((c, e) for _, e in validate_destination(m["destination"]))
        if isinstance(m.get("percentage"), dict):
            v = _as_float(m["percentage"].get("value"))
            if v > 100:
                yield c, f"mirror percentage must have a max value of 100 (it has {v:f})"
            if v < 0:
                yield c, f"mirror percentage must have a min value of 0 (it has {v:f})"


def validate_http_rewrite(rewrite: Any) -> Iterator[Error]:
    c = "validateHTTPRewrite"
    if not isinstance(rewrite, dict):
        return
    uri, regex = _as_str(rewrite.get("uri")), rewrite.get("uriRegexRewrite")
    if uri and isinstance(regex, dict):
        yield c, "rewrite may only contain one of URI or UriRegexRewrite"
        return
    if not uri and not isinstance(regex, dict) and not _as_str(rewrite.get("authority")):
        yield c, ("rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
                  "UriRegexRewrite may be specified")
        return
    if isinstance(regex, dict):
        if not _as_str(regex.get("match")) or not _as_str(regex.get("rewrite")):
            yield c, "UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified"
            return
        err = validate_string_regexp(_as_str(regex.get("match")), "HTTPRewrite.UriRegexRewrite.Match")
        if err:
            yield c, f"UriRegexRewrite has errors: {err}"


def validate_authority_rewrite(http: dict) -> Iterator[Error]:
    current = _as_str(_as_dict(http.get("rewrite")).get("authority"))
    req = _as_dict(_as_dict(http.get("headers")).get("request"))
    for op in ("set", "add"):
        for k, v in _as_dict(req.get(op)).items():
            if not _is_authority_header(str(k)):
                continue
            if current:
                yield ("validateAuthorityRewrite",
                       f'authority header cannot be set multiple times: have "{current}", attempting to set "{v}"')
                return
            current = _as_str(v)


def validate_http_route_destinations(routes: Any) -> Iterator[Error]:
    yield from _weighted_destinations(routes, "validateHTTPRouteDestinations", http=True)


def validate_route_destinations(routes: Any) -> Iterator[Error]:
    yield from _weighted_destinations(routes, "validateRouteDestinations", http=False)


def _weighted_destinations(routes: Any, c: str, http: bool) -> Iterator[Error]:
    """Each destination valid with a weight ≥ 0, more than one not all weighted 0; HTTP
    destinations may also carry header operations."""
    total = 0
    routes = _as_list(routes)
    for r in routes:
        if r is None:
            yield c, "weight may not be nil"
            continue
        r = _as_dict(r)
        if not isinstance(r.get("destination"), dict):
            yield c, "destination is required"
        if http:
            yield from ((c, e) for _, e in _header_ops(r.get("headers"), c))
        yield from ((c, e) for _, e in validate_destination(r.get("destination")))
        weight = _as_int(r.get("weight"))
        if weight < 0:
            yield c, f"weight {weight} < 0"
        total += weight
    if len(routes) > 1 and total == 0:
        yield c, "total destination weight = 0"


def validate_http_route(http: dict, delegate: bool) -> Iterator[Error]:
    yield from validate_http_route_conflict(http, delegate)
    yield from validate_http_route_match_request(http)
    yield from _header_ops(http.get("headers"), "validateHTTPRoute")
    yield from validate_cors_policy(http.get("corsPolicy"))
    yield from validate_http_fault_injection(http.get("fault"))
    if "mirrorPercent" in http and _as_int(http.get("mirrorPercent")) > 100:
        yield "validateHTTPRoute", f"mirror_percent must have a max value of 100 (it has {_as_int(http['mirrorPercent'])})"
    if isinstance(http.get("mirrorPercentage"), dict):
        v = _as_float(http["mirrorPercentage"].get("value"))
        if v > 100:
            yield "validateHTTPRoute", f"mirror_percentage must have a max value of 100 (it has {v:f})"
        if v < 0:
            yield "validateHTTPRoute", f"mirror_percentage must have a min value of 0 (it has {v:f})"
    yield from validate_destination(http.get("mirror"))
    yield from validate_http_mirrors(http.get("mirrors"))
    yield from validate_http_redirect(http.get("redirect"))
    yield from validate_http_direct_response(http.get("directResponse"))
    yield from validate_http_retry(http.get("retries"))
    yield from validate_http_rewrite(http.get("rewrite"))
    yield from validate_authority_rewrite(http)
    yield from validate_http_route_destinations(http.get("route"))
    if "timeout" in http:
        yield from _errors("validateHTTPRoute", validate_duration(http.get("timeout")))


def _is_gateway(vs: dict) -> bool:
    return "mesh" not in [_as_str(g) for g in _as_list(vs.get("gateways"))]


def validate_sni_host(sni: str, vs: dict) -> Iterator[Error]:
    c = "validateSniHost"
    err = validate_wildcard_domain_for_virtual_service_bound_to_gateway(True, sni) if _is_gateway(vs) \
        else validate_wildcard_domain(sni)
    if err:
        if not _valid_ip(sni):
            yield c, err
        return
    hosts = [_as_str(h) for h in _as_list(vs.get("hosts"))]
    if not any(_host_subset_of(sni, h) for h in hosts):
        yield c, f'SNI host "{sni}" is not a compatible subset of any of the virtual service hosts: [{", ".join(hosts)}]'


def validate_tls_route(tls: Any, vs: dict) -> Iterator[Error]:
    if not isinstance(tls, dict):
        return
    c = "validateTLSRoute"
    matches = _as_list(tls.get("match"))
    if not matches:
        yield c, "TLS route must have at least one match condition"
    for m in matches:
        if not isinstance(m, dict):
            yield "validateTLSMatch", "TLS match may not be null"
            continue
        snis = _as_list(m.get("sniHosts"))
        if not snis:
            yield "validateTLSMatch", "TLS match must have at least one SNI host"
        for sni in snis:
            yield from validate_sni_host(_as_str(sni), vs)
        yield from _l4_match(m, "validateTLSMatch")
    if not _as_list(tls.get("route")):
        yield c, "TLS route is required"
    yield from validate_route_destinations(tls.get("route"))


def _l4_match(m: dict, c: str) -> Iterator[Error]:
    for subnet in _as_list(m.get("destinationSubnets")):
        yield from _errors(c, validate_ip_subnet(_as_str(subnet)))
    if _as_int(m.get("port")):
        yield from _errors(c, validate_port(_as_int(m.get("port"))))
    yield from _errors(c, *labels_validate(m.get("sourceLabels")))
    yield from ((c, e) for _, e in validate_gateway_names(m.get("gateways")))


def validate_tcp_route(tcp: Any) -> Iterator[Error]:
    if not isinstance(tcp, dict):
        return
    for m in _as_list(tcp.get("match")):
        if not isinstance(m, dict):
            yield "validateTCPMatch", "tcp match may not be nil"
            continue
        yield from _l4_match(m, "validateTCPMatch")
    if not _as_list(tcp.get("route")):
        yield "validateTCPRoute", "TCP route is required"
    yield from validate_route_destinations(tcp.get("route"))


def validate_virtual_service(obj: dict) -> Iterator[Error]:
    c = "ValidateVirtualService"
    vs = _as_dict(obj.get("spec"))
    ns = _as_str(_as_dict(obj.get("metadata")).get("namespace"))
    hosts = [_as_str(h) for h in _as_list(vs.get("hosts"))]
    if not hosts:
        yield from _errors(c, *_delegate_virtual_service(vs))
    applies_to_gateway = False
    if _as_list(vs.get("gateways")):
        yield from validate_gateway_names(vs.get("gateways"))
        applies_to_gateway = _is_gateway(vs)
    if not applies_to_gateway:
        yield from _errors(c, *_jwt_claim_routes_without_gateway(vs))
    yield from _errors(c, *_virtual_service_hosts(vs, hosts, applies_to_gateway))
    if not _as_list(vs.get("http")) and not _as_list(vs.get("tcp")) and not _as_list(vs.get("tls")):
        yield c, "http, tcp or tls must be provided in virtual service"
    for http in _as_list(vs.get("http")):
        if http is None:
            yield c, "http route may not be null"
            continue
        yield from validate_http_route(_as_dict(http), not hosts)
    for tls in _as_list(vs.get("tls")):
        yield from validate_tls_route(tls, vs)
    for tcp in _as_list(vs.get("tcp")):
        yield from validate_tcp_route(tcp)
    yield from _errors("validateExportTo", *validate_export_to(ns, vs.get("exportTo"), False, False))


def _delegate_virtual_service(vs: dict) -> Iterator[str]:
    """A VirtualService without hosts is a delegate: it takes HTTP routes only."""
    if _as_list(vs.get("gateways")):
        yield "delegate virtual service must have no gateways specified"
    if _as_list(vs.get("tls")):
        yield "delegate virtual service must have no tls route specified"
    if _as_list(vs.get("tcp")):
        yield "delegate virtual service must have no tcp route specified"


def _jwt_claim_routes_without_gateway(vs: dict) -> Iterator[str]:
    for http in _as_list(vs.get("http")):
        for m in _as_list(_as_dict(http).get("match")):
            for key in list(_as_dict(_as_dict(m).get("headers"))) + list(_as_dict(_as_dict(m).get("withoutHeaders"))):
                if _is_jwt_claim_route(str(key)):
                    yield (f"JWT claim based routing (key: {key}) is only supported for gateway, found no "
                           f"gateways: {_as_list(vs.get('gateways'))}")


def _virtual_service_hosts(vs: dict, hosts: list[str], applies_to_gateway: bool) -> Iterator[str]:
    sni = any(_as_list(_as_dict(m).get("sniHosts")) for t in _as_list(vs.get("tls")) for m in _as_list(_as_dict(t).get("match")))
    all_valid = True
    for h in hosts:
        err = validate_wildcard_domain_for_virtual_service_bound_to_gateway(sni, h) if applies_to_gateway \
            else validate_wildcard_domain(h)
        if err:
            if not _valid_ip(h):
                yield err
                all_valid = False
        elif not applies_to_gateway and h == "*":
            yield "wildcard host * is not allowed for virtual services bound to the mesh gateway"
            all_valid = False
    if all_valid:
        for i in range(len(hosts)):
            for j in range(i + 1, len(hosts)):
                if _host_matches(hosts[i], hosts[j]):
                    yield f"duplicate hosts in virtual service: {hosts[i]} & {hosts[j]}"


# --- DestinationRule -------------------------------------------------------------------------------------------


def validate_outlier_detection(o: Any) -> Iterator[Error]:
    c = "validateOutlierDetection"
    if not isinstance(o, dict):
        return
    yield from _errors(c, *_durations(o, "baseEjectionTime", "interval"))
    if not o.get("splitExternalLocalOriginErrors") and _as_int(o.get("consecutiveLocalOriginFailures")) > 0:
        yield c, ("outlier detection consecutive local origin failures is specified, but split external local "
                  "origin errors is set to false")
    for key in ("maxEjectionPercent", "minHealthPercent"):
        v = _as_int(o.get(key))
        if v < 0 or v > 100:
            yield c, f"percentage {v} is not in range 0..100"


def validate_connection_pool(cp: Any) -> Iterator[Error]:
    c = "validateConnectionPool"
    if not isinstance(cp, dict):
        return
    http, tcp = cp.get("http"), cp.get("tcp")
    if not isinstance(http, dict) and not isinstance(tcp, dict):
        yield c, "connection pool must have at least one field"
        return
    if isinstance(http, dict):
        yield from _errors(c, *_connection_pool_http(http))
    if isinstance(tcp, dict):
        yield from _errors(c, *_connection_pool_tcp(tcp))


def _connection_pool_http(http: dict) -> Iterator[str | None]:
    for key, what in (("http1MaxPendingRequests", "http1 max pending requests"),
                      ("http2MaxRequests", "http2 max requests"),
                      ("maxRequestsPerConnection", "max requests per connection"),
                      ("maxRetries", "max retries"), ("maxConcurrentStreams", "max concurrent streams")):
        if _as_int(http.get(key)) < 0:
            yield f"{what} must be non-negative"
    yield from _durations(http, "idleTimeout")
    if http.get("h2UpgradePolicy") == "UPGRADE" and http.get("useClientProtocol") is True:
        yield "use client protocol must not be true when H2UpgradePolicy is UPGRADE"


def _connection_pool_tcp(tcp: dict) -> Iterator[str | None]:
    if _as_int(tcp.get("maxConnections")) < 0:
        yield "max connections must be non-negative"
    yield from _durations(tcp, "connectTimeout", "maxConnectionDuration")
    if "idleTimeout" in tcp and (duration_ns(tcp.get("idleTimeout")) or 0) // 1_000_000 != 0:
        yield validate_duration(tcp.get("idleTimeout"))
    yield from _durations(_as_dict(tcp.get("tcpKeepalive")), "time", "interval")


def _is_prime(x: int) -> bool:
    if x != 0 and x < 4:
        return True
    if x & 1 == 0:
        return False
    f = 3
    while f * f <= x:
        if x % f == 0:
            return False
        f += 2
    return True


def validate_load_balancer(lb: Any) -> Iterator[Error]:
    c = "validateLoadBalancer"
    if not isinstance(lb, dict):
        return
    if isinstance(lb.get("consistentHash"), dict):
        yield from _errors(c, *_consistent_hash(lb["consistentHash"]))
    if isinstance(lb.get("warmup"), dict):
        yield from _errors(c, *_warmup(lb["warmup"]))


def _consistent_hash(ch: dict) -> Iterator[str]:
    cookie = ch.get("httpCookie")
    if isinstance(cookie, dict):
        if not _as_str(cookie.get("name")):
            yield "name required for HttpCookie"
        names: set = set()
        for attr in _as_list(cookie.get("attributes")):
            name = _as_str(_as_dict(attr).get("name"))
            if not name:
                yield "cookie attribute name cannot be empty"
            elif name in names:
                yield f"duplicate cookie attribute name: {name}"
            names.add(name)
    if _as_int(ch.get("minimumRingSize")) and (isinstance(ch.get("maglev"), dict) or isinstance(ch.get("ringHash"), dict)):
        yield "only one of MinimumRingSize or Maglev/Ringhash can be specified"
    if isinstance(ch.get("maglev"), dict):
        size = _as_int(ch["maglev"].get("tableSize"))
        if size == 0:
            yield "tableSize must be set for maglev"
        if size >= 5000011:
            yield "tableSize must be less than 5000011 for maglev"
        if not _is_prime(size):
            yield "tableSize must be a prime number for maglev"


def _warmup(warm: dict) -> Iterator[str | None]:
    if "duration" not in warm:
        yield "duration is required"
    else:
        yield validate_duration(warm.get("duration"))
    if _as_float(warm.get("minimumPercent")) > 100:
        yield "minimumPercent value should be less than or equal to 100"
    if "aggression" in warm and _as_float(warm.get("aggression")) < 1:
        yield "aggression should be greater than or equal to 1"


def validate_tls(namespace: str, tls: Any) -> Iterator[Error]:
    c = "ValidateTLS"
    if not isinstance(tls, dict):
        return
    mode, cred = _as_str(tls.get("mode")), _as_str(tls.get("credentialName"))
    if tls.get("insecureSkipVerify") is True:
        if mode == "SIMPLE" and (_as_str(tls.get("caCertificates")) or cred or "subjectAltNames" in tls):
            yield c, ("cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is "
                      "set true")
        if mode == "MUTUAL" and (_as_str(tls.get("caCertificates")) or "subjectAltNames" in tls):
            yield c, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true"
    if mode in ("SIMPLE", "MUTUAL") and cred:
        if any(_as_str(tls.get(k)) for k in ("clientCertificate", "caCertificates", "privateKey", "caCrl")):
            yield c, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set"
        return
    if mode == "MUTUAL":
        if not _as_str(tls.get("clientCertificate")):
            yield c, "client certificate required for mutual tls"
        if not _as_str(tls.get("privateKey")):
            yield c, "private key required for mutual tls"


_POLICY_FIELDS = ("outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel",
                  "proxyProtocol", "retryBudget")


def validate_traffic_policy(namespace: str, tp: Any) -> Iterator[Error]:
    c = "validateTrafficPolicy"
    if not isinstance(tp, dict):
        return
    if not any(k in tp for k in _POLICY_FIELDS):
        yield c, "traffic policy must have at least one field"
        return
    if "tunnel" in tp and "proxyProtocol" in tp:
        yield c, "tunnel and proxyProtocol must not be set together"
        return
    yield from validate_outlier_detection(tp.get("outlierDetection"))
    yield from validate_connection_pool(tp.get("connectionPool"))
    yield from validate_load_balancer(tp.get("loadBalancer"))
    yield from validate_tls(namespace, tp.get("tls"))
    for pl in _as_list(tp.get("portLevelSettings")):
        if pl is None:
            yield "validatePortTrafficPolicies", "traffic policy may not be null"
            continue
        pl = _as_dict(pl)
        if "port" not in pl:
            yield "validatePortTrafficPolicies", "portTrafficPolicy must have valid port"
        if not any(k in pl for k in ("outlierDetection", "connectionPool", "loadBalancer", "tls")):
            yield "validatePortTrafficPolicies", "port traffic policy must have at least one field"
        else:
            yield from validate_outlier_detection(pl.get("outlierDetection"))
            yield from validate_connection_pool(pl.get("connectionPool"))
            yield from validate_load_balancer(pl.get("loadBalancer"))
            yield from validate_tls(namespace, pl.get("tls"))
    tunnel = tp.get("tunnel")
    if isinstance(tunnel, dict):
        t = "validateTunnelSettings"
        if _as_str(tunnel.get("protocol")) not in ("", "CONNECT", "POST"):
            yield t, 'tunnel protocol must be "CONNECT" or "POST"'
        target = _as_str(tunnel.get("targetHost"))
        fqdn_err, ip_err = validate_fqdn(target), validate_ip_address(target)
        if fqdn_err and ip_err:
            yield t, f"tunnel target host must be valid FQDN or IP address: {fqdn_err}; {ip_err}"
        err = validate_port(_as_int(tunnel.get("targetPort")))
        if err:
            yield t, f"tunnel target port is invalid: {err}"
    pp = tp.get("proxyProtocol")
    if isinstance(pp, dict) and _as_str(pp.get("version")) not in ("", "V1", "V2"):
        yield "validateProxyProtocol", f"proxy protocol version is invalid: {pp.get('version')}"


def validate_destination_rule(obj: dict) -> Iterator[Error]:
    c = "ValidateDestinationRule"
    dr = _as_dict(obj.get("spec"))
    ns = _as_str(_as_dict(obj.get("metadata")).get("namespace"))
    yield from _errors(c, validate_wildcard_domain(_as_str(dr.get("host"))))
    yield from validate_traffic_policy(ns, dr.get("trafficPolicy"))
    names: set = set()
    for subset in _as_list(dr.get("subsets")):
        if subset is None:
            yield c, "subset may not be null"
            continue
        subset = _as_dict(subset)
        name = _as_str(subset.get("name"))
        if name in names:
            yield c, f"duplicate subset names: {name}"
        names.add(name)
        yield from _errors("validateSubset", validate_subset_name(name))
        yield from _errors("validateSubset", *labels_validate(subset.get("labels")))
        yield from validate_traffic_policy(ns, subset.get("trafficPolicy"))
    selector = dr.get("workloadSelector")
    yield from (("validateExportTo", e) for e in validate_export_to(ns, dr.get("exportTo"), False,
                                                                   isinstance(selector, dict)))
    yield from validate_workload_selector(selector)


# --- Gateway ---------------------------------------------------------------------------------------------------


def validate_tls_options(tls: Any) -> Iterator[Error]:
    c = "validateTLSOptions"
    if not isinstance(tls, dict):
        return
    mode = _as_str(tls.get("mode")) or "PASSTHROUGH"
    cert, key, ca = _as_str(tls.get("serverCertificate")), _as_str(tls.get("privateKey")), _as_str(tls.get("caCertificates"))
    cred, creds, certs = _as_str(tls.get("credentialName")), _as_list(tls.get("credentialNames")), _as_list(tls.get("tlsCertificates"))
    if mode == "ISTIO_MUTUAL":
        for present, what in ((cert, "server certificate"), (key, "private key"), (ca, "CA bundle"),
                              (certs, "tlsCertificates"), (cred, "credentialName"), (creds, "credentialNames")):
            if present:
                yield c, f"ISTIO_MUTUAL TLS cannot have associated {what}"
        return
    sources = sum(1 for x in ((cert and key), cred, creds, certs) if x)
    if sources > 1:
        yield c, ("only one of credential_name, credential_names, server_certificate/private_key, tls_certificates "
                  "should be specified")
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL") and (cred or creds):
        return
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"):
        to_verify = [(_as_str(_as_dict(t).get("serverCertificate")), _as_str(_as_dict(t).get("privateKey"))) for t in certs] if certs \
            else [(cert, key)]
        yield from _errors(c, *_tls_certificate_files(mode, ca, to_verify))
    if _as_str(tls.get("caCrl")):
        if cred:
            yield c, "CRL is not supported with credentialName. CRL has to be specified in the credential"
        if mode == "SIMPLE":
            yield c, "CRL is not supported with SIMPLE TLS"


def _tls_certificate_files(mode: str, ca: str, to_verify: list[tuple[str, str]]) -> Iterator[str]:
    """SIMPLE and MUTUAL TLS from files: each certificate with its key, and a client CA for MUTUAL."""
    prefix = "SIMPLE TLS" if mode == "SIMPLE" else "MUTUAL TLS"
    if mode != "SIMPLE" and not ca:
        yield f"{prefix} requires a client CA bundle"
    for server_cert, private_key in to_verify:
        if not server_cert:
            yield f"{prefix} requires a server certificate"
        if not private_key:
            yield f"{prefix} requires a private key"


def _passthrough_server(server: dict) -> bool:
    tls = _as_dict(server.get("tls"))
    return bool(tls) and tls.get("httpsRedirect") is True and _as_str(tls.get("mode")) in ("", "PASSTHROUGH")


def validate_server(server: Any) -> Iterator[Error]:
    c = "validateServer"
    if not isinstance(server, dict):
        yield c, "cannot have nil server"
        return
    hosts = _as_list(server.get("hosts"))
    if not hosts:
        yield c, "server config must contain at least one host"
    for h in hosts:
        yield from _errors(c, *validate_namespace_slash_wildcard_hostname(_as_str(h), True))
    port, bind = server.get("port"), _as_str(server.get("bind"))
    port_errs = list(validate_server_port(port, bind))
    yield from port_errs
    yield from validate_server_bind(port, bind)
    yield from validate_tls_options(server.get("tls"))
    if not port_errs and isinstance(port, dict):
        yield from _errors(c, _server_protocol_tls(server, protocol(port.get("protocol"))))


def validate_server_bind(port: Any, bind: str) -> Iterator[Error]:
    c = "validateServerBind"
    if bind.startswith(UNIX):
        yield from _errors(c, validate_unix_address(bind[len(UNIX):]))
        if isinstance(port, dict) and _as_int(port.get("number")):
            yield c, "port number must be 0 for unix domain socket"
    elif bind:
        yield from _errors(c, validate_ip_address(bind))


def _server_protocol_tls(server: dict, p: str) -> str | None:
    """TLS settings where, and only where, the port's protocol takes them."""
    tls = server.get("tls")
    if is_tls(p) and not isinstance(tls, dict):
        return "server must have TLS settings for HTTPS/TLS protocols"
    if is_tls(p) or not isinstance(tls, dict):
        return None
    if not is_http(p):
        return "server cannot have TLS settings for non HTTPS/TLS ports"
    if not _passthrough_server(server) or any(_as_str(tls.get(k)) for k in ("caCertificates", "privateKey",
                                                                       "serverCertificate")):
        return "server cannot have TLS settings for plain text HTTP ports"
    return None


def validate_server_port(port: Any, bind: str) -> Iterator[Error]:
    c = "validateServerPort"
    if not isinstance(port, dict):
        yield c, "port is required"
        return
    if protocol(port.get("protocol")) == "Unsupported":
        yield c, (f'invalid protocol "{_as_str(port.get("protocol"))}", supported protocols are HTTP, HTTP2, GRPC, '
                  "GRPC-WEB, MONGO, REDIS, MYSQL, TCP")
    number = _as_int(port.get("number"))
    if number > 0 or not bind.startswith(UNIX):
        yield from _errors(c, validate_port(number))
    if _as_int(port.get("targetPort")) > 0:
        yield c, "targetPort has no impact on Gateways"
    if not _as_str(port.get("name")):
        yield c, "port name must be set"


def validate_gateway(obj: dict) -> Iterator[Error]:
    c = "ValidateGateway"
    name = _as_str(_as_dict(obj.get("metadata")).get("name"))
    if not is_dns1123_label(name):
        yield c, f'invalid gateway name: "{name}"'
    servers = _as_list(_as_dict(obj.get("spec")).get("servers"))
    if not servers:
        yield c, "gateway must have at least one server"
    for s in servers:
        yield from validate_server(s)
    seen: set = set()
    for s in servers:
        if not isinstance(s, dict):
            yield c, "server may not be nil"
            continue
        if isinstance(s.get("port"), dict):
            pname = _as_str(s["port"].get("name"))
            if pname in seen:
                yield c, f"port names in servers must be unique: duplicate name {pname}"
            seen.add(pname)


# --- ServiceEntry ----------------------------------------------------------------------------------------------


def validate_workload_entry(we: dict, service_ports: set | None, allow_fqdn: bool) -> Iterator[Error]:
    c = "validateWorkloadEntry"
    addr = _as_str(we.get("address"))
    if not addr and not _as_str(we.get("network")):
        yield c, "address is required"
        return
    unix = addr.startswith(UNIX)
    if unix:
        yield from _errors(c, validate_unix_address(addr[len(UNIX):]))
        if _as_dict(we.get("ports")):
            yield c, f"unix endpoint {addr} must not include ports"
    elif addr and not _valid_ip(addr):
        if not allow_fqdn:
            yield c, f'endpoint address "{addr}" is not a valid IP address'
        elif validate_fqdn(addr):
            yield c, f'endpoint address "{addr}" is not a valid FQDN or an IP address'
    yield from _errors(c, *_endpoint_ports(we, service_ports), *labels_validate(we.get("labels")))
    if unix and service_ports is not None and len(service_ports) != 1:
        yield c, "exactly 1 service port required for unix endpoints"


def _endpoint_ports(endpoint: dict, service_ports: set | None) -> Iterator[str | None]:
    """An endpoint's ports: each named like a port of the service entry (when it has any list)."""
    for name, port in _as_dict(endpoint.get("ports")).items():
        if service_ports is not None and name not in service_ports:
            yield f"endpoint port {port} is not defined by the service entry"
        yield validate_port_name(str(name))
        yield validate_port(_as_int(port))


def validate_service_entry(obj: dict) -> Iterator[Error]:
    c = "ValidateServiceEntry"
    se = _as_dict(obj.get("spec"))
    ns = _as_str(_as_dict(obj.get("metadata")).get("namespace"))
    yield from validate_alpha_workload_selector(se.get("workloadSelector"), c)
    if isinstance(se.get("workloadSelector"), dict) and "endpoints" in se:
        yield c, "only one of WorkloadSelector or Endpoints is allowed in Service Entry"
    hosts = [_as_str(h) for h in _as_list(se.get("hosts"))]
    if not hosts:
        yield c, "service entry must have at least one host"
    yield from _errors(c, *(f"invalid host {h}" if h == "*" else validate_wildcard_domain(h) for h in hosts))
    addresses = [_as_str(a) for a in _as_list(se.get("addresses"))]
    yield from _errors(c, *map(validate_ip_subnet, addresses))
    resolution = _as_str(se.get("resolution")) or "NONE"
    if any("/" in a for a in addresses) and resolution not in ("NONE", "STATIC"):
        yield c, "CIDR addresses are allowed only for NONE/STATIC resolution types"
    names: set = set()
    ports = _as_list(se.get("ports"))
    yield from _errors(c, *_service_entry_ports(ports, names))
    yield from _resolution(obj, resolution, hosts, addresses, ports, names)
    if resolution != "NONE" and len(hosts) > 1 and \
            any(not is_http(p) and not is_tls(p) for p in (protocol(_as_dict(port).get("protocol")) for port in ports)):
        yield c, "multiple hosts provided with non-HTTP, non-TLS ports"
    yield from _errors("validateExportTo", *validate_export_to(ns, se.get("exportTo"), True, False))


def _resolution(obj: dict, resolution: str, hosts: list[str], addresses: list[str], ports: list,
                names: set) -> Iterator[Error]:
    """What each resolution type allows of the hosts, addresses, ports and endpoints."""
    c = "ValidateServiceEntry"
    endpoints = _as_list(_as_dict(obj.get("spec")).get("endpoints"))
    if resolution == "NONE":
        if endpoints:
            yield c, "no endpoints should be provided for resolution type none"
    elif resolution == "STATIC":
        for ep in endpoints:
            if ep is None:
                yield c, "endpoint cannot be nil"
                continue
            yield from validate_workload_entry(_as_dict(ep), names, False)
    elif resolution in ("DNS", "DNS_ROUND_ROBIN"):
        yield from _errors(c, *_dns_resolution(resolution, hosts, endpoints, names))
    elif resolution == "DYNAMIC_DNS":
        yield from _errors(c, *_dynamic_dns_resolution(obj, hosts, addresses, endpoints, ports))
    else:
        yield c, f"unsupported resolution type {resolution}"


def _service_entry_ports(ports: list, names: set) -> Iterator[str | None]:
    """Each port valid, names and numbers unique; collects the port names into ``names``."""
    numbers: set = set()
    for port in ports:
        if port is None:
            yield "service entry port may not be null"
            continue
        port = _as_dict(port)
        pname, number = _as_str(port.get("name")), _as_int(port.get("number"))
        if pname in names:
            yield f'service entry port name "{pname}" already defined'
        names.add(pname)
        if number in numbers:
            yield f"service entry port {number} already defined"
        numbers.add(number)
        if _as_int(port.get("targetPort")):
            yield validate_port(_as_int(port.get("targetPort")))
        yield validate_port_name(pname)
        yield validate_protocol(_as_str(port.get("protocol")))
        yield validate_port(number)


def _dns_resolution(resolution: str, hosts: list[str], endpoints: list, names: set) -> Iterator[str | None]:
    if not endpoints:
        for h in hosts:
            err = validate_fqdn(h)
            if err:
                yield (f"hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for "
                       f"resolution mode {resolution}, {err}")
                break
    if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
        yield f"there must only be 0 or 1 endpoint for resolution mode {resolution}"
    for ep in endpoints:
        if ep is None:
            yield "endpoint cannot be nil"
            continue
        ep = _as_dict(ep)
        addr = _as_str(ep.get("address"))
        if not _valid_ip(addr) and validate_fqdn(addr):
            yield f'endpoint address "{addr}" is not a valid FQDN or an IP address'
        yield from labels_validate(ep.get("labels"))
        yield from _endpoint_ports(ep, names)


def _dynamic_dns_resolution(obj: dict, hosts: list[str], addresses: list[str], endpoints: list,
                          ports: list) -> Iterator[str]:
    resolution = "DYNAMIC_DNS"
    for h in hosts:
        if not h.startswith("*"):
            yield f"host must be wildcarded for resolution mode {resolution}"
    if addresses:
        yield (f"addresses cannot be set for resolution type {resolution}. HTTP route domains will only be "
               "generatedfrom the hosts field values")
    if endpoints:
        yield (f"endpoints cannot be set for resolution type {resolution}. Destination IP address determined "
               "from hostsfield values")
    for port in ports:
        if protocol(_as_dict(port).get("protocol")) not in ("HTTP", "TLS", "GRPC", "HTTP2"):
            yield f"only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type {resolution}"
    location = _as_str(_as_dict(obj.get("spec")).get("location")) or "MESH_EXTERNAL"
    if location == "MESH_INTERNAL":
        waypoint = _as_str(_as_dict(_as_dict(obj.get("metadata")).get("labels")).get("istio.io/use-waypoint"))
        if waypoint and waypoint.lower() != "none":
            yield f"location MESH_INTERNAL with resolution type {resolution} is not supported when using waypoints"


# --- Sidecar ---------------------------------------------------------------------------------------------------


def _sidecar_port(port: dict, bind: str, capture: str, egress: bool) -> Iterator[Error]:
    c = "validateSidecarEgressPortBindAndCaptureMode" if egress else "validateSidecarIngressPortAndBind"
    name = _as_str(port.get("name"))
    if name:
        yield from _errors(c, validate_port_name(name))
    number = _as_int(port.get("number"))
    if egress and number == 0:
        yield from _errors(c, validate_protocol(_as_str(port.get("protocol"))))
        if not bind.startswith(UNIX):
            yield c, "sidecar: ports with 0 value must have a unix domain socket bind address"
        else:
            yield from _errors(c, validate_unix_address(bind[len(UNIX):]))
        if capture not in ("", "DEFAULT", "NONE"):
            yield c, "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners"
        return
    yield from _errors(c, validate_protocol(_as_str(port.get("protocol"))), validate_port(number))
    if bind:
        yield from _errors(c, validate_ip_address(bind))


def validate_sidecar(obj: dict) -> Iterator[Error]:
    c = "ValidateSidecar"
    sc = _as_dict(obj.get("spec"))
    yield from validate_alpha_workload_selector(sc.get("workloadSelector"), c)
    if not _as_list(sc.get("egress")) and not _as_list(sc.get("ingress")) and "outboundTrafficPolicy" not in sc \
            and "inboundConnectionPool" not in sc:
        yield c, "sidecar: empty configuration provided"
        return
    ports: set = set()
    for ing in _as_list(sc.get("ingress")):
        if ing is None:
            yield c, "sidecar: ingress may not be null"
            continue
        yield from _sidecar_ingress(_as_dict(ing), ports)
    yield from validate_connection_pool(sc.get("inboundConnectionPool"))
    yield from _sidecar_egress(_as_list(sc.get("egress")))
    yield from validate_sidecar_outbound_traffic_policy(sc.get("outboundTrafficPolicy"))


def _sidecar_ingress(ing: dict, ports: set) -> Iterator[Error]:
    """One ingress listener; ``ports`` collects the port numbers seen so far."""
    c = "ValidateSidecar"
    port = ing.get("port")
    if not isinstance(port, dict):
        yield c, "sidecar: port is required for ingress listeners"
        return
    if _as_int(port.get("targetPort")) > 0:
        yield c, "targetPort has no impact on Sidecars"
    yield from _sidecar_port(port, _as_str(ing.get("bind")), "", False)
    number = _as_int(port.get("number"))
    if number in ports:
        yield c, "sidecar: ports on IP bound listeners must be unique"
    ports.add(number)
    endpoint = _as_str(ing.get("defaultEndpoint"))
    if endpoint:
        yield from _errors(c, *_sidecar_default_endpoint(endpoint))
    tls = ing.get("tls")
    if isinstance(tls, dict):
        yield from _errors(c, *_sidecar_ingress_tls(tls, port))
        yield from validate_tls_options(tls)
    yield from validate_connection_pool(ing.get("connectionPool"))


def _sidecar_default_endpoint(endpoint: str) -> Iterator[str | None]:
    if endpoint.startswith(UNIX):
        yield validate_unix_address(endpoint[len(UNIX):])
        return
    host, colon, port_text = endpoint.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon:
        yield f"address {endpoint}: missing port in address"
    if host and host not in ("127.0.0.1", "0.0.0.0", "::1", "::"):
        yield ("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,"
               "[::]:port,unix://filepath or unset")
    if not re.fullmatch(r"[+-]?\d+", port_text):
        yield f"sidecar: defaultEndpoint port ({port_text}) is not a number"
    else:
        yield validate_port(int(port_text))


def _sidecar_ingress_tls(tls: dict, port: dict) -> Iterator[str]:
    if _as_list(tls.get("subjectAltNames")):
        yield "sidecar: subjectAltNames is not supported in ingress tls"
    if tls.get("httpsRedirect") is True:
        yield "sidecar: httpsRedirect is not supported"
    if _as_str(tls.get("credentialName")):
        yield "sidecar: credentialName is not currently supported"
    if _as_list(tls.get("credentialNames")):
        yield "sidecar: credentialNames is not currently supported"
    if _as_list(tls.get("tlsCertificates")):
        yield "sidecar: tls_certificates is not currently supported"
    if _as_str(tls.get("mode")) in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
        yield f"configuration is invalid: cannot set mode to {tls['mode']} in sidecar ingress tls"
    if not is_tls(protocol(port.get("protocol"))):
        yield "server cannot have TLS settings for non HTTPS/TLS ports"


def _sidecar_egress(egress_list: list) -> Iterator[Error]:
    """The egress listeners: at most one without a port (the last), ports and sockets unique."""
    c = "ValidateSidecar"
    ports: set = set()
    uds: set = set()
    catch_all = False
    for index, eg in enumerate(egress_list):
        if eg is None:
            yield c, "egress listener may not be null"
            continue
        eg = _as_dict(eg)
        port = eg.get("port")
        if isinstance(port, dict):
            yield from _sidecar_egress_port(eg, port, ports, uds)
        elif catch_all:
            yield c, "sidecar: egress can have only one listener with empty port"
            continue
        elif index == len(egress_list) - 1:
            catch_all = True
        else:
            yield c, "sidecar: the egress listener with empty port should be the last listener in the list"
        hosts = _as_list(eg.get("hosts"))
        if not hosts:
            yield c, "sidecar: egress listener must contain at least one host"
        for h in hosts:
            yield from _errors(c, *validate_namespace_slash_wildcard_hostname(_as_str(h), False))


def _sidecar_egress_port(eg: dict, port: dict, ports: set, uds: set) -> Iterator[Error]:
    c = "ValidateSidecar"
    if _as_int(port.get("targetPort")) > 0:
        yield c, "targetPort has no impact on Sidecars"
    bind = _as_str(eg.get("bind"))
    yield from _sidecar_port(port, bind, _as_str(eg.get("captureMode")), True)
    number = _as_int(port.get("number"))
    if number == 0:
        if bind in uds:
            yield c, "sidecar: unix domain socket values for listeners must be unique"
        uds.add(bind)
    else:
        if number in ports:
            yield c, "sidecar: ports on IP bound listeners must be unique"
        ports.add(number)


def validate_sidecar_outbound_traffic_policy(tp: Any) -> Iterator[Error]:
    if not isinstance(tp, dict) or not isinstance(tp.get("egressProxy"), dict):
        return
    t = "validateSidecarOutboundTrafficPolicy"
    proxy = tp["egressProxy"]
    if _as_str(tp.get("mode")) != "ALLOW_ANY":
        yield t, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode"
        return
    yield from _errors(t, validate_fqdn(_as_str(proxy.get("host"))))
    if not isinstance(proxy.get("port"), dict):
        yield t, "sidecar: egress_proxy port must be non-nil"
    else:
        yield from ((t, e) for _, e in validate_destination(proxy))


# --- security ----------------------------------------------------------------------------------------------------


def _ips(values: list) -> list[str]:
    errs = []
    for v in values:
        v = _as_str(v)
        if "/" in v:
            try:
                ipaddress.ip_network(v, strict=False)
                if "%" in v:
                    raise ValueError
            except ValueError:
                errs.append(f"bad CIDR range ({v})")
        elif not _valid_ip(v):
            errs.append(f"bad IP address ({v})")
    return errs


def _ports(values: list) -> list[str]:
    return [f"bad port ({p})" for p in map(_as_str, values) if not re.fullmatch(r"\d+", p) or int(p) > 65535]


def _empty(key: str, values: list) -> str | None:
    return f"empty value not allowed, found in {key}" if any(_as_str(v) == "" for v in values) else None


def _wildcards(key: str, values: list) -> str | None:
    err = _empty(key, values)
    if err:
        return err
    for v in map(_as_str, values):
        n = v.count("*")
        if n > 1:
            return f'at most one wildcard is allowed, found in {key}: "{v}"'
        if n == 1 and v != "*" and not v.startswith("*") and not v.endswith("*"):
            return f'wildcard is only allowed at the start or end, found in {key}: "{v}"'
    return None


def _trust_domains(key: str, values: list) -> str | None:
    err = _wildcards(key, values)
    if err:
        return err
    for v in map(_as_str, values):
        if "/" in v:
            return f'trust domain must not contain \'/\', found in {key}: "{v}"'
    return None


def _service_accounts(key: str, values: list) -> str | None:
    if len(values) > 16:
        return "may not have more than 16 values"
    for v in map(_as_str, values):
        if v == "":
            return f"empty value not allowed, found in {key}"
        if "*" in v:
            return f"wildcard not allowed, found in {key}"
        if v.count("/") not in (0, 1):
            return f"expected format 'serviceAccount' or 'namespace/serviceAccount', found \"{v}\" in {key}"
        if len(v) > 320:
            return f'value cannot exceed 320 characters, found "{v}" in {key}'
        ns, slash, sa = v.partition("/")
        if slash and not ns:
            return f"expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace \"{v}\" in {key}"
        if slash and not sa:
            return (f"expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount "
                    f"\"{v}\" in {key}")
    return None


_LITERAL = re.compile(r"^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$")


def _path_templates(key: str, paths: list) -> str | None:
    for path in map(_as_str, paths):
        has_template = "{*}" in path or "{**}" in path
        seen_any = False
        path = path.strip("/")
        for glob in path.split("/"):
            if glob == "{*}" and not seen_any:
                continue
            if glob == "{**}" and not seen_any:
                seen_any = True
                continue
            if glob in ("{*}", "{**}") and seen_any:
                return f"invalid or unsupported path {path}, found in {key}. {{**}} is not the last operator"
            if "{" in glob or "}" in glob:
                return (f"invalid or unsupported path {path}, found in {key}. Contains '{{' or '}}' beyond a supported "
                        "path template")
            if has_template and not _LITERAL.fullmatch(glob):
                return (f"invalid or unsupported path {path}, found in {key}. Contains segment {glob} with invalid "
                        "string literal")
    return None


def _map_key(key: str) -> str | None:
    open_ = key.find("[")
    if key.endswith("]") and 0 < open_ < len(key) - 2:
        return None
    return f"bad key ({key}): should have format a[b]"


def validate_attribute(key: str, values: list) -> str | None:
    err = _empty(key, values)
    if err:
        return err
    if key.startswith("request.headers") or key.startswith("request.auth.claims") \
            or key.startswith("experimental.envoy.filters."):
        return _map_key(key)
    if key in ("source.ip", "remote.ip", "destination.ip"):
        errs = _ips(values)
        return "; ".join(errs) if errs else None
    if key == "source.serviceAccount":
        return _service_accounts(key, values)
    if key == "source.trustDomain":
        return _wildcards(key, values)
    if key == "destination.port":
        errs = _ports(values)
        return "; ".join(errs) if errs else None
    if key in ("source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences",
               "request.auth.presenter", "connection.sni"):
        return None
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"


_SOURCE_KEYS = ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "notPrincipals",
                "notRequestPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks", "serviceAccounts",
                "notServiceAccounts", "trustDomains", "notTrustDomains")
_OPERATION_KEYS = ("ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts")


def validate_authorization_policy(obj: dict) -> Iterator[Error]:
    c = "ValidateAuthorizationPolicy"
    ap = _as_dict(obj.get("spec"))
    yield from _policy_selectors(ap)
    action = _as_str(ap.get("action")) or "ALLOW"
    rules = ap.get("rules")
    if action == "CUSTOM":
        yield from _errors(c, *_custom_action(ap, rules))
    if "provider" in ap and action != "CUSTOM":
        yield c, f"`provider` must not be with non CUSTOM action, found {action}"
    if action == "DENY" and rules is None:
        yield c, ("DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if "
                  "you want it be triggered for every request")
    for i, rule in enumerate(_as_list(rules)):
        if rule is None:
            yield c, f"`rule` must not be nil, found at rule {i}"
            continue
        rule = _as_dict(rule)
        yield from _errors(c, *_clauses(rule, "from", "source", i, _source),
                           *_clauses(rule, "to", "operation", i, _operation), *_rule_when(rule))


_CUSTOM_UNSUPPORTED_SOURCES = (
    ("namespaces", "From.Namespaces"), ("notNamespaces", "From.NotNamespaces"),
    ("serviceAccounts", "From.ServiceAccounts"), ("notServiceAccounts", "From.NotServiceAccounts"),
    ("trustDomains", "From.TrustDomains"), ("notTrustDomains", "From.NotTrustDomains"),
    ("principals", "From.Principals"), ("notPrincipals", "From.NotPrincipals"),
    ("requestPrincipals", "From.RequestPrincipals"), ("notRequestPrincipals", "From.NotRequestPrincipals"))


def _custom_action(ap: dict, rules: Any) -> Iterator[str]:
    """CUSTOM needs rules and a provider, and cannot match on the peer's or the request's identity."""
    if rules is None:
        yield ("CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule "
               "`{}` if you want it be triggered for every request")
    elif not _as_str(_as_dict(ap.get("provider")).get("name")):
        yield "`provider.name` must not be empty"
    for rule in _as_list(rules):
        for frm in _as_list(_as_dict(rule).get("from")):
            src = _as_dict(_as_dict(frm).get("source"))
            for key, label in _CUSTOM_UNSUPPORTED_SOURCES:
                if _as_list(src.get(key)):
                    yield f"{label} is currently not supported with CUSTOM action"
        for when in _as_list(_as_dict(rule).get("when")):
            if when is None:
                yield "when field cannot be nil"
                continue
            key = _as_str(_as_dict(when).get("key"))
            if key in ("source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal") \
                    or key.startswith("request.auth."):
                yield f"{key} is currently not supported with CUSTOM action"


def _each(check, obj: dict, keys: tuple[str, ...]) -> list[str | None]:
    """``check(Key, values)`` for each of ``keys`` (named as Go names the field)."""
    return [check(key[0].upper() + key[1:], _as_list(obj.get(key))) for key in keys]


def _clauses(rule: dict, key: str, inner: str, i: int, check) -> Iterator[str | None]:
    """A rule's ``from`` or ``to`` list: not empty when set, each clause with its ``source`` or
    ``operation``, which ``check(body, i)`` validates."""
    if key in rule and not _as_list(rule.get(key)):
        yield f"`{key}` must not be empty, found at rule {i}"
    for clause in _as_list(rule.get(key)):
        if clause is None:
            yield f"`{key}` must not be nil, found at rule {i}"
            continue
        body = _as_dict(clause).get(inner)
        if not isinstance(body, dict):
            yield f"`{key}.{inner}` must not be nil, found at rule {i}"
            continue
        yield from check(body, i)


def _source(src: dict, i: int) -> Iterator[str | None]:
    n = {k: len(_as_list(src.get(k))) for k in _SOURCE_KEYS}
    if n["principals"] + n["notPrincipals"] + n["namespaces"] + n["notNamespaces"] > 0 and \
            n["serviceAccounts"] + n["notServiceAccounts"] > 0:
        yield f"cannot set serviceAccounts with namespaces or principals, found at rule {i}"
    if not any(n.values()):
        yield f"`from.source` must not be empty, found at rule {i}"
    for key in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
        yield from _ips(_as_list(src.get(key)))
    yield from _each(_empty, src, ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks",
                                   "notPrincipals", "notRequestPrincipals", "notNamespaces", "notIpBlocks",
                                   "notRemoteIpBlocks"))
    yield from _each(_service_accounts, src, ("serviceAccounts", "notServiceAccounts"))
    yield from _each(_trust_domains, src, ("trustDomains", "notTrustDomains"))


def _operation(op: dict, i: int) -> Iterator[str | None]:
    if not any(_as_list(op.get(k)) for k in _OPERATION_KEYS):
        yield f"`to.operation` must not be empty, found at rule {i}"
    for key in ("ports", "notPorts"):
        yield from _ports(_as_list(op.get(key)))
    yield from _each(_empty, op, _OPERATION_KEYS)
    yield from _each(_path_templates, op, ("paths", "notPaths"))


def _rule_when(rule: dict) -> Iterator[str]:
    for cond in _as_list(rule.get("when")):
        cond = _as_dict(cond)
        key = _as_str(cond.get("key"))
        if not key:
            yield "`key` must not be empty"
        elif not _as_list(cond.get("values")) and not _as_list(cond.get("notValues")):
            yield f"at least one of `values` or `notValues` must be set for key {key}"
        else:
            err = validate_attribute(key, _as_list(cond.get("values")))
            if err:
                yield f"invalid `value` for `key` {key}: {err}"
            err = validate_attribute(key, _as_list(cond.get("notValues")))
            if err:
                yield f"invalid `notValue` for `key` {key}: {err}"


def validate_jwt_rule(rule: Any) -> Iterator[Error]:
    c = "validateJwtRule"
    if not isinstance(rule, dict):
        return
    for aud in _as_list(rule.get("audiences")):
        if not _as_str(aud):
            yield c, "audience must be non-empty string"
    if not _as_str(rule.get("issuer")) and not _as_str(rule.get("jwksUri")):
        yield c, "issuer or jwksUri must be non-empty string"
    uri = _as_str(rule.get("jwksUri"))
    if uri:
        yield from _errors(c, _jwks_uri(uri))
    jwks = _as_str(rule.get("jwks"))
    if jwks:
        yield from _errors(c, _jwks(jwks))
    yield from _errors(c, *_jwt_locations(rule), *_output_claim_to_headers(rule))
    yield from _errors(c, *_durations(rule, "timeout"))


def _jwks_uri(uri: str) -> str | None:
    """Go's ``url.ParseRequestURI`` of an http(s) URI, then its port as a number."""
    scheme = uri.partition(":")[0].lower() if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", uri) else ""
    if scheme not in ("http", "https"):
        return f'URI scheme "{scheme}" is not supported'
    try:
        host = parse_request_uri(uri).host
    except ValueError as exc:
        return f'parse "{uri}": {exc}'
    port = host.rpartition(":")[2] if ":" in host and not host.endswith("]") else ""
    if port and not port.isdigit():
        return f'strconv.Atoi: parsing "{port}": invalid syntax'
    return None


def _jwks(jwks: str) -> str | None:
    try:
        data = json.loads(jwks)
    except ValueError as exc:
        return f"jwks parse error: {exc}"
    return None if isinstance(data, dict) else "jwks parse error: not a JSON object"


def _jwt_locations(rule: dict) -> Iterator[str]:
    """Where the token is read from: headers, query parameters, cookies."""
    for loc in _as_list(rule.get("fromHeaders")):
        if loc is None:
            yield "location header name must be non-null"
        elif not _as_str(_as_dict(loc).get("name")):
            yield "location header name must be non-empty string"
    for loc in _as_list(rule.get("fromParams")):
        if not _as_str(loc):
            yield "location query must be non-empty string"
    for loc in _as_list(rule.get("fromCookies")):
        if not _as_str(loc):
            yield "cookie name must be non-empty string"


def _output_claim_to_headers(rule: dict) -> Iterator[str | None]:
    for oc in _as_list(rule.get("outputClaimToHeaders")):
        if oc is None:
            yield "outputClaimToHeaders must not be null"
            continue
        oc = _as_dict(oc)
        if not _as_str(oc.get("claim")) or not _as_str(oc.get("header")):
            yield "outputClaimToHeaders header and claim value must be non-empty string"
            continue
        yield validate_strict_http_header_name(_as_str(oc.get("header")))


def validate_request_authentication(obj: dict) -> Iterator[Error]:
    ra = _as_dict(obj.get("spec"))
    yield from _policy_selectors(ra)
    for rule in _as_list(ra.get("jwtRules")):
        yield from validate_jwt_rule(rule)


def validate_peer_authentication(obj: dict) -> Iterator[Error]:
    c = "ValidatePeerAuthentication"
    pa = _as_dict(obj.get("spec"))
    selector = pa.get("selector")
    empty = not isinstance(selector, dict) or not _as_dict(selector.get("matchLabels"))
    plm = pa.get("portLevelMtls")
    if empty and _as_dict(plm):
        yield c, "mesh/namespace peer authentication cannot have port level mTLS"
    if isinstance(plm, dict) and not plm:
        yield c, "port level mTLS, if defined, must have at least one element"
    for port in _as_dict(plm):
        n = _as_int(port)
        if n <= 0 or n > 65535:
            yield c, "port must be in range 1..65535"
    yield from validate_workload_selector(selector)


# --- Telemetry, EnvoyFilter --------------------------------------------------------------------------------------


def _providers(providers: Any) -> Iterator[Error]:
    for p in _as_list(providers):
        if not isinstance(p, dict) or not _as_str(p.get("name")):
            yield "validateTelemetryProviders", "providers.name may not be empty"
            return


def validate_telemetry(obj: dict) -> Iterator[Error]:
    spec = _as_dict(obj.get("spec"))
    yield from _policy_selectors(spec)
    for m in _as_list(spec.get("metrics")):
        if isinstance(m, dict):
            yield from _providers(m.get("providers"))
            yield from validate_telemetry_metrics(m)
    for t in _as_list(spec.get("tracing")):
        if isinstance(t, dict):
            yield from _providers(t.get("providers"))
            yield from validate_telemetry_tracing(t)
    for a in _as_list(spec.get("accessLogging")):
        if isinstance(a, dict):
            yield from _providers(a.get("providers"))


def validate_telemetry_metrics(m: dict) -> Iterator[Error]:
    c = "validateTelemetryMetrics"
    for o in _as_list(m.get("overrides")):
        if o is None:
            yield c, "tagOverrides may not be null"
            continue
        for to in _as_dict(_as_dict(o).get("tagOverrides")).values():
            if to is None:
                yield c, "tagOverrides may not be null"
                continue
            op, value = _as_str(_as_dict(to).get("operation")) or "UPSERT", _as_str(_as_dict(to).get("value"))
            if op == "UPSERT" and not value:
                yield c, "tagOverrides.value must be set when operation is UPSERT"
            if op == "REMOVE" and value:
                yield c, "tagOverrides.value may only be set when operation is UPSERT"
        match = _as_dict(_as_dict(o).get("match"))
        if "customMetric" in match and not _as_str(match.get("customMetric")):
            yield c, "customMetric may not be empty"


def validate_telemetry_tracing(t: dict) -> Iterator[Error]:
    c = "validateTelemetryTracing"
    if "randomSamplingPercentage" in t:
        v = _as_float(t.get("randomSamplingPercentage"))
        if v < 0 or v > 100:
            yield c, "randomSamplingPercentage must be in range [0.0, 100.0]"
    for name, tag in _as_dict(t.get("customTags")).items():
        if name == "":
            yield c, "tag name may not be empty"
        if tag is None:
            yield c, f"tag '{name}' may not have a nil value"
            continue
        tag = _as_dict(tag)
        if "literal" in tag and not _as_str(_as_dict(tag["literal"]).get("value")):
            yield c, "literal tag value may not be empty"
        elif "header" in tag and not _as_str(_as_dict(tag["header"]).get("name")):
            yield c, "header tag name may not be empty"
        elif "environment" in tag and not _as_str(_as_dict(tag["environment"]).get("name")):
            yield c, "environment tag name may not be empty"


def validate_envoy_filter(obj: dict) -> Iterator[Error]:
    c = "ValidateEnvoyFilter"
    ef = _as_dict(obj.get("spec"))
    yield from validate_alpha_workload_selector(ef.get("workloadSelector"), c)
    for cp in _as_list(ef.get("configPatches")):
        yield from _errors(c, _config_patch(cp))


_LISTENER_CLASS = ("LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER")
_ROUTE_CLASS = ("ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE")
_HCM = ("envoy.filters.network.http_connection_manager", "envoy.http_connection_manager")


def _config_patch(cp: Any) -> str | None:
    """The first reason a config patch is refused (Go's loop ``continue``s after each)."""
    if cp is None:
        return "Envoy filter: null config patch"
    cp = _as_dict(cp)
    match = cp.get("match")
    if isinstance(match, dict) and match.get("context") == "WAYPOINT":
        return None
    if _as_str(cp.get("applyTo")) in ("", "INVALID"):
        return "Envoy filter: missing applyTo"
    patch = cp.get("patch")
    if not isinstance(patch, dict):
        return "Envoy filter: missing patch"
    op = _as_str(patch.get("operation"))
    if op in ("", "INVALID"):
        return "Envoy filter: missing patch operation"
    if op != "REMOVE" and patch.get("value") is None:
        return "Envoy filter: missing patch value for non-remove operation"
    match = _as_dict(match)
    version = _as_str(_as_dict(match.get("proxy")).get("proxyVersion"))
    err = _re2_error(version) if version else None
    if err:
        return f"Envoy filter: invalid regex for proxy version, [{err}]"
    return _apply_to_match(_as_str(cp.get("applyTo")), match)


def _apply_to_match(apply_to: str, match: dict) -> str | None:
    """The match names an object of the class that ``applyTo`` patches."""
    if not any(k in match for k in ("listener", "routeConfiguration", "cluster")):
        return None
    if apply_to in _LISTENER_CLASS:
        listener = match.get("listener")
        if not isinstance(listener, dict):
            return "Envoy filter: applyTo for listener class objects cannot have non listener match"
        chain = _as_dict(listener.get("filterChain"))
        return _filter_match(apply_to, _as_dict(chain.get("filter"))) if "filter" in chain else None
    if apply_to in _ROUTE_CLASS and not isinstance(match.get("routeConfiguration"), dict):
        return "Envoy filter: applyTo for http route class objects cannot have non route configuration match"
    if apply_to == "CLUSTER" and not isinstance(match.get("cluster"), dict):
        return "Envoy filter: applyTo for cluster class objects cannot have non cluster match"
    return None


def _filter_match(apply_to: str, flt: dict) -> str | None:
    if not _as_str(flt.get("name")):
        return "Envoy filter: filter match has no name to match on"
    if "subFilter" not in flt:
        return None
    if apply_to != "HTTP_FILTER":
        return "Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only"
    if _as_str(flt.get("name")) not in _HCM:
        return "Envoy filter: subfilter match requires filter match with envoy.filters.network.http_connection_manager"
    if not _as_str(_as_dict(flt.get("subFilter")).get("name")):
        return "Envoy filter: subfilter match has no name to match on"
    return None


# --- dispatch --------------------------------------------------------------------------------------------------

VALIDATORS = {
    ("networking.istio.io", "VirtualService"): validate_virtual_service,
    ("networking.istio.io", "DestinationRule"): validate_destination_rule,
    ("networking.istio.io", "Gateway"): validate_gateway,
    ("networking.istio.io", "ServiceEntry"): validate_service_entry,
    ("networking.istio.io", "Sidecar"): validate_sidecar,
    ("networking.istio.io", "EnvoyFilter"): validate_envoy_filter,
    ("security.istio.io", "AuthorizationPolicy"): validate_authorization_policy,
    ("security.istio.io", "PeerAuthentication"): validate_peer_authentication,
    ("security.istio.io", "RequestAuthentication"): validate_request_authentication,
    ("telemetry.istio.io", "Telemetry"): validate_telemetry,
}

# every name a finding can carry, for the rule registry and the docs
CHECKS = sorted({
    "ValidateVirtualService", "ValidateDestinationRule", "ValidateGateway", "ValidateServiceEntry", "ValidateSidecar",
    "ValidateEnvoyFilter", "ValidateAuthorizationPolicy", "ValidatePeerAuthentication", "ValidateTLS",
    "validateHTTPRouteConflict", "validateHTTPRouteMatchRequest", "validateHTTPRoute", "validateCORSPolicy",
    "validateHTTPFaultInjection", "validateHTTPFaultInjectionAbort", "validateHTTPFaultInjectionDelay",
    "validateDestination", "validateHTTPRetry", "validateHTTPRedirect", "validateHTTPDirectResponse",
    "validateHTTPMirrors", "validateHTTPRewrite", "validateAuthorityRewrite", "validateHTTPRouteDestinations",
    "validateRouteDestinations", "validateGatewayNames", "validateSniHost", "validateTLSRoute", "validateTLSMatch",
    "validateTCPRoute", "validateTCPMatch", "validateExportTo", "validateOutlierDetection", "validateConnectionPool",
    "validateLoadBalancer", "validateTrafficPolicy", "validatePortTrafficPolicies", "validateTunnelSettings",
    "validateProxyProtocol", "validateSubset", "validateTLSOptions", "validateServer", "validateServerPort",
    "validateServerBind", "validateWorkloadEntry", "validateSidecarEgressPortBindAndCaptureMode",
    "validateSidecarIngressPortAndBind", "validateSidecarOutboundTrafficPolicy", "validateWorkloadSelector",
    "validateOneOfSelectorType", "validatePolicyTargetReference", "validateJwtRule", "validateTelemetryMetrics",
    "validateTelemetryTracing", "validateTelemetryProviders", "validateMetadata",
})


DRY_RUN = "istio.io/dry-run"
REJECTED_ANNOTATIONS = ("internal.istio.io/webhook-always-reject", "internal.istio.io/parent-namespace",
                        "internal.istio.io/parents")


def validate_metadata(obj: dict) -> Iterator[Error]:
    """What the webhook checks before any kind's own validation (the annotations)."""
    c = "validateMetadata"
    meta = _as_dict(obj.get("metadata"))
    annotations = _as_dict(meta.get("annotations"))
    where = f"{_as_str(meta.get('namespace'))}/{_as_str(meta.get('name'))}"
    if DRY_RUN in annotations:
        if obj.get("kind") != "AuthorizationPolicy":
            yield c, f"{where} has unsupported annotation {DRY_RUN}, please remove the annotation"
            return
        action = _as_str(_as_dict(obj.get("spec")).get("action")) or "ALLOW"
        if action in ("ALLOW", "DENY"):
            if _as_str(annotations[DRY_RUN]) not in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE",
                                               "false", "False"):
                yield c, f"{where} has annotation {DRY_RUN} with invalid value ({annotations[DRY_RUN]})"
                return
        else:
            yield c, f"the annotation {DRY_RUN} currently only supports action ALLOW/DENY, found action {action} in {where}"
            return
    for key in REJECTED_ANNOTATIONS:
        if key in annotations:
            yield c, f'"{key}" annotation found, rejecting' if key.endswith("always-reject") \
                else f'"{key}" annotation found, this may not be set by users'
            return


def validate(obj: dict) -> list[Error]:
    """The webhook's errors for one object ([] when it admits it, or for kinds it does not judge)."""
    if not isinstance(obj, dict):
        return []
    group = str(obj.get("apiVersion", "")).partition("/")[0]
    fn = VALIDATORS.get((group, str(obj.get("kind", ""))))
    if fn is None:
        return []
    meta = list(validate_metadata(obj))
    if meta:
        return meta
    return list(dict.fromkeys(fn(obj)))


def check_webhook(ctx) -> None:
    """Findings for every rendered Istio object the webhook would reject."""
    for doc in ctx.r.docs:
        for check, message in validate(doc.obj):
            ctx.add(doc, check, message, level="error")
