"""The secure defaults of a production environment: each weaker setting needs its own
explicit opt-in (``PRODUCTION_GUARDS``: rule id -> the opt-in key; lint honours the same keys)."""

from __future__ import annotations

from .registry import CATALOG, ENVIRONMENT, Hit, rule

_SECTION = "Production environments"
PRODUCTION_GUARDS: dict[str, str] = {}
_PROD = "environments:\n  prod:\n    production: true\n"
_GW = "    gateway: {credentialName: shop-tls}\n"


def _guard(id: str, summary: str, opt_in: str, fail: str, ok: str):
    """A rule refusing, in a production environment without ``opt_in``, each weaker setting
    that the decorated function finds: it yields (path under the environment, what it is)."""

    def register(find):
        @rule(id, summary, section=_SECTION, scope=ENVIRONMENT, fail=_PROD + fail, ok=_PROD + ok)
        def guard(ctx, name, env):
            if env.production and not getattr(env, opt_in):
                for where, what in find(env):
                    yield Hit(("environments", name) + where, f"{what} in a production environment needs {opt_in}: true")

        guard.__name__ = guard.__qualname__ = find.__name__
        guard.__doc__ = find.__doc__
        PRODUCTION_GUARDS[id] = opt_in
        return guard

    return register


@_guard("chaos-in-production", "A production environment injects faults only with allowChaosInProduction",
        "allowChaosInProduction", _GW + "    chaos: true\n", _GW + "    chaos: true\n    allowChaosInProduction: true\n")
def chaos(env):
    if env.chaos:
        yield ("chaos",), "fault injection"


@_guard("production-mtls", "A production environment accepts plaintext (mtls: PERMISSIVE) only with "
        "allowPermissiveMtlsInProduction", "allowPermissiveMtlsInProduction",
        _GW + "    mtls: PERMISSIVE\n", _GW + "    mtls: STRICT\n")
def permissive_mtls(env):
    if env.mtls == "PERMISSIVE":
        yield ("mtls",), "PERMISSIVE mTLS (plaintext accepted)"


@_guard("production-http", "A production gateway serves plain HTTP (https: false, no HTTPS redirect, extra ports) "
        "only with allowPlainHttpInProduction", "allowPlainHttpInProduction",
        "    gateway: {credentialName: shop-tls, httpsRedirect: false}\n", _GW)
def plain_http(env):
    gw = env.gateway
    if not gw.https:
        yield ("gateway", "https"), "a plain-HTTP gateway"
    elif not gw.httpsRedirect:
        yield ("gateway", "httpsRedirect"), "a gateway serving plain HTTP on port 80 (no HTTPS redirect)"
    for i, p in enumerate(gw.extraPorts):
        yield ("gateway", "extraPorts", i), f"a plaintext gateway port {p.port} ({p.protocol})"


@_guard("production-egress", "A production environment opens egress (egressPolicy: ALLOW_ANY) only with "
        "allowAnyEgressInProduction", "allowAnyEgressInProduction",
        _GW + "    egressPolicy: ALLOW_ANY\n", _GW + "    egressPolicy: REGISTRY_ONLY\n")
def open_egress(env):
    if env.egressPolicy == "ALLOW_ANY":
        yield ("egressPolicy",), "egressPolicy ALLOW_ANY (open egress)"


@_guard("production-kiali", "A production environment serves Kiali without login only with "
        "allowAnonymousKialiInProduction", "allowAnonymousKialiInProduction",
        _GW + "    kialiAnonymous: true\n", _GW + "    kialiAnonymous: false\n")
def anonymous_kiali(env):
    if env.kialiAnonymous:
        yield ("kialiAnonymous",), "Kiali without login"


@_guard("production-jwks", "A production gateway fetches its JWKS over plain http:// only with "
        "allowHttpJwksInProduction", "allowHttpJwksInProduction",
        "    gateway:\n      credentialName: shop-tls\n"
        "      jwt: {issuer: https://id.example, jwksUri: 'http://id.example/jwks'}\n",
        "    gateway:\n      credentialName: shop-tls\n"
        "      jwt: {issuer: https://id.example, jwksUri: 'https://id.example/jwks'}\n")
def http_jwks(env):
    jwt = env.gateway.jwt
    if jwt is not None and jwt.jwksUri.lower().startswith("http://"):
        yield ("gateway", "jwt", "jwksUri"), "a JWKS fetched over plain http://"


@rule(
    "production-wildcard-host", "An external service with a wildcard host exists only if every production "
    "environment allows it (allowWildcardHostsInProduction)", section=_SECTION, scope=CATALOG,
    fail=_PROD + _GW + "externalServices:\n  partner: {hosts: ['*.partner.example']}\n",
    ok=_PROD + _GW + "    allowWildcardHostsInProduction: true\nexternalServices:\n  partner: {hosts: ['*.partner.example']}\n")
def wildcard_hosts(ctx):
    c = ctx.catalog
    for name, env in c.environments.items():
        if not env.production or env.allowWildcardHostsInProduction:
            continue
        for key, ext in c.externalServices.items():
            for i, host in enumerate(ext.hosts):
                if host.startswith("*"):
                    yield Hit(("externalServices", key, "hosts", i),
                              f"wildcard host '{host}' opens egress to a whole domain in production environment "
                              f"'{name}'; set environments.{name}.allowWildcardHostsInProduction: true")


PRODUCTION_GUARDS["production-wildcard-host"] = "allowWildcardHostsInProduction"
