"""The options more than one command takes, each defined once (``commands/*`` import them from
here): the catalog, the output root, the output format, colour, environments, ``--check``, the
chart mirror, the tool binaries and signing."""

from __future__ import annotations

import functools

import click

DEFAULT_CATALOG = "catalog.yaml"
CATALOG_HELP = "The service catalog (default: ./catalog.yaml); also accepted as the CATALOG argument."


def catalog(fn):
    """The catalog, as ``-c/--catalog FILE`` or as an optional last positional argument
    (pre-commit and editors pass file names; every linter accepts them)."""

    @functools.wraps(fn)
    def wrapper(*args, catalog=None, catalog_arg=None, **kwargs):
        if catalog and catalog_arg and catalog != catalog_arg:
            raise click.UsageError(f"two catalogs given ({catalog_arg} and -c {catalog}); give one")
        return fn(*args, catalog=catalog_arg or catalog or DEFAULT_CATALOG, **kwargs)

    wrapper = click.option("-c", "--catalog", "catalog", default=None, metavar="FILE",
                           type=click.Path(dir_okay=False), help=CATALOG_HELP)(wrapper)
    return click.argument("catalog_arg", required=False, metavar="[CATALOG]", type=click.Path(dir_okay=False))(wrapper)


out = click.option("-o", "--out", "out", default=None, type=click.Path(file_okay=False),
                   help="Output root (default: the catalog's directory).")

# a command whose result is one file (graph): -o names that file, not an output root
output_file = click.option("-o", "--output", "output", default=None, type=click.Path(dir_okay=False),
                           help="Write to this file instead of stdout.")

# export's --out is not the output root: it is where the GitOps objects go (no -o: it is another thing)
export_out = click.option("--out", "out", default=None, type=click.Path(file_okay=False),
                          help="Directory to write (default: gitops/<tool>/ beside the catalog; must be inside it).")

color = click.option("--color/--no-color", "color", default=None,
                     help="Colour the output (default: on a terminal, unless NO_COLOR is set).")

# --check has two meanings, each declared once: a command that writes files checks them without
# writing (exit 1 if stale), and `schema` checks one file the user names against its output.


def check_output(stale: str):
    """``--check``: write nothing; exit 1 if what the command would write differs (``stale``:
    the clause that says so, e.g. "the committed output is stale")."""
    return click.option("--check", is_flag=True, help=f"Write nothing; exit 1 if {stale}.")


check_file = click.option("--check", "check_path", default=None, metavar="FILE", type=click.Path(dir_okay=False),
                          help="Write nothing; exit 1 if FILE differs from the output.")

chart_mirror = click.option("--chart-mirror", default=None, metavar="URL",
                            help="Pull every remote chart from this one repository or oci:// registry "
                                 "(air-gapped use).")


def output_format(*choices: str, help: str | None = None):
    """``--format`` among ``choices`` (the first is the default)."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=choices[0], show_default=True,
                        help=help)


def environments(verb: str):
    """``--env ENV``, repeatable: the command works on these environments only."""
    return click.option("--env", "envs", multiple=True, metavar="ENV",
                        help=f"{verb} only this environment (repeatable; default: all).")


def environment(help: str):
    """``--env ENV``: one environment."""
    return click.option("--env", "env", default=None, metavar="ENV", help=help)


def tool_binary(name: str, dest: str | None = None, what: str | None = None):
    """``--<name> PATH``: the binary of an external tool (else ``chartgen.toolchain``'s lookup
    order: ``CHARTGEN_<NAME>``, ``.tools/bin``, ``PATH``)."""
    return click.option(f"--{name}", dest or name, default=None, metavar="PATH",
                        help=f"{what or name} binary (default: lookup order).")


helm = tool_binary("helm")


def signing(fn):
    """``--sign --key NAME [--keyring FILE] [--passphrase-file FILE]``: sign the package
    (package, publish); ``signing_choice`` checks the combination."""
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


def signing_choice(sign: bool, key: str | None, keyring: str | None, passphrase_file: str | None) -> dict | None:
    """The signing options given (``publish.SignOptions``' fields), or None without --sign;
    a usage error for a key without --sign or --sign without a key."""
    if not sign:
        if key or keyring or passphrase_file:
            raise click.UsageError("--key/--keyring/--passphrase-file need --sign")
        return None
    if not key:
        raise click.UsageError("--sign needs --key NAME")
    return {"key": key, "keyring": keyring, "passphrase_file": passphrase_file}
