"""chartgen's entries in the user's cache directory (``$XDG_CACHE_HOME/chartgen``, else
``~/.cache/chartgen``): what is costly to work out again and safe to lose. A cache that
cannot be written is no error; the caller goes on with what it holds in memory.

The cache holds data only, never code: nothing read from it is executed. Anyone able to
write it (a shared directory, a CI cache restored from elsewhere) could otherwise change what
chartgen does, so every entry is read through ``load``: a regular file (not a link) owned by
the current user and writable by nobody else, in a directory that is the same, wrapped in an
envelope naming chartgen's version, what the entry is for and a digest of its inputs (the
``key``) and of its data. An entry that fails any check is ignored; the caller works it out
again and stores it anew."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from .version import __version__
from .writer import replace_file

FORMAT = 1


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chartgen"


def _version() -> str:
    return __version__


def _trusted(st: os.stat_result, kind: int) -> bool:
    """A file or directory of ``kind`` that only the current user can change."""
    return (stat.S_IFMT(st.st_mode) == kind and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def trusted_file(path: Path) -> bool:
    """``path`` is a regular file (not a link) owned by the current user, writable by nobody
    else, and so are the directories from it up to the cache directory."""
    try:
        if not _trusted(os.lstat(path), stat.S_IFREG):
            return False
        root = cache_dir()
        for parent in path.parents:
            if not _trusted(os.lstat(parent), stat.S_IFDIR):
                return False
            if parent == root:
                return True
        return False
    except (OSError, ValueError):
        return False


def _read_unlinked(path: Path) -> bytes:
    """The bytes of ``path``, opened without following a link, checked again once open (a file
    swapped after ``trusted_file`` looked at it is refused)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not _trusted(os.fstat(fh.fileno()), stat.S_IFREG):
            raise OSError(f"{path} changed while it was read")
        return fh.read()


def _digest(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def load(path: Path, purpose: str, key: str) -> Any:
    """The data stored at ``path`` by ``save(path, purpose, key, …)`` with this chartgen
    version, or None when there is none or it fails any check (see the module's doc)."""
    if not trusted_file(path):
        return None
    try:
        envelope = json.loads(_read_unlinked(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(envelope, dict) and envelope.get("format") == FORMAT
            and envelope.get("chartgen") == _version() and envelope.get("purpose") == purpose
            and envelope.get("key") == key and isinstance(envelope.get("data"), str)
            and envelope.get("digest") == _digest(envelope["data"])):
        return None
    try:
        return json.loads(envelope["data"])
    except (ValueError, RecursionError):
        return None


def save(path: Path, purpose: str, key: str, data: Any) -> bool:
    """Store ``data`` (plain JSON) at ``path`` for ``load``; False when the cache cannot be written."""
    text = json.dumps(data, separators=(",", ":"), default=str)
    envelope = {"format": FORMAT, "chartgen": _version(), "purpose": purpose, "key": key,
                "digest": _digest(text), "data": text}
    return store(path, json.dumps(envelope, separators=(",", ":")).encode("utf-8"))


def store(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically (a reader sees the old entry or the new one, never
    a part), readable and writable by the current user only; False when the cache cannot be
    written."""
    try:
        root = cache_dir()
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(os.lstat(root), stat.S_IFDIR):
            return False
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # never through a link (the cache directory or one below it, made by someone else in a
        # shared XDG_CACHE_HOME, pointing into the user's files) nor into a directory others can write
        if not all(_trusted(os.lstat(d), stat.S_IFDIR) for d in (path.parent, *path.parent.parents)
                   if d == root or root in d.parents):
            return False
        replace_file(path, data, mode=0o600)
        return True
    except OSError:
        return False
