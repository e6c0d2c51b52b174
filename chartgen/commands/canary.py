"""``chartgen canary``: see and move a service's traffic split between its versions.

``status`` reads the catalog; ``promote``, ``rollback`` and ``set`` edit the weights in the
catalog in place (comments and layout kept), validate the result before writing it, and
regenerate the chart, so every step is a reviewed, versioned change with a changelog line.
The work is done by ``chartgen.lifecycle.canary``; this module parses the arguments and prints.
"""

from __future__ import annotations

import json

import click

from ..lifecycle.canary import UnknownVersion, set_weights, weights_text
from ..lifecycle.canary import promote as do_promote
from ..lifecycle.canary import rollback as do_rollback
from ..lifecycle.canary import status as canary_status
from . import options
from .common import Painter, print_bump, print_changeset, print_notes, run_catalog_edit, run_guarded

_env_option = options.environment(
    "Edit environments.ENV.services.SERVICE.weights instead of the service's own weights. Required when the "
    "service's own weights would move a production environment (a terminal asks instead).")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _status_table(rows) -> str:
    table = [["SERVICE", "ENV", "VERSIONS", "WEIGHTS", "STEP", "ROUTES", "MIRROR"]]
    for r in rows:
        routes = ", ".join(f"{x['name']}: {x['match']} → {x['version']}" for x in r.routes) or "-"
        mirror = f"{r.mirror['version']} {r.mirror['percent']:g}%" if r.mirror else "-"
        table.append([r.service, r.env, ",".join(r.versions), weights_text(r.weights), r.step, routes, mirror])
    return _table(table)


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

    def run():
        result = canary_status(catalog, env)
        if fmt == "json":
            click.echo(json.dumps(result.to_dict(), indent=2))
        elif not result.rows:
            click.echo("no service has versions")
        else:
            click.echo(_status_table(result.rows))

    run_guarded(run, obj)


def _print_change(change) -> None:
    """What a weight change did (or, with --dry-run, would do)."""
    if not change.changed:
        click.echo(f"{change.service}{f' in {change.env}' if change.env else ''}: already "
                   f"{weights_text(change.old)}; nothing to change")
        return
    outcome = change.outcome
    if change.dry_run:
        click.echo(f"{change.summary} (dry run: nothing written)")
        click.echo(change.catalog_diff.unified_diff(), nl=False)
        print_bump(outcome)
        print_changeset(outcome.changeset, Painter())
        return
    click.echo(f"{change.summary}  [{change.catalog.name}: {change.where}]")
    print_notes(outcome)
    print_bump(outcome)
    click.echo(f"wrote {change.catalog.name} and {len(outcome.result.changed)} generated file(s)")


def _change(catalog: str, how, **kwargs) -> None:
    """Run a weight change (``how``: promote, rollback or set_weights) and print it. A change
    without --env that would move a production environment is confirmed at a terminal, and
    refused otherwise (``ProductionNotNamed``)."""
    try:
        change = run_catalog_edit(catalog, how, "without --env this also changes production environment(s) {envs}; "
                                  "continue?", **kwargs)
    except UnknownVersion as exc:
        raise click.BadParameter(str(exc), param_hint="--weights") from None
    _print_change(change)


def _change_options(fn):
    """The options every weight-changing command takes: -c, -o, --env, --dry-run."""
    for option in (click.pass_obj, options.dry_run, _env_option, options.out, options.catalog):
        fn = option(fn)
    return fn


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
    run_guarded(lambda: _change(catalog, do_promote, service=service, out=out, env=env, dry_run=dry_run), obj)


@command.command("rollback")
@click.argument("service")
@_change_options
def rollback(obj, service, catalog, out, env, dry_run):
    """Send all of SERVICE's traffic back to the stable version: {stable: 100, candidate: 0}.

    \b
    Example:
      chartgen canary rollback proxy
    """
    run_guarded(lambda: _change(catalog, do_rollback, service=service, out=out, env=env, dry_run=dry_run), obj)


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
    run_guarded(lambda: _change(catalog, set_weights, service=service, weights=new, out=out, env=env,
                                dry_run=dry_run), obj)


__all__ = ["command", "parse_weights"]
