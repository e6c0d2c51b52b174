"""``chartgen lint``: analyse the rendered mesh offline (see docs/lint-rules.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..analyzer.report import summary, to_json, to_sarif, to_text
from ..analyzer.runner import Progress, lint_catalog
from ..base.errors import UnknownEnvironment
from . import options
from .common import Ctx, run_guarded


@click.command("lint")
@options.catalog
@options.environments("Lint")
@options.output_format("text", "json", "sarif")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--no-scanner", is_flag=True, help="Skip checkov's Kubernetes checks.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line on stderr (there is none when stderr is not a terminal).")
@click.pass_obj
def command(obj: Ctx, catalog, envs, fmt, strict, no_scanner, quiet):
    """Render every environment with helm and check the result offline.

    Checks: Kubernetes schemas, the pinned Istio release's CRDs (schema and CEL
    rules) and Istio's validating webhook, mesh semantics (istioctl analyze codes),
    chartgen's security rules (CG1xx) and checkov's Kubernetes checks. Exit 1 on
    errors (with --strict, on warnings too). The rules: docs/lint-rules.md.

    \b
    Example:
      chartgen lint
      chartgen lint --env prod --strict
      chartgen lint --format sarif > lint.sarif
    """

    def run():
        stream = sys.stderr if not quiet and sys.stderr.isatty() else None
        try:
            result = lint_catalog(catalog, envs, scanner=not no_scanner, progress=Progress(stream))
        except UnknownEnvironment as exc:
            raise click.BadParameter(str(exc), param_hint="--env") from None
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        if fmt == "json":
            click.echo(to_json(result), nl=False)
        elif fmt == "sarif":
            click.echo(to_sarif(result, Path(catalog).name), nl=False)
        else:
            click.echo(to_text(result), nl=False)
            click.echo(summary(result))
        if result.failed(strict):
            sys.exit(1)

    run_guarded(run, obj, fmt, report=True)
