"""The only module that writes chartgen's files. One atomic write, used by every command:
the new content is staged in a temporary file beside its target (``.<name>.<random>.chartgen-tmp``,
which the starter ``.gitignore`` lists and a later run removes), fsynced, given the target's
mode, renamed over the target with SIGINT/SIGTERM held, and the directory is fsynced; on any
failure the staged file is removed and the target is as it was. ``replace_file`` writes one
file, ``copy_file`` copies one, ``staging_dir`` / ``move_into_place`` stage several for a
caller that renames them in its own order (publish), ``write_plan`` writes a generated tree
(only changed files, all staged before any is renamed) under the project lock ``locked``,
with the guards: no write through a link out of the root, into a symbolically linked owned
directory, over a read-only file, or over a file chartgen did not write (without ``force``).
``--check`` compares without writing."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import ChartgenError
from .provenance import MARK, is_chartgens
from .reading import (TMP_SUFFIX, FileError, display, file_error, leftover_temps, os_error_message, outside_link,
                     outside_message, refuse_linked_dirs)

LOCK_NAME = ".chartgen.lock"


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)  # temporary files of a killed run, removed

    @property
    def changed(self) -> list[str]:
        return sorted(self.written + self.deleted)


@contextlib.contextmanager
def locked(root: Path, wait_message=None, timeout: float = 120.0):
    """Serialise chartgen runs on one output tree (generate, the catalog edits, publish)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_error(exc, root, "create the output directory") from None
    try:
        # O_NOFOLLOW: a lock file planted as a symbolic link never creates a file elsewhere
        try:
            fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except PermissionError as denied:  # another user's lock file: flock needs only a readable descriptor
            try:
                fd = os.open(root / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:
                raise denied from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileError(f"refusing to use the lock file {display(root / LOCK_NAME)}: it is a symbolic link "
                            f"(to {os.readlink(root / LOCK_NAME)}); remove it and run again") from None
        raise FileError(os_error_message(exc, root / LOCK_NAME, "create the lock file")
                        + " (chartgen needs write access to the output directory)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise file_error(exc, root / LOCK_NAME, "lock") from None
            if wait_message:
                wait_message(f"another chartgen run is writing to {root}; waiting for it to finish…")
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise ChartgenError(f"timed out after {timeout:.0f}s waiting for the lock {root / LOCK_NAME}; "
                                            "another chartgen run holds it (wait for it, or stop it)") from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while files are renamed into place. An interrupt that arrived
    meanwhile is raised afterwards, marked ``committed``: the files are already written."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        except KeyboardInterrupt as exc:
            exc.committed = True
            raise


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some file systems refuse it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _stage(directory: Path, name: str, fill, mode: int) -> Path:
    """A temporary file ``.<name>.<random>.chartgen-tmp`` in ``directory``, filled by
    ``fill(binary_file)``, fsynced, with ``mode``. Removed again if anything fails (an
    interrupt included). Raises OSError, with ``staging`` set when none could be created."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=TMP_SUFFIX, dir=directory)
    except OSError as exc:
        exc.staging = True  # no file could be created in the directory (vs. writing it failed)
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _mode_of(target: Path, mode: int | None) -> int:
    if mode is not None:
        return mode
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        return 0o644


def move_into_place(staged: Path, target: Path) -> None:
    """Rename ``staged`` (in ``target``'s directory) over ``target`` with SIGINT/SIGTERM held,
    then fsync the directory. Raises OSError."""
    with _signals_deferred():
        os.replace(staged, target)
    fsync_dir(target.parent)


def _replace_with(target: Path, fill, mode: int | None) -> None:
    staged = _stage(target.parent, target.name, fill, _mode_of(target, mode))
    try:
        move_into_place(staged, target)
    except BaseException as exc:
        if not getattr(exc, "committed", False):
            with contextlib.suppress(OSError):
                staged.unlink()
        raise


def replace_file(path: str | Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (a str is written as UTF-8) atomically: a reader sees the
    old file or the new one, never a part. The file keeps its mode (a new one gets 0644)
    unless ``mode`` is given. ``path`` is written as given: a caller that keeps a symbolic
    link resolves it first. Raises OSError (nothing changed)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _replace_with(Path(path), lambda fh: fh.write(raw), mode)


def copy_file(source: str | Path, path: str | Path, *, mode: int | None = None) -> None:
    """Replace ``path`` with a copy of ``source``, atomically as ``replace_file``."""
    def fill(fh):
        with open(source, "rb") as src:
            shutil.copyfileobj(src, fh)

    _replace_with(Path(path), fill, mode)


@contextlib.contextmanager
def staging_dir(parent: Path):
    """A temporary directory ``.<random>.chartgen-tmp`` in ``parent`` (so its files can be
    renamed into ``parent`` with ``move_into_place``), removed on exit. Raises OSError, with
    ``staging`` set when it cannot be created."""
    try:
        stage = Path(tempfile.mkdtemp(prefix=".", suffix=TMP_SUFFIX, dir=parent))
    except OSError as exc:
        exc.staging = True
        raise
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def scratch_file(path: Path, data: bytes | str) -> None:
    """Write a file (creating its directory) in a private scratch directory, one that
    ``tempfile.TemporaryDirectory`` made for a tool to read and removes afterwards: never
    one of chartgen's outputs, so written in place, without staging."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(raw)


def scratch_tree(source: Path, dest: Path) -> None:
    """Copy the directory ``source`` to ``dest`` in a private scratch directory (see
    ``scratch_file``), links copied as the files they name."""
    shutil.copytree(source, dest, symlinks=False)


def check_targets(root: Path, rels, deleting: bool = False) -> None:
    """Refuse to write or delete through a symbolic link that leads out of ``root``, and to
    replace a file that was made read-only. With ``deleting``, a path that is itself a link is
    fine wherever it points: the link is removed, never what it names."""
    for rel in rels:
        if deleting and os.path.islink(root / rel):
            parent = Path(rel).parent.as_posix()
            link = outside_link(root, parent) if parent != "." else None
            if link is not None:
                raise FileError(outside_message(root, rel, link))
            continue
        link = outside_link(root, rel)
        if link is not None:
            raise FileError(outside_message(root, rel, link))
        path = root / rel
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not st.st_mode & 0o200:
            raise FileError(f"refusing to replace {display(path)}: it is read-only (mode {st.st_mode & 0o777:04o}); "
                            f"make it writable (chmod u+w {display(path)}) and run again; nothing was changed")


def check_link_targets(root: Path, rels, files, owned_dirs: tuple[str, ...] = (), protect=()) -> None:
    """Refuse a file to write (of ``rels``) that is a symbolic link (written through, see
    ``_real_target``) to a file chartgen must not write through it: one of ``protect`` (the
    catalog) or another file of the plan ``files`` (two outputs, one file)."""
    links = [rel for rel in rels if os.path.islink(root / rel)
             and not any(rel.startswith(d.rstrip("/") + "/") for d in owned_dirs)]
    if not links:
        return
    where: dict[str, list[str]] = {}
    for rel in files:
        where.setdefault(os.path.realpath(root / rel), []).append(rel)
    guarded = {os.path.realpath(p): display(p) for p in protect}
    for rel in links:
        real = os.path.realpath(root / rel)
        other = guarded.get(real) or next((o for o in where.get(real, []) if o != rel), None)
        if other is not None:
            raise FileError(f"refusing to write {rel}: it is a symbolic link to {os.readlink(root / rel)}, which is "
                            f"{other}; chartgen would overwrite it through the link. Remove the link and run again; "
                            "nothing was changed")


def check_ours(root: Path, rels, owned_dirs: tuple[str, ...] = (), merged=(), force: bool = False) -> None:
    """Refuse to replace a file that chartgen did not write (no ``Generated by chartgen`` near
    its top), unless ``force``. Files in a directory chartgen owns are its own, and the user's
    values files (``merged``) keep the user's keys: neither is replaced."""
    if force:
        return
    merged = set(merged)
    for rel in rels:
        if rel in merged or any(rel.startswith(d.rstrip("/") + "/") for d in owned_dirs if d != "."):
            continue
        try:
            with open(root / rel, "rb") as fh:
                head = fh.read(1024)
        except OSError:
            continue
        if not is_chartgens(head):
            raise FileError(f"refusing to replace {display(root / rel)}: chartgen did not write it (no `{MARK}` "
                            "header); move it away, or run again with --force to replace it; nothing was changed")


def _real_target(root: Path, rel: str, owned_dirs: tuple[str, ...] = ()) -> Path:
    """Where ``rel`` is written: through a symbolic link (one that stays inside ``root``,
    see ``check_targets``) to the file it names, so the link is kept; in a directory chartgen
    owns, a link is replaced by the file, never written through."""
    path = root / rel
    if any(rel.startswith(d.rstrip("/") + "/") for d in owned_dirs):
        return path
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def clean_leftovers(root: Path, rels, owned_dirs: tuple[str, ...] = ()) -> list[str]:
    """Remove chartgen's temporary files that a killed run left in the directories it writes
    to (the root, the directory of every planned file, the owned directories); call it
    holding the lock. Returns them (relative to ``root`` when below it)."""
    dirs = {root} | {(root / rel).parent for rel in rels} | {root / d for d in owned_dirs}
    # never through a link out of the root (write_plan refuses those paths afterwards)
    dirs = {d for d in dirs if d == root or outside_link(root, d.relative_to(root).as_posix()) is None}
    removed = []
    for path in leftover_temps(sorted(dirs)):
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path))
    return removed


def _stage_planned(root: Path, rel: str, target: Path, text: str) -> Path:
    raw = text.encode("utf-8")
    try:
        return _stage(target.parent, target.name, lambda fh: fh.write(raw), _mode_of(target, None))
    except OSError as exc:
        if getattr(exc, "staging", False):
            raise FileError(os_error_message(exc, target.parent, "create a temporary file in")
                            + "; nothing was changed") from None
        raise FileError(os_error_message(exc, root / rel, "write") + "; nothing was changed") from None


class PlannedChanges(Protocol):
    """What ``write_plan`` needs to know of the difference between a plan and the disk
    (``lifecycle.changeset.Changeset`` is one): every path that differs, in order, and which of
    them are changed files and stale files to delete."""

    def __bool__(self) -> bool: ...

    @property
    def paths(self) -> list[str]: ...

    @property
    def changed(self) -> list[str]: ...

    @property
    def removed(self) -> list[str]: ...


Diff = Callable[[Path, dict[str, str], tuple[str, ...]], PlannedChanges]
"""How ``write_plan`` learns what differs (``Changeset.between``; the lifecycle above passes it)."""


def write_plan(root: Path, files: dict[str, str], owned_dirs: tuple[str, ...] = (), *, diff: Diff,
               before_commit=None, merged=(), force: bool = False, protect=()) -> WriteResult:
    """Write the changed files of ``files`` below ``root``; delete stale files in ``owned_dirs``.

    ``diff(root, files, owned_dirs)`` says what differs on disk; it is asked after the leftovers
    of a killed run are gone, so they never count as stale files.

    Every changed file is first written to a temporary file beside its target. Only when
    all of them are staged (and ``before_commit`` has not raised) are they renamed into
    place; on any failure the staged files are removed and the tree is as it was.
    Temporary files left by a killed run are removed first (``result.cleaned``). A file
    outside ``owned_dirs`` and ``merged`` that chartgen did not write is never replaced
    without ``force`` (``check_ours``).
    """
    result = WriteResult()
    refuse_linked_dirs(root, owned_dirs, files)  # before anything is removed, leftovers included
    result.cleaned = clean_leftovers(root, files, owned_dirs)
    changes = diff(root, files, owned_dirs)
    if not changes:
        return result
    to_delete = changes.removed
    to_write = [path for path in changes.paths if path not in set(to_delete)]
    check_targets(root, to_write)
    check_targets(root, to_delete, deleting=True)
    check_link_targets(root, to_write, files, owned_dirs, protect)
    check_ours(root, changes.changed, owned_dirs, merged, force)
    staged: list[tuple[str, Path, Path]] = []
    dirs: set[Path] = set()  # where temporary files may be: an interrupt can land between creating one and noting it
    try:
        for rel in to_write:
            target = _real_target(root, rel, owned_dirs)
            dirs.add(target.parent)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise file_error(exc, target.parent, "create the directory") from None
            staged.append((rel, target, _stage_planned(root, rel, target, files[rel])))
        if before_commit is not None:
            before_commit()
    except BaseException:
        for tmp in {tmp for _, _, tmp in staged} | set(leftover_temps(sorted(dirs))):  # the lock is ours: all ours
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    with _signals_deferred():
        try:
            for rel, target, tmp in staged:
                os.replace(tmp, target)
                result.written.append(rel)
            for directory in sorted({target.parent for _, target, _ in staged}):
                fsync_dir(directory)
            for rel in to_delete:
                with contextlib.suppress(FileNotFoundError):
                    (root / rel).unlink()
                result.deleted.append(rel)
        except OSError as exc:
            for _, _, tmp in staged:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            done = len(result.written) + len(result.deleted)
            raise FileError(os_error_message(exc, exc.filename, "replace")
                            + (f" ({done} file(s) were already replaced; run again once it is fixed)" if done else
                               "; nothing was changed")) from None
    return result
