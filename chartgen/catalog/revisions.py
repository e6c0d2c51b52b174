"""The Istio control plane of each environment: its istiod revisions, revision tags, and the
tag or revision each namespace and the ingress gateway is on. Pure functions of the catalog.

Two forms (docs/istio-upgrades.md):

- the one-revision form (``istio.revision``, possibly empty): one istiod release named
  ``istiod``; namespaces are labelled ``istio.io/rev=<revision>``, or
  ``istio-injection=enabled`` without a revision. ``ControlPlane.legacy`` is True.
- the revisions form (``istio.revisions``, ``istio.tags``, … mesh-wide, each key overridable by
  an environment's ``istio`` block): one istiod release ``istiod-<revision>`` per revision, at
  that revision's Istio version; namespaces, waypoints and the gateway carry ``istio.io/rev``
  with a tag (or a revision).

A helmfile release has one chart version in every environment (helmfile.yaml carries no
templates), so the charts that are not per revision (istio/base, istio/gateway, istio/cni,
istio/ztunnel) are at ``shared_version``: the newest revision of the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Catalog

__all__ = ["ControlPlane", "FIELDS", "control_plane", "control_planes", "istiod_release", "minor_span",
           "release_revision", "revision_for", "revision_tags", "shared_version", "version_key"]

FIELDS = ("revisions", "tags", "workloads", "gateway", "namespaces")
ISTIOD = "istiod"
MAX_MINOR_SPAN = 2  # Istio upgrades a control plane across at most two minor versions


def version_key(version: str) -> tuple[int, int, int]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    major, minor, patch = (int(p) for p in core.split("."))
    return major, minor, patch


def minor_span(old: str, new: str) -> int | None:
    """How many minor versions ``new`` is ahead of ``old`` (None across a major version)."""
    a, b = version_key(old), version_key(new)
    if a[0] != b[0]:
        return None
    return b[1] - a[1]


def revision_for(version: str) -> str:
    """The revision name of an Istio version: 1.30.3 → 1-30-3."""
    return version.replace(".", "-").replace("+", "-").lower()


def istiod_release(revision: str, legacy: bool) -> str:
    return ISTIOD if legacy else f"{ISTIOD}-{revision}"


@dataclass(frozen=True)
class ControlPlane:
    env: str | None
    revisions: dict[str, str]  # revision -> Istio version, oldest first
    tags: dict[str, str]  # tag -> revision
    workloads: str  # the label value namespaces carry ("" in the one-revision form without a revision)
    gateway: str  # the label value the ingress gateway carries
    namespaces: dict[str, str]  # namespace -> label value, where not workloads
    legacy: bool
    # where each key comes from: ("environments", env, "istio", key) or ("istio", key)
    where: dict[str, tuple]

    def resolve(self, label: str) -> str | None:
        """The revision a tag or revision label selects; None if nothing serves it."""
        if label in self.tags:
            return self.tags[label] if self.tags[label] in self.revisions else None
        return label if label in self.revisions else None

    def label_of(self, namespace: str) -> str:
        return self.namespaces.get(namespace, self.workloads)

    def revision_of(self, namespace: str) -> str | None:
        return self.resolve(self.label_of(namespace))

    def tags_of(self, revision: str) -> list[str]:
        return [t for t, r in self.tags.items() if r == revision]

    @property
    def oldest(self) -> str:
        return next(iter(self.revisions))

    @property
    def newest(self) -> str:
        return list(self.revisions)[-1]

    @property
    def upgrading(self) -> bool:
        return len(self.revisions) > 1

    def release(self, revision: str) -> str:
        return istiod_release(revision, self.legacy)


def _pick(catalog: Catalog, env: str | None, key: str):
    override = catalog.environments[env].istio if env is not None else None
    if override is not None and getattr(override, key) is not None:
        return getattr(override, key), ("environments", env, "istio", key)
    return getattr(catalog.istio, key), ("istio", key)


def _sorted(revisions: dict[str, str]) -> dict[str, str]:
    return dict(sorted(revisions.items(), key=lambda kv: (version_key(kv[1]), kv[0])))


def control_plane(catalog: Catalog, env: str | None) -> ControlPlane:
    """The control plane of environment ``env`` (None: the mesh-wide ``istio`` block alone)."""
    picked = {key: _pick(catalog, env, key) for key in FIELDS}
    where = {key: loc for key, (_, loc) in picked.items()}
    revisions = picked["revisions"][0]
    if not revisions:
        rev = catalog.istio.revision
        return ControlPlane(env, {rev: catalog.versions.istio}, {}, rev, rev, {}, True,
                            {**where, "revision": ("istio", "revision")})
    revisions = _sorted(dict(revisions))
    tags = dict(picked["tags"][0] or {})
    workloads = picked["workloads"][0] or (next(iter(tags)) if tags else next(iter(revisions)))
    gateway = picked["gateway"][0] or workloads
    return ControlPlane(env, revisions, tags, workloads, gateway, dict(picked["namespaces"][0] or {}), False, where)


def control_planes(catalog: Catalog) -> dict[str, ControlPlane]:
    return {env: control_plane(catalog, env) for env in catalog.environments}


def release_revision(catalog: Catalog, release: str) -> str:
    """The revision an istiod release serves: ``istiod`` the one-revision form's, else its suffix."""
    return catalog.istio.revision if release == ISTIOD else release[len(ISTIOD) + 1:]


def revision_tags(catalog: Catalog, env: str, revision: str) -> list[str]:
    """The tags that point at ``revision`` in ``env`` (the istiod release's revisionTags)."""
    cp = control_plane(catalog, env)
    return [] if cp.legacy else cp.tags_of(revision)


def shared_version(catalog: Catalog) -> str:
    """The chart version of istio/base, gateway, cni and ztunnel: the newest revision's."""
    versions = [v for cp in control_planes(catalog).values() for v in cp.revisions.values()]
    return max(versions, key=version_key)
