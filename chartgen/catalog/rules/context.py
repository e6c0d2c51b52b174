"""What the checks read: the validated catalog, where each of its values is written, and
the layers (the environment-neutral one and each environment, every service resolved)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property

from ..model import Catalog
from ..mesh import EnvView, ResolvedService, resolve
from ...base.yamlsrc import SourceMap

# Kubernetes' own namespaces: chartgen never writes into them
RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
# The GitOps controllers' namespaces: an Argo CD destination there has Argo CD's own (admin)
# rights, and the chart's default-deny policies there would cut the controllers off
GITOPS_NAMESPACES = {"argocd": "Argo CD's namespace", "flux-system": "Flux's namespace"}
ISTIO_ROOT_NAMESPACE = "istio-system"
HELM_RELEASE_MAX = 53


def mesh_namespaces(catalog: Catalog) -> dict[str, str]:
    """Namespaces that belong to the mesh's own components: namespace -> what it holds.
    No environment or service may use one (a deny-all there would cut off the mesh)."""
    out = {ns: "a Kubernetes system namespace" for ns in RESERVED_NAMESPACES}
    out.update(gitops_namespaces(catalog))
    out[catalog.observability.namespace] = "the observability add-ons' namespace"
    out[catalog.istio.gatewayRelease] = "the ingress gateway's namespace"
    out[ISTIO_ROOT_NAMESPACE] = "Istio's root namespace (a policy there applies to the whole mesh)"
    return out


def gitops_namespaces(catalog: Catalog) -> dict[str, str]:
    """The GitOps controllers' namespaces (the usual ones, and those the catalog names)."""
    out = {ns: f"{what} (a GitOps controller's)" for ns, what in GITOPS_NAMESPACES.items()}
    g = catalog.gitops
    if g is not None and g.argocd is not None:
        out[g.argocd.namespace] = "Argo CD's namespace (gitops.argocd.namespace)"
    if g is not None and g.flux is not None:
        out[g.flux.namespace] = "Flux's namespace (gitops.flux.namespace)"
    return out


def hint(name: str, known) -> str:
    """" (did you mean 'x'?)" for the closest of ``known``, or ""."""
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass(frozen=True)
class Context:
    catalog: Catalog
    smap: SourceMap
    assumed: frozenset[str] | set[str] = frozenset()  # names dropped for structural errors: not reported again

    @cached_property
    def reserved(self) -> dict[str, str]:
        return mesh_namespaces(self.catalog)

    @cached_property
    def layers(self) -> list[Layer]:
        mesh = resolve(self.catalog)
        return [Layer(self, None, mesh.neutral)] + [Layer(self, view, view.services) for view in mesh.views]


@dataclass(frozen=True)
class Layer:
    """The environment-neutral layer (``view`` None) or one environment's."""

    ctx: Context
    view: EnvView | None
    services: dict[str, ResolvedService]

    @property
    def env_name(self) -> str | None:
        return self.view.name if self.view else None

    def loc(self, svc: str, *field) -> tuple:
        """The most specific catalog path that sets ``field`` for a service in this layer."""
        values = self.ctx.smap.values
        candidates = []
        if self.view is not None:
            candidates.append(("environments", self.view.name, "services", svc) + field)
        candidates += [("services", svc) + field, ("defaults",) + field]
        for loc in candidates:
            for n in range(len(loc), len(loc) - len(field) - 1, -1):
                if loc[:n] in values and n > len(loc) - len(field):
                    return loc if n == len(loc) else loc[:n]
        return ("services", svc)

    def enabled(self, svc: ResolvedService) -> bool:
        """A service this environment runs (never true of the environment-neutral layer)."""
        return self.view is not None and svc.enabled
