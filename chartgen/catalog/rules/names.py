"""Names, namespaces and references: what each name must be, and that every reference names
something the catalog has."""

from __future__ import annotations

from functools import partial

from ...base import naming
from .context import HELM_RELEASE_MAX, RESERVED_NAMESPACES, gitops_namespaces, hint
from .registry import CATALOG, ENVIRONMENT, LAYER, SERVICE, Hit, check, rule

_rule = partial(rule, section="Names, namespaces and references")


@_rule("release-name", "Helm release names (<metadata.name>-mesh, istio.gatewayRelease) fit helm's 53 characters",
       scope=CATALOG,
       fail="metadata: {name: a-catalog-name-much-too-long-for-a-helm-release-name, domain: shop.example}\n",
       ok="metadata: {name: a-short-name, domain: shop.example}\n")
def release_name(ctx):
    c = ctx.catalog
    mesh = f"{c.metadata.name}-mesh"
    if len(mesh) > HELM_RELEASE_MAX:
        yield Hit(("metadata", "name"), f"the mesh chart's release name '{mesh}' is longer than helm's "
                  f"{HELM_RELEASE_MAX} characters; shorten metadata.name to at most {HELM_RELEASE_MAX - 5}")
    if len(c.istio.gatewayRelease) > HELM_RELEASE_MAX:
        yield Hit(("istio", "gatewayRelease"), f"release name '{c.istio.gatewayRelease}' is longer than helm's "
                  f"{HELM_RELEASE_MAX} characters")


@_rule("reserved-namespace", "No environment, service or add-on uses a Kubernetes system namespace, istio-system, "
       "another mesh component's namespace, or a GitOps controller's (argocd, flux-system, gitops.*.namespace)",
       scope=CATALOG,
       fail="observability: {namespace: istio-ingress}\n",
       ok="observability: {namespace: observability}\n")
def reserved_mesh_namespace(ctx):
    c = ctx.catalog
    for loc, ns in ((("istio", "gatewayRelease"), c.istio.gatewayRelease),
                    (("observability", "namespace"), c.observability.namespace)):
        if ns in RESERVED_NAMESPACES:
            yield Hit(loc, f"namespace '{ns}' is reserved: a Kubernetes system namespace")
        elif ns in gitops_namespaces(c):
            yield Hit(loc, f"namespace '{ns}' is reserved: {gitops_namespaces(c)[ns]}")
    if c.observability.namespace == c.istio.gatewayRelease:
        yield Hit(("observability", "namespace"), f"namespace '{c.observability.namespace}' is also the ingress "
                  "gateway's namespace (istio.gatewayRelease)")


@check("reserved-namespace", ENVIRONMENT)
def reserved_environment_namespace(ctx, name, env):
    ns = env.namespace or f"{ctx.catalog.metadata.name}-{name}"
    if ns not in ctx.reserved:
        return
    if env.namespace:
        yield Hit(("environments", name, "namespace"), f"namespace '{ns}' is reserved: {ctx.reserved[ns]}")
    else:
        yield Hit(("environments", name), f"the default namespace '{ns}' (<metadata.name>-<environment>) is "
                  f"reserved: {ctx.reserved[ns]}; set environments.{name}.namespace", key=True)


@check("reserved-namespace", SERVICE)
def reserved_service_namespace(ctx, layer, key, svc):
    ns = svc.spec.namespace
    if ns in ctx.reserved:
        yield Hit(layer.loc(key, "namespace"), f"namespace '{ns}' is reserved: {ctx.reserved[ns]}")


@_rule("dns-1123", "Names are DNS-1123 labels, including the names chartgen derives (default namespaces, "
       "Kubernetes Service names)", scope=ENVIRONMENT, model_too=True,
       fail="environments:\n  an-environment-name-so-long-that-the-default-namespace-is-over: {gateway: {https: false}}\n",
       ok="environments:\n  an-environment-name-so-long-that-the-default-namespace-is-over:\n"
          "    gateway: {https: false}\n    namespace: shop-long\n")
def default_namespace_length(ctx, name, env):
    default = f"{ctx.catalog.metadata.name}-{name}"
    if not env.namespace and len(default) > 63:
        yield Hit(("environments", name), f"the default namespace '{default}' (<metadata.name>-<environment>) is "
                  f"longer than 63 characters; set environments.{name}.namespace", key=True)


@check("dns-1123", SERVICE)
def service_name_length(ctx, layer, key, svc):
    if layer.view is None and not svc.spec.serviceName and len(svc.service_name) > 63:
        yield Hit(("services", key), f"Kubernetes name '{svc.service_name}' (naming.prefix + key) is longer "
                  "than 63 characters; shorten naming.prefix or set serviceName", key=True)


@_rule("unique-service", "Two services of one environment are not the same Kubernetes Service (name and namespace)",
       scope=LAYER,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
            "  shop:\n    serviceName: web\n    ports: [{name: http, port: 8080}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
          "  shop:\n    serviceName: web\n    namespace: shop-two\n    ports: [{name: http, port: 8080}]\n")
def unique_service(ctx, layer):
    seen: dict[tuple, str] = {}
    for key, svc in layer.services.items():
        if not layer.enabled(svc):
            continue
        ident = (layer.view.service_namespace(svc), svc.service_name)
        if ident in seen:
            named = svc.spec.serviceName
            yield Hit(layer.loc(key, "serviceName") if named else ("services", key),
                      f"Kubernetes service {ident[1]} in {ident[0]} is also used by service '{seen[ident]}'",
                      key=not named)
        seen[ident] = key


@_rule("unknown-environment", "Every environment named (a service's environments, gitops.argocd.clusters) exists",
       scope=CATALOG,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    environments: [prod]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    environments: [dev]\n")
def service_environments(ctx):
    c = ctx.catalog
    for key, svc in c.services.items():
        for env in svc.environments or []:
            if env not in c.environments and env not in ctx.assumed:
                i = svc.environments.index(env)
                yield Hit(("services", key, "environments", i), f"unknown environment '{env}'{hint(env, c.environments)}")


@check("unknown-environment", CATALOG)
def argocd_clusters(ctx):
    c = ctx.catalog
    if c.gitops is None or c.gitops.argocd is None:
        return
    for env in c.gitops.argocd.clusters:
        if env not in c.environments and env not in ctx.assumed:
            yield Hit(("gitops", "argocd", "clusters", env), f"unknown environment '{env}'{hint(env, c.environments)}",
                      key=True)


@_rule("unknown-service", "Every service named (environment overrides, calls, redirectTo) exists", scope=ENVIRONMENT,
       fail="environments:\n  dev:\n    gateway: {https: false}\n    services:\n      wbe: {enabled: false}\n",
       ok="environments:\n  dev:\n    gateway: {https: false}\n    services:\n      web: {enabled: false}\n")
def environment_services(ctx, name, env):
    c = ctx.catalog
    for key in env.services:
        if key not in c.services and key not in ctx.assumed:
            yield Hit(("environments", name, "services", key), f"unknown service '{key}'{hint(key, c.services)}", key=True)


@check("unknown-service", CATALOG)
def redirect_target(ctx):
    c = ctx.catalog
    for ext_key, ext in c.externalServices.items():
        r = ext.redirectTo
        if r is not None and r.service not in ctx.assumed and r.service not in c.services:
            yield Hit(("externalServices", ext_key, "redirectTo", "service"),
                      f"unknown service '{r.service}'{hint(r.service, c.services)}")


@check("unknown-service", SERVICE)
def unknown_callee(ctx, layer, key, svc):
    c = ctx.catalog
    for i, callee in enumerate(svc.spec.calls or []):
        if callee not in c.services and callee not in c.externalServices and callee not in ctx.assumed:
            known = set(c.services) | set(c.externalServices)
            yield Hit(layer.loc(key, "calls", i), f"unknown service '{callee}'{hint(callee, known)}")


@_rule("unknown-port", "externalServices.*.redirectTo.port is a port of the service it redirects to", scope=CATALOG,
       fail="externalServices:\n  s3:\n    hosts: [s3.amazonaws.com]\n    redirectTo: {service: web, port: 4566}\n",
       ok="externalServices:\n  s3:\n    hosts: [s3.amazonaws.com]\n    redirectTo: {service: web, port: 8080}\n")
def redirect_port(ctx):
    c = ctx.catalog
    for ext_key, ext in c.externalServices.items():
        r = ext.redirectTo
        if r is not None and r.service not in ctx.assumed and r.service in c.services \
                and r.port not in {p.port for p in c.services[r.service].ports}:
            yield Hit(("externalServices", ext_key, "redirectTo", "port"),
                      f"expected a port of service '{r.service}', got {r.port}")


@_rule("self-call", "A service does not list itself in its calls", scope=SERVICE,
       fail="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    calls: [web]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n    calls: [api]\n"
          "  api:\n    ports: [{name: http, port: 8080}]\n")
def self_call(ctx, layer, key, svc):
    for i, callee in enumerate(svc.spec.calls or []):
        if callee == key:
            yield Hit(layer.loc(key, "calls", i), f"service '{key}' calls itself")


@_rule("duplicate-name", "Names are unique: an external service's against the services, a route's or fault's "
       "within its list", scope=CATALOG,
       fail="externalServices:\n  web: {hosts: [web.example.org]}\n",
       ok="externalServices:\n  partner: {hosts: [web.example.org]}\n")
def external_name(ctx):
    for ext_key in ctx.catalog.externalServices:
        if ext_key in ctx.catalog.services:
            yield Hit(("externalServices", ext_key), f"name '{ext_key}' is also a service", key=True)


@check("duplicate-name", SERVICE)
def rule_names(ctx, layer, key, svc):
    for field in ("routes", "faults"):
        seen = set()
        for i, item in enumerate(getattr(svc.spec, field) or []):
            if item.name in seen:
                yield Hit(layer.loc(key, field, i, "name"), f"duplicate name '{item.name}'")
            seen.add(item.name)


@_rule("cluster-name", "A cluster name (gitops.argocd.clusters.*.name, or a kubeContext that Argo CD uses as one) "
       "is one Argo CD accepts", scope=CATALOG, model_too=True,
       fail="gitops: {repoURL: 'https://git.example/shop.git', argocd: {}}\n"
            "environments:\n  dev: {gateway: {https: false}, kubeContext: 'my cluster'}\n",
       ok="gitops: {repoURL: 'https://git.example/shop.git', argocd: {}}\n"
          "environments:\n  dev: {gateway: {https: false}, kubeContext: my-cluster}\n")
def kube_context_cluster(ctx):
    g = ctx.catalog.gitops
    if g is None or g.argocd is None:
        return
    for name, env in ctx.catalog.environments.items():
        # the kube context becomes the Argo CD destination cluster's name
        if name not in g.argocd.clusters and env.kubeContext and not naming.CLUSTER_NAME.fullmatch(env.kubeContext):
            yield Hit(("environments", name, "kubeContext"),
                      "expected a cluster name (letters, digits, '.', '_', ':', '@', '/', '-') for the Argo CD "
                      f"destination, got {env.kubeContext!r}; or set gitops.argocd.clusters.{name}")
