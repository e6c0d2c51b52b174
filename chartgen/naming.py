"""Name and value checks shared by the model and the renderers (pure functions)."""

from __future__ import annotations

import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# an SPDX license expression: identifiers (LicenseRef-… too) joined by AND / OR / WITH, in parentheses
SPDX_ID = r"[A-Za-z0-9][A-Za-z0-9.-]*\+?"
SPDX_EXPRESSION = re.compile(rf"^\(*{SPDX_ID}\)*( (AND|OR|WITH) \(*{SPDX_ID}\)*)*$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(text: str) -> float:
    """Milliseconds of an Istio/Go duration such as ``1m30s``, ``2s`` or ``500ms``."""
    total = 0.0
    for num, _frac, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ms|s|m|h)", text):
        total += float(num) * _UNITS_MS[unit]
    return total


def format_duration(ms: float) -> str:
    """The shortest duration text for ``ms`` milliseconds."""
    if ms % 1000 == 0:
        return f"{int(ms // 1000)}s"
    return f"{int(ms)}ms"


def trunc63(name: str) -> str:
    return name[:63].rstrip("-")


def camel_title(name: str) -> str:
    """``bytefreezer-proxy`` → ``BytefreezerProxy``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name) if part)
