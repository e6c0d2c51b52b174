"""Workload identities and the Kubernetes objects chartgen derives from the catalog: one
ServiceAccount per service (a shared one would share every permission granted to it), none
named like a mesh component's identity, no two derived objects of one name, and no object
the API server would refuse for its size."""

from __future__ import annotations

from functools import partial

from .registry import LAYER, SERVICE, Hit, rule

_rule = partial(rule, section="Identities and derived objects")
_TWO = ("services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
        "  api:\n    ports: [{name: http, port: 9000}]\n")

# ServiceAccounts of the mesh's own proxies, whatever the catalog calls its gateway: an
# application workload running as one of them would carry that proxy's identity (every
# AuthorizationPolicy admitting the waypoint or the gateway would admit it too)
MESH_PROXY_ACCOUNTS = frozenset({"waypoint", "istio-ingressgateway", "istio-egressgateway", "istio-eastwestgateway",
                                 "istio-ingress", "istio-egress"})
# the API server's limit on a ConfigMap's data (keys and values, in bytes)
CONFIGMAP_MAX_BYTES = 1024 * 1024


def _distinct_services(layer):
    """(key, service, namespace) of the services an environment runs, leaving out a service
    that is the same Kubernetes Service as an earlier one (``unique-service`` reports it) or
    whose name is too long to be one (``dns-1123``)."""
    seen = set()
    for key, svc in layer.services.items():
        if not layer.enabled(svc) or len(svc.service_name) > 63:
            continue
        ns = layer.view.service_namespace(svc)
        if (ns, svc.service_name) not in seen:
            seen.add((ns, svc.service_name))
            yield key, svc, ns


def _account_loc(layer, key: str, svc) -> tuple[tuple, bool]:
    """Where a service's ServiceAccount name is written (or the service's key, when derived)."""
    sa = svc.spec.serviceAccount
    if sa is not None and sa.name:
        return layer.loc(key, "serviceAccount", "name"), False
    return ("services", key), True


@_rule("shared-service-account", "Each service runs as a ServiceAccount of its own: no two services of a namespace "
       "name (serviceAccount.name) or derive (the Kubernetes Service name) the same one", scope=LAYER,
       fail=_TWO + "    serviceAccount: {name: web}\n",
       ok=_TWO + "    serviceAccount: {name: api-runner}\n")
def shared_service_account(ctx, layer):
    if layer.view is None:
        return
    seen: dict[tuple[str, str], str] = {}
    for key, svc, ns in _distinct_services(layer):
        ident = (ns, svc.service_account)
        if ident in seen:
            loc, on_key = _account_loc(layer, key, svc)
            yield Hit(loc, f"ServiceAccount {ident[1]} in {ident[0]} is also the account of service '{seen[ident]}': a shared "
                      "account shares every permission and every policy admitting it; give each service its own "
                      "serviceAccount.name", key=on_key)
        else:
            seen[ident] = key


def _proxy_accounts(ctx) -> dict[str, str]:
    c = ctx.catalog
    out = {name: "a mesh proxy's ServiceAccount" for name in MESH_PROXY_ACCOUNTS}
    out["waypoint"] = "the ambient waypoint's ServiceAccount"
    out[c.istio.gatewayRelease] = "the ingress gateway's ServiceAccount (istio.gatewayRelease)"
    out[f"{c.metadata.name}-gateway-istio"] = "the Gateway API ingress gateway's ServiceAccount"
    return out


@_rule("proxy-service-account", "No service runs as the ServiceAccount of a mesh proxy (waypoint, the ingress "
       "gateway's, istio-ingressgateway…): policies admitting that proxy would admit the service",
       scope=SERVICE,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    serviceAccount: {name: waypoint}\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    serviceAccount: {name: web-runner}\n")
def proxy_service_account(ctx, layer, key, svc):
    if layer.view is not None:
        return  # an environment cannot change a service's account: the neutral layer says it once
    reserved = _proxy_accounts(ctx)
    name = svc.service_account
    if name in reserved:
        loc, on_key = _account_loc(layer, key, svc)
        yield Hit(loc, f"ServiceAccount '{name}' is {reserved[name]}; give the service an account of its own "
                  "(serviceAccount.name)", key=on_key)


def _derived_names(svc) -> list[tuple[str, str | None]]:
    """(name, version or None) of the Services and DestinationRules chartgen may derive for a
    service: its own, and one per version ("<serviceName>-<version>", cut to 63 characters as
    the chart does)."""
    out: list[tuple[str, str | None]] = [(svc.service_name, None)]
    for version in svc.spec.versions or {}:
        out.append((f"{svc.service_name}-{version}"[:63].rstrip("-"), version))
    return out


@_rule("object-name-collision", "The Kubernetes objects derived for services have distinct names: a per-version "
       "Service or DestinationRule '<serviceName>-<version>' is no other service's name", scope=LAYER,
       fail="services:\n  proxy:\n    ports: [{name: http, port: 8080}]\n    versions: {v1: {}}\n"
            "  proxy-v1:\n    ports: [{name: http, port: 8080}]\n",
       ok="services:\n  proxy:\n    ports: [{name: http, port: 8080}]\n    versions: {v1: {}}\n"
          "  proxy-one:\n    ports: [{name: http, port: 8080}]\n")
def object_name_collision(ctx, layer):
    if layer.view is None:
        return
    seen: dict[tuple[str, str], str] = {}
    for key, svc, ns in _distinct_services(layer):
        for name, version in _derived_names(svc):
            owner = f"service '{key}'" + (f" (version {version})" if version else "")
            if (ns, name) in seen:
                loc = layer.loc(key, "versions", version) if version else ("services", key)
                yield Hit(loc, f"{owner} derives the Service and DestinationRule {name} in {ns}, which "
                          f"{seen[(ns, name)]} derives too; rename the service or the version", key=True)
            else:
                seen[(ns, name)] = owner


@_rule("configmap-size", "A service's env fits the API server's 1 MiB limit on its ConfigMap", scope=SERVICE,
       fail=None, ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    env: {MODE: fast}\n",
       note="an env value of more than a million characters (no example catalog is written out for it)")
def configmap_size(ctx, layer, key, svc):
    env = svc.spec.env or {}
    if not env or (layer.view is not None and not layer.enabled(svc)):
        return
    size = sum(len(k.encode()) + len(str(v).encode("utf-8", "surrogatepass")) for k, v in env.items())
    if size > CONFIGMAP_MAX_BYTES:
        biggest = max(env, key=lambda k: len(str(env[k])))
        yield Hit(layer.loc(key, "env", biggest), f"the env of service '{key}' is {size:,} bytes: its ConfigMap "
                  f"would be over the API server's limit of {CONFIGMAP_MAX_BYTES:,} bytes (1 MiB); keep large "
                  "content out of env (mount it from a volume)")
