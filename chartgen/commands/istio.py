"""``chartgen istio upgrade``: a staged, reversible control-plane upgrade by revision and tag.

``status`` reads the catalog; ``start``, ``promote``, ``finish`` and ``abort`` edit its ``istio``
block in place (comments and layout kept), validate the result, and regenerate the chart and
helmfile, so every step is a reviewed change with a changelog line. The work is done by
``chartgen.lifecycle.istio_upgrade``; this module parses the arguments and prints.
"""

from __future__ import annotations

import json

import click

from ..lifecycle.istio_upgrade import RESTART_NOTE
from ..lifecycle.istio_upgrade import abort as do_abort
from ..lifecycle.istio_upgrade import finish as do_finish
from ..lifecycle.istio_upgrade import promote as do_promote
from ..lifecycle.istio_upgrade import start as do_start
from ..lifecycle.istio_upgrade import status as upgrade_status
from . import options
from .common import Painter, print_bump, print_changeset, print_notes, run_catalog_edit, run_guarded

_env_option = options.environment(
    "Edit environments.ENV.istio instead of the mesh-wide istio block. Without it, a step that changes a "
    "production environment needs --every-environment (a terminal asks instead).")
_every_option = click.option("--every-environment", "every_environment", is_flag=True,
                             help="Without --env: edit the mesh-wide block even where it changes a production "
                                  "environment (ambient environments upgrade together).")


@click.group("istio")
def command():
    """The Istio control plane: revisions, revision tags and staged upgrades.

    \b
    Example:
      chartgen istio upgrade status
      chartgen istio upgrade start 1.30.3 --dry-run
    """


@command.group("upgrade")
def upgrade():
    """Upgrade istiod by revision, staged and reversible (docs/istio-upgrades.md).

    \b
    Example:
      chartgen istio upgrade status
      chartgen istio upgrade start 1.30.3 --env prod     # second istiod beside the current one
      chartgen istio upgrade promote --env prod --namespace shop-prod   # one namespace first
      chartgen istio upgrade promote --env prod          # the tags: every namespace
      chartgen istio upgrade promote --env prod --gateways
      chartgen istio upgrade finish --env prod           # remove the old istiod
      chartgen istio upgrade abort --env prod            # or: back to the old revision
    """


def _status_text(result) -> str:
    lines = []
    for e in result.envs:
        lines.append(f"{e.env} ({e.form}):")
        for rev, version in e.revisions.items():
            tags = [t for t, r in e.tags.items() if r == rev]
            lines.append(f"  revision {rev}: Istio {version}, release {e.releases[rev]}"
                         + (f", tags {', '.join(tags)}" if tags else ""))
        for t, r in e.tags.items():
            if r not in e.revisions:
                lines.append(f"  tag {t} → {r} (no istiod serves it)")
        for ns, where in e.namespaces.items():
            lines.append(f"  namespace {ns}: {where['label']} → {where['revision'] or 'nothing serves it'}")
        lines.append(f"  gateway: {e.gateway['label']} → {e.gateway['revision'] or 'nothing serves it'}")
        lines.append(f"  next: {e.next_step}")
    lines.append(f"note: {result.note}")
    return "\n".join(lines)


@upgrade.command("status")
@options.catalog
@options.environment("Only this environment.")
@options.output_format("text", "json")
@click.pass_obj
def status(obj, catalog, env, fmt):
    """Which revisions run where, where each tag points, what each namespace and the gateway
    are on, and what the next step does."""
    def run():
        result = upgrade_status(catalog, env)
        click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else _status_text(result))

    run_guarded(run, obj)


def _print_step(step) -> None:
    if not step.changed:
        click.echo(f"{step.summary}: already so; nothing to change")
        return
    outcome = step.outcome
    if step.dry_run:
        click.echo(f"{step.summary} (dry run: nothing written)")
        click.echo(step.catalog_diff.unified_diff(), nl=False)
        for p in step.removed:
            click.echo(f"would remove {p} (only chartgen's keys)")
        print_bump(outcome)
        print_changeset(outcome.changeset, Painter())
    else:
        click.echo(step.summary)
        print_notes(outcome)
        print_bump(outcome)
        for p in step.removed:
            click.echo(f"removed {p} (only chartgen's keys)")
        click.echo(f"wrote {step.catalog.name} and {len(outcome.result.changed)} generated file(s)")
    for note in step.notes:
        click.echo(f"note: {note}")
    if step.uninstall:
        when = ("first, then `helmfile sync` (the revision tags go back to the old release)" if step.step == "abort"
                else "after `helmfile sync`")
        click.echo(f"helmfile keeps a release that leaves helmfile.yaml installed; uninstall it {when} "
                   "(Argo CD and Flux prune it):")
        for line in step.uninstall_commands():
            click.echo(f"  {line}")
    for p in step.kept:
        click.echo(f"kept {p}: it holds keys of yours; delete it when you no longer need it")
    if step.step in ("promote", "abort"):
        click.echo(f"note: {RESTART_NOTE}")


def _step(catalog: str, how, **kwargs) -> None:
    """Run a step and print it. A step without --env that changes a production environment is
    confirmed at a terminal and refused otherwise, unless --every-environment says so."""
    step = run_catalog_edit(catalog, how, "without --env this also changes the control plane of production "
                                          "environment(s) {envs}; continue?", **kwargs)
    _print_step(step)


def _step_options(fn):
    for option in (click.pass_obj, options.dry_run, _every_option, _env_option, options.out, options.catalog):
        fn = option(fn)
    return fn


@upgrade.command("start")
@click.argument("version")
@_step_options
def start(obj, version, catalog, out, env, every_environment, dry_run):
    """Install istiod VERSION as a second revision (named from the version, e.g. 1-30-3).

    istio/base (the CRDs, shared) moves to the newer chart; revision tags, namespaces and the
    gateway stay on the current revision, so no workload moves.
    """

    run_guarded(lambda: _step(catalog, do_start, version=version, out=out, env=env, dry_run=dry_run,
                              every_environment=every_environment), obj)


@upgrade.command("promote")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Move only this namespace (repeatable): it is labelled with the new revision.")
@click.option("--gateways", is_flag=True, help="Move the ingress gateway to the new revision (its own step).")
@click.option("--tag", default=None, metavar="TAG", help="Move only this revision tag (default: every tag on the "
                                                          "old revision).")
@_step_options
def promote(obj, namespaces, gateways, tag, catalog, out, env, every_environment, dry_run):
    """Move workloads to the new revision: the named namespaces, or every revision tag (all
    namespaces labelled with it), or with --gateways the ingress gateway.

    Pods move when they restart: chartgen does not restart them.
    """
    if gateways and (namespaces or tag):
        raise click.UsageError("--gateways moves the gateway alone: without --namespace or --tag")
    run_guarded(lambda: _step(catalog, do_promote, namespaces=tuple(namespaces), gateways=gateways, tag=tag,
                              out=out, env=env, dry_run=dry_run, every_environment=every_environment), obj)


@upgrade.command("finish")
@_step_options
def finish(obj, catalog, out, env, every_environment, dry_run):
    """Remove the old istiod release and revision (nothing may select it any more)."""
    run_guarded(lambda: _step(catalog, do_finish, out=out, env=env, dry_run=dry_run,
                              every_environment=every_environment), obj)


@upgrade.command("abort")
@_step_options
def abort(obj, catalog, out, env, every_environment, dry_run):
    """Back to the old revision in one step (from start or any promote): the new istiod goes,
    tags, namespaces and the gateway return."""
    run_guarded(lambda: _step(catalog, do_abort, out=out, env=env, dry_run=dry_run,
                              every_environment=every_environment), obj)


__all__ = ["command"]
