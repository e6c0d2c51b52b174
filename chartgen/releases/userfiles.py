"""Values files that belong to the user after the first generation.

``values/<release>/<file>.yaml`` is written once by chartgen and then edited by people.
On every later ``chartgen generate`` only the keys chartgen owns are rewritten; a key is
owned when its line ends with the comment ``# chartgen``:

- Mappings are merged key by key (recursively); scalars, lists and empty mappings are
  leaves, and every leaf chartgen writes carries the ``# chartgen`` marker.
- An owned leaf gets the generated value back, even if someone edited it.
- An owned key that chartgen no longer generates is removed.
- Unmarked keys (the user's own) are never touched: their values, comments and order stay.
- A user key that collides with a leaf chartgen now generates becomes owned: it gets the
  generated value and the marker. To pin a generated key to your own value, change its
  marker to ``# chartgen: keep``; chartgen then leaves the key alone for good.

The round trip uses ruamel.yaml, so comments, key order and quoting survive. The output is
deterministic, and merging it again with the same generated data returns the same text.
"""

from __future__ import annotations

import io
import re

import yaml
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.tokens import CommentToken

from ..base import yamlout
from ..base.yamlsrc import LimitError, compose_bounded

__all__ = ["MARKER", "ValuesFileError", "merge_user_values", "owned_paths"]

MARKER = "chartgen"


class ValuesFileError(ValueError):
    """The user's values file cannot be merged; ``line`` and ``col`` are in the whole file."""

    def __init__(self, line: int, col: int, message: str):
        self.line, self.col, self.message = line, col, message
        super().__init__(f"line {line}, column {col}: {message}")
_OWNED = re.compile(r"^#\s*chartgen\s*$")
_KEEP = re.compile(r"^#\s*chartgen\s*:\s*keep\b")


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = True
    return y


# --- comments ------------------------------------------------------------------------------


def _eol_token(m: CommentedMap, key) -> CommentToken | None:
    slots = m.ca.items.get(key)
    if slots and len(slots) > 2 and isinstance(slots[2], CommentToken):
        return slots[2]
    value = m.get(key)
    if isinstance(value, (CommentedMap, CommentedSeq)):
        pre = value.ca.comment
        if pre and isinstance(pre[0], CommentToken):
            return pre[0]
    return None


def _eol_text(m: CommentedMap, key) -> str:
    tok = _eol_token(m, key)
    return tok.value.split("\n", 1)[0].strip() if tok is not None else ""


def _is_owned(m: CommentedMap, key) -> bool:
    return bool(_OWNED.fullmatch(_eol_text(m, key)))


def _is_kept(m: CommentedMap, key) -> bool:
    return bool(_KEEP.match(_eol_text(m, key)))


def _last_slot(container, key):
    """Where the comment that follows ``container[key]`` (and everything under it) lives."""
    value = container[key]
    if isinstance(value, CommentedMap) and len(value):
        return _last_slot(value, list(value)[-1])
    if isinstance(value, CommentedSeq) and len(value):
        return _last_slot(value, len(value) - 1)
    return container, key, (2 if isinstance(container, CommentedMap) else 0)


def _slots(container, key) -> list:
    slots = container.ca.items.setdefault(key, [None, None, None, None])
    while len(slots) < 4:
        slots.append(None)
    return slots


def _take_trailing(container, key) -> str:
    """Detach the comment lines that follow the value of ``container[key]``; keep its
    end-of-line comment in place. Returns the detached lines."""
    c, k, slot = _last_slot(container, key)
    slots = c.ca.items.get(k)
    if not slots or len(slots) <= slot or not isinstance(slots[slot], CommentToken):
        return ""
    tok = slots[slot]
    first, _, rest = tok.value.partition("\n")
    if not rest:
        return ""
    if first.strip():
        tok.value = first + "\n"
    else:
        slots[slot] = None
    return rest


def _attach_trailing(container, key, text: str) -> None:
    if not text:
        return
    c, k, slot = _last_slot(container, key)
    slots = _slots(c, k)
    tok = slots[slot]
    if isinstance(tok, CommentToken):
        tok.value = tok.value.rstrip("\n") + "\n" + text
    else:
        slots[slot] = CommentToken("\n" + text, CommentMark(0), None)


def _set_marker(m: CommentedMap, key) -> None:
    """Make ``# chartgen`` the end-of-line comment of ``key`` (keeping later lines)."""
    value = m[key]
    if isinstance(value, (CommentedMap, CommentedSeq)) and value.ca.comment and isinstance(value.ca.comment[0], CommentToken):
        # a block collection's key-line comment lives on the collection too: keep just one
        value.ca.comment[0] = None
    slots = m.ca.items.get(key)
    tok = slots[2] if slots and len(slots) > 2 else None
    if isinstance(tok, CommentToken):
        _first, _, rest = tok.value.partition("\n")
        tok.value = f"# {MARKER}\n{rest}"
    else:
        m.yaml_add_eol_comment(MARKER, key)


def _clear_marker(m: CommentedMap, key) -> None:
    slots = m.ca.items.get(key)
    tok = slots[2] if slots and len(slots) > 2 else None
    if isinstance(tok, CommentToken) and _OWNED.fullmatch(tok.value.split("\n", 1)[0].strip()):
        rest = tok.value.partition("\n")[2]
        if rest:
            tok.value = "\n" + rest
        else:
            slots[2] = None
    value = m.get(key)
    if isinstance(value, (CommentedMap, CommentedSeq)) and value.ca.comment and isinstance(value.ca.comment[0], CommentToken):
        if _OWNED.fullmatch(value.ca.comment[0].value.split("\n", 1)[0].strip()):
            value.ca.comment[0] = None


# --- data ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A loaded ruamel node as plain Python data (for comparisons)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    return value


def _node(value: Any) -> Any:
    """Plain data as ruamel nodes (block style), keys and strings quoted where YAML 1.1 or
    1.2 would read them as something else (chartgen.base.yamlout)."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[yamlout.scalar(k)] = _node(v)
        return out
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_node(v) for v in value)
    return yamlout.scalar(value)


def _plain_ambiguous(value: Any) -> bool:
    """A string the file holds unquoted although a YAML 1.1 reader would not take it for
    one (``on``, ``y``, ``1:20`` written by an older chartgen or by hand)."""
    if isinstance(value, dict):
        return any(_plain_ambiguous(k) or _plain_ambiguous(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_plain_ambiguous(v) for v in value)
    return type(value) is str and yamlout.ambiguous(value)


def _requote_key(doc: CommentedMap, key) -> None:
    """Quote an existing key that YAML 1.1 would misread, keeping its place and comments."""
    keys = list(doc)
    idx = keys.index(key)
    old = keys[idx]
    if type(old) is not str or not yamlout.ambiguous(old):
        return
    value = doc[old]
    slots = doc.ca.items.get(old)
    del doc[old]
    doc.insert(idx, yamlout.scalar(old), value)
    if slots is not None:
        doc.ca.items[old] = slots


def _is_branch(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


def _same(old: Any, new: Any) -> bool:
    a, b = _plain(old), _plain(new)
    return type(a) is type(b) and a == b


def _merge(doc: CommentedMap, generated: dict) -> None:
    # 1. drop owned keys chartgen no longer generates
    for key in list(doc):
        if key in generated:
            continue
        if _is_owned(doc, key):
            _remove(doc, key)
        elif isinstance(doc[key], CommentedMap):
            if _prune(doc[key]) and not len(doc[key]) and not _eol_text(doc, key):
                _remove(doc, key)  # nothing but chartgen's keys was in there
    # 2. write what chartgen generates
    for key, value in generated.items():
        if key in doc:
            if _is_kept(doc, key):
                continue
            _requote_key(doc, key)
            current = doc[key]
            if _is_branch(value) and isinstance(current, CommentedMap):
                _clear_marker(doc, key)
                _merge(current, value)
                continue
            if not _same(current, value) or _plain_ambiguous(current):
                trailing = _take_trailing(doc, key)
                doc[key] = _node(value)
                _set_marker(doc, key)
                _attach_trailing(doc, key, trailing)
            elif not _is_owned(doc, key):
                _set_marker(doc, key)
        else:
            previous = list(doc)[-1] if len(doc) else None
            trailing = _take_trailing(doc, previous) if previous is not None else ""
            if _is_branch(value):
                doc[yamlout.scalar(key)] = CommentedMap()
                _merge(doc[key], value)
            else:
                doc[yamlout.scalar(key)] = _node(value)
                _set_marker(doc, key)
            _attach_trailing(doc, key, trailing)


def _prune(m: CommentedMap) -> bool:
    """Remove every owned key below ``m`` (chartgen generates nothing there any more).
    True when something was removed."""
    removed = False
    for key in list(m):
        if _is_owned(m, key):
            _remove(m, key)
            removed = True
        elif isinstance(m[key], CommentedMap):
            if _prune(m[key]):
                removed = True
                if not len(m[key]) and not _eol_text(m, key):
                    _remove(m, key)
    return removed


def _remove(m: CommentedMap, key) -> None:
    keys = list(m)
    trailing = _take_trailing(m, key)
    idx = keys.index(key)
    del m[key]
    m.ca.items.pop(key, None)
    if trailing:
        if idx > 0:
            _attach_trailing(m, keys[idx - 1], trailing)


_MARKER_SPACING = re.compile(r"(?m)^(?P<code>[^#\n]*?\S)[ \t]+# " + MARKER + r"$")


def _dump(doc: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    # ruamel places end-of-line comments one or two spaces after the value; use two, always
    return _MARKER_SPACING.sub(lambda m: f"{m.group('code')}  # {MARKER}", buf.getvalue())


def _header_lines(header: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in header.strip("\n").splitlines())


def _merge_text(existing: str | None, generated: dict, header: str) -> str:
    if existing is None or not existing.strip():
        lead, doc = _header_lines(header) + "\n", CommentedMap()
    else:
        lead, skipped, body_text = _split_lead(existing)
        doc = _load_mapping(body_text, skipped)
    _merge(doc, generated)
    return lead + (_dump(doc) if len(doc) else "{}\n")


def _split_lead(existing: str) -> tuple[str, int, str]:
    """The leading comment block (the header, or the user's: kept verbatim), its number of
    lines, and the YAML text after it."""
    lead_lines = []
    rest_lines = existing.splitlines(keepends=True)
    while rest_lines and (rest_lines[0].startswith("#") or not rest_lines[0].strip()):
        lead_lines.append(rest_lines.pop(0))
    lead = "".join(lead_lines)
    if lead and not lead.endswith("\n"):
        lead += "\n"
    return lead, len(lead_lines), "".join(rest_lines)


def _load_mapping(body_text: str, skipped: int) -> CommentedMap:
    """The values file's body as a round-trip mapping (an empty body: an empty one); errors
    located in the whole file, whose first ``skipped`` lines were cut off before parsing."""
    try:
        doc = _yaml().load(body_text) if body_text.strip() else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1 + skipped, mark.column + 1) if mark else (skipped + 1, 1)
        msg = f"{exc.context}, {exc.problem}" if exc.context and exc.problem else (exc.problem or exc.context or str(exc))
        raise ValuesFileError(line, col, f"invalid YAML: {msg}") from None
    except YAMLError as exc:
        raise ValuesFileError(skipped + 1, 1, f"invalid YAML: {exc}") from None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ValuesFileError(skipped + 1, 1, "a values file must hold a mapping at the top level")
    return doc


def merge_user_values(existing: str | None, generated: dict, *, header: str) -> str:
    """Merge ``generated`` into the user's values file text ``existing`` (None: new file).

    Returns the new text: the user's keys, comments and order kept, the owned
    (``# chartgen``) keys rewritten. ``header`` heads a newly created file.
    """
    if not isinstance(generated, dict):
        raise TypeError("generated values must be a mapping")
    if existing is not None:
        try:
            compose_bounded(existing, "<values file>")
        except LimitError as exc:  # an alias bomb or absurd nesting; plain syntax errors are ruamel's to report
            if exc.problem.rule == "yaml-limits":
                raise ValuesFileError(exc.problem.line, exc.problem.col, exc.problem.message) from None
    if existing is not None and _already_merged(existing, generated):
        return existing
    first = _merge_text(existing, generated, header)
    # a second pass from the parsed form settles ruamel's comment placement, so that
    # merging the result again yields the very same text
    return _merge_text(first, generated, header)


_MARKER_LINE = re.compile(r"#\s*" + MARKER + r"\s*$", re.M)


def _leaves(data: dict, prefix: tuple = ()):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def _already_merged(existing: str, generated: dict) -> bool:
    """Fast no-op check (C parser, no round trip): every generated leaf already holds its
    value, and the file carries exactly as many ``# chartgen`` markers as there are leaves."""
    try:
        data = yaml.load(existing, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    if not isinstance(data, dict):
        return False
    count = 0
    for path, value in _leaves(generated):
        for text in (*path, value):
            # the C loader reads YAML 1.1 as PyYAML does (``y`` is a string there, not for
            # go-yaml): a string that needs quotes must be quoted in the file
            if isinstance(text, str) and yamlout.ambiguous(text) and f"'{text}'" not in existing \
                    and f'"{text}"' not in existing:
                return False
        node = data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if node != value or type(node) is not type(value):
            return False
        count += 1
    return count == len(_MARKER_LINE.findall(existing))


def owned_paths(text: str) -> list[str]:
    """Dotted paths of the keys marked ``# chartgen`` in a values file (for tests, tools)."""
    doc = _yaml().load(text)
    out: list[str] = []

    def walk(m: CommentedMap, prefix: str) -> None:
        for key, value in m.items():
            path = f"{prefix}{key}"
            if _is_owned(m, key):
                out.append(path)
            elif isinstance(value, CommentedMap):
                walk(value, path + ".")

    if isinstance(doc, CommentedMap):
        walk(doc, "")
    return out
