"""``chartgen import``: a catalog from the application's Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path

import click

from ..application import callgraph, importer, manifests
from ..base import reading
from ..catalog.edit import write_atomic
from . import options
from .common import Ctx, run_guarded


@click.command("import")
@click.argument("manifest", nargs=-1, required=True, metavar="MANIFEST...")
@click.option("--calls", "calls_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="The observed calls: a Kiali graph export (JSON of /api/namespaces/graph) or a Prometheus "
                   "query result (istio_requests_total by source and destination workload).")
@click.option("--name", default=None, metavar="NAME",
              help="The mesh name (default: the manifests' namespace, else the first file's name).")
@options.output_file
@click.pass_obj
def command(obj: Ctx, manifest, calls_file, name, output):
    """Write a catalog from Kubernetes manifests (files, directories, '-' for stdin;
    `kubectl get -o yaml`, `helm template` and `kustomize build` output).

    Services come from the Services and the workloads they select; ports, selectors,
    versions, ServiceAccounts, metrics and exposure from the manifests, calls from
    --calls. With -o FILE that exists, the catalog is updated in place: your edits,
    comments and order are kept. What cannot be mapped is listed on stderr.

    \b
    Example:
      chartgen import k8s/ --calls kiali-graph.json -o catalog.yaml
      kubectl get deploy,svc,sa -n shop -o yaml | chartgen import - -o catalog.yaml
    """

    if output == "-":  # the usual name of stdout, never a file named '-'
        output = None

    def run():
        found = manifests.require(manifests.read(list(manifest)))
        calls = None
        if calls_file:
            calls = callgraph.parse(reading.read_text(calls_file, "calls file"), reading.display(calls_file))
        existing = None
        if output and Path(output).exists():
            existing = reading.read_text(output, "catalog")
        result = importer.import_catalog(found, calls, existing, name, output or "catalog.yaml")
        if output:
            write_atomic(output, result.text)
        else:
            click.echo(result.text, nl=False)
        for line in result.lines:
            click.echo(line, err=True)
        for line in result.guessed:
            click.echo(f"guessed: {line}", err=True)
        for line in result.notes:
            click.echo(f"not mapped: {line}", err=True)
        for p in found.problems:
            click.echo(p.format(), err=True)
        where = output or "stdout"
        click.echo(f"{len(result.lines)} service(s) written to {where}; {len(result.notes)} note(s), "
                   f"{len(result.guessed)} guessed protocol(s)"
                   + ("" if calls is not None else "; no calls (give --calls)"), err=True)

    run_guarded(run, obj)
