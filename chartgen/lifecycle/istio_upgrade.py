"""Staged, reversible Istio control-plane upgrades by revision and revision tag, as library
calls: ``start``, ``promote``, ``finish``, ``abort`` each edit the catalog's ``istio`` block
(mesh-wide, or ``environments.ENV.istio`` with ``env``) in place, comments and layout kept,
then preview (``dry_run``) or write and regenerate under the lock, like ``chartgen.lifecycle.canary``;
``status`` reads. Each returns a result object and prints nothing (``chartgen istio upgrade``
prints them). docs/istio-upgrades.md describes the steps and what each changes in a cluster.

    >>> step = start("catalog.yaml", "1.30.3", env="prod", dry_run=True)
    >>> step.summary, step.catalog_diff.unified_diff()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml.comments import CommentedMap

from ..base import naming
from ..catalog.model import Catalog
from ..catalog.edit import (ProductionNotNamed, RoundTrip, _refuse_aliased, check_writable, confirm_unnamed_production,
                             write_atomic)
from .changeset import Changeset
from ..base.errors import ChartgenError, InvalidEdit
from .generate import output_root, preview_catalog, regenerate_edited
from ..releases.helmfile import ISTIO_NS, istiod_releases, release_names
from ..catalog.mesh import resolve
from ..catalog.revisions import FIELDS, ControlPlane, control_plane, minor_span, revision_for, shared_version, version_key
from ..releases.userfiles import merge_user_values
from ..catalog.validate import load_catalog, parse_catalog, parse_edited, read_catalog_text
from ..base.writer import locked

if TYPE_CHECKING:
    from .generate import Outcome

__all__ = ["EnvStatus", "InvalidEdit", "ProductionNotNamed", "Status", "Step", "abort", "changed_environments",
           "finish", "promote", "start", "status"]

RESTART_NOTE = ("workloads pick up a new sidecar (and gateways a new proxy) only when their pods restart: "
                "chartgen does not restart them (kubectl rollout restart deployment -n NAMESPACE)")


Confirm = Callable[[list[str]], bool]  # the production environments a mesh-wide step would change → go on?


# --- reading -------------------------------------------------------------------------------------


def _unknown_env(catalog: Catalog, env: str) -> ChartgenError:
    return ChartgenError(f"unknown environment '{env}' (environments: {', '.join(sorted(catalog.environments))})")


def _namespaces(catalog: Catalog, env: str) -> list[str]:
    view = resolve(catalog).view(env)
    return sorted({view.service_namespace(s) for s in view.enabled.values()})


@dataclass(frozen=True)
class EnvStatus:
    env: str
    form: str  # "revisions" or "one revision"
    revisions: dict[str, str]  # revision -> version
    releases: dict[str, str]  # revision -> istiod release
    tags: dict[str, str]
    namespaces: dict[str, dict]  # namespace -> {label, revision}
    gateway: dict
    upgrading: bool
    next_step: str

    def to_dict(self) -> dict:
        return {"env": self.env, "form": self.form, "revisions": self.revisions, "releases": self.releases,
                "tags": self.tags, "namespaces": self.namespaces, "gateway": self.gateway,
                "upgrading": self.upgrading, "next": self.next_step}


@dataclass(frozen=True)
class Status:
    envs: list[EnvStatus]
    note: str = RESTART_NOTE

    def to_dict(self) -> dict:
        return {"environments": [e.to_dict() for e in self.envs], "note": self.note}


def next_step(cp: ControlPlane, env: str | None = None, namespaces: list[str] | None = None) -> str:
    """What the next command does for this control plane."""
    flag = f" --env {env}" if env else ""
    if cp.legacy:
        return ("adopt revisions first: replace istio.revision with istio.revisions {REVISION: VERSION} "
                "and istio.tags (docs/istio-upgrades.md)")
    if not cp.upgrading:
        return (f"`chartgen istio upgrade start VERSION{flag}`: installs istiod of VERSION beside "
                f"{cp.newest}; no workload moves")
    old, new = cp.oldest, cp.newest
    left = _still_on(cp, old, namespaces or [])
    if any(k != "gateway" for k in left):
        return (f"`chartgen istio upgrade promote{flag}`: moves {', '.join(k for k in left if k != 'gateway')} "
                f"from {old} to {new} (then restart the workloads), or `abort` to go back")
    if "gateway" in left:
        return (f"`chartgen istio upgrade promote --gateways{flag}`: moves the ingress gateway to {new} "
                "(then restart it), or `abort` to go back")
    return f"`chartgen istio upgrade finish{flag}`: removes istiod {old} (restart every workload first), or `abort`"


def _still_on(cp: ControlPlane, revision: str, namespaces: list[str]) -> list[str]:
    """What still selects ``revision``: tags, the workloads label, namespaces, the gateway."""
    left = [f"tag {t}" for t in cp.tags_of(revision)]
    if not cp.tags and cp.resolve(cp.workloads) == revision:
        left.append("the namespaces")
    left += [f"namespace {ns}" for ns, label in sorted(cp.namespaces.items()) if cp.resolve(label) == revision
             and ns in namespaces]
    if cp.resolve(cp.gateway) == revision:
        left.append("gateway")
    return left


def status(catalog: Catalog | str | Path, env: str | None = None) -> Status:
    """Per environment: the revisions and their istiod releases, where each tag points, which
    tag or revision each namespace and the gateway are on, and what the next step does."""
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    if env is not None and env not in catalog.environments:
        raise _unknown_env(catalog, env)
    return Status([_env_status(catalog, name) for name in catalog.environments if env is None or name == env])


def _env_status(catalog: Catalog, name: str) -> EnvStatus:
    cp = control_plane(catalog, name)
    nss = _namespaces(catalog, name)
    default = cp.workloads or "default"
    namespaces = {ns: {"label": cp.label_of(ns) or "istio-injection=enabled",
                       "revision": default if cp.legacy else cp.revision_of(ns)} for ns in nss}
    gateway = {"label": cp.gateway or "-", "revision": default if cp.legacy else cp.resolve(cp.gateway)}
    own = catalog.environments[name].istio is not None and catalog.environments[name].istio.revisions
    return EnvStatus(name, "one revision" if cp.legacy else "revisions",
                     {r or "default": v for r, v in cp.revisions.items()},
                     {r or "default": cp.release(r) for r in cp.revisions}, dict(cp.tags), namespaces,
                     gateway, cp.upgrading, next_step(cp, name if own else None, nss))


# --- editing -------------------------------------------------------------------------------------


@dataclass
class Step:
    """One upgrade step. ``changed`` False: nothing to do. ``catalog_diff`` is the catalog's edit;
    ``outcome`` is generate's (a preview with ``dry_run``). ``removed``: values files of a removed
    istiod release that held only chartgen's keys, deleted with the step; ``kept``: those with
    keys of yours, left in place."""

    catalog: Path
    step: str
    env: str | None
    summary: str
    dry_run: bool = False
    changed: bool = True
    catalog_diff: Changeset = field(default_factory=Changeset)
    outcome: Outcome | None = None
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    # helm releases that leave helmfile.yaml: helmfile keeps them installed, so the user
    # uninstalls them (the GitOps exports prune them): (release, namespace, env, kube context)
    uninstall: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what else the step moves, for the user

    def uninstall_commands(self) -> list[str]:
        return [f"helm uninstall {rel} -n {ns}" + (f" --kube-context {ctx}" if ctx else "") + f"   # {env}"
                for rel, ns, env, ctx in self.uninstall]


# decide(catalog, plane) -> (new values of the block's fields {key: value or None}, summary,
# the istiod release whose values go, versions.istio after the step or None)
Decide = Callable[[Catalog, ControlPlane], tuple[dict, str, str | None, str | None]]


def _block(doc, env: str | None, create: bool):
    if env is None:
        node = doc.get("istio")
        if node is None and create:
            node = doc["istio"] = CommentedMap()
        return node
    env_node = doc["environments"][env]
    node = env_node.get("istio")
    if node is None and create:
        # first in the environment: a key appended last would take over the blank line or
        # comment that ends the environment, and removing it again would drop that
        node = CommentedMap()
        env_node.insert(0, "istio", node)
    return node


def _flow(value):
    if isinstance(value, dict):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = v
        node.fa.set_flow_style()
        return node
    return value


def _set_field(node, key: str, value) -> None:
    """Set ``key`` to ``value`` in place (a mapping keeps its style and comments; None removes)."""
    if value is None or value == {}:
        if key in node:
            del node[key]
        return
    current = node.get(key)
    if isinstance(value, dict) and isinstance(current, CommentedMap):
        for k in [k for k in current if k not in value]:
            del current[k]
        for k, v in value.items():
            if current.get(k) != v:
                current[k] = v
        return
    if current != value:
        node[key] = _flow(value)


def _edit_text(text: str, file: str, catalog: Catalog, env: str | None, fields: dict, istio_version: str | None) -> str:
    rt = RoundTrip(text, file)
    where = ("istio",) if env is None else ("environments", env, "istio")
    _refuse_aliased(rt, where)
    node = _block(rt.doc, env, create=True)
    for key, value in fields.items():
        _set_field(node, key, value)
    if env is not None:
        _prune(node, catalog)
        if not node:
            del rt.doc["environments"][env]["istio"]
    if istio_version is not None:
        versions = rt.doc.get("versions")
        if versions is not None and "istio" in versions and versions["istio"] != istio_version:
            versions["istio"] = istio_version
    return rt.text()


def _prune(node, catalog: Catalog) -> None:
    """Drop keys of an environment's istio block that say what the mesh-wide block says."""
    mesh = catalog.istio
    for key in FIELDS:
        if key in node and _plain(node[key]) == getattr(mesh, key):
            del node[key]


def _plain(value):
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class _Request:
    """What the caller asked for, passed down to the edit."""

    step: str
    decide: Decide
    env: str | None
    dry_run: bool
    every_environment: bool
    confirm_production: Confirm | None
    warn: Callable[[str], None] | None


def _run(catalog_path, step_name: str, decide: Decide, *, env: str | None = None, out=None, dry_run: bool = False,
         wait_message=None, every_environment: bool = False, confirm_production: Confirm | None = None,
         warn: Callable[[str], None] | None = None) -> Step:
    """A step without ``env`` edits the mesh-wide block; if that changes a ``production: true``
    environment, it needs ``every_environment`` or ``confirm_production(environments)`` to
    return True, else ``ProductionNotNamed`` (a dry run only warns)."""
    path = Path(catalog_path)
    root = output_root(path, out)
    request = _Request(step_name, decide, env, dry_run, every_environment, confirm_production, warn)
    if dry_run:
        return _step(path, root, request)
    with contextlib.ExitStack() as stack:
        for d in sorted({root.resolve(), path.resolve().parent}):
            stack.enter_context(locked(d, wait_message=wait_message))
        return _step(path, root, request)


def changed_environments(old: Catalog, new: Catalog) -> list[str]:
    """The environments whose control plane (revisions, tags, labels) differs, or all of them
    when the shared chart version (istio/base, gateway, cni, ztunnel) moves."""
    if shared_version(old) != shared_version(new):
        return list(new.environments)
    return [name for name in new.environments if control_plane(old, name) != control_plane(new, name)]


def _shared_note(current: Catalog, edited: Catalog, env: str | None) -> list[str]:
    old, new = shared_version(current), shared_version(edited)
    if old == new or env is None:
        return []
    others = [e for e in edited.environments if e != env]
    return [f"istio/base (the CRDs), the gateway chart and, in ambient, istio-cni and ztunnel have one version in "
            f"the helmfile: they move from {old} to {new} in {', '.join(others)} too"] if others else []


def _production_guard(current: Catalog, edited: Catalog, request: _Request) -> None:
    if request.env is not None or request.every_environment:
        return
    moved = changed_environments(current, edited)
    prod = [e for e in moved if current.environments[e].production]
    names = ", ".join(prod)
    confirm_unnamed_production(
        prod, dry_run=request.dry_run, warn=request.warn, confirm=request.confirm_production,
        warning=f"warning: without --env this {request.step} changes the control plane of production "
                f"environment(s) {names}; the real run needs --env ENV or --every-environment",
        refusal=f"{request.step}: without --env this would change the control plane of production environment(s) "
                f"{names} (every environment it changes: {', '.join(moved)}); name one with --env ENV, or say "
                "--every-environment. Nothing was written")


def _step(path: Path, root: Path, request: _Request) -> Step:
    step_name, decide, env, dry_run = request.step, request.decide, request.env, request.dry_run
    text = read_catalog_text(path)
    current, _ = parse_catalog(text, str(path))
    if env is not None and env not in current.environments:
        raise _unknown_env(current, env)
    cp = control_plane(current, env)
    if cp.legacy:
        raise ChartgenError(f"{path.name}: the control plane has no revisions yet (istio.revision form): "
                            + next_step(cp) + "; then run the upgrade")
    fields, summary, gone, istio_version = decide(current, cp)
    new_text = _edit_text(text, str(path), current, env, fields, istio_version)
    step = Step(catalog=path, step=step_name, env=env, summary=summary, dry_run=dry_run, changed=new_text != text)
    if not step.changed:
        return step
    edited = parse_edited(new_text, str(path))
    _production_guard(current, edited, request)
    step.notes = _shared_note(current, edited, env)
    step.catalog_diff = Changeset.of_text(path.name, text, new_text)
    step.uninstall = _left_releases(current, edited)
    removable, step.kept = _orphan_values(root, edited, gone)
    step.removed = [p.relative_to(root).as_posix() for p in removable]
    if dry_run:
        step.outcome = preview_catalog(edited, root)
    else:
        step.outcome = _write(path, root, text, new_text, removable)
    return step


def _left_releases(before: Catalog, after: Catalog) -> list[tuple[str, str, str, str | None]]:
    """istiod releases an environment ran before the step and does not after."""
    old, new = istiod_releases(resolve(before)), istiod_releases(resolve(after))
    out = []
    for rel, (_, envs) in old.items():
        for env in envs:
            if env not in new.get(rel, ("", ()))[1]:
                out.append((rel, ISTIO_NS, env, after.environments[env].kubeContext))
    return out


def _orphan_values(root: Path, edited: Catalog, release: str | None) -> tuple[list[Path], list[str]]:
    """The values files of ``release`` once no environment runs it: those holding only
    chartgen's keys go with it, those with keys of the user's stay (listed)."""
    if release is None or release in release_names(edited):
        return [], []
    directory = root / "values" / release
    if not directory.is_dir():
        return [], []
    removable, kept = [], []
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            try:
                merged = merge_user_values(p.read_text(encoding="utf-8"), {}, header="")
            except Exception:  # noqa: BLE001 - unreadable: the user's business, keep it
                merged = "?"
            empty = all(not line.strip() or line.lstrip().startswith("#") or line.strip() == "{}"
                        for line in merged.splitlines())
            (removable if empty else kept).append(p)
    return removable, [p.relative_to(root).as_posix() for p in kept]


def _write(path: Path, root: Path, text: str, new_text: str, removable: list[Path]):
    check_writable(path)
    saved = {p: p.read_bytes() for p in removable}
    write_atomic(path, new_text)
    for p in removable:
        p.unlink()
    for d in sorted({p.parent for p in removable}, key=lambda d: -len(d.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()
    return regenerate_edited(path, root, text, saved)


def _affected(catalog: Catalog, env: str | None) -> set[str]:
    """Environments whose revisions the edited block sets."""
    if env is not None:
        return {env}
    return {name for name, e in catalog.environments.items() if e.istio is None or e.istio.revisions is None}


def _shared_after(catalog: Catalog, env: str | None, revisions: dict[str, str]) -> str:
    """The shared Istio chart version once the edited block holds ``revisions``."""
    affected = _affected(catalog, env)
    versions = list(revisions.values())
    for name in catalog.environments:
        if name not in affected:
            versions += list(control_plane(catalog, name).revisions.values())
    return max(versions, key=version_key)


def _where(env: str | None) -> str:
    return f" in {env}" if env else ""


def _need_upgrade(cp: ControlPlane, env: str | None, step: str) -> tuple[str, str]:
    if not cp.upgrading:
        raise ChartgenError(f"no upgrade under way{_where(env)} (one revision, {cp.newest}): nothing to {step}; "
                            f"start one with `chartgen istio upgrade start VERSION`")
    if len(cp.revisions) > 2:
        raise ChartgenError(f"{len(cp.revisions)} revisions{_where(env)}: an upgrade runs two side by side")
    return cp.oldest, cp.newest


def start(catalog_path, version: str, **kwargs) -> Step:
    """Install istiod ``version`` as a second revision beside the current one. istio/base (the
    shared CRDs) moves to the newer chart; tags, namespaces and the gateway stay where they are."""
    env = kwargs.get("env")
    if not naming.SEMVER.fullmatch(version):
        raise ChartgenError(f"expected a version such as 1.30.3, got {version!r}")

    def decide(catalog: Catalog, cp: ControlPlane):
        if cp.upgrading:
            raise ChartgenError(f"an upgrade{_where(env)} from {cp.oldest} to {cp.newest} is under way: "
                                "promote and finish it, or abort it, first")
        current = cp.revisions[cp.newest]
        if version_key(version) <= version_key(current):
            raise ChartgenError(f"{version} is not newer than the running {current}{_where(env)}")
        span = minor_span(current, version)
        if span is None or span > 2:
            raise ChartgenError(f"{current} → {version} skips minor versions: Istio upgrades the control plane "
                                "across at most two minor versions; upgrade in steps")
        new = revision_for(version)
        revisions = {**cp.revisions, new: version}
        return ({"revisions": revisions}, f"start{_where(env)}: istiod {new} ({version}) beside {cp.newest} "
                f"({current}); tags stay on {cp.newest}", None, _shared_after(catalog, env, revisions))

    return _run(catalog_path, "start", decide, **kwargs)


def _promote_gateway(cp: ControlPlane, env: str | None, new: str):
    follows = cp.resolve(cp.workloads) == new
    return {"gateway": None if follows else new}, f"promote{_where(env)}: the ingress gateway → {new}", None, None


def _promote_namespaces(catalog: Catalog, cp: ControlPlane, env: str | None, new: str, namespaces: tuple[str, ...]):
    envs = [env] if env else list(catalog.environments)
    known = {ns for e in envs for ns in _namespaces(catalog, e)}
    unknown = [ns for ns in namespaces if ns not in known]
    if unknown:
        raise ChartgenError(f"unknown namespace {', '.join(unknown)}{_where(env)} "
                            f"(namespaces: {', '.join(sorted(known))})")
    return ({"namespaces": {**cp.namespaces, **{ns: new for ns in namespaces}}},
            f"promote{_where(env)}: namespaces {', '.join(namespaces)} → {new}", None, None)


def _promote_tags(cp: ControlPlane, env: str | None, old: str, new: str, tag: str | None):
    if tag is not None and cp.tags.get(tag) != old:
        raise ChartgenError(f"tag {tag!r}{_where(env)} is not on {old} (tags: "
                            f"{', '.join(f'{t} → {r}' for t, r in cp.tags.items()) or 'none'})")
    fields: dict = {}
    moved = [t for t, r in cp.tags.items() if r == old and (tag is None or t == tag)]
    if cp.tags:
        fields["tags"] = {t: (new if t in moved else r) for t, r in cp.tags.items()}
    else:
        fields["workloads"] = new
        moved = ["the namespaces"]
    # namespaces moved ahead rejoin the tag
    fields["namespaces"] = {ns: label for ns, label in cp.namespaces.items() if label != new} or None
    if cp.resolve(cp.gateway) == old and cp.gateway != old:
        fields["gateway"] = old  # ingress moves on its own step (--gateways)
    return fields, f"promote{_where(env)}: {', '.join(moved)} → {new}; the gateway stays until --gateways", \
        None, None


def promote(catalog_path, namespaces: tuple[str, ...] = (), gateways: bool = False, tag: str | None = None,
            **kwargs) -> Step:
    """Move workloads to the new revision: the named namespaces first (labelled with the new
    revision), or every tag on the old revision (all namespaces labelled with it), or with
    ``gateways`` the ingress gateway. Moving the tags pins the gateway to the old revision, so
    that ingress moves only with ``gateways``."""
    env = kwargs.get("env")

    def decide(catalog: Catalog, cp: ControlPlane):
        old, new = _need_upgrade(cp, env, "promote")
        if gateways:
            return _promote_gateway(cp, env, new)
        if namespaces:
            return _promote_namespaces(catalog, cp, env, new, namespaces)
        return _promote_tags(cp, env, old, new, tag)

    return _run(catalog_path, "promote", decide, **kwargs)


def finish(catalog_path, **kwargs) -> Step:
    """Remove the old istiod revision, once no tag, namespace or gateway selects it."""
    env = kwargs.get("env")

    def decide(catalog: Catalog, cp: ControlPlane):
        old, new = _need_upgrade(cp, env, "finish")
        left = _still_on(cp, old, list(cp.namespaces))
        if left:
            raise ChartgenError(f"{', '.join(left)}{_where(env)} still on {old}: "
                                f"{next_step(cp, env, list(cp.namespaces))}")
        revisions = {r: v for r, v in cp.revisions.items() if r != old}
        fields = {"revisions": revisions, "gateway": None if cp.resolve(cp.workloads) == new else cp.gateway}
        return fields, f"finish{_where(env)}: istiod {old} removed; {new} serves everything", cp.release(old), \
            _shared_after(catalog, env, revisions)

    return _run(catalog_path, "finish", decide, **kwargs)


def abort(catalog_path, **kwargs) -> Step:
    """Back to the old revision in one step, from ``start`` or any ``promote``: the new istiod
    goes, every tag, namespace and the gateway returns to the old revision."""
    env = kwargs.get("env")

    def decide(catalog: Catalog, cp: ControlPlane):
        old, new = _need_upgrade(cp, env, "abort")
        revisions = {r: v for r, v in cp.revisions.items() if r != new}
        fields: dict = {"revisions": revisions}
        if cp.tags:
            fields["tags"] = {t: (old if r == new else r) for t, r in cp.tags.items()}
        if cp.workloads == new:
            fields["workloads"] = None
        fields["namespaces"] = {ns: label for ns, label in cp.namespaces.items() if label != new} or None
        if cp.gateway in (old, new) and cp.gateway != cp.workloads:
            fields["gateway"] = None  # back to following the workloads' tag
        return fields, f"abort{_where(env)}: back to {old}; istiod {new} removed, tags on {old}", \
            cp.release(new), _shared_after(catalog, env, revisions)

    return _run(catalog_path, "abort", decide, **kwargs)
