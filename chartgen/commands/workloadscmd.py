"""The workload checks of ``chartgen verify --workloads MANIFEST...``, as a command of their
own (``verify-workloads``, hidden) until ``verify`` takes the flag."""

from __future__ import annotations

import json

import click

from ..cli import Ctx, run_guarded
from . import options


@click.command("verify-workloads", hidden=True)
@click.argument("manifest", nargs=-1, required=True, metavar="MANIFEST...")
@options.catalog_flag
@options.environments("Check")
@options.output_format("text", "json")
@options.helm
@click.pass_obj
def command(obj: Ctx, manifest, catalog, envs, fmt, helm):
    """Check the mesh against the pods it will govern: the chart rendered per environment
    and the application's manifests (files, directories, '-' for stdin).

    Selectors, ServiceAccounts, pod ports, port protocols, version labels, probes,
    Prometheus scrapes, injection opt-outs and host-network pods; each finding located in
    the manifest, with the fix. Exit 1 on errors.

    \b
    Example:
      chartgen verify-workloads -c catalog.yaml k8s/
    """
    from ..workloads import CODES, verify

    def run():
        report = verify(catalog, list(manifest), list(envs) or None, helm)
        if fmt == "json":
            click.echo(json.dumps({"environments": report.envs, "objects": report.objects, "findings": [
                {"file": f.file, "line": f.line, "col": f.col, "level": f.level, "code": f.code, "subject": f.subject,
                 "message": f.message, "environments": list(f.envs), "summary": CODES[f.code][1]}
                for f in report.findings]}, indent=2))
        else:
            for f in report.findings:
                click.echo(f.format())
            warnings = len(report.findings) - len(report.errors)
            click.echo(f"{len(report.errors)} error(s), {warnings} warning(s) in {', '.join(report.envs)} "
                       f"({report.objects} manifest objects)", err=True)
        if report.exit_code:
            raise SystemExit(report.exit_code)

    run_guarded(run, obj)
