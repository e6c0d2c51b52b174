"""``chartgen package`` and ``chartgen publish``."""

from __future__ import annotations

import click

from ..cli import Ctx, run_guarded
from . import options


def _sign_options(fn):
    for opt in reversed([
        click.option("--sign", is_flag=True, help="Sign the package (writes a .prov file)."),
        click.option("--key", default=None, metavar="NAME", help="Name (uid) of the signing key."),
        click.option("--keyring", default=None, type=click.Path(dir_okay=False),
                     help="Legacy secret keyring (gpg --export-secret-keys > secring.gpg)."),
        click.option("--passphrase-file", default=None, type=click.Path(dir_okay=False),
                     help="File holding the key's passphrase (or set HELM_KEY_PASSPHRASE)."),
    ]):
        fn = opt(fn)
    return fn


def _sign(sign, key, keyring, passphrase_file):
    from ..publish import SignOptions

    if not sign:
        if key or keyring or passphrase_file:
            raise click.UsageError("--key/--keyring/--passphrase-file need --sign")
        return None
    if not key:
        raise click.UsageError("--sign needs --key NAME")
    return SignOptions(key=key, keyring=keyring, passphrase_file=passphrase_file)


def _wait(msg: str) -> None:
    click.echo(msg, err=True)


def _describe(pkg) -> str:
    return f"{pkg.path} (sha256:{pkg.digest})" + (f", signed: {pkg.prov}" if pkg.prov else "")


@click.command()
@options.catalog
@options.out
@click.option("-d", "--dest", default="dist", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the .tgz (and .prov).")
@_sign_options
@options.helm
@click.pass_obj
def package(obj: Ctx, catalog, out, dest, sign, key, keyring, passphrase_file, helm):
    """Package the generated chart (charts/<name>-mesh) into DEST/<name>-<version>.tgz.

    The archive is reproducible: the same chart content gives the same bytes. The chart must
    be up to date with the catalog (run `chartgen generate` first).

    \b
    Example:
      chartgen package
      chartgen package --sign --key 'Mesh Release' --keyring ~/.gnupg/secring.gpg
    """
    from ..publish import package_catalog

    sign_opts = _sign(sign, key, keyring, passphrase_file)

    def run():
        pkg = package_catalog(catalog, out, dest, sign=sign_opts, helm=helm, wait_message=_wait)
        click.echo(f"packaged {pkg.name} {pkg.version}: {_describe(pkg)}")

    run_guarded(run, obj)


@click.command()
@options.catalog
@options.out
@click.option("--to", "to", required=True, metavar="DIR|oci://HOST/PATH",
              help="A chart repository directory (index.yaml is merged) or an OCI registry.")
@click.option("--url", default=None, metavar="URL",
              help="Base URL the repository directory is served from (default: relative URLs).")
@click.option("--plain-http", is_flag=True, help="Talk plain HTTP to the OCI registry (local/test registries).")
@click.option("--package", "package_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Publish this .tgz (and its .prov) instead of packaging the catalog's chart.")
@_sign_options
@options.helm
@click.pass_obj
def publish(obj: Ctx, catalog, out, to, url, plain_http, package_path, sign, key, keyring, passphrase_file, helm):
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
    from ..publish import publish_catalog

    sign_opts = _sign(sign, key, keyring, passphrase_file)
    if package_path and sign_opts:
        raise click.UsageError("--package publishes an existing archive; sign it with `chartgen package --sign`")

    def run():
        result = publish_catalog(catalog, out, to=to, url=url, plain_http=plain_http, package=package_path,
                                 sign=sign_opts, helm=helm, wait_message=_wait)
        pkg = result.package
        if result.changed:
            extra = f" ({result.digest})" if result.digest else f" (sha256:{pkg.digest})"
            click.echo(f"published {pkg.name} {pkg.version} to {result.target}{extra}")
        else:
            click.echo(f"already published: {pkg.name} {pkg.version} in {result.target} (identical; nothing changed)")

    run_guarded(run, obj)


commands = [package, publish]
