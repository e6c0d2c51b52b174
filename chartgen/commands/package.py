"""``chartgen package``: the generated chart as a reproducible .tgz (signed on request)."""

from __future__ import annotations

import click

from ..lifecycle.publish import SignOptions, package_catalog
from . import options
from .common import Ctx, err, run_guarded


def _describe(pkg) -> str:
    return f"{pkg.path} (sha256:{pkg.digest})" + (f", signed: {pkg.prov}" if pkg.prov else "")


@click.command("package")
@options.catalog
@options.out
@click.option("-d", "--dest", default="dist", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the .tgz (and .prov).")
@options.signing
@options.helm
@click.pass_obj
def command(obj: Ctx, catalog, out, dest, sign, key, keyring, passphrase_file, helm):
    """Package the generated chart (charts/<name>-mesh) into DEST/<name>-<version>.tgz.

    The archive is reproducible: the same chart content gives the same bytes. The chart must
    be up to date with the catalog (run `chartgen generate` first).

    \b
    Example:
      chartgen package
      chartgen package --sign --key 'Mesh Release' --keyring ~/.gnupg/secring.gpg
    """

    choice = options.signing_choice(sign, key, keyring, passphrase_file)
    sign_opts = SignOptions(**choice) if choice else None

    def run():
        pkg = package_catalog(catalog, out, dest, sign=sign_opts, helm=helm, wait_message=err)
        click.echo(f"packaged {pkg.name} {pkg.version}: {_describe(pkg)}")

    run_guarded(run, obj)
