#!/usr/bin/env python3
"""Install the pinned checkov into its own virtualenv, ``.tools/checkov/venv``.

checkov is large (about 300 MB) and pins many libraries, so it never shares chartgen's
venv. ``chartgen lint`` finds it through ``CHARTGEN_CHECKOV``, then
``.tools/checkov/venv/bin/checkov``, then ``checkov`` on PATH.

Idempotent: running it again is a no-op when the pinned version is already installed
(a stamp file records it). Standard library only. Usage::

    python3 tools/install_checkov.py [--dest DIR] [--quiet]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

CHECKOV_VERSION = "3.3.30"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / ".tools" / "checkov"
STAMP = ".installed"


def _installed(dest: Path) -> bool:
    stamp = dest / STAMP
    checkov = dest / "venv" / "bin" / "checkov"
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == CHECKOV_VERSION and checkov.is_file()


def install(dest: Path, quiet: bool = False) -> Path:
    if _installed(dest):
        if not quiet:
            print(f"checkov {CHECKOV_VERSION} already installed")
        return dest / "venv" / "bin" / "checkov"
    env_dir = dest / "venv"
    if env_dir.exists():
        shutil.rmtree(env_dir)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / STAMP).unlink(missing_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    q = ["--quiet"] if quiet else []
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(py), "-m", "pip", "install", *q, f"checkov=={CHECKOV_VERSION}"], check=True, env=env)
    checkov = env_dir / "bin" / "checkov"
    out = subprocess.run([str(checkov), "--version"], check=True, capture_output=True, text=True).stdout.strip()
    if out != CHECKOV_VERSION:
        raise SystemExit(f"checkov reports version {out!r}, expected {CHECKOV_VERSION}")
    (dest / STAMP).write_text(CHECKOV_VERSION + "\n", encoding="utf-8")
    if not quiet:
        print(f"installed checkov {CHECKOV_VERSION} into {env_dir}")
    return checkov


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="install directory (default: .tools/checkov)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    install(args.dest, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
