"""Canary releases as library calls: ``status`` of every versioned service, and the weight
changes ``promote``, ``rollback`` and ``set_weights``, each returning a result object and
printing nothing (``chartgen canary`` prints them).

A weight change reads and checks the catalog, edits the weights in place (comments and
layout kept, see ``catalog_edit``), validates the edited text, then either previews it
(``dry_run``: the catalog's diff and what generate would change) or writes it and
regenerates the outputs. A real change holds the lock that ``generate`` takes from the first
read to the last write, so concurrent edits queue up and none is lost; if regenerating
fails, the catalog is restored and the exception carries ``catalog_restored``.

    >>> change = promote("catalog.yaml", "proxy", dry_run=True)
    >>> change.summary, change.catalog_diff.unified_diff(), change.outcome.changeset.paths
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..catalog.model import Canary, Catalog, match_text
from ..catalog.edit import (ProductionNotNamed, RoundTrip, check_writable, confirm_unnamed_production, edit_weights,
                             weights_path, write_atomic)
from .changeset import Changeset
from ..base.errors import ChartgenError, InvalidEdit
from .generate import output_root, preview_catalog, regenerate_edited
from ..catalog.mesh import env_views, resolve_service
from ..catalog.validate import load_catalog, parse_catalog, parse_edited, read_catalog_text
from ..base.writer import locked

if TYPE_CHECKING:
    from .generate import Outcome

Weights = dict[str, int]


class UnknownVersion(ChartgenError):
    """``set_weights`` names a version the service does not have."""

    exit_code = 2


# --- reading -------------------------------------------------------------------------------------


def step_text(canary: Canary | None, weights: Weights) -> str:
    """Where the candidate's weight stands in ``canary.steps``: '2/4 (25%)', '0/4 (0%)'
    before the first step, 'off-plan (30%)' between steps, '-' without a canary."""
    if canary is None:
        return "-"
    w = weights.get(canary.candidate, 0)
    n = len(canary.steps)
    if w == 0:
        return f"0/{n} (0%)"
    if w in canary.steps:
        return f"{canary.steps.index(w) + 1}/{n} ({w}%)"
    return f"off-plan ({w}%)"


def weights_text(weights: Weights) -> str:
    return " / ".join(f"{v} {w}%" for v, w in weights.items()) or "-"


@dataclass(frozen=True)
class Row:
    """One versioned service in one environment (or several, joined by commas, that agree)."""

    service: str
    env: str
    versions: list[str]
    weights: Weights
    step: str
    canary: dict | None
    routes: list[dict]
    mirror: dict | None

    @classmethod
    def of(cls, key: str, env: str, spec) -> Row:
        weights = dict(spec.weights or {})
        return cls(
            service=key, env=env, versions=list(spec.versions), weights=weights, step=step_text(spec.canary, weights),
            canary=spec.canary.model_dump(mode="json") if spec.canary else None,
            routes=[{"name": r.name, "match": match_text(r.match), "version": r.version} for r in spec.routes or []],
            mirror={"version": spec.mirror.version, "percent": spec.mirror.percent} if spec.mirror else None)

    def to_dict(self) -> dict:
        return asdict(self)

    def same_split(self, other: Row) -> bool:
        """Everything but the environment is the same."""
        return {**self.to_dict(), "env": ""} == {**other.to_dict(), "env": ""}


@dataclass(frozen=True)
class Status:
    rows: list[Row]

    def to_dict(self) -> dict:
        return {"services": [r.to_dict() for r in self.rows]}


def _unknown_env(catalog: Catalog, env: str) -> ChartgenError:
    return ChartgenError(f"unknown environment '{env}' (environments: {', '.join(sorted(catalog.environments))})")


def status(catalog: Catalog | str | Path, env: str | None = None) -> Status:
    """Versions, weights, canary step, A/B routes and mirror of every versioned service: one
    row per service, or per environment (``env``: only that one) where the environments differ."""
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    views = [v for v in env_views(catalog) if env is None or v.name == env]
    if env is not None and not views:
        raise _unknown_env(catalog, env)
    rows: list[Row] = []
    for key in catalog.services:
        per_env = [Row.of(key, view.name, view.services[key].spec) for view in views
                   if view.services[key].enabled and view.services[key].spec.versions]
        if len(per_env) > 1 and all(r.same_split(per_env[0]) for r in per_env):
            rows.append(Row(**{**per_env[0].to_dict(), "env": ",".join(r.env for r in per_env)}))
        else:
            rows += per_env
    return Status(rows)


# --- changing the weights ------------------------------------------------------------------------


@dataclass
class WeightChange:
    """A weight change of one service (in one environment's override with ``env``).

    ``changed`` False: the weights were already ``new`` and nothing was done. Otherwise
    ``catalog_diff`` is the edit of the catalog and ``outcome`` is generate's: with
    ``dry_run``, a preview (``outcome.changeset``); else what was written (``outcome.result``)."""

    catalog: Path
    service: str
    env: str | None
    old: Weights
    new: Weights
    note: str = ""  # ', step 2/4 (25%)', ', rolled back'
    dry_run: bool = False
    faithful: bool = True  # False: ruamel.yaml could not reproduce the file's layout exactly
    catalog_diff: Changeset = field(default_factory=Changeset)
    outcome: Outcome | None = None

    @property
    def changed(self) -> bool:
        return self.new != self.old

    @property
    def where(self) -> str:
        """The catalog path that holds the weights."""
        return ".".join(weights_path(self.service, self.env))

    @property
    def summary(self) -> str:
        return (f"{self.service}{f' ({self.env})' if self.env else ''}: {weights_text(self.old)} → "
                f"{weights_text(self.new)}{self.note}")


Decide = Callable[[object], tuple[Weights, str]]  # the service's resolved spec → (new weights, note)
Confirm = Callable[[list[str]], bool]  # the production environments an unnamed change would move → go on?


@dataclass(frozen=True)
class _Request:
    """What the caller asked for, passed down to the edit."""

    service: str
    env: str | None
    decide: Decide
    dry_run: bool
    warn: Callable[[str], None] | None
    confirm_production: Confirm | None


def change_weights(catalog_path: str | Path, service: str, decide: Decide, *, env: str | None = None,
                   out: str | Path | None = None, dry_run: bool = False, wait_message=None,
                   warn: Callable[[str], None] | None = None,
                   confirm_production: Confirm | None = None) -> WeightChange:
    """Read and check the catalog, let ``decide(spec)`` pick the new weights, edit, validate,
    then preview (``dry_run``) or write and regenerate. ``wait_message``: called when another
    run holds the lock; ``warn``: called with a warning for the user as it arises.

    Without ``env`` the service's own weights change, and with them every environment that
    does not override them. If that moves a ``production: true`` environment, the change
    needs ``confirm_production(environments)`` to return True; without it (not interactive)
    it raises ``ProductionNotNamed`` and writes nothing. A dry run only warns."""
    path = Path(catalog_path)
    root = output_root(path, out)
    request = _Request(service, env, decide, dry_run, warn, confirm_production)
    if dry_run:
        return _edit(str(catalog_path), root, request)
    with contextlib.ExitStack() as stack:
        # the catalog's directory and the output root (the same unless -o), in one order
        for d in sorted({root.resolve(), path.resolve().parent}):
            stack.enter_context(locked(d, wait_message=wait_message))
        return _edit(str(catalog_path), root, request)


def _current(path: Path, service: str, env: str | None) -> tuple[str, Catalog, object]:
    """The catalog's text, the catalog and the resolved spec of ``service`` (in ``env``), checked."""
    text = read_catalog_text(path)
    current, _ = parse_catalog(text, str(path))
    if service not in current.services:
        hint = difflib.get_close_matches(service, list(current.services), n=1)
        raise ChartgenError(f"unknown service '{service}'" + (f" (did you mean '{hint[0]}'?)" if hint else
                                                               f" (services: {', '.join(current.services)})"))
    if env is not None and env not in current.environments:
        raise _unknown_env(current, env)
    return text, current, resolve_service(current, service, env).spec


def _edited(path: Path, text: str, service: str, env: str | None, new: Weights) -> tuple[str, Catalog]:
    """The catalog text with the new weights, and the catalog it parses to (``InvalidEdit``)."""
    new_text = edit_weights(text, service, new, env, file=str(path))
    return new_text, parse_edited(new_text, str(path))


def moved_environments(old: Catalog, new: Catalog, service: str) -> list[str]:
    """The environments where ``service`` is enabled and its effective weights differ."""
    out = []
    for name in sorted(new.environments):
        before, after = resolve_service(old, service, name), resolve_service(new, service, name)
        if after.enabled and before.spec.weights != after.spec.weights:
            out.append(name)
    return out


def _production_guard(current: Catalog, edited: Catalog, request: _Request) -> None:
    """Refuse (or ask) when a change without ``env`` moves a production environment."""
    if request.env is not None:
        return
    moved = moved_environments(current, edited, request.service)
    prod = [e for e in moved if current.environments[e].production]
    names = ", ".join(prod)
    confirm_unnamed_production(
        prod, dry_run=request.dry_run, warn=request.warn, confirm=request.confirm_production,
        warning=f"warning: without --env this changes production environment(s) {names}, which follow "
                f"services.{request.service}.weights; the real run needs --env (or a confirmation)",
        refusal=f"{request.service}: without --env this would change the weights of production environment(s) "
                f"{names} (they follow services.{request.service}.weights; every environment it moves: "
                f"{', '.join(moved)}); name the environment to change with --env ENV. Nothing was written")


def _edit(name: str, root: Path, request: _Request) -> WeightChange:
    path = Path(name)
    service, env, dry_run, warn = request.service, request.env, request.dry_run, request.warn
    text, current, spec = _current(path, service, env)
    new, note = request.decide(spec)
    change = WeightChange(catalog=path, service=service, env=env, old=dict(spec.weights or {}), new=new, note=note,
                          dry_run=dry_run)
    if not change.changed:
        return change
    change.faithful = RoundTrip(text, str(path)).faithful
    if not change.faithful and warn is not None:
        warn(f"warning: ruamel.yaml cannot reproduce the layout of {name} exactly; lines other than the "
             "weights may be reformatted (check with --dry-run)")
    new_text, edited = _edited(path, text, service, env, new)
    _production_guard(current, edited, request)
    change.catalog_diff = Changeset.of_text(path.name, text, new_text)
    if dry_run:
        change.outcome = preview_catalog(edited, root)
    else:
        change.outcome = _write_and_regenerate(path, root, text, new_text)
    return change


def _write_and_regenerate(path: Path, root: Path, text: str, new_text: str):
    """Write the edited catalog and regenerate (the caller holds the locks); on failure the
    catalog gets its old text back, and the exception says so (``catalog_restored``)."""
    check_writable(path)
    write_atomic(path, new_text)
    return regenerate_edited(path, root, text)


def _need_canary(service: str, spec, env: str | None) -> Canary:
    if spec.canary is None:
        raise ChartgenError(f"service '{service}' has no canary{f' in {env}' if env else ''}: add "
                            f"services.{service}.canary {{stable, candidate, steps}}, or use `chartgen canary set`")
    return spec.canary


def promote(catalog_path: str | Path, service: str, **kwargs) -> WeightChange:
    """Move the candidate to the next step of ``canary.steps``: {stable: 100 - step,
    candidate: step}. At 100 % there is no next step: a ChartgenError. Keyword arguments
    as ``change_weights``."""
    env = kwargs.get("env")

    def decide(spec):
        c = _need_canary(service, spec, env)
        w = (spec.weights or {}).get(c.candidate, 0)
        nxt = [s for s in c.steps if s > w]
        if not nxt:
            raise ChartgenError(f"{service}{f' in {env}' if env else ''}: candidate {c.candidate} is already at {w}% "
                                f"(last step of {c.steps}); nothing to promote. Make {c.candidate} the stable "
                                f"version in the catalog, or `chartgen canary rollback {service}`")
        s = nxt[0]
        return {c.stable: 100 - s, c.candidate: s}, f", step {step_text(c, {c.candidate: s})}"

    return change_weights(catalog_path, service, decide, **kwargs)


def rollback(catalog_path: str | Path, service: str, **kwargs) -> WeightChange:
    """All of the service's traffic back to the stable version: {stable: 100, candidate: 0}."""
    env = kwargs.get("env")

    def decide(spec):
        c = _need_canary(service, spec, env)
        return {c.stable: 100, c.candidate: 0}, ", rolled back"

    return change_weights(catalog_path, service, decide, **kwargs)


def set_weights(catalog_path: str | Path, service: str, weights: Weights, **kwargs) -> WeightChange:
    """Set the weights directly (versions the service has; ``UnknownVersion`` otherwise)."""

    def decide(spec):
        known = list(spec.versions or {})
        for v in weights:
            if v not in known:
                hint = difflib.get_close_matches(v, known, n=1, cutoff=0.6)
                raise UnknownVersion(f"unknown version '{v}' of service '{service}'"
                                     + (f" (did you mean '{hint[0]}'?)" if hint else
                                        f" (versions: {', '.join(known) or 'none'})"))
        return dict(weights), f", step {step_text(spec.canary, weights)}" if spec.canary else ""

    return change_weights(catalog_path, service, decide, **kwargs)


__all__ = ["InvalidEdit", "ProductionNotNamed", "Row", "Status", "UnknownVersion", "WeightChange", "change_weights",
           "moved_environments", "promote", "rollback", "set_weights", "status", "step_text",
           "weights_text"]
