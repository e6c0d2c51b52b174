"""Which request paths a rendered object admits, as Envoy and Istio decide it.

- VirtualService ``uri`` (Istio translates a user VirtualService's match to Envoy's
  RouteMatch unchanged, pilot/pkg/networking/core/route/route.go): ``exact`` is Envoy's
  ``path`` (the :path without its query must equal it), ``prefix`` is Envoy's ``prefix``
  (the :path, query included, must start with it: ``/api`` admits ``/apix``), ``regex`` is
  ``safe_regex`` (RE2 over the whole :path without its query).
- AuthorizationPolicy ``paths`` (pilot/pkg/security/authz/matcher StringMatcherWithPrefix,
  applied by Envoy's PathMatcher to the path without query and fragment): ``*`` alone is any
  non-empty path, ``*x`` a suffix, ``x*`` a prefix, anything else exact; no ``paths`` at all
  admits every path.
"""

from __future__ import annotations

from chartgen.base.envoy_regex import full_match


def _path_only(raw: str) -> str:
    return raw.split("?", 1)[0].split("#", 1)[0]


def uri_matches(uri: dict, raw: str) -> bool:
    if "exact" in uri:
        return _path_only(raw) == uri["exact"]
    if "prefix" in uri:
        return raw.startswith(uri["prefix"])
    return full_match(uri["regex"], _path_only(raw))


def _headers_match(cond: dict, headers: dict) -> bool:
    for name, m in (cond or {}).items():
        value = headers.get(name)
        if value is None:
            return False
        if "exact" in m and value != m["exact"]:
            return False
        if "prefix" in m and not value.startswith(m["prefix"]):
            return False
        if "regex" in m and not full_match(m["regex"], value):
            return False
    return True


def route_admits(vs: dict, raw: str, headers: dict | None = None, port: int | None = None) -> bool:
    """Does some http rule of the VirtualService take this request?"""
    headers = headers or {}
    for rule in vs["spec"].get("http") or []:
        for m in rule.get("match") or [{}]:
            if "port" in m and port is not None and m["port"] != port:
                continue
            if "uri" in m and not uri_matches(m["uri"], raw):
                continue
            if not _headers_match(m.get("headers"), headers):
                continue
            return True
    return False


def authz_path_matches(pattern: str, path: str) -> bool:
    if pattern == "*":
        return path != ""
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def authz_admits(policy: dict, raw: str) -> bool:
    """Does an ALLOW rule of the policy admit this path (the source being the gateway)?"""
    path = _path_only(raw)
    for rule in policy["spec"].get("rules") or []:
        for to in rule.get("to") or [{}]:
            paths = (to.get("operation") or {}).get("paths")
            if paths is None or any(authz_path_matches(p, path) for p in paths):
                return True
    return False
