"""``chartgen canary``: see and move a service's traffic split between its versions.

``status`` reads the catalog; ``promote``, ``rollback`` and ``set`` edit the weights in the
catalog in place (comments and layout kept), validate the result before writing it, and
regenerate the chart, so every step is a reviewed, versioned change with a changelog line.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from pathlib import Path

import click

from ..catalog import Canary, Match
from ..catalog_edit import RoundTrip, check_writable, edit_weights, unified_diff, weights_path, write_atomic
from ..errors import CatalogError, ChartgenError

from . import options
_env_option = options.environment(
    "Edit environments.ENV.services.SERVICE.weights instead of the service's own weights.")
_dry_run_option = click.option("--dry-run", is_flag=True,
                               help="Show the catalog diff and what generate would change; write nothing.")


def _guard(obj, fn):
    from ..cli import run_guarded  # late: chartgen.cli imports this module while it loads

    return run_guarded(fn, obj)


def _err(msg: str) -> None:
    click.echo(msg, err=True)


# --- reading -------------------------------------------------------------------------------------


def step_text(canary: Canary | None, weights: dict[str, int]) -> str:
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


def _cond(name: str, m) -> str:
    if m.exact is not None:
        return f"{name}={m.exact}"
    if m.prefix is not None:
        return f"{name}^={m.prefix}"
    return f"{name}~={m.regex}"


def match_text(m: Match) -> str:
    parts = [_cond(h, c) for h, c in sorted(m.headers.items())]
    if m.cookie is not None:
        parts.append(f"cookie {m.cookie.name}={m.cookie.value}")
    if m.path is not None:
        parts.append(_cond("path", m.path))
    parts += [_cond(f"?{q}", c) for q, c in sorted(m.queryParams.items())]
    return " & ".join(parts) or "*"


def weights_text(weights: dict[str, int]) -> str:
    return " / ".join(f"{v} {w}%" for v, w in weights.items()) or "-"


def _rows(catalog, env: str | None) -> list[dict]:
    from ..mesh import env_views

    views = [v for v in env_views(catalog) if env is None or v.name == env]
    if env is not None and not views:
        raise ChartgenError(f"unknown environment '{env}' (environments: {', '.join(sorted(catalog.environments))})")
    rows = []
    for key in catalog.services:
        per_env = []
        for view in views:
            svc = view.services[key]
            if not svc.enabled or not svc.spec.versions:
                continue
            s = svc.spec
            weights = dict(s.weights or {})
            per_env.append({
                "service": key,
                "env": view.name,
                "versions": list(s.versions),
                "weights": weights,
                "step": step_text(s.canary, weights),
                "canary": s.canary.model_dump(mode="json") if s.canary else None,
                "routes": [{"name": r.name, "match": match_text(r.match), "version": r.version} for r in s.routes or []],
                "mirror": {"version": s.mirror.version, "percent": s.mirror.percent} if s.mirror else None,
            })
        if not per_env:
            continue
        same = all({k: v for k, v in r.items() if k != "env"} == {k: v for k, v in per_env[0].items() if k != "env"}
                   for r in per_env)
        if same and len(per_env) > 1 and env is None:
            rows.append({**per_env[0], "env": ",".join(r["env"] for r in per_env)})
        else:
            rows += per_env
    return rows


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


# --- the group -----------------------------------------------------------------------------------


@click.group("canary")
def command():
    """Canary releases: see and move the traffic split between a service's versions.

    \b
    Example:
      chartgen canary status
      chartgen canary promote proxy --dry-run     # 10% → 25%: what would change
      chartgen canary promote proxy               # edit catalog.yaml, regenerate the chart
      chartgen canary rollback proxy --env prod   # all prod traffic back to the stable version
      chartgen canary set proxy --weights v1=75,v2=25
    """


@command.command("status")
@options.catalog
@options.environment("Only this environment.")
@options.output_format("text", "json")
@click.pass_obj
def status(obj, catalog, env, fmt):
    """Versions, weights, canary step, A/B routes and mirror of every versioned service.

    One row per service, or per environment where the environments differ.

    \b
    Example:
      chartgen canary status --env prod
    """
    from ..validate import load_catalog

    def run():
        rows = _rows(load_catalog(catalog), env)
        if fmt == "json":
            click.echo(json.dumps({"services": rows}, indent=2))
            return
        if not rows:
            click.echo("no service has versions")
            return
        table = [["SERVICE", "ENV", "VERSIONS", "WEIGHTS", "STEP", "ROUTES", "MIRROR"]]
        for r in rows:
            routes = ", ".join(f"{x['name']}: {x['match']} → {x['version']}" for x in r["routes"]) or "-"
            mirror = f"{r['mirror']['version']} {r['mirror']['percent']:g}%" if r["mirror"] else "-"
            table.append([r["service"], r["env"], ",".join(r["versions"]), weights_text(r["weights"]), r["step"],
                          routes, mirror])
        click.echo(_table(table))

    _guard(obj, run)


def _change(obj, catalog: str, out: str | None, service: str, env: str | None, dry_run: bool, decide) -> None:
    """Read and check the catalog, let ``decide(spec)`` pick the new weights, edit, validate,
    then show (--dry-run) or write and regenerate. A real edit happens from the first read to
    the last write under the lock that ``generate`` takes, so concurrent edits queue up and
    each one starts from the catalog the previous one left: none is lost."""
    from ..generate import output_root
    from ..writer import locked

    path = Path(catalog)
    root = output_root(path, out)
    if dry_run:
        _edit(catalog, path, root, service, env, dry_run, decide)
        return
    with contextlib.ExitStack() as stack:
        # the catalog's directory and the output root (the same unless -o), in one order
        for d in sorted({root.resolve(), path.resolve().parent}):
            stack.enter_context(locked(d, wait_message=_err))
        _edit(catalog, path, root, service, env, dry_run, decide)


def _edit(catalog: str, path: Path, root: Path, service: str, env: str | None, dry_run: bool, decide) -> None:
    from ..generate import Options, current_texts, generate_locked, plan
    from ..mesh import resolve_service
    from ..validate import parse_catalog, read_catalog_text
    from ..writer import stale_paths

    text = read_catalog_text(path)
    current, _ = parse_catalog(text, str(path))
    if service not in current.services:
        hint = difflib.get_close_matches(service, list(current.services), n=1)
        raise ChartgenError(f"unknown service '{service}'" + (f" (did you mean '{hint[0]}'?)" if hint else
                                                               f" (services: {', '.join(current.services)})"))
    if env is not None and env not in current.environments:
        raise ChartgenError(f"unknown environment '{env}' (environments: {', '.join(sorted(current.environments))})")
    spec = resolve_service(current, service, env).spec
    old = dict(spec.weights or {})
    new, note = decide(spec)
    where = ".".join(weights_path(service, env))
    if new == old:
        click.echo(f"{service}{f' in {env}' if env else ''}: already {weights_text(old)}; nothing to change")
        return
    if not RoundTrip(text, str(path)).faithful:
        _err(f"warning: ruamel.yaml cannot reproduce the layout of {catalog} exactly; lines other than the "
             "weights may be reformatted (check with --dry-run)")
    new_text = edit_weights(text, service, new, env, file=str(path))
    try:
        edited, _ = parse_catalog(new_text, str(path))
    except CatalogError:
        _err(f"the edited catalog would be invalid, so {catalog} was not changed (lines refer to the edited text):")
        raise
    summary = f"{service}{f' ({env})' if env else ''}: {weights_text(old)} → {weights_text(new)}{note}"

    if dry_run:
        click.echo(f"{summary} (dry run: nothing written)")
        click.echo(unified_diff(text, new_text, path.name), nl=False)
        outcome = plan(edited, root, Options())
        to_write, to_delete = stale_paths(root, outcome.files, outcome.owned_dirs)
        _print_bump(outcome)
        before, undecodable = current_texts(root, to_write + to_delete)
        for rel in to_write + to_delete:
            click.echo(f"  {'new' if before[rel] is None else 'removed' if rel in to_delete else 'changed'}: {rel}")
        for rel in to_write + to_delete:
            if rel.endswith(".chartgen-state.json"):
                continue
            if rel in undecodable:
                click.echo(f"Binary files a/{rel} and b/{rel} differ (a/{rel} is not UTF-8 text)")
                continue
            click.echo(unified_diff(before[rel] or "", outcome.files.get(rel, ""), rel), nl=False)
        return

    check_writable(path)
    write_atomic(path, new_text)
    try:
        outcome = generate_locked(path, root, Options())
    except BaseException as exc:
        if getattr(exc, "committed", False):  # interrupted after the chart was written: both are in step
            raise
        write_atomic(path, text)  # keep catalog and chart in step
        _err(f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'generate failed'}; {catalog} was restored")
        raise
    click.echo(f"{summary}  [{path.name}: {where}]")
    _print_notes(outcome)
    _print_bump(outcome)
    changed = outcome.result.changed
    click.echo(f"wrote {path.name} and {len(changed)} generated file(s)")


def _print_notes(outcome) -> None:
    from ..cli import print_notes

    print_notes(outcome)


def _print_bump(outcome) -> None:
    from ..cli import print_bump

    print_bump(outcome)


def _change_options(fn):
    """The options every weight-changing command takes: -c, -o, --env, --dry-run."""
    for option in (click.pass_obj, _dry_run_option, _env_option, options.out, options.catalog):
        fn = option(fn)
    return fn


def _need_canary(service: str, spec, env: str | None) -> Canary:
    if spec.canary is None:
        raise ChartgenError(f"service '{service}' has no canary{f' in {env}' if env else ''}: add "
                            f"services.{service}.canary {{stable, candidate, steps}}, or use `chartgen canary set`")
    return spec.canary


@command.command("promote")
@click.argument("service")
@_change_options
def promote(obj, service, catalog, out, env, dry_run):
    """Move SERVICE's candidate to the next step of canary.steps.

    The weights become {stable: 100 - step, candidate: step}. At 100 % there is no next
    step: the command fails (exit 1).

    \b
    Example:
      chartgen canary promote proxy --dry-run
      chartgen canary promote proxy --env prod
    """

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

    _guard(obj, lambda: _change(obj, catalog, out, service, env, dry_run, decide))


@command.command("rollback")
@click.argument("service")
@_change_options
def rollback(obj, service, catalog, out, env, dry_run):
    """Send all of SERVICE's traffic back to the stable version: {stable: 100, candidate: 0}.

    \b
    Example:
      chartgen canary rollback proxy
    """

    def decide(spec):
        c = _need_canary(service, spec, env)
        return {c.stable: 100, c.candidate: 0}, ", rolled back"

    _guard(obj, lambda: _change(obj, catalog, out, service, env, dry_run, decide))


def parse_weights(text: str) -> dict[str, int]:
    """'v1=75,v2=25' → {'v1': 75, 'v2': 25}; raises click.BadParameter."""
    out: dict[str, int] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise click.BadParameter(f"expected VERSION=PERCENT, got {item!r}", param_hint="--weights")
        if name in out:
            raise click.BadParameter(f"version '{name}' given twice", param_hint="--weights")
        try:
            n = int(value)
        except ValueError:
            raise click.BadParameter(f"expected a whole number 0–100 for {name}, got {value!r}",
                                     param_hint="--weights") from None
        if not 0 <= n <= 100:
            raise click.BadParameter(f"expected a whole number 0–100 for {name}, got {n}", param_hint="--weights")
        out[name] = n
    if not out:
        raise click.BadParameter("expected VERSION=PERCENT,…", param_hint="--weights")
    total = sum(out.values())
    if total != 100:
        raise click.BadParameter(f"expected weights that sum to 100, got {total}", param_hint="--weights")
    return out


@command.command("set")
@click.argument("service")
@click.option("--weights", "weights", required=True, metavar="V=N,…", help="The new weights, e.g. v1=75,v2=25.")
@_change_options
def set_cmd(obj, service, weights, catalog, out, env, dry_run):
    """Set SERVICE's weights directly (known versions, whole numbers 0–100, summing to 100).

    \b
    Example:
      chartgen canary set proxy --weights v1=75,v2=25
      chartgen canary set proxy --weights v1=100,v2=0 --env prod --dry-run
    """
    new = parse_weights(weights)

    def decide(spec):
        known = list(spec.versions or {})
        for v in new:
            if v not in known:
                hint = difflib.get_close_matches(v, known, n=1, cutoff=0.6)
                raise click.BadParameter(
                    f"unknown version '{v}' of service '{service}'"
                    + (f" (did you mean '{hint[0]}'?)" if hint else f" (versions: {', '.join(known) or 'none'})"),
                    param_hint="--weights")
        return new, f", step {step_text(spec.canary, new)}" if spec.canary else ""

    _guard(obj, lambda: _change(obj, catalog, out, service, env, dry_run, decide))


__all__ = ["command", "match_text", "parse_weights", "step_text"]
