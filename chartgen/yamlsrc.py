"""YAML loading that keeps source positions and rejects duplicate keys.

The document is composed into nodes (with PyYAML's C loader when available) and
constructed here, so that every mapping key and value gets a (line, col) and every
duplicate key is reported, not only the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from .errors import Problem

try:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Path = tuple  # of str | int
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"


@dataclass
class SourceMap:
    """Positions of the values and keys of a loaded document, by path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value_pos(self, path: Path) -> tuple[int, int]:
        """Position of the value at ``path``, or of its nearest located ancestor."""
        path = tuple(path)
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def key_pos(self, path: Path) -> tuple[int, int]:
        """Position of the key that holds ``path`` (falls back to the value)."""
        path = tuple(path)
        if path in self.keys:
            return self.keys[path]
        return self.value_pos(path)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, smap: SourceMap):
        self.smap = smap
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path):
        mark = node.start_mark
        self.smap.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(key_node, path, "merge keys (<<) are not supported", "yaml-syntax")
                    continue
                key = self._scalar(key_node)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    self._problem(key_node, path, "expected a scalar mapping key", "yaml-syntax")
                    continue
                if isinstance(key, bool) or not isinstance(key, str):
                    key = key_node.value  # keys are names: keep the text (e.g. "on", "80")
                kpath = path + (key,)
                if key in out:
                    first = self.smap.keys[kpath]
                    self._problem(
                        key_node,
                        kpath,
                        f"duplicate key '{key}' (first defined at line {first[0]})",
                        "duplicate-key",
                    )
                    continue
                self.smap.keys[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, kpath)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node):
        if not isinstance(node, yaml.ScalarNode):
            return None
        tag = node.tag
        if tag == _STR:  # the common case, without the constructor's overhead
            return node.value
        if tag == _INT and node.value.isdigit() and not (len(node.value) > 1 and node.value[0] == "0"):
            return int(node.value)
        return self._constructor.construct_object(node, deep=True)

    def _problem(self, node, path, message, rule):
        mark = node.start_mark
        self.problems.append(
            Problem(self.smap.file, mark.line + 1, mark.column + 1, format_path(path), message, rule)
        )


def load_yaml(text: str, file: str = "<string>") -> tuple[object, SourceMap, list[Problem]]:
    """Load one YAML document. Returns (data, source map, problems)."""
    smap = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = exc.problem or str(exc)
        if exc.context:
            msg = f"{exc.context}, {msg}"
        return None, smap, [Problem(file, line, col, "", f"invalid YAML: {msg}", "yaml-syntax")]
    except yaml.YAMLError as exc:
        return None, smap, [Problem(file, 1, 1, "", f"invalid YAML: {exc}", "yaml-syntax")]
    if node is None:
        smap.values[()] = (1, 1)
        return None, smap, []
    builder = _Builder(smap)
    try:
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, smap, [Problem(file, line, col, "", f"invalid YAML: {exc.problem}", "yaml-syntax")]
    return data, smap, builder.problems
