"""Istio AuthorizationPolicy: which policies apply where, and what they decide (pure).

Sources (Istio 1.30.3):
- evaluation order CUSTOM, then DENY, then ALLOW; with no ALLOW policy applying the request is
  allowed; with ALLOW policies applying, a request that matches none is denied; ``spec: {}``
  (ALLOW, no rules) matches nothing, so it denies everything it applies to, while a rule
  ``{}`` matches everything:
  https://istio.io/latest/docs/concepts/security/#implicit-enablement and
  https://istio.io/latest/docs/reference/config/security/authorization-policy/ ("allow-nothing",
  "deny-all", "allow-all" examples);
- a rule matches when its ``from`` (any source), ``to`` (any operation) and ``when`` (every
  condition) match; inside a source or an operation, fields are ANDed, the values of a field
  ORed; ``not*`` fields exclude; string values match exactly, by ``prefix*``, ``*suffix`` or ``*``:
  the same reference page;
- principals are SPIFFE identities ``<trust domain>/ns/<ns>/sa/<sa>`` and need mTLS; a plaintext
  request has none, so ``principals``/``namespaces`` never match it:
  https://istio.io/latest/docs/reference/config/security/authorization-policy/#Source;
- where a policy is enforced: a sidecar enforces the policies of its namespace and of the root
  namespace whose ``selector`` matches its pod (or that have none); ztunnel does the same but
  ignores any policy with ``targetRefs`` ("TargetRef is not intended for ztunnel"), drops an
  ALLOW rule that has HTTP attributes ("L7 policies never match for ALLOW") and enforces a DENY
  rule without its HTTP attributes ("For DENY they will always match, so it is more
  restrictive"), and does not support CUSTOM: ``convertAuthorizationPolicy`` and ``handleRule``
  in pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go; a waypoint enforces
  the policies whose ``targetRefs`` name its Gateway, the Service or the ServiceEntry the
  request is for: https://istio.io/latest/docs/ambient/usage/l4-policy/ ("Authorization policy
  attachment", the table of enforcement points and source identities) and
  https://istio.io/latest/docs/ambient/usage/l7-features/.
Istio's builder test data (pilot/pkg/security/authz/builder/testdata) and ztunnel's RBAC tests
(src/rbac.rs) are ported in tests/data/verify/authz.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .selectors import in_cidr, istio_string
from .world import ROOT_NAMESPACE, Obj, World, at_workload

GATEWAY_GROUP = "gateway.networking.k8s.io"
L7_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
L7_SOURCE = ("requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks")
L4_CONDITIONS = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")


@dataclass(frozen=True)
class Request:
    principal: str | None  # None: plaintext (no mTLS identity)
    namespace: str | None
    source_ip: str
    port: int
    path: str | None = None  # None: not HTTP (or not visible at this point)
    method: str | None = None
    host: str | None = None
    headers: tuple = field(default=())
    request_principal: str | None = None  # "<iss>/<sub>" of a validated JWT (RequestAuthentication)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    deciding: tuple  # object references
    why: str


def _values(d: dict, key: str) -> list[str]:
    return [str(v) for v in d.get(key) or []]


def path_matches(pattern: str, path: str | None) -> bool:
    """``paths`` values: exact, ``prefix*``, ``*suffix``, ``*``, or a template with ``{*}`` (one
    segment) and ``{**}`` (the rest); the query string is not part of the path."""
    if path is None:
        return False
    path = path.split("?", 1)[0]
    if "{*}" in pattern or "{**}" in pattern:
        return _template(pattern.strip("/").split("/"), path.strip("/").split("/"))
    return istio_string(pattern, path)


def _template(parts: list[str], segs: list[str]) -> bool:
    if not parts:
        return not segs
    if parts[0] == "{**}":  # one or more segments, then the rest of the template
        return any(_template(parts[1:], segs[i:]) for i in range(1, len(segs) + 1))
    if not segs:
        return False
    if parts[0] != "{*}" and parts[0] != segs[0]:
        return False
    return _template(parts[1:], segs[1:])


def _any(patterns: list[str], value: str | None, match=istio_string) -> bool:
    return any(match(p, value) for p in patterns)


def _field(d: dict, key: str, value, match=istio_string) -> bool:
    """The positive ``key`` and its ``not`` form, as one AND term."""
    pos, neg = _values(d, key), _values(d, "not" + key[0].upper() + key[1:])
    if pos and not _any(pos, value, match):
        return False
    return not (neg and _any(neg, value, match))


def _ip_match(cidr: str, ip: str | None) -> bool:
    return in_cidr(ip, cidr if "/" in cidr else f"{cidr}/32")


def _source(src: dict, req: Request) -> bool:
    sa = None
    if req.principal and "/sa/" in req.principal:
        sa = f"{req.namespace}/{req.principal.rsplit('/sa/', 1)[1]}"
    return (_field(src, "principals", req.principal) and _field(src, "namespaces", req.namespace)
            and _field(src, "serviceAccounts", sa) and _field(src, "ipBlocks", req.source_ip, _ip_match)
            and _field(src, "remoteIpBlocks", req.source_ip, _ip_match)
            and _field(src, "requestPrincipals", req.request_principal))


def _operation(op: dict, req: Request) -> bool:
    port = str(req.port)
    return (_field(op, "ports", port) and _field(op, "paths", req.path, path_matches)
            and _field(op, "methods", req.method) and _field(op, "hosts", req.host))


def _condition(cond: dict, req: Request) -> bool:
    key = str(cond.get("key", ""))
    value = {"source.principal": req.principal, "source.namespace": req.namespace, "source.ip": req.source_ip,
             "destination.port": str(req.port), "request.headers[:path]": req.path}.get(key)
    if key.startswith("request.headers[") and key != "request.headers[:path]":
        value = dict(req.headers).get(key[len("request.headers["):-1].lower())
    match = _ip_match if key in ("source.ip", "destination.ip") else istio_string
    vals, nots = _values(cond, "values"), _values(cond, "notValues")
    if vals and not _any(vals, value, match):
        return False
    return not (nots and _any(nots, value, match))


def rule_matches(rule: dict, req: Request) -> bool:
    froms = [f.get("source") or {} for f in rule.get("from") or [] if isinstance(f, dict)]
    tos = [t.get("operation") or {} for t in rule.get("to") or [] if isinstance(t, dict)]
    if froms and not any(_source(s, req) for s in froms):
        return False
    if tos and not any(_operation(o, req) for o in tos):
        return False
    return all(_condition(c, req) for c in rule.get("when") or [] if isinstance(c, dict))


# --- rules compiled once per policy ------------------------------------------------------------
# ``rule_matches`` reads every field of every source and operation on each request, most of them
# absent; a compiled rule keeps only the fields present, as (value of the request, patterns,
# excluded patterns, match). The same answers: ``_field`` with its absent fields dropped.

_SOURCE_FIELDS = (("principals", "principal", istio_string), ("namespaces", "namespace", istio_string),
                  ("serviceAccounts", "sa", istio_string), ("ipBlocks", "source_ip", _ip_match),
                  ("remoteIpBlocks", "source_ip", _ip_match), ("requestPrincipals", "request_principal", istio_string))
_OPERATION_FIELDS = (("ports", "port", istio_string), ("paths", "path", path_matches),
                     ("methods", "method", istio_string), ("hosts", "host", istio_string))


def _terms(d: dict, fields) -> tuple:
    out = []
    for key, attr, match in fields:
        pos, neg = _values(d, key), _values(d, "not" + key[0].upper() + key[1:])
        if pos or neg:
            out.append((attr, tuple(pos), tuple(neg), match))
    return tuple(out)


def _request_value(req: Request, attr: str):
    if attr == "sa":
        if req.principal and "/sa/" in req.principal:
            return f"{req.namespace}/{req.principal.rsplit('/sa/', 1)[1]}"
        return None
    if attr == "port":
        return str(req.port)
    return getattr(req, attr)


def _terms_match(terms: tuple, req: Request) -> bool:
    for attr, pos, neg, match in terms:
        value = _request_value(req, attr)
        if pos and not any(match(p, value) for p in pos):
            return False
        if neg and any(match(n, value) for n in neg):
            return False
    return True


@dataclass(frozen=True)
class CompiledRule:
    froms: tuple  # the sources' terms (empty: any source)
    tos: tuple  # the operations' terms (empty: any operation)
    when: tuple  # the conditions (dicts), checked by ``_condition``

    def matches(self, req: Request) -> bool:
        if self.froms and not any(_terms_match(t, req) for t in self.froms):
            return False
        if self.tos and not any(_terms_match(t, req) for t in self.tos):
            return False
        return all(_condition(c, req) for c in self.when)


def compile_rule(rule: dict):
    """The rule compiled (``CompiledRule``), or the rule itself when it is not of the expected
    shape (then ``rule_matches`` reads it on each request, failing where it always did)."""
    try:
        froms = tuple(_terms(f.get("source") or {}, _SOURCE_FIELDS) for f in rule.get("from") or []
                      if isinstance(f, dict))
        tos = tuple(_terms(t.get("operation") or {}, _OPERATION_FIELDS) for t in rule.get("to") or []
                    if isinstance(t, dict))
        when = tuple(c for c in rule.get("when") or [] if isinstance(c, dict))
    except (AttributeError, TypeError):
        return rule
    return CompiledRule(froms, tos, when)


def _matches(compiled, req: Request) -> bool:
    return compiled.matches(req) if isinstance(compiled, CompiledRule) else rule_matches(compiled, req)


def has_l7(rule: dict) -> bool:
    """Does the rule use attributes ztunnel cannot see (``httpOperations``, ``httpSources``
    and the non-L4 ``when`` keys of the ambient conversion)?"""
    for f in rule.get("from") or []:
        if any((f or {}).get("source", {}).get(k) for k in L7_SOURCE):
            return True
    for t in rule.get("to") or []:
        if any((t or {}).get("operation", {}).get(k) for k in L7_OPERATION):
            return True
    return any(str((c or {}).get("key", "")) not in L4_CONDITIONS for c in rule.get("when") or [])


def _l4_only(rule: dict) -> dict:
    """A DENY rule as ztunnel enforces it: its HTTP attributes removed (``handleRule``)."""
    out: dict = {}
    if rule.get("from"):
        out["from"] = [{"source": {k: v for k, v in ((f or {}).get("source") or {}).items() if k not in L7_SOURCE}}
                       for f in rule["from"]]
    if rule.get("to"):
        out["to"] = [{"operation": {k: v for k, v in ((t or {}).get("operation") or {}).items()
                                    if k in ("ports", "notPorts")}} for t in rule["to"]]
    when = [c for c in rule.get("when") or [] if str((c or {}).get("key", "")) in L4_CONDITIONS]
    if when:
        out["when"] = when
    return out


def effective_rules(policy: Obj, point: str) -> list[dict]:
    """The rules of ``policy`` as the enforcement ``point`` (sidecar, ztunnel, waypoint,
    gateway) enforces them."""
    rules = [r if isinstance(r, dict) else {} for r in policy.spec.get("rules") or []]
    if point != "ztunnel":
        return rules
    action = str(policy.spec.get("action") or "ALLOW")
    if action == "ALLOW":
        return [r for r in rules if not has_l7(r)]
    return [_l4_only(r) if has_l7(r) else r for r in rules]


def _compiled_rules(p: Obj, point: str) -> list:
    """``effective_rules(p, point)`` compiled, once per policy and enforcement point (kept on
    the object, which lives as long as its world)."""
    rules = p.compiled.get(point)
    if rules is None:
        rules = p.compiled[point] = [compile_rule(r) for r in effective_rules(p, point)]
    return rules


def _only_principals(rule) -> frozenset | None:
    """The principals a compiled rule can match at most: every source of its ``from`` names
    principals, none with a ``*`` (an exact match); None when it may match any request."""
    if not isinstance(rule, CompiledRule) or not rule.froms:
        return None
    out: set = set()
    for terms in rule.froms:
        # the principal is the first term of a source (``_SOURCE_FIELDS``): a request without it
        # fails the source before any other term is read
        if not terms or terms[0][0] != "principal" or not terms[0][1] or any("*" in v for v in terms[0][1]):
            return None
        out.update(terms[0][1])
    return frozenset(out)


def _candidates(p: Obj, point: str, principal: str | None) -> list:
    """The rules of ``p`` at ``point`` that a request from ``principal`` may match, in their
    order: the others name only other principals, so they fail on their first term and
    ``any`` over the candidates is ``any`` over every rule (an index built once per policy)."""
    key = ("principals", point)
    index = p.compiled.get(key)
    if index is None:
        generic: list = []
        by_principal: dict = {}
        for i, r in enumerate(_compiled_rules(p, point)):
            only = _only_principals(r)
            if only is None:
                generic.append((i, r))
            for name in only or ():
                by_principal.setdefault(name, []).append((i, r))
        index = p.compiled[key] = (generic, by_principal, [r for _, r in generic])
    generic, by_principal, generic_rules = index
    named = by_principal.get(principal) if principal is not None else None
    if not named:
        return generic_rules
    return [r for _, r in sorted(generic + named, key=lambda pair: pair[0])]


def _any_rule(p: Obj, point: str, req: Request) -> bool:
    return any(_matches(r, req) for r in _candidates(p, point, req.principal))


def decide(policies: list[Obj], req: Request, point: str) -> Decision:
    """Evaluate the policies that apply at one enforcement point."""
    by_action: dict[str, list[Obj]] = {"CUSTOM": [], "DENY": [], "ALLOW": [], "AUDIT": []}
    for p in policies:
        action = str(p.spec.get("action") or "ALLOW")
        if point == "ztunnel" and action not in ("ALLOW", "DENY"):
            continue  # ztunnel does not support CUSTOM or AUDIT
        by_action.setdefault(action, []).append(p)
    for p in by_action["CUSTOM"]:
        if _any_rule(p, point, req):
            return Decision(False, (p.ref,), f"CUSTOM policy at {point} delegates the request (not modelled: denied)")
    for p in by_action["DENY"]:
        if _any_rule(p, point, req):
            return Decision(False, (p.ref,), f"DENY at {point}")
    allow = by_action["ALLOW"]
    if not allow:
        return Decision(True, (), f"no ALLOW policy at {point}")
    for p in allow:
        if _any_rule(p, point, req):
            return Decision(True, (p.ref,), f"ALLOW at {point}")
    return Decision(False, tuple(sorted(p.ref for p in allow)), f"no ALLOW policy at {point} matches")


def _refs(p: Obj) -> list[dict]:
    refs = list(p.spec.get("targetRefs") or [])
    if p.spec.get("targetRef"):
        refs.append(p.spec["targetRef"])
    return [r for r in refs if isinstance(r, dict)]


def at_waypoint(world: World, waypoint: Obj, service_ns: str, service: str | None, entry: str | None) -> list[Obj]:
    """Policies a waypoint enforces for a request to ``service`` (a Service name) or ``entry``
    (a ServiceEntry name) of ``service_ns``."""
    out = []
    for p in world.in_ns("AuthorizationPolicy", waypoint.namespace) + (
            world.in_ns("AuthorizationPolicy", service_ns) if service_ns != waypoint.namespace else []):
        for ref in _refs(p):
            kind, name, group = ref.get("kind"), str(ref.get("name", "")), str(ref.get("group") or "")
            if (kind == "Gateway" and group == GATEWAY_GROUP and name == waypoint.name
                    and p.namespace == waypoint.namespace) or (
                    kind == "Service" and group == "" and name == service and p.namespace == service_ns) or (
                    kind == "ServiceEntry" and name == entry and p.namespace == service_ns):
                out.append(p)
                break
    for p in world.in_ns("AuthorizationPolicy", ROOT_NAMESPACE):
        if any(r.get("kind") == "GatewayClass" and r.get("name") == "istio-waypoint" for r in _refs(p)):
            out.append(p)
    return out


def at_gateway(world: World, namespace: str, labels: dict, gateway_name: str | None) -> list[Obj]:
    """Policies an ingress gateway enforces: by selector, or (Gateway API) by targetRefs to its Gateway."""
    out = at_workload(world, namespace, labels)
    if gateway_name:
        out += [p for p in world.in_ns("AuthorizationPolicy", namespace)
                if any(r.get("kind") == "Gateway" and str(r.get("name")) == gateway_name for r in _refs(p))]
    return out
