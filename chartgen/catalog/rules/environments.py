"""Environments, their gateway, ports and external hosts."""

from __future__ import annotations

from functools import partial

from ...base import naming
from ..model import HTTP_PROTOCOLS, path_match
from .registry import CATALOG, ENVIRONMENT, LAYER, SERVICE, Hit, check, rule

_rule = partial(rule, section="Environments, gateways and ports")


@_rule("https-credential", "An HTTPS gateway names its TLS secret (gateway.credentialName)", scope=ENVIRONMENT,
       fail="environments:\n  dev: {gateway: {https: true}}\n",
       ok="environments:\n  dev: {gateway: {https: true, credentialName: shop-tls}}\n")
def https_credential(ctx, name, env):
    if env.gateway.https and not env.gateway.credentialName:
        yield Hit(("environments", name, "gateway"),
                  "an HTTPS gateway needs 'credentialName' (the TLS secret in the gateway namespace)")


@_rule("ingress-api", "The ambient data plane routes its ingress through the Gateway API, not an Istio Gateway",
       scope=ENVIRONMENT,
       fail="environments:\n  dev: {gateway: {https: false}, dataPlane: ambient, ingressApi: istio}\n",
       ok="environments:\n  dev: {gateway: {https: false}, dataPlane: ambient, ingressApi: gatewayApi}\n")
def ingress_api(ctx, name, env):
    if env.dataPlane == "ambient" and env.ingressApi == "istio":
        yield Hit(("environments", name, "ingressApi"), "the ambient data plane routes through the Gateway API; "
                  "expected ingressApi: gatewayApi (or no ingressApi), got 'istio'")


@_rule("duplicate-port", "Port names and numbers are unique within a service, and a gateway's extra ports are "
       "not its own 80, 443 or 15021", scope=CATALOG,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}, {name: http, port: 8081}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}, {name: http-admin, port: 8081}]\n")
def service_ports(ctx):
    for key, svc in ctx.catalog.services.items():
        yield from _duplicate_ports(("services", key), svc.ports)


@check("duplicate-port", SERVICE)
def resolved_ports(ctx, layer, key, svc):
    if svc.spec.ports:
        yield from _duplicate_ports(lambda: _ports_owner(layer, key), svc.spec.ports)


@check("duplicate-port", ENVIRONMENT)
def gateway_ports(ctx, name, env):
    gw = env.gateway
    main = {443, 80} if gw.https else {80}
    for i, p in enumerate(gw.extraPorts):
        if p.port in main or p.port == 15021:
            yield Hit(("environments", name, "gateway", "extraPorts", i, "port"),
                      f"port {p.port} is already used by the gateway")


def _ports_owner(layer, key) -> tuple:
    """The path of the layer that sets the service's ports."""
    loc = layer.loc(key, "ports")
    return loc[:-1] if loc[-1] == "ports" else ("services", key)


def _duplicate_ports(loc, ports):
    """``loc``: the path that holds ``ports``, or a function giving it (only called when there
    is something to report)."""
    names, numbers = {}, {}
    for i, p in enumerate(ports or []):
        if p.name in names or p.port in numbers:
            base = loc() if callable(loc) else loc
            if p.name in names:
                yield Hit(base + ("ports", i, "name"), f"duplicate port name '{p.name}'")
            if p.port in numbers:
                yield Hit(base + ("ports", i, "port"), f"duplicate port {p.port}")
        names[p.name] = numbers[p.port] = i


@_rule("host", "Hosts are DNS names (an external service's host may start with '*.', but is never '*' alone)",
       scope=CATALOG, model_too=True,
       fail="externalServices:\n  anything: {hosts: ['*']}\n",
       ok="externalServices:\n  partner: {hosts: ['*.partner.example']}\n")
def star_host(ctx):
    for ext_key, ext in ctx.catalog.externalServices.items():
        for i, host in enumerate(ext.hosts):
            if host == "*":
                yield Hit(("externalServices", ext_key, "hosts", i), "expected a host, got '*' alone")


@_rule("host-length", "An exposed service's external host is at most 253 characters, each label at most 63",
       scope=SERVICE,
       fail="metadata: {name: shop, domain: " + ".".join(["a" * 61] * 4) + "}\n"
            "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {}\n",
       ok="metadata: {name: shop, domain: " + ".".join(["a" * 61] * 3) + "}\n"
          "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {}\n")
def host_length(ctx, layer, key, svc):
    s = svc.spec
    if not layer.enabled(svc) or s.expose is None:
        return
    host = layer.view.external_host(svc)
    if not naming.is_host(host):
        where = (layer.loc(key, "expose", "host") if s.expose.host
                 else ("environments", layer.env_name, "hostSuffix") if layer.view.env.hostSuffix
                 else ("metadata", "domain"))
        yield Hit(where, f"external host '{host}' of service '{key}' in environment '{layer.env_name}' is "
                  "longer than 253 characters (or has a label over 63)")


@_rule("unique-route", "No two services of an environment expose the same host and path", scope=LAYER,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {host: www}\n"
            "  shop:\n    ports: [{name: http, port: 8080}]\n    expose: {host: www}\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {host: www}\n"
          "  shop:\n    ports: [{name: http, port: 8080}]\n    expose: {host: www, paths: [/shop]}\n")
def unique_route(ctx, layer):
    seen: dict[tuple, str] = {}
    for key, svc in layer.services.items():
        if not layer.enabled(svc) or svc.spec.expose is None:
            continue
        host = layer.view.external_host(svc)
        for i, path in enumerate(svc.spec.expose.paths):
            kind, value = path_match(path)
            other = seen.get((host, kind, value))
            if other:
                yield Hit(layer.loc(key, "expose", "paths", i),
                          f"route {host}{value}{'' if kind == 'pathPrefix' else f' ({kind})'} in environment "
                          f"'{layer.env_name}' is also claimed by service '{other}'")
            seen[(host, kind, value)] = key


@_rule("gateway-port", "expose.gatewayPort is one of the environment's gateway.extraPorts, and an HTTP one",
       scope=SERVICE,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {gatewayPort: 8443}\n",
       ok="environments:\n  dev:\n    gateway: {https: false, extraPorts: [{name: http-alt, port: 8443}]}\n"
          "services:\n  web:\n    ports: [{name: http, port: 8080}]\n    expose: {gatewayPort: 8443}\n")
def gateway_port(ctx, layer, key, svc):
    s = svc.spec
    if not layer.enabled(svc) or s.expose is None or s.expose.gatewayPort is None:
        return
    gp, env_name = s.expose.gatewayPort, layer.env_name
    extra = {p.port: p for p in layer.view.env.gateway.extraPorts}
    if gp not in extra:
        yield Hit(layer.loc(key, "expose", "gatewayPort"),
                  f"expected a port of environments.{env_name}.gateway.extraPorts, got {gp}")
    elif extra[gp].protocol not in HTTP_PROTOCOLS:
        yield Hit(layer.loc(key, "expose", "gatewayPort"),
                  f"gateway port {gp} is {extra[gp].protocol} in environment '{env_name}': the exposed "
                  "paths are HTTP routes, which a TCP gateway server never applies")


def _cluster_of(gitops, name: str, env) -> tuple:
    """Which cluster an environment's exports deploy to, as far as the catalog says:
    Argo CD's destination (gitops.argocd.clusters, else the kubeContext, else the cluster
    Argo CD runs in) and Flux's (the kubeContext's cluster, else an unnamed one)."""
    argo = None
    if gitops.argocd is not None:
        cluster = gitops.argocd.clusters.get(name)
        argo = ("server", cluster.server) if cluster and cluster.server else \
            ("name", cluster.name) if cluster else ("name", env.kubeContext) if env.kubeContext else ("in-cluster",)
    flux = ("context", env.kubeContext) if gitops.flux is not None else None
    return argo, flux


@_rule("shared-cluster", "With GitOps exports, two environments do not deploy to the same cluster", scope=CATALOG,
       fail="gitops:\n  repoURL: https://git.example/shop.git\n  argocd: {}\n"
            "environments:\n  dev: {gateway: {https: false}}\n  prod: {gateway: {https: false}}\n",
       ok="gitops:\n  repoURL: https://git.example/shop.git\n  argocd: {}\n"
          "environments:\n  dev: {gateway: {https: false}, kubeContext: kind-dev}\n"
          "  prod: {gateway: {https: false}, kubeContext: prod}\n")
def shared_cluster(ctx):
    """Both environments would manage istiod in istio-system (say, one with the ambient
    profile and one with sidecars), install the same releases into the same namespaces, and
    their Flux HelmReleases and values ConfigMaps share names in the Flux namespace: each
    export would keep overwriting the other."""
    gitops = ctx.catalog.gitops
    if gitops is None or (gitops.argocd is None and gitops.flux is None):
        return
    seen: dict = {}
    for name, env in ctx.catalog.environments.items():
        argo, flux = _cluster_of(gitops, name, env)
        for tool, key in (("Argo CD", argo), ("Flux", flux)):
            if key is None:
                continue
            other = seen.get((tool, key))
            if other is not None:
                where = "the same cluster" if key[-1] not in (None, "in-cluster") else "the same (default) cluster"
                yield Hit(("environments", name), f"environments '{other}' and '{name}' deploy to {where} through "
                          f"{tool}: both would manage istiod in istio-system and the same releases (and Flux's "
                          "HelmReleases share names in its namespace); give each environment its own kubeContext "
                          "(or gitops.argocd.clusters.<env>)", key=True)
                break
            seen[(tool, key)] = name
