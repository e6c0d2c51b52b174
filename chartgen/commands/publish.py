"""``chartgen publish``: package the chart and publish it to a chart repository directory or an
OCI registry."""

from __future__ import annotations

import click

from ..lifecycle.publish import SignOptions, publish_catalog
from . import options
from .common import Ctx, err, run_guarded


@click.command("publish")
@options.catalog
@options.out
@click.option("--to", "to", required=True, metavar="DIR|oci://HOST/PATH",
              help="A chart repository directory (index.yaml is merged) or an OCI registry.")
@click.option("--url", default=None, metavar="URL",
              help="Base URL the repository directory is served from (default: relative URLs).")
@click.option("--plain-http", is_flag=True, help="Talk plain HTTP to the OCI registry (local/test registries).")
@click.option("--package", "package_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Publish this .tgz (and its .prov) instead of packaging the catalog's chart.")
@options.signing
@options.helm
@click.pass_obj
def command(obj: Ctx, catalog, out, to, url, plain_http, package_path, sign, key, keyring, passphrase_file, helm):
    """Package the chart and publish it to a chart repository directory or an OCI registry.

    Earlier versions stay published. A version that already exists with different content is
    refused (exit 1, nothing changed); the identical version again changes nothing. OCI
    credentials come from `helm registry login`.

    \b
    Example:
      chartgen publish --to site/charts --url https://charts.example.com
      chartgen publish --to oci://registry.example.com/charts
      chartgen publish --package dist/bytefreezer-mesh-1.2.0.tgz --to oci://registry.example.com/charts
    """

    choice = options.signing_choice(sign, key, keyring, passphrase_file)
    sign_opts = SignOptions(**choice) if choice else None
    if package_path and sign_opts:
        raise click.UsageError("--package publishes an existing archive; sign it with `chartgen package --sign`")

    def run():
        result = publish_catalog(catalog, out, to=to, url=url, plain_http=plain_http, package=package_path,
                                 sign=sign_opts, helm=helm, wait_message=err)
        pkg = result.package
        if result.changed:
            extra = f" ({result.digest})" if result.digest else f" (sha256:{pkg.digest})"
            click.echo(f"published {pkg.name} {pkg.version} to {result.target}{extra}")
        else:
            click.echo(f"already published: {pkg.name} {pkg.version} in {result.target} (identical; nothing changed)")

    run_guarded(run, obj)
