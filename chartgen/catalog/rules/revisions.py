"""Istio control-plane revisions and revision tags (chartgen.catalog.revisions, docs/istio-upgrades.md)."""

from __future__ import annotations

from functools import partial

from ..revisions import MAX_MINOR_SPAN, control_plane, control_planes, minor_span, shared_version, version_key
from .registry import CATALOG, ENVIRONMENT, Hit, rule

_rule = partial(rule, section="Istio revisions and upgrades")
_TWO = "istio:\n  revisions: {1-29-6: 1.29.6, 1-30-3: 1.30.3}\n  tags: {stable: 1-29-6}\n"


def _any_revisions(catalog) -> bool:
    return bool(catalog.istio.revisions) or any(e.istio is not None and e.istio.revisions
                                                for e in catalog.environments.values())


@_rule("istio-revision-form", "istio.revision (one revision) and istio.revisions (revisions and tags) are not "
       "used together", scope=CATALOG,
       fail="istio: {revision: 1-30, revisions: {1-30-3: 1.30.3}}\n",
       ok="istio: {revisions: {1-30-3: 1.30.3}}\n")
def revision_form(ctx):
    if ctx.catalog.istio.revision and _any_revisions(ctx.catalog):
        yield Hit(("istio", "revision"), "the one-revision form cannot be used with istio.revisions: name the "
                  "revision in istio.revisions (and a tag in istio.tags) instead")


@_rule("istio-rev-unserved", "Every revision tag, and the tag or revision of the namespaces, the gateway and each "
       "namespace listed, is served by an istiod revision of the environment", scope=ENVIRONMENT,
       fail="istio:\n  revisions: {1-30-3: 1.30.3}\n  tags: {stable: 1-29-6}\n",
       ok="istio:\n  revisions: {1-30-3: 1.30.3}\n  tags: {stable: 1-30-3}\n")
def unserved(ctx, name, env):
    cp = control_plane(ctx.catalog, name)
    if cp.legacy:
        return
    served = ", ".join(list(cp.revisions) + list(cp.tags))
    for tag, rev in cp.tags.items():
        if rev not in cp.revisions:
            yield Hit(cp.where["tags"] + (tag,), f"tag '{tag}' points at revision '{rev}', which no istiod serves "
                      f"in environment '{name}' (revisions: {', '.join(cp.revisions)})")
    for key in ("workloads", "gateway"):
        label = getattr(cp, key)
        if label not in cp.revisions and label not in cp.tags:
            yield Hit(cp.where[key], f"'{label}' is neither a revision nor a tag in environment '{name}' "
                      f"(served: {served})")
    for ns, label in cp.namespaces.items():
        if label not in cp.revisions and label not in cp.tags:
            yield Hit(cp.where["namespaces"] + (ns,), f"namespace {ns} is on '{label}', which no istiod serves in "
                      f"environment '{name}' (served: {served})")


@_rule("istio-skipped-minor", "The revisions of an environment are at most two minor versions apart (Istio "
       "upgrades a control plane across at most two minors)", scope=ENVIRONMENT,
       fail="istio:\n  revisions: {1-26-0: 1.26.0, 1-30-3: 1.30.3}\n", ok=_TWO)
def skipped_minor(ctx, name, env):
    cp = control_plane(ctx.catalog, name)
    if cp.legacy or not cp.upgrading:
        return
    old, new = cp.revisions[cp.oldest], cp.revisions[cp.newest]
    span = minor_span(old, new)
    if span is None or span > MAX_MINOR_SPAN:
        yield Hit(cp.where["revisions"], f"{old} → {new} in environment '{name}' skips minor versions: Istio "
                  f"upgrades across at most {MAX_MINOR_SPAN} minors; upgrade in steps")


@_rule("istio-revision-version", "A revision name means one Istio version in every environment (it is one "
       "helmfile release, istiod-<revision>)", scope=CATALOG,
       fail="istio: {revisions: {stable: 1.29.6}}\nenvironments:\n  prod: {gateway: {https: false}}\n  dev:\n"
            "    gateway: {https: false}\n    istio: {revisions: {stable: 1.30.3}}\n",
       ok="istio: {revisions: {1-29-6: 1.29.6}}\nenvironments:\n  prod: {gateway: {https: false}}\n  dev:\n"
          "    gateway: {https: false}\n    istio: {revisions: {1-30-3: 1.30.3}}\n")
def revision_version(ctx):
    seen: dict[str, tuple[str, str]] = {}
    for name, cp in control_planes(ctx.catalog).items():
        if cp.legacy:
            continue
        for rev, version in cp.revisions.items():
            first = seen.setdefault(rev, (version, name))
            if first[0] != version:
                yield Hit(cp.where["revisions"] + (rev,), f"revision '{rev}' is Istio {version} in environment "
                          f"'{name}' but {first[0]} in '{first[1]}': name each version's revision once")


@_rule("istio-shared-version", "versions.istio is the newest revision's version, and an ambient environment runs "
       "that version (istio/base, gateway, cni and ztunnel have one chart version in every environment)",
       scope=CATALOG,
       fail="versions: {istio: 1.30.3}\nistio: {revisions: {1-29-6: 1.29.6}}\n",
       ok="versions: {istio: 1.29.6}\nistio: {revisions: {1-29-6: 1.29.6}}\n")
def shared(ctx):
    catalog = ctx.catalog
    if not _any_revisions(catalog):
        return
    newest = shared_version(catalog)
    if "istio" in catalog.versions.model_fields_set and catalog.versions.istio != newest:
        yield Hit(("versions", "istio"), f"expected {newest} (the newest istiod revision; istio/base, gateway, "
                  f"cni and ztunnel install that chart), got {catalog.versions.istio}")
    for name, env in catalog.environments.items():
        cp = control_plane(catalog, name)
        if env.dataPlane == "ambient" and version_key(cp.revisions[cp.newest]) < version_key(newest):
            yield Hit(cp.where["revisions"], f"ambient environment '{name}' runs istiod "
                      f"{cp.revisions[cp.newest]} at most, but ztunnel and istio-cni install {newest} (one chart "
                      "version in every environment; ztunnel is never newer than istiod): start the upgrade "
                      "in every ambient environment together")


@_rule("istio-both-labels", "A namespace never carries both istio-injection and istio.io/rev: tags, workloads, "
       "gateway and namespaces (istio.io/rev labels) need istio.revisions", scope=CATALOG,
       fail="istio: {namespaces: {shop-dev: stable}}\n",
       ok="istio: {revisions: {1-30-3: 1.30.3}, tags: {stable: 1-30-3}, namespaces: {shop-dev: stable}}\n")
def both_labels(ctx):
    catalog = ctx.catalog
    seen: set[tuple] = set()
    for name in catalog.environments:
        cp = control_plane(catalog, name)
        if not cp.legacy:
            continue
        for key in ("tags", "workloads", "gateway", "namespaces"):
            if cp.where[key] in seen:
                continue
            seen.add(cp.where[key])
            if cp.where[key][0] == "environments" or getattr(catalog.istio, key) is not None:
                yield Hit(cp.where[key], f"'{key}' labels namespaces istio.io/rev, but environment '{name}' has no "
                          "istio.revisions: its namespaces are labelled "
                          + ("istio.io/rev=" + cp.workloads if cp.workloads else "istio-injection=enabled")
                          + "; name the control plane's revisions in istio.revisions")
