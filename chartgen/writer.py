"""Writing the plan: only changed files, staged first and then renamed into place, under
a lock. ``--check`` compares without writing. The only module that writes outputs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ChartgenError

LOCK_NAME = ".chartgen.lock"


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return sorted(self.written + self.deleted)


def stale_paths(root: Path, files: dict[str, str], owned_dirs: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(files to write, files to delete) so that ``root`` matches ``files``."""
    to_write = []
    for rel, text in files.items():
        path = root / rel
        try:
            if path.read_bytes() == text.encode("utf-8"):
                continue
        except OSError:
            pass
        to_write.append(rel)
    to_delete = []
    for d in owned_dirs:
        base = root / d
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    rel = path.relative_to(root).as_posix()
                    if rel not in files:
                        to_delete.append(rel)
    return sorted(to_write), to_delete


@contextlib.contextmanager
def locked(root: Path, wait_message=None, timeout: float = 120.0):
    """Serialise chartgen runs on one output tree."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if wait_message:
                wait_message(f"another chartgen run is writing to {root}; waiting for it to finish…")
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise ChartgenError(f"timed out after {timeout:.0f}s waiting for the lock {root / LOCK_NAME}") from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while files are renamed into place."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_plan(root: Path, files: dict[str, str], owned_dirs: tuple[str, ...] = (), *, before_commit=None) -> WriteResult:
    """Write the changed files of ``files`` below ``root``; delete stale files in ``owned_dirs``.

    Every changed file is first written to a temporary file beside its target. Only when
    all of them are staged (and ``before_commit`` has not raised) are they renamed into
    place; on any failure the staged files are removed and the tree is as it was.
    """
    to_write, to_delete = stale_paths(root, files, owned_dirs)
    result = WriteResult()
    if not to_write and not to_delete:
        return result
    staged: list[tuple[str, Path]] = []
    try:
        for rel in to_write:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".chartgen-tmp", dir=target.parent)
            staged.append((rel, Path(tmp)))
            with os.fdopen(fd, "wb") as fh:
                fh.write(files[rel].encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            mode = os.stat(target).st_mode & 0o777 if target.exists() else 0o644
            os.chmod(tmp, mode)
        if before_commit is not None:
            before_commit()
    except BaseException:
        for _, tmp in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    with _signals_deferred():
        for rel, tmp in staged:
            os.replace(tmp, root / rel)
            result.written.append(rel)
        for rel in to_delete:
            with contextlib.suppress(FileNotFoundError):
                (root / rel).unlink()
            result.deleted.append(rel)
    return result
