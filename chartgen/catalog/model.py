"""The service catalog model: the single source of truth for everything chartgen writes.

Structural rules live in the pydantic models below (types, enums, ranges, unknown keys);
``chartgen.catalog.validate`` adds the semantic rules that need the whole catalog.
Field names are the catalog's camelCase keys, so an error path is the YAML path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag,
                      model_validator)
from pydantic_core import PydanticCustomError

from ..base import envoy_regex, naming, yamlout
from ..base.naming import parse_request_uri

API_VERSION = "chartgen.io/v1"
KIND = "ServiceCatalog"


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _check(rule: str, expected: str, ok, typ: type | tuple = str):
    """A validator that checks type and constraint together, so the message always reads
    "expected <what the catalog wants>, got <what it has>"."""

    def validator(value):
        good_type = isinstance(value, typ) and not (isinstance(value, bool) and bool not in _as_tuple(typ))
        if not good_type or not ok(value):
            raise PydanticCustomError(rule, "expected {expected}, got {got}", {"expected": expected, "got": _got(value)})
        return value

    return BeforeValidator(validator)


def _as_tuple(typ) -> tuple:
    return typ if isinstance(typ, tuple) else (typ,)


def _visible(value):
    """Refuse an invisible or bidirectional control character (``naming.invisible``) in a
    string: ``/api\u200b`` beside ``/api`` is another path, a header ``exact: "true\u200b"``
    never matches, U+202E reorders what a reviewer reads."""
    found = naming.invisible(value) if isinstance(value, str) else None
    if found is not None:
        raise PydanticCustomError(
            "invisible-character", "expected text without invisible or bidirectional control characters, got "
            "{got}: {char} at character {pos}; write it with visible characters only",
            {"got": _got(value), "char": found[1], "pos": found[0] + 1})
    return value


Visible = BeforeValidator(_visible)

# Names are written bare into manifests and YAML files: one that YAML 1.1 reads as something
# else ('on', 'no', 'y', 'null', '012', '1e3') would reach helm and kubectl as a boolean,
# null or number. (Validators of one Annotated run last-declared first.)
_YAML_NAME = _check("yaml-ambiguous", "a name that YAML reads as a string (to helm and kubectl 'on', 'no', 'y', "
                    "'null', '012', '1e3' are booleans, nulls or numbers)",
                    lambda v: not yamlout.ambiguous(v))
DnsLabel = Annotated[
    str,
    Field(json_schema_extra={"pattern": naming.DNS1123_LABEL.pattern, "maxLength": 63}),
    _YAML_NAME,
    _check("dns-1123", "a DNS-1123 label (lowercase letters, digits, '-', at most 63)",
           lambda v: len(v) <= 63 and naming.DNS1123_LABEL.fullmatch(v)),
]
# Istio reads durations with Go's time.ParseDuration: int64 nanoseconds, at most about 292 years
MAX_DURATION_MS = (2**63 - 1) / 1e6


def _duration_within(limit_ok):
    """A check on a duration's length that leaves malformed values to the duration check
    (validators of one Annotated run last-declared first)."""
    return lambda v: not (isinstance(v, str) and naming.DURATION.fullmatch(v)) or limit_ok(naming.duration_ms(v))


Duration = Annotated[
    str,
    Field(json_schema_extra={"pattern": naming.DURATION.pattern, "examples": ["2s", "500ms", "1m"]}),
    _check("duration-range", "a duration of at most 2562047h (the longest Istio can read)",
           _duration_within(lambda ms: ms <= MAX_DURATION_MS), (object, bool)),
    _check("duration", "a duration such as '2s', '500ms' or '1m' (at least 1ms, whole milliseconds)",
           lambda v: bool(naming.DURATION.fullmatch(v)) and naming.istio_duration(v)),
]
Percent = Annotated[
    float,
    Field(json_schema_extra={"minimum": 0, "maximum": 100}),
    _check("percent-range", "a percentage 0–100", lambda v: 0 <= v <= 100, (int, float)),
]
# Istio refuses fault percentages in (0, 0.0001) (validatePercentage)
FaultPercent = Annotated[
    float,
    Field(json_schema_extra={"minimum": 0, "maximum": 100}),
    _check("percent-range", "a percentage: 0, or 0.0001–100", lambda v: v == 0 or 0.0001 <= v <= 100, (int, float)),
]
PortNumber = Annotated[
    int,
    Field(json_schema_extra={"minimum": 1, "maximum": 65535}),
    _check("port-range", "a port number 1–65535", lambda v: 1 <= v <= 65535, int),
]
HttpStatus = Annotated[
    int,
    Field(json_schema_extra={"minimum": 200, "maximum": 599}),
    _check("http-status", "an HTTP status 200–599", lambda v: 200 <= v <= 599, int),
]
# Whole numbers bounded by the Istio/Envoy type that receives them (protobuf int32 / uint32),
# so that no value wraps around in the proxy.
INT32_MAX = naming.INT32_MAX
UINT32_MAX = naming.UINT32_MAX


def _whole(low: int, high: int, kind: str):
    return Annotated[int, Field(json_schema_extra={"minimum": low, "maximum": high}),
                     _check("range", f"a whole number {low}–{high} ({kind})", lambda v: low <= v <= high, int)]


Count = _whole(0, INT32_MAX, "int32")
PositiveCount = _whole(1, INT32_MAX, "int32")
UInt32Count = _whole(0, UINT32_MAX, "uint32")
PositiveUInt32 = _whole(1, UINT32_MAX, "uint32")
Host = Annotated[
    str,
    Field(json_schema_extra={"pattern": naming.HOST.pattern, "maxLength": 253}),
    _YAML_NAME,
    _check("host", "a DNS host name of at most 253 characters, labels of at most 63 (a leading '*.' is allowed)",
           naming.is_host),
]
PathPrefix = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^/[^\s\x00-\x1f\x7f]*$"}),
    Visible,
    _check("path", "an HTTP path starting with '/', without spaces or control characters",
           lambda v: v.startswith("/") and not any(c.isspace() for c in v) and not naming.has_control(v)),
]
Text = Annotated[
    str,
    Visible,
    _check("text", "a single line without control characters", lambda v: not naming.has_control(v)),
]
MultilineText = Annotated[
    str,
    Visible,
    _check("text", "text without control characters other than tab and line breaks",
           lambda v: not naming.has_control(v, multiline=True)),
]
LabelKey = Annotated[
    str,
    _check("label-key", "a Kubernetes label key ([prefix/]name, name at most 63 characters of letters, digits, '-', '_', '.')",
           naming.is_label_key),
]
LabelValue = Annotated[
    str,
    Field(json_schema_extra={"maxLength": 63, "pattern": "^(?:" + naming.LABEL_VALUE.pattern + ")$"}),
    _check("label-value", "a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)",
           naming.is_label_value),
]
KubeContext = Annotated[
    str,
    Field(json_schema_extra={"minLength": 1, "maxLength": 253, "not": {"pattern": r"\{\{|\}\}"}}),
    Visible,
    _check("kube-context", "a kube context name (1–253 characters, no control characters, no '{{' or '}}': "
           "helmfile renders helmfile.yaml as a Go template)",
           lambda v: 0 < len(v) <= 253 and not naming.has_control(v) and not naming.has_template(v)),
]
ChartMirror = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^(?:" + naming.CHART_MIRROR.pattern + ")$"}),
    _check("chart-mirror", "an https://, http:// or oci:// URL of host, port and path "
           "(letters, digits, '.', '-', '_', '~')", lambda v: naming.chart_mirror_problem(v) is None),
]
MeshChartRef = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^(?:" + naming.MESH_CHART.pattern + ")$"}),
    _check("mesh-chart", "<repository>/<chart> or oci://<registry>/<path>", lambda v: naming.mesh_chart_problem(v) is None),
]
EnvVarName = Annotated[
    str,
    _check("env-name", "an environment variable name", lambda v: bool(naming.ENV_VAR.fullmatch(v))),
]
Version = Annotated[
    str,
    _check("semver", "a version such as 1.30.3 that helm can parse (each number at most 18446744073709551615)",
           naming.is_version),
]
PROTOCOLS = ("HTTP", "HTTP2", "GRPC", "TCP", "TLS", "HTTPS", "MONGO", "REDIS", "MYSQL")
Protocol = Literal[PROTOCOLS]  # type: ignore[valid-type]
# How Istio routes each protocol: HTTP rules (L7), TLS rules by SNI (the sidecar sees only the
# handshake: TLS and app-originated HTTPS), TCP rules (opaque bytes; Mongo, Redis and MySQL
# are TCP to the router: their filters are off by default in Istio).
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC"})
TLS_PROTOCOLS = frozenset({"TLS", "HTTPS"})
# gRPC status names that Istio accepts for a fault abort (pkg/util/grpc SupportedGRPCStatus).
GRPC_STATUS = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
)
GrpcStatus = Literal[GRPC_STATUS]  # type: ignore[valid-type]


def protocol_class(protocol: str) -> str:
    """``http``, ``tls`` or ``tcp``: the kind of VirtualService rule a port gets."""
    if protocol in HTTP_PROTOCOLS:
        return "http"
    return "tls" if protocol in TLS_PROTOCOLS else "tcp"
MtlsMode = Literal["STRICT", "PERMISSIVE"]
DataPlane = Literal["sidecar", "ambient"]
IngressApi = Literal["istio", "gatewayApi"]
Balancer = Literal["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"]
EgressPolicy = Literal["REGISTRY_ONLY", "ALLOW_ANY"]

RETRY_ON = (
    "5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited", "retriable-4xx",
    "refused-stream", "retriable-status-codes", "retriable-headers", "cancelled",
    "deadline-exceeded", "internal", "resource-exhausted", "unavailable", "reset-before-request",
    "http3-post-connect-failure",
)


# Istio's own default (the VirtualService's HTTPRetry.retryOn when unset): no "5xx" or "reset",
# so a request that reached the service (a non-idempotent POST) is not sent twice unless the
# catalog asks for it.
ISTIO_DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"


def _check_retry_on(value: str) -> str:
    for token in value.split(","):
        token = token.strip()
        if not (token in RETRY_ON or token.isdigit()):
            raise PydanticCustomError(
                "retry-on",
                "expected a comma-separated list of {known}, got {got}",
                {"known": ", ".join(RETRY_ON[:6]) + ", …", "got": repr(token)},
            )
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- building blocks ---------------------------------------------------------------------


class Maintainer(Model):
    name: Text
    email: Text | None = None
    url: Text | None = None


class Metadata(Model):
    name: DnsLabel = Field(description="Mesh name; the chart is called <name>-mesh.")
    domain: Host = Field(description="Base DNS domain; hosts are <service>.<env>.<domain>.")
    description: Text = "Istio service mesh configuration"
    home: Text | None = None
    icon: Text = Field("https://istio.io/latest/favicons/android-192x192.png", description="Chart icon URL.")
    sources: list[Text] = []
    keywords: list[Text] = []
    maintainers: list[Maintainer] = []
    license: Annotated[
        str,
        Field(json_schema_extra={"pattern": naming.SPDX_EXPRESSION.pattern, "examples": ["Apache-2.0", "MIT OR Apache-2.0"]}),
        _check("spdx", "an SPDX license expression such as 'Apache-2.0' or 'MIT OR Apache-2.0'",
               lambda v: bool(naming.SPDX_EXPRESSION.fullmatch(v)) and v.count("(") == v.count(")")),
    ] | None = Field(None, description="The chart's licence (SPDX), shown by Artifact Hub; default: none stated.")


class Versions(Model):
    """Pinned chart versions of everything the helmfile installs."""

    istio: Version = "1.30.3"
    kiali: Version = "2.26.0"
    jaeger: Version = "4.11.0"
    prometheus: Version = "29.0.0"
    grafana: Version = "12.0.0"
    localstack: Version = "0.6.15"
    kubernetes: Text = Field(">=1.30.0-0", description="The chart's kubeVersion constraint.")


class Port(Model):
    name: DnsLabel
    port: PortNumber
    protocol: Protocol = "HTTP"


# A container port name (Kubernetes IANA_SVC_NAME: at most 15 lowercase letters, digits and
# '-', at least one letter, no '--', no '-' at either end).
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


def _target_port_ok(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return 1 <= v <= 65535
    return isinstance(v, str) and bool(IANA_SVC_NAME.fullmatch(v)) and not yamlout.ambiguous(v)


TargetPort = Annotated[
    int | str,
    Field(json_schema_extra={"examples": [8080, "http"]}),
    _check("target-port", "a port number 1–65535 or a container port name (at most 15 lowercase letters, digits "
           "and '-', at least one letter)", _target_port_ok, (int, str)),
]


class ServicePort(Port):
    """A port of a catalog service: ``port`` is the Kubernetes Service's port (what callers
    dial), ``targetPort`` the pod's (what the workload listens on, what NetworkPolicies and
    AuthorizationPolicies admit: Istio matches the workload port)."""

    targetPort: TargetPort | None = Field(
        None, description="The pod's port: a number, or a container port name; default the same as port.")



class Retries(Model):
    attempts: Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 20}), _check("range", "a whole number 0–20", lambda v: 0 <= v <= 20, int)]
    perTryTimeout: Duration | None = None
    retryOn: Annotated[str, AfterValidator(_check_retry_on)] = Field(
        ISTIO_DEFAULT_RETRY_ON, description="Envoy retry conditions; default Istio's (no 5xx: a POST that reached "
        "the service is not sent again).")


class Cookie(Model):
    name: Annotated[str, Field(min_length=1)]
    path: PathPrefix | None = None
    ttl: Duration | None = None


class SessionAffinity(Model):
    """Consistent-hash load balancing: exactly one of the keys."""

    header: Annotated[str, Field(min_length=1)] | None = None
    cookie: Cookie | None = None
    sourceIp: bool | None = None
    queryParameter: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        set_keys = [k for k in ("header", "cookie", "sourceIp", "queryParameter") if getattr(self, k) is not None]
        if len(set_keys) != 1:
            raise PydanticCustomError(
                "affinity-one-of",
                "expected exactly one of header, cookie, sourceIp, queryParameter, got {got}",
                {"got": ", ".join(set_keys) or "none"},
            )
        return self


class TcpPool(Model):
    maxConnections: PositiveCount | None = None
    connectTimeout: Duration | None = None


class HttpPool(Model):
    http1MaxPendingRequests: PositiveCount | None = None
    http2MaxRequests: PositiveCount | None = None
    maxRequestsPerConnection: Count | None = None
    maxRetries: Count | None = None
    idleTimeout: Duration | None = None


class ConnectionPool(Model):
    tcp: TcpPool | None = None
    http: HttpPool | None = None


class OutlierDetection(Model):
    consecutive5xxErrors: UInt32Count | None = None
    consecutiveGatewayErrors: UInt32Count | None = None
    interval: Duration | None = None
    baseEjectionTime: Duration | None = None
    maxEjectionPercent: Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 100}), _check("percent-range", "a percentage 0–100", lambda v: 0 <= v <= 100, int)] | None = None


class RateLimit(Model):
    """A local (per pod) token bucket: ``requests`` per ``per``, bursts up to ``burst``."""

    requests: PositiveUInt32
    per: Annotated[Duration, _check("fill-interval", "a duration of at least 50ms (Envoy's shortest token bucket "
                                    "fill interval)", _duration_within(lambda ms: ms >= 50), (object, bool))] = "1s"
    burst: PositiveUInt32 | None = None


class Slo(Model):
    errorRatio: Annotated[float, Field(json_schema_extra={"minimum": 0, "maximum": 1}), _check("ratio-range", "a ratio 0–1", lambda v: 0 <= v <= 1, (int, float))] | None = None
    p99Latency: Duration | None = None


class StringMatch(Model):
    exact: Text | None = None
    # Istio refuses an empty prefix or regex; Envoy runs the regex with RE2 (_check_re2,
    # defined with the exposed paths below)
    prefix: Annotated[Text, _check("non-empty", "a non-empty string", lambda v: v != "")] | None = None
    regex: Annotated[Text, AfterValidator(lambda v: _check_re2(v)),
                     _check("non-empty", "a non-empty string", lambda v: v != "")] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        set_keys = [k for k in ("exact", "prefix", "regex") if getattr(self, k) is not None]
        if len(set_keys) != 1:
            raise PydanticCustomError(
                "match-one-of", "expected exactly one of exact, prefix, regex, got {got}", {"got": ", ".join(set_keys) or "none"}
            )
        return self


HeaderName = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^[a-z0-9-]+$"}),
    _check("header-name", "a lowercase header name", lambda v: bool(re.fullmatch(r"[a-z0-9-]+", v))),
]


class CookieMatch(Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")]
    value: Text


class Match(Model):
    """Request conditions; every condition given must hold (AND)."""

    headers: dict[HeaderName, StringMatch] = {}
    cookie: CookieMatch | None = None
    path: StringMatch | None = None
    queryParams: dict[Text, StringMatch] = {}


def _condition_text(name: str, m: StringMatch) -> str:
    if m.exact is not None:
        return f"{name}={m.exact}"
    if m.prefix is not None:
        return f"{name}^={m.prefix}"
    return f"{name}~={m.regex}"


def match_text(m: Match) -> str:
    """A match as one line ('x-canary=1 & path^=/api', '*' for none), as ``canary status``
    and the mesh graph show it."""
    parts = [_condition_text(h, c) for h, c in sorted(m.headers.items())]
    if m.cookie is not None:
        parts.append(f"cookie {m.cookie.name}={m.cookie.value}")
    if m.path is not None:
        parts.append(_condition_text("path", m.path))
    parts += [_condition_text(f"?{q}", c) for q, c in sorted(m.queryParams.items())]
    return " & ".join(parts) or "*"


class Delay(Model):
    percent: FaultPercent
    fixedDelay: Duration


class Abort(Model):
    """Abort with an HTTP status, or (gRPC services) a gRPC status such as UNAVAILABLE."""

    percent: FaultPercent
    httpStatus: HttpStatus | None = None
    grpcStatus: GrpcStatus | None = None

    @model_validator(mode="after")
    def _one_status(self):
        if (self.httpStatus is None) == (self.grpcStatus is None):
            raise PydanticCustomError(
                "abort-one-of", "expected exactly one of httpStatus, grpcStatus, got {got}",
                {"got": "both" if self.httpStatus is not None else "none"})
        return self


class Fault(Model):
    name: DnsLabel
    match: Match | None = None
    delay: Delay | None = None
    abort: Abort | None = None

    @model_validator(mode="after")
    def _some_fault(self):
        if self.delay is None and self.abort is None:
            raise PydanticCustomError("fault-empty", "expected delay or abort (or both), got neither", {})
        return self


class Route(Model):
    """An A/B rule: requests that match go to ``version``."""

    name: DnsLabel
    match: Match
    version: DnsLabel


class Mirror(Model):
    version: DnsLabel
    percent: Percent = 100.0


class Canary(Model):
    stable: DnsLabel
    candidate: DnsLabel
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1)] = [10, 25, 50, 100]


class VersionSpec(Model):
    labels: dict[LabelKey, LabelValue] = {}


def _plain_path(v) -> bool:
    """A literal path that both a route and an AuthorizationPolicy can state: it starts with
    '/', and has no query, fragment, space, control character, nor the '*', '{', '}' that
    AuthorizationPolicy paths read as wildcards or templates."""
    return (isinstance(v, str) and v.startswith("/")
            and not any(c in v for c in "*{}?# ") and all(0x20 < ord(c) != 0x7f for c in v)
            and not naming.has_control(v))


PlainPath = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^/[^*{}?#\s]*$"}),
    Visible,
    _check("path", "an HTTP path starting with '/', without '*', '{', '}', '?', '#' or spaces", _plain_path),
]


def _check_re2(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):  # a path never holds one; write \n etc.
        raise PydanticCustomError("regex", "expected a regular expression without control characters, got {got}",
                                  {"got": repr(value)})
    if len(value) > 1024:  # Istio's webhook: "regex is too large, max length allowed is 1024"
        raise PydanticCustomError("regex", "expected a regular expression of at most 1024 characters, got {n}",
                                  {"n": len(value)})
    problem = envoy_regex.re2_problem(value)
    if problem:
        raise PydanticCustomError("regex", "expected an RE2 regular expression, got {got}: {why}",
                                  {"got": repr(value), "why": problem})
    return value


class ExposedPath(Model):
    """One exposed path: exactly one of ``exact``, ``prefix`` (plain string prefix, as an Istio
    VirtualService's ``prefix`` matches: ``/api`` admits ``/api``, ``/api/x`` and ``/apix``) or
    ``regex`` (RE2, matching the whole path without the query). A bare string instead is a
    prefix on whole path segments (the Gateway API's ``PathPrefix``)."""

    exact: PlainPath | None = None
    prefix: PlainPath | None = None
    regex: Annotated[str, Field(min_length=1), AfterValidator(_check_re2)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        set_keys = [k for k in ("exact", "prefix", "regex") if getattr(self, k) is not None]
        if len(set_keys) != 1:
            raise PydanticCustomError(
                "match-one-of", "expected exactly one of exact, prefix, regex, got {got}", {"got": ", ".join(set_keys) or "none"}
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("exact", "prefix", "regex") if getattr(self, k) is not None)

    @property
    def value(self) -> str:
        return getattr(self, self.kind)


# A bare string is a prefix on whole path segments; the tags name the two forms in error paths
# and are dropped from them (chartgen.catalog.validate).
PATH_UNION_TAGS = ("path-string", "path-match")
ExposedPathItem = Annotated[
    Annotated[PlainPath, Tag(PATH_UNION_TAGS[0])] | Annotated[ExposedPath, Tag(PATH_UNION_TAGS[1])],
    Discriminator(lambda v: PATH_UNION_TAGS[0] if isinstance(v, str) else PATH_UNION_TAGS[1]),
]


def path_match(item) -> tuple[str, str]:
    """An exposed path as (kind, value). A bare string is a prefix on whole path segments,
    ``("pathPrefix", P)``: ``/static`` and ``/static/`` both admit ``/static``, ``/static/`` and
    ``/static/x`` but not ``/staticx`` (the Gateway API's PathPrefix, whose trailing ``/`` is
    ignored). ``/`` admits every path, exactly as the string prefix ``/`` does: it is
    ``("prefix", "/")``."""
    if not isinstance(item, str):
        return item.kind, item.value
    base = item.rstrip("/")  # every trailing "/": the HTTPRoute then carries none for Istio to trim
    return ("pathPrefix", base) if base else ("prefix", "/")


class Expose(Model):
    host: DnsLabel | None = Field(None, description="Subdomain; the external host is <host>.<env hostSuffix>.")
    paths: Annotated[list[ExposedPathItem], Field(min_length=1)] = Field(
        ["/"], description="Exposed paths: a string is a prefix on whole path segments (/static admits /static and "
                           "/static/x, not /staticx); or {exact: …}, {prefix: …} (a plain string prefix), {regex: …} (RE2).")
    gatewayPort: PortNumber | None = Field(None, description="A gateway port other than the main one (80/443).")


class Metrics(Model):
    """Where Prometheus scrapes the application's own metrics: the chart admits the
    observability namespace on that port and the scrape job finds the pods there."""

    port: PortNumber = Field(description="The container port serving the metrics (a number: AuthorizationPolicies "
                                         "match numbers).")
    path: PlainPath = Field("/metrics", description="The metrics path.")
    scrapeJob: bool = Field(True, description="Add a Prometheus scrape job for it; false when the application's "
                                              "prometheus.io annotations already have Prometheus scrape it (the "
                                              "chart then only admits it).")


class ServiceAccount(Model):
    name: DnsLabel | None = None
    create: bool = True


# --- services --------------------------------------------------------------------------------


class ServiceSettings(Model):
    """Policies that ``defaults`` gives to every service."""

    timeout: Duration | None = None
    retries: Retries | None = None
    loadBalancer: Balancer | None = None
    sessionAffinity: SessionAffinity | None = None
    connectionPool: ConnectionPool | None = None
    outlierDetection: OutlierDetection | None = None
    rateLimit: RateLimit | None = None
    slo: Slo | None = None
    env: dict[EnvVarName, MultilineText] | None = None


class ServiceOverride(ServiceSettings):
    """What an environment may change of a service."""

    enabled: bool | None = None
    namespace: DnsLabel | None = None
    ports: Annotated[list[ServicePort], Field(min_length=1)] | None = None
    expose: Expose | None = None
    versions: dict[DnsLabel, VersionSpec] | None = None
    weights: dict[DnsLabel, Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 100}), _check("percent-range", "a percentage 0–100", lambda v: 0 <= v <= 100, int)]] | None = None
    canary: Canary | None = None
    routes: list[Route] | None = None
    mirror: Mirror | None = None
    faults: list[Fault] | None = None
    calls: list[DnsLabel] | None = None


class Service(ServiceOverride):
    description: Annotated[str, Visible] | None = None
    serviceName: DnsLabel | None = Field(None, description="Kubernetes Service name; default the key, after naming.prefix.")
    selector: dict[LabelKey, LabelValue] | None = Field(
        None, description="Pod labels; default {<naming.selectorLabel>: <serviceName>}.")
    serviceAccount: ServiceAccount | None = None
    metrics: Metrics | None = Field(None, description="The application's own Prometheus metrics endpoint.")
    environments: list[DnsLabel] | None = Field(None, description="Environments that run this service; default all.")
    ports: Annotated[list[ServicePort], Field(min_length=1)]


class ExternalRedirect(Model):
    service: DnsLabel
    port: PortNumber
    envVar: EnvVarName | None = Field("AWS_ENDPOINT_URL", description="Env var that receives the redirect URL.")


class ExternalService(Model):
    hosts: Annotated[list[Host], Field(min_length=1)]
    ports: Annotated[list[Port], Field(min_length=1)] = [
        Port(name="http", port=80, protocol="HTTP"),
        Port(name="tls", port=443, protocol="TLS"),
    ]
    redirectTo: ExternalRedirect | None = Field(
        None, description="Route these hosts to a catalog service in the environments that run it."
    )


# --- environments ----------------------------------------------------------------------------


def _http_url(value: str) -> bool:
    """An http(s) URL Istio accepts as a jwksUri (its CRD rule and its webhook parse it)."""
    try:
        url = parse_request_uri(value)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


class Jwt(Model):
    issuer: Annotated[Text, Field(min_length=1)]
    jwksUri: Annotated[Text, Field(min_length=1),
                       _check("http-url", "an http:// or https:// URL", _http_url)]
    audiences: list[Text] = []


class GatewayPort(Model):
    name: DnsLabel
    port: PortNumber
    protocol: Literal["HTTP", "HTTP2", "GRPC", "TCP"] = "HTTP"


class Gateway(Model):
    https: bool = True
    credentialName: DnsLabel | None = None
    httpsRedirect: bool = True
    extraPorts: list[GatewayPort] = []
    rateLimit: RateLimit | None = None
    jwt: Jwt | None = None
    serviceType: Literal["LoadBalancer", "NodePort", "ClusterIP"] | None = Field(
        None, description="Type of the gateway chart's Service (istio/gateway ingress). Default: LoadBalancer in "
        "production, NodePort elsewhere (a kind or bare-metal cluster gives a LoadBalancer no address, and Argo CD "
        "keeps such a Service Progressing).")


class Tracing(Model):
    samplingPercent: Percent = 1.0


class ControlPlaneSettings(Model):
    """The control plane's revisions and revision tags (docs/istio-upgrades.md). An environment's
    ``istio`` block overrides these key by key."""

    revisions: dict[DnsLabel, Version] | None = Field(
        None, description="istiod revisions: revision name -> Istio version (two side by side during an upgrade, "
                          "e.g. {1-29-6: 1.29.6, 1-30-3: 1.30.3}). Each runs as the helmfile release istiod-<revision>.")
    tags: dict[DnsLabel, DnsLabel] | None = Field(
        None, description="Revision tags: tag -> revision (e.g. {prod-stable: 1-29-6}); namespaces labelled "
                          "istio.io/rev=<tag> follow the tag when it moves.")
    workloads: DnsLabel | None = Field(
        None, description="The tag (or revision) the namespaces are labelled with (istio.io/rev); default: the only "
                          "tag, else the oldest revision.")
    gateway: DnsLabel | None = Field(
        None, description="The tag (or revision) the ingress gateway is injected by; default: workloads.")
    namespaces: dict[DnsLabel, DnsLabel] | None = Field(
        None, description="Namespaces on another tag or revision than workloads: namespace -> tag or revision "
                          "(`chartgen istio upgrade promote --namespace`).")


class Environment(Model):
    production: bool = False
    dataPlane: DataPlane = Field(
        "sidecar", description="sidecar: an Envoy proxy in every pod; ambient: a ztunnel per node for mTLS and L4 "
        "policy, and waypoint proxies for the services that need L7 (routing through the Gateway API).")
    ingressApi: IngressApi | None = Field(
        None, description="istio: an Istio Gateway and VirtualServices; gatewayApi: a Gateway API Gateway (class "
        "istio) and HTTPRoutes. Default: istio with the sidecar data plane, gatewayApi with ambient.")
    namespace: DnsLabel | None = Field(None, description="Default namespace of services; default <name>-<env>.")
    hostSuffix: Host | None = Field(None, description="External hosts end with it; default <env>.<domain>.")
    kubeContext: KubeContext | None = None
    mtls: MtlsMode = "STRICT"
    tracing: Tracing = Tracing()
    accessLogging: bool = True
    chaos: bool = Field(False, description="Render fault injection rules. Production needs allowChaosInProduction too.")
    allowChaosInProduction: bool = False
    egressPolicy: EgressPolicy = "REGISTRY_ONLY"
    gateway: Gateway = Gateway()
    kialiAnonymous: bool | None = Field(None, description="Kiali without login; default: not production.")
    autoscaling: bool | None = Field(
        None, description="HorizontalPodAutoscalers for istiod and the gateway. Default: on in production, off "
        "elsewhere (an HPA without metrics-server, kind's default, turns Degraded).")
    services: dict[DnsLabel, ServiceOverride] = {}
    istio: ControlPlaneSettings | None = Field(
        None, description="This environment's control plane revisions and tags (over the mesh-wide istio block, "
                          "key by key).")
    # A production environment refuses each weaker setting unless its own opt-in says so
    # (chartgen.catalog.rules.production.PRODUCTION_GUARDS; lint honours the same keys).
    allowPermissiveMtlsInProduction: bool = Field(False, description="Production: allow mtls: PERMISSIVE.")
    allowPlainHttpInProduction: bool = Field(
        False, description="Production: allow a gateway serving plain HTTP (https: false, httpsRedirect: false, extraPorts).")
    allowAnyEgressInProduction: bool = Field(False, description="Production: allow egressPolicy: ALLOW_ANY.")
    allowAnonymousKialiInProduction: bool = Field(False, description="Production: allow kialiAnonymous: true.")
    allowHttpJwksInProduction: bool = Field(False, description="Production: allow an http:// gateway.jwt.jwksUri.")
    allowWildcardHostsInProduction: bool = Field(
        False, description="Production: allow external services with wildcard hosts (*.example.com).")


class IstioSettings(ControlPlaneSettings):
    revision: str = Field("", pattern=naming.DNS1123_LABEL_OR_EMPTY.pattern,
                          description="One control plane revision (the form before revisions/tags): the istiod "
                                      "release istiod with this revision; namespaces get istio.io/rev=<revision>.")
    trustDomain: Host = "cluster.local"
    gatewayRelease: DnsLabel = Field("istio-ingress", description="Release (and namespace) of the gateway chart.")


class Addons(Model):
    namespace: DnsLabel = "observability"
    kiali: bool = True
    jaeger: bool = True
    prometheus: bool = True
    grafana: bool = True


class HelmfileSettings(Model):
    """How the generated helmfile finds its charts (a CLI flag overrides each for one run)."""

    chartMirror: ChartMirror | None = Field(None, description="Pull every remote chart from this one repository or oci:// registry.")
    meshChart: MeshChartRef | None = Field(None, description="Install the published mesh chart (repo/chart or oci://…) instead of the local directory.")
    meshVersion: Version | None = Field(None, description="Version of meshChart.")


def _pattern_str(regex, rule: str, expected: str):
    """A string matching ``regex``: the pattern in the JSON schema, a located ``rule`` error."""
    return Annotated[str, Field(json_schema_extra={"pattern": regex.pattern}),
                     _check(rule, expected, lambda v: bool(regex.fullmatch(v)))]


GitURL = _pattern_str(naming.GIT_URL, "git-url",
                      "a git repository URL (https://, ssh:// or git@host:path) without spaces, quotes, '$' or braces")
GitRevision = _pattern_str(naming.GIT_REVISION, "git-revision", "a branch, tag or commit (letters, digits, '.', '_', '-', '/')")
RepoPath = _pattern_str(naming.REPO_PATH, "repo-path",
                        "a relative directory inside the repository such as 'deploy/mesh' ('' for its root)")
ClusterName = _pattern_str(naming.CLUSTER_NAME, "cluster-name", "a cluster name (letters, digits, '.', '_', ':', '@', '/', '-')")


class ArgoCluster(Model):
    """An Argo CD destination cluster: its API server URL or its registered name (one of them)."""

    server: Annotated[str, Field(json_schema_extra={"pattern": naming.CLUSTER_SERVER.pattern}),
                      _check("cluster-server", "a cluster API server URL such as https://10.0.0.1:6443",
                             lambda v: bool(naming.CLUSTER_SERVER.fullmatch(v)))] | None = None
    name: ClusterName | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.server is None) == (self.name is None):
            raise PydanticCustomError("cluster", "expected exactly one of 'server' or 'name'")
        return self


class ArgoSettings(Model):
    """Argo CD Applications under gitops/argocd/<env>/ (written by `chartgen generate`)."""

    namespace: DnsLabel = Field("argocd", description="Namespace of Argo CD (where the Applications live).")
    project: DnsLabel | None = Field(None, description="AppProject name prefix; default <name> (the project is <project>-<env>).")
    automated: bool = Field(True, description="Automated sync with prune and self-heal.")
    clusters: dict[DnsLabel, ArgoCluster] = Field(
        {}, description="Destination cluster per environment; default: the environment's kubeContext as the "
                        "registered cluster name, or the cluster Argo CD runs in.")


class FluxSettings(Model):
    """Flux HelmReleases under gitops/flux/<env>/ (written by `chartgen generate`)."""

    namespace: DnsLabel = Field("flux-system", description="Namespace of the Flux objects and values ConfigMaps.")
    interval: Duration = Field("10m", description="Reconcile interval of the sources and releases.")
    secretRef: DnsLabel | None = Field(
        None, description="Secret in the Flux namespace with the git credentials of repoURL (username/password, or "
        "identity/known_hosts for ssh), for a private repository: the GitRepository's spec.secretRef.")


class GitOpsSettings(Model):
    """Where the GitOps controllers find this repository, and which exports `generate` writes."""

    repoURL: GitURL = Field(description="The git repository holding this catalog's outputs (values/, charts/).")
    revision: GitRevision = Field("main", description="Branch, tag or commit the controllers follow.")
    path: RepoPath = Field("", description="Directory of the catalog inside the repository ('' for its root).")
    argocd: ArgoSettings | None = Field(None, description="Set (even to {}) to write gitops/argocd/ on generate.")
    flux: FluxSettings | None = Field(None, description="Set (even to {}) to write gitops/flux/ on generate.")


class Naming(Model):
    """How catalog keys become Kubernetes names (Services, selectors, service accounts)."""

    prefix: Annotated[str, Field(pattern=r"^([a-z0-9][-a-z0-9]*)?$", max_length=40)] = Field(
        "", description="Put before every service key: with 'shop-', service 'orders' is the Kubernetes Service "
                        "'shop-orders' with selector app: shop-orders. Default: none, the key as written.")
    selectorLabel: LabelKey = Field(
        "app", description="The pod label that selects a service's workloads, valued with the Service name "
                           "(e.g. app.kubernetes.io/name); a service's own selector replaces it.")
    versionLabel: LabelKey = Field(
        "version", description="The pod label that tells a service's versions apart, valued with the version "
                               "name; a version's own labels replace it.")


class Catalog(Model):
    apiVersion: Literal["chartgen.io/v1"]
    kind: Literal["ServiceCatalog"]
    metadata: Metadata
    versions: Versions = Versions()
    istio: IstioSettings = IstioSettings()
    observability: Addons = Addons()
    helmfile: HelmfileSettings = HelmfileSettings()
    gitops: GitOpsSettings | None = None
    naming: Naming = Naming()
    defaults: ServiceSettings = ServiceSettings()
    environments: Annotated[dict[DnsLabel, Environment], Field(min_length=1)]
    services: Annotated[dict[DnsLabel, Service], Field(min_length=1)]
    externalServices: dict[DnsLabel, ExternalService] = {}


def catalog_json_schema() -> dict:
    """The catalog's JSON Schema, generated from the model."""
    schema = Catalog.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "https://chartgen.io/schemas/catalog.schema.json",
              "title": "chartgen service catalog", **schema}
    return schema
