"""``chartgen init`` as a library call: a commented starter catalog, and a ``.gitignore``
beside it for what chartgen leaves there that is not for version control."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import ChartgenError
from importlib import resources
from ..catalog.edit import write_atomic
from ..base.reading import FileError, TMP_SUFFIX, display, file_error
from ..base.writer import LOCK_NAME


@dataclass(frozen=True)
class Started:
    catalog: Path  # the starter catalog written
    gitignore: Path | None  # the .gitignore written or completed; None when it had every line


def gitignore_text(current: str | None) -> str:
    """``current`` (a .gitignore, or None) with chartgen's lines added where missing: what
    chartgen leaves beside a catalog that is not for version control (the lock of a run, the
    temporary files of an interrupted one, `chartgen package`'s archives)."""
    have = set((current or "").splitlines())
    missing = [line for line in (LOCK_NAME, f"*{TMP_SUFFIX}", "/dist/") if line not in have]
    if not missing:
        return current if current is not None else ""
    text = current or ""
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + "\n".join(["# chartgen", *missing]) + "\n"


def _refuse_link(path: Path, project: Path) -> None:
    """Refuse to write ``path`` when it is a symbolic link that is dangling or leads out of the
    ``project`` directory: ``init`` would create or replace a file somewhere else."""

    if not os.path.islink(path):
        return
    target = os.readlink(path)
    real = os.path.realpath(path)
    root = os.path.realpath(project)
    if not os.path.exists(path):
        why = "a dangling symbolic link"
    elif os.path.commonpath([root, real]) != root:
        why = f"a symbolic link out of the project {display(root)}"
    else:
        return
    raise FileError(f"refusing to write {display(path)}: it is {why} (to {target}); chartgen init never writes "
                    "through it. Remove the link and run again; nothing was changed")


def init_catalog(path: str | Path = "catalog.yaml", *, force: bool = False) -> Started:
    """Write the starter catalog to ``path`` (an existing file only with ``force``), and add
    chartgen's lines to the ``.gitignore`` beside it where they are missing."""
    target = Path(path)
    ignore = target.parent / ".gitignore"
    for checked in (target, ignore):
        _refuse_link(checked, target.parent)
    if target.exists() and not force:
        raise ChartgenError(f"{path} exists; use --force to overwrite it")
    text = (resources.files("chartgen") / "data" / "starter-catalog.yaml").read_text(encoding="utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_error(exc, target.parent, "create the directory") from None
    try:
        write_atomic(target, text)
    except OSError as exc:
        raise file_error(exc, target, "write") from None
    try:
        current = ignore.read_text(encoding="utf-8") if ignore.exists() else None
        merged = gitignore_text(current)
        if merged != current:
            write_atomic(ignore, merged)
    except (OSError, UnicodeDecodeError) as exc:
        raise file_error(exc, ignore, "update") from None
    return Started(target, ignore if merged != current else None)


__all__ = ["Started", "gitignore_text", "init_catalog"]
