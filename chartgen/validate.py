"""Catalog loading and validation: structural (pydantic) and semantic rules.

Every problem is collected, located through the SourceMap and reported at once.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from . import naming
from .catalog import API_VERSION, HTTP_PROTOCOLS, KIND, PATH_UNION_TAGS, TLS_PROTOCOLS, Catalog, Match, path_match
from .errors import CatalogError, Problem
from .mesh import HTTP_ONLY, EnvView, env_views, has_http_port, http_only_setting
from .yamlsrc import SourceMap, format_path, load_yaml

# Kubernetes' own namespaces: chartgen never writes into them
RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
ISTIO_ROOT_NAMESPACE = "istio-system"
HELM_RELEASE_MAX = 53


def mesh_namespaces(catalog: Catalog) -> dict[str, str]:
    """Namespaces that belong to the mesh's own components: namespace -> what it holds.
    No environment or service may use one (a deny-all there would cut off the mesh)."""
    out = {ns: "a Kubernetes system namespace" for ns in RESERVED_NAMESPACES}
    out[catalog.observability.namespace] = "the observability add-ons' namespace"
    out[catalog.istio.gatewayRelease] = "the ingress gateway's namespace"
    out[ISTIO_ROOT_NAMESPACE] = "Istio's root namespace (a policy there applies to the whole mesh)"
    return out

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


def _problems_from_pydantic(exc: ValidationError, smap: SourceMap) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        etype = err["type"]
        if loc and loc[-1] == "[key]":  # a mapping key itself is invalid: point at the key
            loc = loc[:-1]
            line, col = smap.key_pos(loc)
            text = err["msg"]
            if err.get("ctx", {}).get("expected"):
                text = f"expected {err['ctx']['expected']}, got {err['ctx'].get('got', repr(err.get('input')))}"
            elif etype == "string_pattern_mismatch":
                text = f"expected a key matching {err['ctx']['pattern']}, got {_describe(err.get('input'))}"
            out.append(Problem(smap.file, line, col, format_path(loc[:-1]), f"key '{loc[-1]}': {text}", etype))
            continue
        value = err.get("input")
        path = format_path(loc)
        if etype == "missing":
            line, col = smap.value_pos(loc[:-1])
            out.append(Problem(smap.file, line, col, format_path(loc[:-1]),
                               f"required key '{loc[-1]}' is missing", "required"))
            continue
        if etype == "extra_forbidden":
            line, col = smap.key_pos(loc)
            known = _fields_at(loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            msg = f"unknown key '{loc[-1]}'"
            if hint:
                msg += f" (did you mean '{hint[0]}'?)"
            elif known:
                msg += f" (expected one of: {', '.join(known)})"
            out.append(Problem(smap.file, line, col, format_path(loc[:-1]), msg, "unknown-key"))
            continue
        line, col = smap.value_pos(loc)
        if etype in _TYPE_NAMES:
            msg, rule = f"expected {_TYPE_NAMES[etype]}, got {_describe(value)}", "type"
        elif etype == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            msg, rule = f"expected one of {expected}, got {_describe(value)}", "enum"
        elif etype in ("too_short", "too_long"):
            msg, rule = err["msg"].replace("List should", "expected a list that should").replace("Dictionary should", "expected a mapping that should"), "length"
            msg = f"{msg}, got {_describe(value)}" if not isinstance(value, (list, dict)) else msg
        elif etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            ctx = err.get("ctx", {})
            bound = " and ".join(f"{'≥' if k == 'ge' else '≤' if k == 'le' else '>' if k == 'gt' else '<'} {v}" for k, v in ctx.items())
            msg, rule = f"expected a number {bound}, got {_describe(value)}", "range"
        elif etype == "string_pattern_mismatch":
            msg, rule = f"expected a string matching {err['ctx']['pattern']}, got {_describe(value)}", "pattern"
        elif etype == "string_too_short":
            msg, rule = f"expected a non-empty string, got {_describe(value)}", "length"
        else:
            msg, rule = err["msg"], etype
        out.append(Problem(smap.file, line, col, path, msg, rule))
    return out


def parse_catalog(text: str, file: str = "catalog.yaml") -> tuple[Catalog, SourceMap]:
    """Parse and validate catalog text. Raises CatalogError with every problem."""
    try:
        return _parse_catalog(text, file)
    except RecursionError:
        from .safeio import nesting_problem

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


def _prune(data: dict, exc: ValidationError) -> tuple[dict, set[str]]:
    """Drop the smallest parts that failed structurally (a service's field, an environment's
    field, …) so that the semantic rules can still run on everything else. Returns the
    pruned data and the names of services/environments touched (empty: nothing could be)."""
    import copy

    data = copy.deepcopy(data)
    cut: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = [p for p in _clean_loc(err["loc"]) if p != "[key]"]
        if loc and loc[0] in ("apiVersion", "kind"):
            data[loc[0]] = API_VERSION if loc[0] == "apiVersion" else KIND
            cut.add(loc[0])
            continue
        if len(loc) >= 2 and loc[0] in _PRUNABLE:
            depth = 5 if len(loc) >= 5 and loc[0] == "environments" and loc[2] == "services" else 3
            if len(loc) >= 4 and loc[0] == "environments" and loc[2] == "gateway":
                depth = 4  # drop the broken gateway field, not the gateway (its defaults would raise more)
            if loc[0] == "services" and len(loc) >= 4 and loc[2] == "ports" and isinstance(loc[3], int):
                # keep the service: stand a neutral placeholder in for the broken port
                try:
                    data["services"][loc[1]]["ports"][loc[3]] = {"name": f"invalid-{loc[3]}", "port": 65535 - loc[3]}
                    cut.add(str(loc[1]))
                    continue
                except (KeyError, IndexError, TypeError):
                    depth = 2
            elif err["type"] == "missing" or (loc[0] == "services" and len(loc) >= 3 and loc[2] == "ports"):
                depth = 2  # a required part is broken: drop the whole entry
            depth = min(depth, len(loc))
            while depth > 2 and not isinstance(loc[depth - 1], str):
                depth -= 1
        elif len(loc) >= 2 and loc[0] in ("defaults", "metadata", "versions", "istio", "observability"):
            depth = 2 if err["type"] != "missing" else 0
        else:
            depth = 0
        if depth == 0:
            return data, set()
        parent = data
        for part in loc[: depth - 1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and loc[depth - 1] in parent:
            del parent[loc[depth - 1]]
            cut.add(str(loc[1]))
        elif depth == 2 and isinstance(data.get(loc[0]), dict):
            return data, set()
    return data, cut


def load_catalog(path: str | Path) -> Catalog:
    """Load and validate the catalog at ``path``."""
    return parse_catalog(read_catalog_text(path), str(path))[0]


def read_catalog_text(path: str | Path) -> str:
    """The catalog's text; an unreadable or non-UTF-8 file is a located problem."""
    from .safeio import decode, os_error_message

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError([Problem(str(path), 0, 0, "", os_error_message(exc, path, "read the catalog"), "io")]) from None
    return decode(data, str(path), "catalog")


# --- semantic rules ----------------------------------------------------------------------------


class _Checker:
    def __init__(self, catalog: Catalog, smap: SourceMap, assumed: set[str] = frozenset()):
        self.assumed = assumed  # names dropped for structural errors: not reported again
        self.c = catalog
        self.smap = smap
        self.problems: list[Problem] = []
        self._seen: set = set()

    def add(self, loc: tuple, message: str, rule: str, key: bool = False, level: str = "error"):
        line, col = self.smap.key_pos(loc) if key else self.smap.value_pos(loc)
        p = Problem(self.smap.file, line, col, format_path(loc), message, rule, level)
        if p not in self._seen:
            self._seen.add(p)
            self.problems.append(p)

    def layer_loc(self, env: str | None, svc: str, *field) -> tuple:
        """The most specific catalog path that sets ``field`` for a service in ``env``."""
        candidates = []
        if env is not None:
            candidates.append(("environments", env, "services", svc) + field)
        candidates += [("services", svc) + field, ("defaults",) + field]
        for loc in candidates:
            for n in range(len(loc), len(loc) - len(field) - 1, -1):
                if loc[:n] in self.smap.values and n > len(loc) - len(field):
                    return loc if n == len(loc) else loc[:n]
        return ("services", svc)

    def run(self) -> list[Problem]:
        c = self.c
        self.check_release_names()
        for key, svc in c.services.items():
            for env in svc.environments or []:
                if env not in c.environments and env not in self.assumed:
                    i = svc.environments.index(env)
                    self.add(("services", key, "environments", i),
                             f"unknown environment '{env}'{_hint(env, c.environments)}", "unknown-environment")
            self.check_ports(("services", key), svc.ports)
        for name, env in c.environments.items():
            for key in env.services:
                if key not in c.services and key not in self.assumed:
                    self.add(("environments", name, "services", key),
                             f"unknown service '{key}'{_hint(key, c.services)}", "unknown-service", key=True)
            self.check_environment(name, env)
        for ext_key, ext in c.externalServices.items():
            if ext_key in c.services:
                self.add(("externalServices", ext_key), f"name '{ext_key}' is also a service", "duplicate-name", key=True)
            for i, host in enumerate(ext.hosts):
                if host == "*":
                    self.add(("externalServices", ext_key, "hosts", i), "expected a host, got '*' alone", "host")
            r = ext.redirectTo
            if r is not None and r.service not in self.assumed:  # an assumed service was dropped as broken
                if r.service not in c.services:
                    self.add(("externalServices", ext_key, "redirectTo", "service"),
                             f"unknown service '{r.service}'{_hint(r.service, c.services)}", "unknown-service")
                elif r.port not in {p.port for p in c.services[r.service].ports}:
                    self.add(("externalServices", ext_key, "redirectTo", "port"),
                             f"expected a port of service '{r.service}', got {r.port}", "unknown-port")
        self.check_gitops()
        for loc, ns in ((("istio", "gatewayRelease"), c.istio.gatewayRelease),
                        (("observability", "namespace"), c.observability.namespace)):
            if ns in RESERVED_NAMESPACES:
                self.add(loc, f"namespace '{ns}' is reserved: a Kubernetes system namespace", "reserved-namespace")
        if c.observability.namespace == c.istio.gatewayRelease:
            self.add(("observability", "namespace"), f"namespace '{c.observability.namespace}' is also the ingress "
                     "gateway's namespace (istio.gatewayRelease)", "reserved-namespace")
        # the base layer (no environment) and every environment
        self.check_layer(None)
        for view in env_views(c):
            self.check_layer(view)
        return self.problems

    def check_gitops(self):
        g = self.c.gitops
        if g is None or g.argocd is None:
            return
        for env in g.argocd.clusters:
            if env not in self.c.environments and env not in self.assumed:
                self.add(("gitops", "argocd", "clusters", env),
                         f"unknown environment '{env}'{_hint(env, self.c.environments)}", "unknown-environment", key=True)
        for name, env in self.c.environments.items():
            # the kube context becomes the Argo CD destination cluster's name
            if name not in g.argocd.clusters and env.kubeContext and not naming.CLUSTER_NAME.match(env.kubeContext):
                self.add(("environments", name, "kubeContext"),
                         "expected a cluster name (letters, digits, '.', '_', ':', '@', '/', '-') for the Argo CD "
                         f"destination, got {env.kubeContext!r}; or set gitops.argocd.clusters.{name}", "cluster-name")

    def check_ports(self, loc, ports):
        """``loc``: the path that holds ``ports``, or a function giving it (only called
        when there is something to report)."""
        names, numbers = {}, {}
        for i, p in enumerate(ports or []):
            if p.name in names or p.port in numbers:
                base = loc() if callable(loc) else loc
                if p.name in names:
                    self.add(base + ("ports", i, "name"), f"duplicate port name '{p.name}'", "duplicate-port")
                if p.port in numbers:
                    self.add(base + ("ports", i, "port"), f"duplicate port {p.port}", "duplicate-port")
            names[p.name] = numbers[p.port] = i

    def check_production(self, name: str, env):
        """The secure defaults of a production environment: each weaker setting needs its own
        explicit opt-in (the same keys make lint accept it)."""
        loc = ("environments", name)
        gw = env.gateway

        def refuse(where: tuple, what: str, opt_in: str, rule: str):
            self.add(loc + where, f"{what} in a production environment needs {opt_in}: true", rule)

        if env.mtls == "PERMISSIVE" and not env.allowPermissiveMtlsInProduction:
            refuse(("mtls",), "PERMISSIVE mTLS (plaintext accepted)", "allowPermissiveMtlsInProduction", "production-mtls")
        if not env.allowPlainHttpInProduction:
            if not gw.https:
                refuse(("gateway", "https"), "a plain-HTTP gateway", "allowPlainHttpInProduction", "production-http")
            elif not gw.httpsRedirect:
                refuse(("gateway", "httpsRedirect"), "a gateway serving plain HTTP on port 80 (no HTTPS redirect)",
                       "allowPlainHttpInProduction", "production-http")
            for i, p in enumerate(gw.extraPorts):
                refuse(("gateway", "extraPorts", i), f"a plaintext gateway port {p.port} ({p.protocol})",
                       "allowPlainHttpInProduction", "production-http")
        if env.egressPolicy == "ALLOW_ANY" and not env.allowAnyEgressInProduction:
            refuse(("egressPolicy",), "egressPolicy ALLOW_ANY (open egress)", "allowAnyEgressInProduction",
                   "production-egress")
        if env.kialiAnonymous and not env.allowAnonymousKialiInProduction:
            refuse(("kialiAnonymous",), "Kiali without login", "allowAnonymousKialiInProduction", "production-kiali")
        if gw.jwt is not None and gw.jwt.jwksUri.lower().startswith("http://") and not env.allowHttpJwksInProduction:
            refuse(("gateway", "jwt", "jwksUri"), "a JWKS fetched over plain http://", "allowHttpJwksInProduction",
                   "production-jwks")
        if not env.allowWildcardHostsInProduction:
            for key, ext in self.c.externalServices.items():
                for i, host in enumerate(ext.hosts):
                    if host.startswith("*"):
                        self.add(("externalServices", key, "hosts", i),
                                 f"wildcard host '{host}' opens egress to a whole domain in production environment "
                                 f"'{name}'; set environments.{name}.allowWildcardHostsInProduction: true",
                                 "production-wildcard-host")

    def check_release_names(self):
        """helm refuses release names over 53 characters: the mesh chart's release is
        <metadata.name>-mesh, the gateway's istio.gatewayRelease."""
        c = self.c
        mesh = f"{c.metadata.name}-mesh"
        if len(mesh) > HELM_RELEASE_MAX:
            self.add(("metadata", "name"), f"the mesh chart's release name '{mesh}' is longer than helm's "
                     f"{HELM_RELEASE_MAX} characters; shorten metadata.name to at most {HELM_RELEASE_MAX - 5}",
                     "release-name")
        if len(c.istio.gatewayRelease) > HELM_RELEASE_MAX:
            self.add(("istio", "gatewayRelease"), f"release name '{c.istio.gatewayRelease}' is longer than helm's "
                     f"{HELM_RELEASE_MAX} characters", "release-name")

    def check_environment(self, name: str, env):
        loc = ("environments", name)
        if not env.namespace and len(f"{self.c.metadata.name}-{name}") > 63:
            self.add(loc, f"the default namespace '{self.c.metadata.name}-{name}' (<metadata.name>-<environment>) is "
                     f"longer than 63 characters; set environments.{name}.namespace", "dns-1123", key=True)
        gw = env.gateway
        if gw.https and not gw.credentialName:
            self.add(loc + ("gateway",), "an HTTPS gateway needs 'credentialName' (the TLS secret in the gateway namespace)",
                     "https-credential")
        main = {443, 80} if gw.https else {80}
        for i, p in enumerate(gw.extraPorts):
            if p.port in main or p.port == 15021:
                self.add(loc + ("gateway", "extraPorts", i, "port"), f"port {p.port} is already used by the gateway",
                         "duplicate-port")
        if env.production and env.chaos and not env.allowChaosInProduction:
            self.add(loc + ("chaos",), "fault injection in a production environment needs allowChaosInProduction: true",
                     "chaos-in-production")
        if env.production:
            self.check_production(name, env)
        reserved = mesh_namespaces(self.c)
        ns = env.namespace or f"{self.c.metadata.name}-{name}"
        if ns in reserved:
            if env.namespace:
                self.add(loc + ("namespace",), f"namespace '{ns}' is reserved: {reserved[ns]}", "reserved-namespace")
            else:
                self.add(loc, f"the default namespace '{ns}' (<metadata.name>-<environment>) is reserved: "
                         f"{reserved[ns]}; set environments.{name}.namespace", "reserved-namespace", key=True)
        if env.dataPlane == "ambient" and env.ingressApi == "istio":
            self.add(loc + ("ingressApi",), "the ambient data plane routes through the Gateway API; expected "
                     "ingressApi: gatewayApi (or no ingressApi), got 'istio'", "ingress-api")

    def check_layer(self, view: EnvView | None):
        c = self.c
        env_name = view.name if view else None
        services = view.services if view else None
        if services is None:
            from .mesh import resolve_service

            services = {k: resolve_service(c, k, None) for k in c.services}
        routes_seen: dict[tuple, str] = {}
        names_seen: dict[tuple, str] = {}
        reserved = mesh_namespaces(c)
        for key, svc in services.items():
            s = svc.spec
            L = lambda *f: self.layer_loc(env_name, key, *f)  # noqa: E731
            if s.namespace in reserved:
                self.add(L("namespace"), f"namespace '{s.namespace}' is reserved: {reserved[s.namespace]}",
                         "reserved-namespace")
            if view is None and not s.serviceName and len(svc.service_name) > 63:
                self.add(("services", key), f"Kubernetes name '{svc.service_name}' (naming.prefix + key) is longer "
                         "than 63 characters; shorten naming.prefix or set serviceName", "dns-1123", key=True)
            if view is not None and svc.enabled:
                ident = (view.service_namespace(svc), svc.service_name)
                if ident in names_seen:
                    self.add(L("serviceName") if s.serviceName else ("services", key),
                             f"Kubernetes service {ident[1]} in {ident[0]} is also used by service '{names_seen[ident]}'",
                             "unique-service", key=not s.serviceName)
                names_seen[ident] = key
                if s.expose is not None:
                    host = view.external_host(svc)
                    if not naming.is_host(host):
                        where = L("expose", "host") if s.expose.host else ("environments", env_name, "hostSuffix") \
                            if view.env.hostSuffix else ("metadata", "domain")
                        self.add(where, f"external host '{host}' of service '{key}' in environment '{env_name}' is "
                                 f"longer than 253 characters (or has a label over 63)", "host-length")
                    for i, path in enumerate(s.expose.paths):
                        kind, value = path_match(path)
                        other = routes_seen.get((host, kind, value))
                        if other:
                            self.add(L("expose", "paths", i),
                                     f"route {host}{value}{'' if kind == 'prefix' else f' ({kind})'} in environment '{env_name}' is also claimed by "
                                     f"service '{other}'", "unique-route")
                        routes_seen[(host, kind, value)] = key
                    gp = s.expose.gatewayPort
                    extra = {p.port: p for p in view.env.gateway.extraPorts}
                    if gp is not None and gp not in extra:
                        self.add(L("expose", "gatewayPort"),
                                 f"expected a port of environments.{env_name}.gateway.extraPorts, got {gp}", "gateway-port")
                    elif gp is not None and extra[gp].protocol not in HTTP_PROTOCOLS:
                        self.add(L("expose", "gatewayPort"),
                                 f"gateway port {gp} is {extra[gp].protocol} in environment '{env_name}': the exposed "
                                 "paths are HTTP routes, which a TCP gateway server never applies", "gateway-port")
            self.check_protocols(view, key, svc)
            if s.loadBalancer is not None and s.sessionAffinity is not None:
                self.add(L("sessionAffinity"), "sessionAffinity (consistent hash) and loadBalancer exclude each other",
                         "lb-exclusive")
            if s.timeout and s.retries and s.retries.perTryTimeout and s.retries.attempts:
                budget = s.retries.attempts * naming.duration_ms(s.retries.perTryTimeout)
                if budget > naming.duration_ms(s.timeout):
                    self.add(L("retries"),
                             f"expected attempts × perTryTimeout ≤ timeout, got {s.retries.attempts} × "
                             f"{s.retries.perTryTimeout} > {s.timeout}", "retry-budget")
            versions = set(s.versions or {})
            if s.weights:
                for v in s.weights:
                    if v not in versions:
                        self.add(L("weights", v), f"unknown version '{v}'{_hint(v, versions)}", "unknown-version", key=True)
                total = sum(s.weights.values())
                if total != 100:
                    self.add(L("weights"), f"expected weights that sum to 100, got {total}", "canary-weights")
            if s.canary:
                for f in ("stable", "candidate"):
                    v = getattr(s.canary, f)
                    if v not in versions:
                        self.add(L("canary", f), f"unknown version '{v}'{_hint(v, versions)}", "unknown-version")
                steps = s.canary.steps
                if any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] != 100:
                    self.add(L("canary", "steps"), f"expected steps that rise and end at 100, got {steps}", "canary-steps")
                if s.canary.stable == s.canary.candidate:
                    self.add(L("canary", "candidate"), "expected a candidate other than the stable version", "canary-steps")
            for i, r in enumerate(s.routes or []):
                if r.version not in versions:
                    self.add(L("routes", i, "version"), f"unknown version '{r.version}'{_hint(r.version, versions)}",
                             "unknown-version")
            self.check_shadowing(L, s.routes or [], "routes")
            chaos_here = view is not None and view.env.chaos
            if chaos_here and s.routes:
                for i, f in enumerate(s.faults or []):
                    if f.match is None or _is_catch_all(f.match):
                        self.add(L("faults", i),
                                 f"fault '{f.name}' matches every request in environment '{env_name}', so the A/B "
                                 f"routes after it are unreachable there; give it a match (e.g. a header)",
                                 "route-shadowed")
            for field, items in (("routes", s.routes or []), ("faults", s.faults or [])):
                for i, item in enumerate(items):
                    if item.match is not None and item.match.cookie is not None and "cookie" in item.match.headers:
                        self.add(L(field, i, "match"), "a cookie condition and a 'cookie' header condition exclude "
                                 "each other (both match the Cookie header)", "cookie-conflict")
            self.check_names(L, s.routes or [], "routes")
            self.check_names(L, s.faults or [], "faults")
            if s.mirror and s.mirror.version not in versions:
                self.add(L("mirror", "version"), f"unknown version '{s.mirror.version}'{_hint(s.mirror.version, versions)}",
                         "unknown-version")
            for i, callee in enumerate(s.calls or []):
                if callee not in c.services and callee not in c.externalServices and callee not in self.assumed:
                    known = set(c.services) | set(c.externalServices)
                    self.add(L("calls", i), f"unknown service '{callee}'{_hint(callee, known)}", "unknown-service")
                elif callee == key:
                    self.add(L("calls", i), f"service '{key}' calls itself", "self-call")
            if s.ports:
                self.check_ports(lambda: L("ports")[:-1] if L("ports")[-1] == "ports" else ("services", key), s.ports)
            if view is not None and svc.enabled and view.gateway_api_routed(svc):
                self.check_gateway_api(view, svc, L)
            if view is not None and s.faults and svc.enabled:
                ov = view.env.services.get(key)
                if ov is not None and ov.faults and not view.env.chaos:
                    self.add(("environments", env_name, "services", key, "faults"),
                             f"faults are set but environments.{env_name}.chaos is false, so they would never apply",
                             "faults-without-chaos")

    def check_protocols(self, view: EnvView | None, key: str, svc):
        """HTTP-only settings asked of a service without an HTTP port (inherited defaults
        are simply not applied, see chartgen.mesh), and gRPC aborts without a gRPC port."""
        s = svc.spec
        layers = [(("services", key), self.c.services[key])]
        if view is not None and key in view.env.services:
            layers.append((("environments", view.name, "services", key), view.env.services[key]))
        ports = ", ".join(f"{p.port}/{p.protocol}" for p in s.ports or [])
        if not has_http_port(s.ports):
            for loc, layer in layers:
                for name in (*HTTP_ONLY, "sessionAffinity", "slo", "expose"):
                    value = getattr(layer, name, None)
                    if name == "expose" and value is not None:
                        self.add(loc + (name,), f"expose routes HTTP through the gateway, but service '{key}' has no "
                                 f"HTTP, HTTP2 or GRPC port (ports: {ports})", "http-only")
                    elif name in layer.model_fields_set and http_only_setting(name, value):
                        what = {"sessionAffinity": "header, cookie and query-parameter affinity are HTTP-only",
                                "slo": "a p99 latency SLO is HTTP-only (Istio records no latency for TCP)"
                                }.get(name, f"{name} is HTTP-only")
                        sub = ("p99Latency",) if name == "slo" else ()
                        self.add(loc + (name,) + sub, f"{what}, but service '{key}' has no HTTP, HTTP2 or "
                                 f"GRPC port (ports: {ports})", "http-only")
        elif not svc.has_grpc:
            for loc, layer in layers:
                for i, f in enumerate(layer.faults or []):
                    if f.abort is not None and f.abort.grpcStatus is not None:
                        self.add(loc + ("faults", i, "abort", "grpcStatus"),
                                 f"a gRPC abort needs a GRPC port, but service '{key}' has none (ports: {ports})",
                                 "grpc-abort")

    def check_gateway_api(self, view: EnvView, svc, L):
        """What the Gateway API (GAMMA in ambient, or the ingress) and waypoints cannot
        express is an error, never dropped: the same catalog must mean the same thing."""
        s = svc.spec
        why = view.gateway_api_routed(svc)
        where = (f"the ambient data plane of environment '{view.name}'" if why == "ambient"
                 else f"the Gateway API ingress of environment '{view.name}'")
        if s.faults and view.chaos:
            self.add(L("faults"), f"fault injection is not available with {where}: the Gateway API has no fault "
                     "filter (turn chaos off there, or use the sidecar data plane and ingressApi: istio)",
                     "data-plane-feature")
        if s.retries is not None:
            self.add(L("retries"), f"retries are not available with {where}: Gateway API HTTPRoutes (standard "
                     "channel) have no retry policy, so the mesh default would apply instead", "data-plane-feature")
        if why == "ambient" and s.rateLimit is not None:
            self.add(L("rateLimit"), f"a per-service local rate limit is not available with {where}: a waypoint's "
                     "filter applies to every service that uses it", "data-plane-feature")
        if why == "ambient" and s.weights and any(p.protocol in TLS_PROTOCOLS for p in s.ports or []):
            self.add(L("weights"), f"a version split of a TLS port (routed by SNI) is not available with {where}: "
                     "no Gateway API route splits TLS passthrough inside the mesh", "data-plane-feature")
        self.check_precedence(view, svc, L, ingress=why != "ambient")
        if why == "ambient" and s.expose is not None and view.ingress_api == "gatewayApi":
            self.check_precedence(view, svc, L, ingress=True)

    def check_precedence(self, view: EnvView, svc, L, ingress: bool):
        """Gateway API routes are ordered by match specificity (path type, path length, then
        header and query counts), not by position: the catalog's first-match order must agree."""
        s = svc.spec
        rules = [(i, r.name, r.match) for i, r in enumerate(s.routes or [])] + [(None, "default", None)]
        paths = [path_match(p) for p in s.expose.paths] if ingress and s.expose else [None]
        keyed = [(i, name, min(gateway_api_rank(m, p) for p in paths)) for i, name, m in rules]
        for j, (jdx, jname, jkey) in enumerate(keyed):
            for idx, iname, ikey in keyed[:j]:
                if jkey < ikey:
                    part = f"{'ingress' if ingress else 'mesh'} routes of environment '{view.name}'"
                    loc = L("routes", idx) if jdx is None else L("routes", jdx)
                    self.add(loc, f"in the Gateway API {part}, rule '{jname}' would be matched before rule '{iname}' "
                             "(HTTPRoute rules are ordered by path type and length, then by the number of header and "
                             "query conditions); reorder the rules or make them more specific",
                             "route-precedence")
                    break

    def check_names(self, L, items, field):
        seen = set()
        for i, item in enumerate(items):
            if item.name in seen:
                self.add(L(field, i, "name"), f"duplicate name '{item.name}'", "duplicate-name")
            seen.add(item.name)

    def check_shadowing(self, L, routes, field):
        for j, later in enumerate(routes):
            for i in range(j):
                if _covers(routes[i].match, later.match):
                    self.add(L(field, j),
                             f"rule '{later.name}' is unreachable: rule '{routes[i].name}' before it matches every request it matches",
                             "route-shadowed")
                    break
        for i, r in enumerate(routes):
            if _is_catch_all(r.match):
                self.add(L(field, i, "match"),
                         f"rule '{r.name}' matches every request, so the default route is unreachable", "route-shadowed")


def gateway_api_rank(m: Match | None, exposed: tuple[str, str] | None = None) -> tuple:
    """The order Istio gives a rule converted from an HTTPRoute (lower first): exact paths,
    then prefixes, then regexes, each longer first, then more headers, then more query
    parameters. A string prefix other than "/" becomes a regex in the Gateway API (a
    PathPrefix matches whole segments only). ``exposed``: the (kind, value) of the exposed
    path an ingress rule without a path of its own is combined with."""
    path = m.path if m is not None else None
    if path is not None:
        kind, value = (("exact", path.exact) if path.exact is not None
                       else ("prefix", path.prefix) if path.prefix is not None else ("regex", path.regex))
    else:
        kind, value = exposed or ("prefix", "/")
    if kind == "exact":
        rank, length = 3, len(value)
    elif kind == "prefix" and value == "/":
        rank, length = 2, 1
    elif kind == "prefix":
        rank, length = 1, len(gateway_api_prefix_regex(value))
    else:
        rank, length = 1, len(value)
    headers = len(m.headers) + (m.cookie is not None) if m is not None else 0
    queries = len(m.queryParams) if m is not None else 0
    return (-rank, -length, -headers, -queries)


def gateway_api_prefix_regex(prefix: str) -> str:
    """A string prefix as the full-match RE2 regex the chart renders for the Gateway API
    (the chart quotes with Go's regexp.QuoteMeta; this is the same quoting)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", prefix) + ".*"


def _hint(name: str, known) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _matches_everything(cond) -> bool:
    return (cond.prefix is not None and cond.prefix in ("", "/")) or (cond.regex is not None and cond.regex in (".*", "^.*$"))


def _is_catch_all(m: Match) -> bool:
    """No condition, or only conditions that every request meets (path prefix "/")."""
    return (not m.headers and m.cookie is None
            and (m.path is None or _matches_everything(m.path)) and not m.queryParams)


def _string_covers(a, b) -> bool:
    """Does string condition ``a`` accept every value that ``b`` accepts?"""
    if a.exact is not None:
        return b.exact == a.exact
    if a.prefix is not None:
        return (b.exact is not None and b.exact.startswith(a.prefix)) or (b.prefix is not None and b.prefix.startswith(a.prefix))
    return b.regex == a.regex


def _covers(a: Match, b: Match) -> bool:
    """True when every request matching ``b`` also matches ``a`` (so a shadows b)."""
    for name, cond in a.headers.items():
        if name not in b.headers or not _string_covers(cond, b.headers[name]):
            return False
    for name, cond in a.queryParams.items():
        if name not in b.queryParams or not _string_covers(cond, b.queryParams[name]):
            return False
    if a.cookie is not None and a.cookie != b.cookie:
        return False
    if a.path is not None and (b.path is None or not _string_covers(a.path, b.path)):
        return False
    return True


def check_semantics(catalog: Catalog, smap: SourceMap, assumed: set[str] = frozenset()) -> list[Problem]:
    return _Checker(catalog, smap, assumed).run()
