"""Package the generated mesh chart and publish it to a chart repository or an OCI registry.

* ``package_chart`` runs ``helm package`` on a copy of the chart directory whose file times and
  modes are normalised, so the same chart content always gives the same ``.tgz`` bytes
  (helm writes no timestamp of its own into the archive; it copies the files' mtimes).
* ``publish_repo`` adds a package to a classic chart repository (a directory of ``.tgz`` files
  plus ``index.yaml``, servable as static files); ``helm repo index`` writes the new entry and
  chartgen adds it to the index, keeping every key, entry and comment it does not own.
* ``publish_oci`` pushes a package to an ``oci://`` registry with ``helm push``.

A version that is already published is never overwritten with different content: both
publishers compare digests (and, for OCI, the archive contents) and raise ``VersionConflict``.
Publishing identical content again changes nothing. This module never prints.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ..catalog.edit import keep_layout
from .changeset import Changeset
from ..base.errors import CatalogError, ChartgenError, ToolError, failure_detail
from .generate import output_root, plan, record_release
from ..base.reading import decode, display, file_error, leftover_temps, walk_files
from ..base.toolchain import Tool, find_tool, run
from ..catalog.validate import load_catalog
from ..chart.values import chart_name
from ..base.writer import copy_file, locked, move_into_place, replace_file, scratch_tree, staging_dir
from ..base.yamlsrc import LimitError, safe_load_bounded

__all__ = [
    "FIXED_MTIME",
    "ChartNotGenerated",
    "Package",
    "PublishError",
    "PublishResult",
    "SigningError",
    "SignOptions",
    "VersionConflict",
    "chart_dir_for",
    "package_chart",
    "publish",
    "publish_oci",
    "package_catalog",
    "publish_catalog",
    "publish_repo",
    "read_package",
]

# 1980-01-01T00:00:00Z: every file in the packaged copy gets this mtime, so archives depend on
# content only (the same constant reproducible-build tools use for zip-compatible epochs).
FIXED_MTIME = 315532800

class PublishError(ChartgenError):
    """Packaging or publishing failed."""


class ChartNotGenerated(PublishError):
    """The chart directory is missing or out of date with the catalog."""


class SigningError(PublishError):
    """``helm package --sign`` failed (key, keyring or passphrase)."""


class VersionConflict(PublishError):
    """The chart version is already published with different content."""


@dataclass(frozen=True)
class SignOptions:
    key: str  # the key's name (uid substring), as for ``helm package --key``
    keyring: str | None = None  # a legacy secret keyring (``gpg --export-secret-keys > secring.gpg``)
    passphrase_file: str | None = None


@dataclass(frozen=True)
class Package:
    path: Path
    name: str
    version: str
    digest: str  # sha256 hex of the .tgz
    prov: Path | None = None


@dataclass(frozen=True)
class PublishResult:
    package: Package
    target: str  # repository directory or oci:// reference of the chart
    changed: bool  # False: the identical version was already there
    digest: str | None = None  # OCI manifest digest reported by helm push


# --- helpers ---------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _helm(helm: str | None) -> Tool:
    return find_tool("helm", helm)


def _chart_meta(chart_yaml_text: str, where: str) -> tuple[str, str]:
    try:
        meta = safe_load_bounded(chart_yaml_text, where) or {}
        return str(meta["name"]), str(meta["version"])
    except LimitError as exc:
        raise PublishError(f"{where}: not a valid Chart.yaml ({exc.problem.message})") from None
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise PublishError(f"{where}: not a valid Chart.yaml ({exc})") from None


def read_package(path: str | Path) -> Package:
    """Describe an existing chart archive (and the ``.prov`` beside it, if any)."""
    path = Path(path)
    if not path.is_file():
        raise PublishError(f"{path}: no such chart package")
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = next((m for m in tar.getmembers()
                           if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")), None)
            if member is None:
                raise PublishError(f"{path}: no Chart.yaml in the archive")
            text = tar.extractfile(member).read().decode("utf-8")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PublishError(f"{path}: not a chart archive ({exc})") from None
    name, version = _chart_meta(text, f"{path}:{member.name}")
    prov = path.with_name(path.name + ".prov")
    return Package(path=path, name=name, version=version, digest=_sha256(path),
                   prov=prov if prov.is_file() else None)


def _archive_contents(path: Path) -> dict[str, bytes]:
    """File name → bytes of a chart archive (ignores times, owners and modes)."""
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[m.name] = tar.extractfile(m).read()
    return out


def _same_content(a: Path, b: Path) -> bool:
    if _sha256(a) == _sha256(b):
        return True
    try:
        return _archive_contents(a) == _archive_contents(b)
    except (tarfile.TarError, OSError, EOFError):
        return False


# --- package ---------------------------------------------------------------------------------

def chart_dir_for(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None,
                  *, check: bool = True) -> Path:
    """The generated chart directory of a catalog; with ``check``, refuse a stale chart."""
    catalog_path = Path(catalog_path)
    catalog = load_catalog(catalog_path)
    root = output_root(catalog_path, out)
    rel = f"charts/{chart_name(catalog)}"
    chart_dir = root / rel
    if not (chart_dir / "Chart.yaml").is_file():
        raise ChartNotGenerated(f"{chart_dir}/Chart.yaml does not exist; run `chartgen generate -c {catalog_path}` first")
    if check:
        outcome = plan(catalog, root)
        stale = Changeset.between(root, {k: v for k, v in outcome.files.items() if k.startswith(rel + "/")},
                                  outcome.owned_dirs).under(rel).paths
        if stale:
            raise ChartNotGenerated(f"{rel} is out of date with {catalog_path} ({len(stale)} file(s), e.g. {stale[0]}); "
                                    f"run `chartgen generate -c {catalog_path}` first")
    return chart_dir


def _normalised_copy(chart_dir: Path, dst: Path) -> None:
    links = [p for p in walk_files(chart_dir) if p.is_symlink()]
    if links:  # chartgen writes no link there: a planted one would put what it names into the package
        raise PublishError(f"refusing to package {display(chart_dir)}: {display(links[0])} is a symbolic link (to "
                           f"{os.readlink(links[0])}); chartgen never writes one there. Run `chartgen generate` "
                           "(it removes it), then package again")
    scratch_tree(chart_dir, dst)
    for path in [dst, *dst.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    for path in [*dst.rglob("*"), dst]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def package_chart(chart_dir: str | Path, dest: str | Path, *, sign: SignOptions | None = None,
                  helm: str | None = None) -> Package:
    """``helm package`` a chart directory into ``dest`` reproducibly (optionally signed)."""
    chart_dir = Path(chart_dir)
    try:
        name, version = _chart_meta((chart_dir / "Chart.yaml").read_text(encoding="utf-8"), str(chart_dir / "Chart.yaml"))
    except OSError as exc:
        raise ChartNotGenerated(f"{chart_dir}: {exc.strerror}; run `chartgen generate` first") from None
    helm_tool = _helm(helm)
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_error(exc, dest, "create the directory") from None
    args: list[str] = []
    if sign is not None:
        if sign.keyring:
            keyring = Path(sign.keyring).expanduser()
            if not keyring.is_file():
                raise SigningError(f"keyring {sign.keyring} does not exist")
            if keyring.suffix == ".kbx":
                raise SigningError(f"{sign.keyring} is a GnuPG 2 keybox; helm needs a legacy secret keyring: "
                                   "`gpg --export-secret-keys > secring.gpg`, then --keyring secring.gpg")
            args += ["--keyring", str(keyring)]
        args += ["--sign", "--key", sign.key]
        if sign.passphrase_file:
            args += ["--passphrase-file", sign.passphrase_file]
    with tempfile.TemporaryDirectory(prefix="chartgen-package-") as tmp:
        copy = Path(tmp) / "src" / name
        _normalised_copy(chart_dir, copy)
        built = Path(tmp) / "out"
        built.mkdir()
        proc = run(helm_tool, "package", str(copy), "--destination", str(built), *args, check=False)
        if proc.returncode != 0:
            detail = failure_detail(proc.stderr, proc.stdout)
            if sign is not None and re.search(r"private key|secret key|keyring|passphrase|openpgp|no such file", detail, re.I):
                raise SigningError(f"signing failed: {detail} (helm needs a legacy secret keyring: "
                                   "`gpg --export-secret-keys > secring.gpg`, and --key must match its uid)")
            raise ToolError.from_process(proc, f"helm package {chart_dir}")
        tgz = built / f"{name}-{version}.tgz"
        if not tgz.is_file():
            found = sorted(built.glob("*.tgz"))
            if len(found) != 1:
                raise PublishError(f"helm package wrote no archive for {chart_dir}")
            tgz = found[0]
        target = dest / tgz.name
        prov_target = None
        stale_prov = dest / (tgz.name + ".prov")
        try:
            copy_file(tgz, target, mode=0o644)
            if sign is not None:
                prov_target = stale_prov
                copy_file(tgz.with_name(tgz.name + ".prov"), prov_target, mode=0o644)
            elif stale_prov.exists():
                stale_prov.unlink()  # a signature of an earlier build would no longer match
        except OSError as exc:
            raise file_error(exc, exc.filename or dest, "write") from None
    return Package(path=target, name=name, version=version, digest=_sha256(target), prov=prov_target)


# --- classic chart repository ----------------------------------------------------------------

def _load_index(path: Path) -> dict:
    if not path.exists():
        return {}
    fix = "restore it from a backup, or move it away to start a new index"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise file_error(exc, path, "read the repository index") from None
    try:
        text = decode(raw, display(path), "repository index")
    except CatalogError as exc:
        p = exc.problems[0]
        raise PublishError(f"{p.file}:{p.line}:{p.col}: {p.message.split(';')[0]}; {fix}") from None
    try:
        data = safe_load_bounded(text, display(path)) or {}
    except LimitError as exc:
        p = exc.problem
        raise PublishError(f"{p.file}:{p.line}:{p.col}: the repository index is not usable ({p.message}); "
                           f"{fix}") from None
    except RecursionError:
        raise PublishError(f"{display(path)}: the repository index is nested too deeply to read; {fix}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PublishError(f"{display(path)}{where}: the repository index is not valid YAML ({problem}); "
                           f"{fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries", {}) or {}, dict):
        raise PublishError(f"{display(path)} is not a chart repository index (no `entries` mapping); {fix}")
    return data


def _repository_dir(repo_dir: str | Path) -> Path:
    """The repository directory of ``--to``: an existing directory, or a new one in an
    existing parent (a mistyped path is not created)."""
    repo = Path(repo_dir)
    if repo.exists() and not repo.is_dir():
        raise PublishError(f"--to {repo_dir}: not a directory")
    parent = repo.resolve().parent
    if not repo.exists() and not parent.is_dir():
        raise PublishError(f"--to {repo_dir}: the parent directory {parent} does not exist; create it first "
                           "(chartgen creates only the repository directory itself), or fix the path")
    return repo


def _remove_leftovers(repo: Path) -> None:
    """The staging directory (or file) of a publish that was killed."""
    for left in leftover_temps([repo]):
        if left.is_dir():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def _listed(index: dict, pkg: Package, repo: Path, target: Path) -> list[dict]:
    """The index entries of ``pkg``'s version; a different archive under that version (listed
    or on disk) is refused."""
    entries = (index.get("entries") or {}).get(pkg.name) or []
    listed = [e for e in entries if isinstance(e, dict) and str(e.get("version")) == pkg.version]
    for entry in listed:
        if not entry.get("digest") and not (target.exists() and _sha256(target) == pkg.digest):
            raise VersionConflict(
                f"{pkg.name} {pkg.version} is already listed in {repo / 'index.yaml'} without a digest, and "
                f"{target.name} {'has different content' if target.exists() else 'is not in the repository'}: "
                "chartgen cannot tell that entry is this package, so it does not replace it; bump the chart "
                "version (`chartgen generate`), or remove that entry by hand if it is stale")
        if entry.get("digest") and entry["digest"] != pkg.digest:
            raise VersionConflict(
                f"{pkg.name} {pkg.version} is already published in {repo} with different content "
                f"(digest {entry['digest'][:12]}…, this package {pkg.digest[:12]}…); bump the chart version "
                "(`chartgen generate`) instead of overwriting a release")
    if target.exists() and _sha256(target) != pkg.digest:
        raise VersionConflict(f"{target} exists with different content; refusing to overwrite "
                              f"{pkg.name} {pkg.version}")
    return listed


def _add_to_repo(pkg: Package, repo: Path, helm: Tool, url: str | None, add_prov: bool) -> None:
    """Stage the archive and the merged index beside the repository, then rename them into
    place: the package first, the index last, so a reader never sees an entry without its
    archive."""
    index_path = repo / "index.yaml"
    target = repo / pkg.path.name
    prov_target = repo / (pkg.path.name + ".prov")
    try:
        with staging_dir(repo) as stage:
            copy_file(pkg.path, stage / pkg.path.name, mode=0o644)
            args = ["repo", "index", str(stage)]
            if url:
                args += ["--url", url.rstrip("/")]
            run(helm, *args, what=f"helm repo index {repo}")  # the entry of this package alone
            if index_path.exists():
                merged = merge_index(index_path.read_bytes().decode("utf-8"),
                                     (stage / "index.yaml").read_text(encoding="utf-8"), pkg.name)
                replace_file(stage / "index.yaml", merged)
            move_into_place(stage / pkg.path.name, target)
            if add_prov:
                copy_file(pkg.prov, stage / prov_target.name, mode=0o644)
                move_into_place(stage / prov_target.name, prov_target)
            move_into_place(stage / "index.yaml", index_path)
    except OSError as exc:
        if getattr(exc, "staging", False):
            raise file_error(exc, repo, "create a temporary directory in") from None
        raise file_error(exc, exc.filename or repo, "write") from None


def merge_index(current: str, new: str, name: str) -> str:
    """The repository index ``current`` (its text) with the entries of chart ``name`` that the
    one-package index ``new`` holds added, and its ``generated`` time: every other key
    (``serverInfo``, ``annotations``, keys of other tools), entry and comment is kept, which
    ``helm repo index --merge`` does not do. An entry of the same version with the same
    digest stays as it is. The caller has read ``current`` within chartgen's YAML limits."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=2, offset=0)
    try:
        doc = rt.load(current.removeprefix("\ufeff").replace("\r\n", "\n"))
    except YAMLError as exc:  # what PyYAML let through: a duplicate key
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise PublishError(f"the repository index cannot be edited: {problem}{where}; fix it, or move it away to "
                           "start a new index") from None
    added = (yaml.safe_load(new) or {})
    if not isinstance(doc, CommentedMap):  # an empty file
        doc = CommentedMap(apiVersion=added.get("apiVersion", "v1"))
    entries = doc.get("entries")
    if not isinstance(entries, CommentedMap):
        entries = doc["entries"] = CommentedMap()
    versions = entries.get(name)
    if not isinstance(versions, CommentedSeq):
        versions = entries[name] = CommentedSeq()
    have = {(str(e.get("version")), e.get("digest")) for e in versions if isinstance(e, dict)}
    for entry in reversed(added.get("entries", {}).get(name) or []):
        if (str(entry.get("version")), entry.get("digest")) not in have:
            versions.insert(0, entry)
    if "generated" in added:
        doc["generated"] = added["generated"]
    buf = io.StringIO()
    rt.dump(doc, buf)
    return keep_layout(current, buf.getvalue())  # its line endings and byte-order mark


def publish_repo(pkg: Package, repo_dir: str | Path, *, url: str | None = None, helm: str | None = None) -> PublishResult:
    """Add ``pkg`` to the chart repository directory ``repo_dir`` (created if missing; its
    parent must exist, so a mistyped path is not created).

    Earlier versions stay listed. An existing version with a different digest is refused and
    nothing in the repository changes; the identical version again is a no-op.
    """
    repo = _repository_dir(repo_dir)
    helm_tool = _helm(helm)
    with locked(repo):
        _remove_leftovers(repo)
        target = repo / pkg.path.name
        listed = _listed(_load_index(repo / "index.yaml"), pkg, repo, target)
        prov_target = repo / (pkg.path.name + ".prov")
        add_prov = pkg.prov is not None and not prov_target.exists()
        if listed and target.exists():  # already published: at most its signature is new
            if add_prov:
                copy_file(pkg.prov, prov_target, mode=0o644)
            return PublishResult(pkg, str(repo), changed=add_prov)
        _add_to_repo(pkg, repo, helm_tool, url, add_prov)
    return PublishResult(pkg, str(repo), changed=True)


# --- OCI registry ----------------------------------------------------------------------------

_NOT_FOUND = re.compile(r"not found|manifest unknown|name unknown|404", re.I)


def publish_oci(pkg: Package, ref: str, *, plain_http: bool = False, helm: str | None = None) -> PublishResult:
    """``helm push`` ``pkg`` to ``ref`` (``oci://host/path``), unless that tag already exists.

    Credentials come from helm's registry configuration (``helm registry login``).
    """
    if not ref.startswith("oci://"):
        raise PublishError(f"{ref}: an OCI reference must start with oci://")
    ref = ref.rstrip("/")
    chart_ref = f"{ref}/{pkg.name}"
    helm_tool = _helm(helm)
    http = ["--plain-http"] if plain_http else []
    with tempfile.TemporaryDirectory(prefix="chartgen-oci-") as tmp:
        proc = run(helm_tool, "pull", chart_ref, "--version", pkg.version, "--destination", tmp, *http, check=False)
        if proc.returncode == 0:
            existing = sorted(Path(tmp).glob("*.tgz"))
            if not existing or not _same_content(existing[0], pkg.path):
                theirs = _sha256(existing[0])[:12] if existing else "?"
                raise VersionConflict(
                    f"{chart_ref}:{pkg.version} already exists with different content (sha256 {theirs}…, this "
                    f"package {pkg.digest[:12]}…); bump the chart version (`chartgen generate`) instead of "
                    "overwriting a release")
            return PublishResult(pkg, chart_ref, changed=False)
        detail = failure_detail(proc.stderr, proc.stdout) or f"exit code {proc.returncode}"
        if not _NOT_FOUND.search(detail):
            raise PublishError(f"cannot check {chart_ref}:{pkg.version}: {detail}"
                               + (" (an http-only registry needs --plain-http)" if "HTTPS client" in detail else ""))
    proc = run(helm_tool, "push", str(pkg.path), ref, *http, what=f"helm push {pkg.path.name} {ref}")
    m = re.search(r"Digest:\s*(sha256:[0-9a-f]+)", proc.stdout + proc.stderr)
    return PublishResult(pkg, chart_ref, changed=True, digest=m.group(1) if m else None)


def publish(pkg: Package, to: str, *, url: str | None = None, plain_http: bool = False,
            helm: str | None = None) -> PublishResult:
    """Publish to an ``oci://`` registry or a repository directory, by the form of ``to``."""
    if to.startswith("oci://"):
        if url:
            raise PublishError("--url applies to a chart repository directory, not to an oci:// registry")
        return publish_oci(pkg, to, plain_http=plain_http, helm=helm)
    if re.match(r"^[a-z][a-z0-9+.-]*://", to):
        raise PublishError(f"--to {to}: expected a directory or oci://host/path (upload the directory with "
                           "your static host's own tooling)")
    if plain_http:
        raise PublishError("--plain-http applies to oci:// registries only")
    return publish_repo(pkg, to, url=url, helm=helm)



# --- the workflows of `chartgen package` and `chartgen publish` ------------------------------

def package_catalog(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None,
                    dest: str | Path = "dist", *, sign: SignOptions | None = None, helm: str | None = None,
                    wait_message=None) -> Package:
    """Package the catalog's generated chart (refused when stale) into ``dest`` and record
    its version as released, so later versions are computed against it. Both happen under
    the output tree's lock: no ``generate`` rewrites the chart while it is packaged."""
    with locked(output_root(catalog_path, out), wait_message=wait_message):
        chart_dir = chart_dir_for(catalog_path, out)
        pkg = package_chart(chart_dir, dest, sign=sign, helm=helm)
        record_release(chart_dir, pkg.version)
    return pkg


def publish_catalog(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None, *, to: str,
                    url: str | None = None, plain_http: bool = False, package: str | Path | None = None,
                    sign: SignOptions | None = None, helm: str | None = None, wait_message=None) -> PublishResult:
    """Publish ``package`` (an existing archive), or package the catalog's chart (as
    ``package_catalog``, into a temporary directory) and publish that, then record the
    version as released. ``result.package`` is what was published."""
    if package is not None:
        return publish(read_package(package), to, url=url, plain_http=plain_http, helm=helm)
    with tempfile.TemporaryDirectory(prefix="chartgen-publish-") as tmp:
        with locked(output_root(catalog_path, out), wait_message=wait_message):
            chart_dir = chart_dir_for(catalog_path, out)
            pkg = package_chart(chart_dir, tmp, sign=sign, helm=helm)
        result = publish(pkg, to, url=url, plain_http=plain_http, helm=helm)
        with locked(output_root(catalog_path, out), wait_message=wait_message):
            record_release(chart_dir, pkg.version)
    return result
