"""What a run changes below an output root: one ``Changeset`` of files added, changed and
removed, each with its text before and after. ``diff``, ``generate --check``, the canary
``--dry-run``, ``package``/``publish``'s staleness check and the writer all ask it, and it
is the one place a unified diff, a stat and the diff of the mesh graph are rendered.

    >>> changes = Changeset.between(root, files, owned_dirs)
    >>> changes.paths                      # what generate would write or delete
    >>> "".join(changes.diff_lines())      # the unified diff
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..graph.diagram import readme_graph
from ..base.reading import file_error, refuse_linked_dirs, walk_files

NEW, CHANGED, REMOVED = "new", "changed", "removed"


@dataclass(frozen=True)
class FileChange:
    """One file that differs. ``before`` is its current text (None: it does not exist; "" with
    ``binary``: its bytes are not UTF-8 text); ``after`` the text it gets (None: removed).
    A ``quiet`` file is listed in the stat but left out of the diff (machine state)."""

    path: str
    kind: str  # NEW, CHANGED or REMOVED
    before: str | None
    after: str | None
    binary: bool = False
    quiet: bool = False

    def diff_lines(self, binary_note: str = "") -> Iterator[str]:
        """The unified diff of this file, each line ending in a newline."""
        if self.binary:
            yield (f"Binary files a/{self.path} and b/{self.path} differ (a/{self.path} is not UTF-8 text"
                   f"{binary_note})\n")
            return
        yield from unified_lines(self.before, self.after, f"a/{self.path}", f"b/{self.path}")


def unified_lines(before: str | None, after: str | None, a: str, b: str) -> Iterator[str]:
    """difflib's unified diff of two texts (None is empty), every line ending in a newline."""
    for line in difflib.unified_diff((before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
                                     a, b):
        yield line if line.endswith("\n") else line + "\n"


def _read(path: Path, strict: bool) -> bytes | None:
    """The bytes of ``path``, None when it does not exist. An unreadable file is a located
    error with ``strict``; without, it counts as missing (it differs, and is rewritten)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if strict:
            raise file_error(exc, path, "read") from None
        return None


def _text(data: bytes | None) -> tuple[str | None, bool]:
    if data is None:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return "", True


@dataclass(frozen=True)
class Changeset:
    """The files that differ, sorted by path."""

    changes: tuple[FileChange, ...] = ()

    @classmethod
    def between(cls, root: Path, files: dict[str, str], owned_dirs: Iterable[str] = (), *,
                quiet: Iterable[str] = (), strict: bool = False) -> Changeset:
        """What writing ``files`` (paths relative to ``root``) would change, deleting every other
        file in ``owned_dirs``. ``quiet``: file names whose diff says nothing to a reader.
        ``strict``: a file that exists but cannot be read is an error, not a change."""
        quiet = tuple(quiet)
        found = []
        for rel, text in files.items():
            data = _read(root / rel, strict)
            if data is not None and data == text.encode("utf-8"):
                continue
            before, binary = _text(data)
            found.append(FileChange(rel, NEW if data is None else CHANGED, before, text, binary, rel.endswith(quiet)))
        owned_dirs = tuple(owned_dirs)
        refuse_linked_dirs(root, owned_dirs, files)
        for d in owned_dirs:
            base = root / d
            if not base.is_dir():
                continue
            for path in walk_files(base):  # never through a link: a link is removed, never what it names
                rel = path.relative_to(root).as_posix()
                if rel not in files:
                    data = None if path.is_symlink() else _read(path, strict)
                    before, binary = _text(data)
                    found.append(FileChange(rel, REMOVED, before or "", None, binary, rel.endswith(quiet)))
        return cls(tuple(sorted(found, key=lambda c: c.path)))

    @classmethod
    def of_text(cls, path: str, before: str | None, after: str | None) -> Changeset:
        """One file's change (an edit of the catalog); empty when the texts are equal."""
        if before == after:
            return cls()
        kind = NEW if before is None else REMOVED if after is None else CHANGED
        return cls((FileChange(path, kind, before, after),))

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[FileChange]:
        return iter(self.changes)

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.changes]

    def _of(self, kind: str) -> list[str]:
        return [c.path for c in self.changes if c.kind == kind]

    @property
    def added(self) -> list[str]:
        return self._of(NEW)

    @property
    def changed(self) -> list[str]:
        return self._of(CHANGED)

    @property
    def removed(self) -> list[str]:
        return self._of(REMOVED)

    @property
    def binary(self) -> list[str]:
        """The changed files whose current bytes are not UTF-8 text."""
        return [c.path for c in self.changes if c.binary]

    def get(self, path: str) -> FileChange | None:
        return next((c for c in self.changes if c.path == path), None)

    def under(self, prefix: str) -> Changeset:
        """The changes below the directory ``prefix``."""
        return Changeset(tuple(c for c in self.changes if c.path.startswith(prefix.rstrip("/") + "/")))

    def stat(self) -> list[tuple[str, str]]:
        """(kind, path) per file, in path order."""
        return [(c.kind, c.path) for c in self.changes]

    def stat_lines(self) -> list[str]:
        """'  new: path', '  changed: path', '  removed: path'."""
        return [f"  {kind}: {path}" for kind, path in self.stat()]

    def diff_lines(self, binary_note: str = "") -> Iterator[str]:
        """The unified diff of every file but the quiet ones. ``binary_note`` ends the line that
        stands for a file whose current bytes are not text (what will happen to it)."""
        for change in self.changes:
            if not change.quiet:
                yield from change.diff_lines(binary_note)

    def unified_diff(self, binary_note: str = "") -> str:
        return "".join(self.diff_lines(binary_note))

    def graph_diff(self, readme: str) -> list[str]:
        """The unified diff of the Mermaid graph in the chart README at ``readme`` (a/graph.mmd,
        b/graph.mmd); empty when the graph does not change."""
        change = self.get(readme)
        if change is None:
            return []
        return list(unified_lines(readme_graph(change.before), readme_graph(change.after), "a/graph.mmd",
                                  "b/graph.mmd"))


__all__ = ["CHANGED", "NEW", "REMOVED", "Changeset", "FileChange", "unified_lines"]
