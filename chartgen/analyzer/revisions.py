"""Control-plane revisions and revision tags, on the rendered objects (docs/istio-upgrades.md):

- CG150: a namespace, waypoint or gateway labelled ``istio.io/rev`` with a tag or revision
  that no istiod of the environment serves (its pods would not be injected, or a waypoint or
  Gateway API gateway would not be programmed): a values override, or a revision removed too early;
- CG151: during an upgrade, the ingress gateway still on the old revision once no tag points at
  it any more (``finish`` removes that revision: the gateway would lose its control plane).

A namespace with both ``istio-injection`` and ``istio.io/rev`` is IST0123 (mesh.py); revisions
more than two minor versions apart are refused by the catalog (istio-skipped-minor).
"""

from __future__ import annotations

from ..catalog.revisions import control_plane
from .context import Context

REV = "istio.io/rev"


def _labels(doc) -> dict:
    labels = doc.meta.get("labels")
    return labels if isinstance(labels, dict) else {}


def check_revisions(ctx: Context) -> None:
    cp = control_plane(ctx.view.catalog, ctx.env)
    if cp.legacy:
        return
    served = {label for label in list(cp.revisions) + list(cp.tags) if cp.resolve(label)}
    known = ", ".join(sorted(served))
    for kind in ("Namespace", "Gateway"):
        for doc in ctx.kind(kind):
            label = _labels(doc).get(REV)
            if label is not None and str(label) not in served:
                ctx.add(doc, "CG150", f"{REV}={label}: no istiod of environment '{ctx.env}' serves this tag or "
                                      f"revision (served: {known})")
    gateway = (ctx.r.gateway_values or {}).get("revision")
    if gateway and str(gateway) not in served:
        ctx.add_at("Deployment", ctx.r.gateway_namespace, ctx.view.catalog.istio.gatewayRelease, "CG150",
                   f"the gateway release's revision {gateway!r} is not served by any istiod of environment "
                   f"'{ctx.env}' (served: {known})", ctx.catalog_file, ctx.catalog_line(cp.where["gateway"]))
    _gateway_left_behind(ctx, cp, gateway)


def _gateway_left_behind(ctx: Context, cp, gateway) -> None:
    if not cp.upgrading:
        return
    old = cp.oldest
    labels = [str(gateway)] if gateway else []
    labels += [str(_labels(g).get(REV)) for g in ctx.kind("Gateway")
               if g.spec.get("gatewayClassName") == "istio" and _labels(g).get(REV)]
    if not cp.tags_of(old) and any(cp.resolve(label) == old for label in labels):
        ctx.add_at("Deployment", ctx.r.gateway_namespace, ctx.view.catalog.istio.gatewayRelease, "CG151",
                   f"the ingress gateway is still on revision {old}, which no tag points at any more and "
                   f"`chartgen istio upgrade finish` removes: run `chartgen istio upgrade promote --gateways` "
                   "and restart the gateway first", ctx.catalog_file,
                   ctx.catalog_line(cp.where["gateway"], cp.where["revisions"]))
