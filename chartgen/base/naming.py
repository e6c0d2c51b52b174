"""Name and value checks shared by the model and the renderers (pure functions)."""

from __future__ import annotations

import re
import unicodedata

# The patterns below are the only definitions: the catalog model, the chart's values model
# (and so values.schema.json) and the renderers all use these.
LABEL_TEXT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"  # one DNS-1123 label, unanchored
DNS1123_LABEL = re.compile(rf"^{LABEL_TEXT}$")
DNS1123_LABEL_OR_EMPTY = re.compile(rf"^({LABEL_TEXT})?$")
DNS1123_SUBDOMAIN = re.compile(rf"^{LABEL_TEXT}(\.{LABEL_TEXT})*$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# GitOps settings land in Argo CD and Flux objects: no '$' (Argo CD substitutes $VARS in
# value file paths), no braces, quotes, spaces or control characters.
GIT_URL = re.compile(r"^(https?://|ssh://|git@)[A-Za-z0-9._~:/?#@!&+,;=%-]+$")
GIT_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$")
REPO_PATH = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*)?$")
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:@/-]{0,252}$")
CLUSTER_SERVER = re.compile(r"^https://[A-Za-z0-9._~:/%-]+$")
# an SPDX license expression: identifiers (LicenseRef-… too) joined by AND / OR / WITH, in parentheses
SPDX_ID = r"[A-Za-z0-9][A-Za-z0-9.-]*\+?"
SPDX_EXPRESSION = re.compile(rf"^\(*{SPDX_ID}\)*( (AND|OR|WITH) \(*{SPDX_ID}\)*)*$")
# A version as helm reads it (github.com/Masterminds/semver/v3, which Chart.yaml validation
# uses): SemVer 2.0's syntax (no empty identifier, no leading zero in a numeric pre-release
# identifier), and each of the three numbers an unsigned 64-bit integer (``is_version``).
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
SEMVER = re.compile(rf"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-{_PRE_ID}(?:\.{_PRE_ID})*)?"
                    rf"(\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?$")
MAX_VERSION_NUMBER = 2**64 - 1


def is_version(text: str) -> bool:
    """``text`` is a version helm accepts (see SEMVER)."""
    m = SEMVER.fullmatch(text) if isinstance(text, str) else None
    return m is not None and all(int(m.group(i)) <= MAX_VERSION_NUMBER for i in (1, 2, 3))

# characters no single-line catalog string may hold: C0/C1 controls, DEL, Unicode line breaks
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# multi-line text (env values) may hold tabs and line breaks, nothing else of the above
CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Go template delimiters: helmfile renders a plain helmfile.yaml as a Go template
TEMPLATE_DELIMITERS = ("{{", "}}")
CHART_MIRROR = re.compile(r"(https?|oci)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*/?")
MESH_CHART = re.compile(r"oci://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)+|[A-Za-z0-9][A-Za-z0-9._-]*/[a-z0-9][a-z0-9._-]*")


LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def is_label_value(value: str) -> bool:
    """A Kubernetes label value: at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends."""
    return len(value) <= 63 and bool(LABEL_VALUE.fullmatch(value))


def is_label_key(key: str) -> bool:
    """A Kubernetes label key: [<DNS subdomain ≤ 253>/]<name ≤ 63>."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(LABEL_NAME.fullmatch(name))


def is_host(value: str) -> bool:
    """A DNS host name (a leading ``*.`` allowed): at most 253 characters, labels at most 63."""
    if len(value) > 253 or not HOST.fullmatch(value):
        return False
    return all(len(label) <= 63 for label in value.split("."))


def has_control(value: str, multiline: bool = False) -> bool:
    return bool((CONTROL_MULTILINE if multiline else CONTROL).search(value))


def invisible(value: str) -> tuple[int, str] | None:
    """The first invisible or bidirectional control character of ``value`` (Unicode general
    category Cf: U+200B–U+200F, U+202A–U+202E, U+2060–U+2064, U+2066–U+2069, U+FEFF, U+00AD…),
    as (its index, 'U+202E RIGHT-TO-LEFT OVERRIDE'); None when there is none. Such a character
    makes two strings that look alike differ (a path, a header value, a name), or reorders
    what a reader sees."""
    for i, c in enumerate(value):
        if unicodedata.category(c) == "Cf":
            return i, f"U+{ord(c):04X} {unicodedata.name(c, 'FORMAT CHARACTER')}"
    return None


def has_template(value: str) -> bool:
    return any(d in value for d in TEMPLATE_DELIMITERS)


def chart_mirror_problem(value: str) -> str | None:
    """Why ``value`` is not a chart mirror (None: it is one)."""
    if not CHART_MIRROR.fullmatch(value):
        return "expected an https://, http:// or oci:// URL of host, port and path (letters, digits, '.', '-', '_', '~'), got " + repr(value)
    return None


def mesh_chart_problem(value: str) -> str | None:
    if not MESH_CHART.fullmatch(value):
        return "expected <repository>/<chart> or oci://<registry>/<path>, got " + repr(value)
    return None


# protobuf integer types of the Istio/Envoy fields chartgen fills
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(text: str) -> float:
    """Milliseconds of an Istio/Go duration such as ``1m30s``, ``2s`` or ``500ms``."""
    total = 0.0
    for num, _frac, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h)", text):
        total += float(num) * _UNITS_MS[unit]
    return total


def trunc63(name: str) -> str:
    return name[:63].rstrip("-")


def camel_title(name: str) -> str:
    """``bytefreezer-proxy`` → ``BytefreezerProxy``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name) if part)


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def duration_ns(value) -> int | None:
    """A duration as the webhook reads it, in nanoseconds (None: not a duration)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text == "0":
        return 0
    pos, total = 0, 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            return None
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = m.end()
    return sign * total if pos else None


def istio_duration(text: str) -> bool:
    """A duration Istio accepts for its timeouts and intervals: at least 1 ms, in whole milliseconds."""
    ns = duration_ns(text)
    return ns is not None and ns >= 1_000_000 and ns % 1_000_000 == 0


# --- request URIs (Go's url.ParseRequestURI: the catalog's URL fields, CEL's url(), Istio's webhook) ---


class RequestURI:
    """What Kubernetes' ``url()`` returns (Go's url.ParseRequestURI, the parts CEL can read)."""

    __slots__ = ("scheme", "host", "path", "query")

    def __init__(self, scheme: str, host: str, path: str, query: str):
        self.scheme, self.host, self.path, self.query = scheme, host, path, query


_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_HOST_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_request_uri(text: str) -> RequestURI:
    """Go's ``url.ParseRequestURI``: an absolute URL or an absolute path; ValueError otherwise."""
    if not text:
        raise ValueError("empty url")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("invalid control character in URL")
    if text == "*":
        return RequestURI("", "", "*", "")
    if text.startswith(":"):
        raise ValueError("missing protocol scheme")
    m = _SCHEME.match(text)
    scheme = m.group(1).lower() if m else ""
    rest = text[m.end():] if m else text
    if "?" in rest:
        rest, _, query = rest.partition("?")
    else:
        query = ""
    if not rest.startswith("/"):
        if scheme:
            return RequestURI(scheme, "", "", query)  # opaque (mailto:x)
        raise ValueError("invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        host = _parse_host(authority.rpartition("@")[2])
    if _BAD_ESCAPE.search(rest):
        raise ValueError("invalid URL escape")
    return RequestURI(scheme, host, rest, query)


def _parse_host(host: str) -> str:
    """Go's ``url.parseHost``: an IPv6 literal in brackets or a name, each with an optional
    numeric port; ValueError otherwise."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        port = host[end + 1:]
        if port and not (port.startswith(":") and port[1:].isdigit()):
            raise ValueError(f"invalid port {port!r} after host")
        return host
    name, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    if colon and port and not port.isdigit():
        raise ValueError(f"invalid port {':' + port!r} after host")
    if not _HOST_OK.fullmatch(name) or _BAD_ESCAPE.search(name):
        raise ValueError(f"invalid character in host name {name!r}")
    return host
