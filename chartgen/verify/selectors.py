"""Label selectors and the small matchers the enforcement model shares (pure).

Sources:
- Kubernetes label selectors (matchLabels ANDed with matchExpressions; operators In, NotIn,
  Exists, DoesNotExist; an empty selector selects everything):
  https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
- Istio string matches in AuthorizationPolicy (exact, ``prefix*``, ``*suffix``, ``*``):
  https://istio.io/latest/docs/reference/config/security/authorization-policy/ (the
  "Value matching" section) and ``stringToMatch`` in
  pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go (Istio 1.30.3).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


def _expression(expr: dict, labels: dict) -> bool:
    key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (the API server refuses it)


def label_selector(selector: dict | None, labels: dict) -> bool:
    """A ``metav1.LabelSelector`` (``None`` and ``{}`` select everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [] if isinstance(e, dict))


def subset(required: dict | None, labels: dict) -> bool:
    """A plain label map (Istio ``workloadSelector.labels``, a Service ``selector``)."""
    return all(labels.get(str(k)) == str(v) for k, v in (required or {}).items())


def istio_string(pattern: str, value: str | None) -> bool:
    """Istio's AuthorizationPolicy string match: exact, ``prefix*``, ``*suffix`` or ``*``
    (``*`` means "present")."""
    if value is None:
        return False
    pattern = str(pattern)
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


@lru_cache(maxsize=4096)
def _network(cidr: str):
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def in_cidr(ip: str | None, cidr: str, excepts=()) -> bool:
    """``ip`` is in ``cidr`` and in none of ``excepts`` (NetworkPolicy ipBlock)."""
    if ip is None:
        return False
    net = _network(str(cidr))
    if net is None:
        return False
    addr = ipaddress.ip_address(ip)
    if addr.version != net.version or addr not in net:
        return False
    return not any(_network(str(e)) is not None and addr in _network(str(e)) for e in excepts or ())


def host_match(pattern: str, host: str) -> bool:
    """An Istio host pattern (``*``, ``*.suffix`` or exact) covers ``host``."""
    if pattern == "*" or pattern == host:
        return True
    return pattern.startswith("*.") and host.endswith(pattern[1:])
