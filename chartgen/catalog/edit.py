"""Editing the catalog in place, the way a person would: ruamel.yaml round-trip keeps
comments, key order, flow/block style and quoting, so a change touches only the lines
it has to. Pure text in, text out; ``write_atomic`` is the one function that writes.

    >>> text = edit_weights(text, "proxy", {"v1": 75, "v2": 25})             # services.proxy.weights
    >>> text = edit_weights(text, "proxy", {"v1": 75, "v2": 25}, env="prod")  # environments.prod.services.proxy.weights
"""

from __future__ import annotations

import difflib
import io
import os
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ..base import writer, yamlout
from ..base.errors import CatalogError, ChartgenError, Problem
from ..base.reading import FileError, display, file_error, os_error_message

# (mapping, sequence, offset) indents tried in turn: the first that reproduces the file
# byte for byte is used, so untouched lines stay untouched.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 0), (4, 6, 2), (4, 4, 2), (2, 3, 1), (3, 3, 0))


class EditError(ChartgenError):
    """The catalog cannot be edited as asked (missing service or environment, bad YAML)."""


class RoundTrip:
    """One loaded catalog document and the YAML settings that reproduce its text."""

    def __init__(self, text: str, file: str = "catalog.yaml"):
        self.original = text
        self.file = file
        # ruamel.yaml reads LF text without a byte-order mark; ``text()`` puts the file's
        # own line endings, mark and blank lines back (``keep_layout``)
        text = _plain(text)
        self.faithful = False
        best = None
        for indent in _INDENTS:
            yaml = self._yaml(indent, text)
            try:
                doc = yaml.load(text)
            except YAMLError as exc:
                raise EditError(f"{file}: cannot edit the catalog, it is not valid YAML: {exc}") from None
            out = self._dump(yaml, doc)
            if out == text:
                self.yaml, self.doc, self.faithful = yaml, doc, True
                break
            score = sum(1 for line in difflib.ndiff(text.splitlines(), out.splitlines()) if line[:1] in "+-")
            if best is None or score < best[0]:
                best = (score, yaml, doc)
        else:
            _, self.yaml, self.doc = best
        if not isinstance(self.doc, CommentedMap):
            raise EditError(f"{file}: expected a mapping (the catalog)")

    @staticmethod
    def _yaml(indent: tuple[int, int, int], text: str) -> YAML:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never re-wrap long lines
        yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
        yaml.explicit_start = text.lstrip().startswith("---")
        return yaml

    @staticmethod
    def _dump(yaml: YAML, doc) -> str:
        buf = io.StringIO()
        yaml.dump(doc, buf)
        return buf.getvalue()

    def text(self) -> str:
        return keep_layout(self.original, self._dump(self.yaml, self.doc))


BOM = "\ufeff"


def _plain(text: str) -> str:
    """``text`` without a UTF-8 byte-order mark and with LF line endings."""
    return text.removeprefix(BOM).replace("\r\n", "\n")


def _lines(text: str) -> list[tuple[str, str]]:
    """(content, line ending) per line of ``text``."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append((body, line[len(body):]))
    return out


def keep_layout(original: str, edited: str) -> str:
    """``edited`` (LF text, no byte-order mark: what ruamel.yaml writes) in the layout of
    ``original``: its byte-order mark, every unchanged line byte for byte with its own line
    ending, its blank lines (ruamel.yaml drops some), and its usual line ending (CRLF or LF)
    on the lines the edit adds or changes."""
    bom = BOM if original.startswith(BOM) else ""
    before = _lines(original.removeprefix(BOM))
    after = _lines(edited)
    crlf = sum(1 for _, end in before if end == "\r\n")
    eol = "\r\n" if crlf * 2 > len(before) else "\n"
    out = []
    matcher = difflib.SequenceMatcher(None, [b for b, _ in before], [a for a, _ in after], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out += [b + end for b, end in before[i1:i2]]
            continue
        out += _replaced(before[i1:i2], after[j1:j2], eol)
    return bom + "".join(out)


def _replaced(old: list[tuple[str, str]], new: list[tuple[str, str]], eol: str) -> list[str]:
    """The lines ``new`` that replace ``old``: a line replacing one line keeps that line's
    ending; the blank lines of ``old`` come back (ruamel.yaml drops some) when ``new`` has
    none, those before its first other line ahead of ``new``."""
    ends = [end for _, end in old]
    lines = [a + ((ends[k] or eol) if k < len(ends) and len(old) == len(new) else eol if end else "")
             for k, (a, end) in enumerate(new)]
    if any(not a.strip() for a, _ in new):
        return lines
    blanks = [not b.strip() for b, _ in old]
    lead = blanks.index(False) if False in blanks else len(old)
    return ([b + end for b, end in old[:lead]] + lines
            + [b + end for (b, end), blank in zip(old[lead:], blanks[lead:]) if blank])


def weights_path(service: str, env: str | None = None) -> tuple[str, ...]:
    """The catalog path that holds a service's weights (in ``env``, its override)."""
    if env is None:
        return ("services", service, "weights")
    return ("environments", env, "services", service, "weights")


def _mapping(parent: CommentedMap, key: str, where: str, create: bool) -> CommentedMap:
    node = parent.get(key)
    if node is None:
        if not create:
            raise EditError(f"{where}.{key} is not in the catalog" if where else f"'{key}' is not in the catalog")
        node = CommentedMap()
        parent[key] = node
    if not isinstance(node, CommentedMap):
        raise EditError(f"expected a mapping at {where + '.' if where else ''}{key}")
    return node


def _service_node(doc: CommentedMap, service: str, env: str | None) -> tuple[CommentedMap, CommentedMap]:
    """(the mapping that holds ``weights``, the service's own mapping)."""
    services = _mapping(doc, "services", "", create=False)
    if service not in services:
        raise EditError(f"unknown service '{service}' (services: {', '.join(services)})")
    own = _mapping(services, service, "services", create=False)
    if env is None:
        return own, own
    envs = _mapping(doc, "environments", "", create=False)
    if env not in envs:
        raise EditError(f"unknown environment '{env}' (environments: {', '.join(envs)})")
    env_node = _mapping(envs, env, "environments", create=False)
    env_services = _mapping(env_node, "services", f"environments.{env}", create=True)
    return _mapping(env_services, service, f"environments.{env}.services", create=True), own


def _paths_by_node(doc) -> dict[int, list[tuple]]:
    """Every path at which each mapping or sequence of ``doc`` appears: more than one path
    means the node is a YAML anchor with aliases. An aliased subtree is walked once."""
    seen: dict[int, list[tuple]] = {}

    def walk(node, path: tuple) -> None:
        if not isinstance(node, (CommentedMap, CommentedSeq)):
            return
        first = id(node) not in seen
        seen.setdefault(id(node), []).append(path)
        if not first:
            return
        items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
        for key, value in items:
            walk(value, path + (key,))

    walk(doc, ())
    return seen


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _refuse_aliased(rt: RoundTrip, target: tuple) -> None:
    """Refuse an edit below a node that the catalog shares through a YAML alias: the edit
    would silently change every other user of the anchor too."""
    paths = _paths_by_node(rt.doc)
    node, parent = rt.doc, None
    for depth, key in enumerate(target):
        if not isinstance(node, CommentedMap) or key not in node:
            return
        parent, node = node, node[key]
        users = paths.get(id(node), [])
        if len(users) < 2:
            continue
        here = tuple(target[:depth + 1])
        others = [u for u in users if u != here]
        line, col = parent.lc.key(key)
        anchor = node.anchor.value if getattr(node, "anchor", None) is not None and node.anchor.value else None
        name = f"the YAML anchor &{anchor}" if anchor else "a YAML anchor"
        where = f" (line {node.lc.line + 1})" if node.lc.line is not None else ""
        alias = f"*{anchor}" if anchor else "the alias"
        raise CatalogError([Problem(
            rt.file, line + 1, col + 1, _dotted(here),
            f"is shared through {name}{where} with {', '.join(_dotted(o) for o in others)}; editing it would "
            f"change {'that one' if len(others) == 1 else 'them'} too, so {rt.file} was not changed. Give each its "
            f"own copy (replace {alias} with the values it stands for), then run again", "aliased-node")])


def edit_weights(text: str, service: str, weights: dict[str, int], env: str | None = None,
                 file: str = "catalog.yaml") -> str:
    """The catalog ``text`` with the weights of ``service`` (in ``env``) set to exactly
    ``weights``. Existing keys keep their order, style and comments; keys not in
    ``weights`` are removed; new keys are appended. A missing ``weights`` is added
    in flow style (after ``versions`` in a service, at the end of an override).
    A node shared through a YAML alias is never edited (``[aliased-node]``)."""
    rt = RoundTrip(text, file)
    _refuse_aliased(rt, weights_path(service, env))
    holder, own = _service_node(rt.doc, service, env)
    current = holder.get("weights")
    if current is not None and not isinstance(current, CommentedMap):
        raise EditError(f"expected a mapping at {'.'.join(weights_path(service, env))}")
    if current is None:
        node = CommentedMap()
        own_weights = own.get("weights")
        block = isinstance(own_weights, CommentedMap) and own_weights.fa.flow_style() is False and own is not holder
        if not block:
            node.fa.set_flow_style()
        for version, value in weights.items():
            node[yamlout.scalar(version)] = int(value)
        if "versions" in holder and holder is own:
            holder.insert(list(holder).index("versions") + 1, "weights", node)
        else:
            holder["weights"] = node
    else:
        for version in [v for v in current if v not in weights]:
            del current[version]
        for version, value in weights.items():
            current[yamlout.scalar(version)] = int(value)
    return rt.text()


def check_writable(path: str | Path) -> Path:
    """Where writing ``path`` lands: a symbolic link is followed (the link is kept), and a
    file made read-only is refused, never silently replaced."""
    path = Path(path)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise file_error(exc, path, "read") from None
    if not mode & 0o200:
        raise FileError(f"refusing to replace {display(path)}: it is read-only (mode {mode & 0o777:04o}); make it "
                        f"writable (chmod u+w {display(real)}) and run again")
    return real


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it and a rename, keeping
    the file's mode: readers see the old file or the new one, never half of one. A symbolic
    link is written through (the link stays); a read-only file is refused."""
    path = check_writable(path)
    try:
        writer.replace_file(path, text)
    except OSError as exc:
        if getattr(exc, "staging", False):
            raise FileError(os_error_message(exc, path.parent, "create a temporary file in")) from None
        raise FileError(os_error_message(exc, path, "write") + f"; {path.name} was not changed") from None


__all__ = ["EditError", "ProductionNotNamed", "RoundTrip", "check_writable", "confirm_unnamed_production", "edit_weights",
           "keep_layout", "weights_path", "write_atomic"]


class ProductionNotNamed(ChartgenError):
    """An in-place edit without ``env`` would change a ``production: true`` environment that the
    user did not name, and nobody confirmed it. Nothing was written."""

    exit_code = 2

    def __init__(self, message: str, environments: list[str]):
        super().__init__(message)
        self.environments = environments


def confirm_unnamed_production(production: list[str], *, dry_run: bool, warn, confirm, warning: str,
                               refusal: str) -> None:
    """The one rule for an edit that moves production environments nobody named (canary
    steps, Istio upgrade steps): a dry run only warns, at a terminal ``confirm(environments)``
    decides, anything else is refused with ``ProductionNotNamed``."""
    if not production:
        return
    if dry_run:
        if warn is not None:
            warn(warning)
        return
    if confirm is not None and confirm(production):
        return
    raise ProductionNotNamed(refusal, production)
