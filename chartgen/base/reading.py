"""Reading input files, and describing I/O failures: every failure is one line that names the
file and says what to do. Nothing here writes an output (``writer`` does); this module only
reads, checks paths and removes chartgen's own leftover temporary files."""

from __future__ import annotations

import codecs
import errno
import os
from pathlib import Path

from .errors import CatalogError, ChartgenError, Problem

TMP_SUFFIX = ".chartgen-tmp"


class FileError(ChartgenError):
    """A file or directory cannot be read, written or created."""


def display(path: str | Path) -> str:
    """``path`` as the user would type it: relative to the working directory when below it."""
    text = str(path)
    if os.path.isabs(text):
        try:
            rel = os.path.relpath(text)
        except ValueError:  # pragma: no cover - another drive on Windows
            return text
        if not rel.startswith(".."):
            return rel
    return text


_HINTS = {
    errno.ENOSPC: "no space left on the device; free some space and run again",
    errno.EDQUOT: "the disk quota is exceeded; free some space and run again",
    errno.EACCES: "permission denied; run as a user who may write there, or change its permissions",
    errno.EPERM: "operation not permitted; check the file's permissions and attributes (chattr, mount options)",
    errno.EROFS: "the file system is read-only; use a writable location",
    errno.ENOENT: "no such file or directory; check the path",
    errno.ENOTDIR: "a part of the path is not a directory; check the path",
    errno.EISDIR: "it is a directory; give a file",
    errno.ELOOP: "too many levels of symbolic links; check the links in the path",
    errno.ENAMETOOLONG: "the name is too long; use a shorter path",
}


def os_error_message(exc: OSError, path: str | Path | None = None, action: str = "use") -> str:
    """'cannot write values/x.yaml: no space left on the device; free some space and run again'."""
    where = path if path is not None else exc.filename
    hint = _HINTS.get(exc.errno) or (exc.strerror or str(exc)).lower()
    return f"cannot {action} {display(where) if where is not None else 'a file'}: {hint}"


def file_error(exc: OSError, path: str | Path | None = None, action: str = "use") -> FileError:
    return FileError(os_error_message(exc, path, action))


_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def decode(data: bytes, file: str, what: str = "file") -> str:
    """UTF-8 text of ``data``, or a located problem (``[encoding]``) saying what the bytes are
    and how to fix them: UTF-16/32 text, binary data, or bytes that are not UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise CatalogError([Problem(file, 1, 1, "", f"the {what} is {name} text; chartgen reads UTF-8: convert it "
                                        f"(e.g. `iconv -f {name} -t UTF-8`)", "encoding")])
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _position(data, nul)
        sample = data[:4096]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if min(even, odd) == 0 and max(even, odd) > len(sample) // 5:  # every other byte NUL: UTF-16
            msg = f"the {what} looks like UTF-16 text without a byte-order mark; save it as UTF-8"
        else:
            msg = f"the {what} holds binary data (a NUL byte), not YAML text; restore the right file"
        raise CatalogError([Problem(file, line, col, "", msg, "encoding")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise CatalogError([Problem(file, line, col, "", f"the {what} is not UTF-8: byte 0x{data[exc.start]:02x} "
                                    "cannot be decoded; save the file as UTF-8", "encoding")]) from None


def read_text(path: str | Path, what: str = "file", name: str | None = None) -> str:
    """The UTF-8 text of ``path``; an unreadable or undecodable file is one clear error.
    ``name`` is how problems name the file (default: the path as given)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise file_error(exc, path, f"read the {what}") from None
    return decode(data, name or str(path), what)


def nesting_problem(file: str, what: str = "file") -> CatalogError:
    """The error for input nested deeper than Python can follow (RecursionError)."""
    return CatalogError([Problem(file, 1, 1, "", f"the {what} is nested too deeply to read; flatten the deep "
                                 "structure", "yaml-depth")])


# --- paths below the output root -------------------------------------------------------------


def outside_link(root: Path, rel: str) -> tuple[str, str] | None:
    """The first symbolic link on the way from ``root`` to ``root/rel`` (``rel`` itself
    included) that leads outside ``root``, as (link, where it points); None when every
    part stays inside."""
    real_root = os.path.realpath(root)
    current = Path(root)
    for part in Path(rel).parts:
        current = current / part
        if current.is_symlink():
            target = os.path.realpath(current)
            if os.path.commonpath([real_root, target]) != real_root:
                return display(current), os.readlink(current)
    return None


def outside_message(root: Path, rel: str, link: tuple[str, str]) -> str:
    """The refusal of a write to ``rel`` through ``link`` (``outside_link``'s answer)."""
    return (f"refusing to write {rel}: {link[0]} is a symbolic link to {link[1]}, outside the "
            f"output root {os.path.realpath(root)}; chartgen never writes or deletes outside it. "
            "Remove the link (or point it inside) and run again; nothing was changed")


def first_link(root: Path, rel: str) -> Path | None:
    """The first symbolic link on the way from ``root`` to ``root/rel`` (``rel`` itself
    included), wherever it points; None when there is none. ``lstat`` only: no link is
    followed to find out."""
    current = Path(root)
    for part in Path(rel).parts:
        current = current / part
        try:
            if os.path.islink(current):
                return current
        except OSError:  # pragma: no cover - islink never raises
            return None
    return None


def refuse_linked_dirs(root: Path, owned_dirs, files=()) -> None:
    """Refuse (one line, nothing changed) when a directory chartgen owns, or any directory on
    the way to it or to a file written below it, is a symbolic link, even one that stays
    inside ``root``: chartgen deletes stale files in the directories it owns, and through a
    link that would be the user's files (``gitops/argocd -> ..``)."""
    owned = [d.rstrip("/") for d in owned_dirs]
    seen: set[str] = set()
    for d in owned:
        paths = [d] + sorted({str(Path(f).parent) for f in files if f.startswith(d + "/")})
        for rel in paths:
            if rel in seen:
                continue
            seen.add(rel)
            link = first_link(root, rel)
            if link is not None:
                outside = outside_link(root, rel)
                if outside is not None:  # the message of a link out of the root, as for any file
                    first = min((f for f in files if f.startswith(rel + "/")), default=rel)
                    raise FileError(outside_message(root, first, outside))
                raise FileError(f"refusing to write {d}/: {display(link)} is a symbolic link (to "
                                f"{os.readlink(link)}); chartgen owns {d}/ and removes stale files in it, so it "
                                "never follows a link there. Replace the link with a directory and run again; "
                                "nothing was changed")


def walk_files(base: Path):
    """Every entry below the directory ``base`` that is not a directory (files, and symbolic
    links, to directories too, as links), never following a link; sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        found += [Path(dirpath) / n for n in filenames]
        found += [Path(dirpath) / n for n in dirnames if os.path.islink(os.path.join(dirpath, n))]
    return sorted(found)


def leftover_temps(dirs) -> list[Path]:
    """chartgen's own temporary files (``.<name>.<random>.chartgen-tmp``) in ``dirs``, which
    only a killed run leaves behind."""
    found: set[Path] = set()
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and not entry.is_symlink():
                        found.add(Path(entry.path))
        except OSError:
            continue
    return sorted(found)


__all__ = ["FileError", "TMP_SUFFIX", "decode", "display", "file_error", "leftover_temps", "nesting_problem",
           "first_link", "os_error_message", "outside_link", "outside_message", "read_text", "refuse_linked_dirs", "walk_files"]
