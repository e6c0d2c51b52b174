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
    """Positions of the values and keys of a loaded document, by path.

    With ``root`` (the composed node tree) the positions are gathered on first use: a valid
    document never needs them, and recording them costs as much as loading."""

    file: str
    _values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    _keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    root: yaml.Node | None = None

    def _ensure(self) -> None:
        if self.root is not None:
            root, self.root = self.root, None
            _Builder(self).build(root, ())

    @property
    def values(self) -> dict[Path, tuple[int, int]]:
        self._ensure()
        return self._values

    @property
    def keys(self) -> dict[Path, tuple[int, int]]:
        self._ensure()
        return self._keys

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
        self.smap._values[path] = (mark.line + 1, mark.column + 1)
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
                    first = self.smap._keys[kpath]
                    self._problem(
                        key_node,
                        kpath,
                        f"duplicate key '{key}' (first defined at line {first[0]})",
                        "duplicate-key",
                    )
                    continue
                self.smap._keys[kpath] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
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


_SLOW = object()


def _fast_build(node: yaml.Node, _scalar=None):
    """The data of a node tree, without positions; _SLOW when the document needs the full
    builder (a duplicate or merge key, a non-string key) to report precisely."""
    scalar = _scalar or _Builder(SourceMap(""))._scalar

    def build(n):
        if isinstance(n, yaml.MappingNode):
            out = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode) or k.tag != _STR or k.value in out:
                    raise _NeedSlow
                out[k.value] = build(v)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(i) for i in n.value]
        return scalar(n)

    try:
        return build(node)
    except _NeedSlow:
        return _SLOW


class _NeedSlow(Exception):
    pass


# Bounds of every YAML document chartgen reads (catalog, user values files, index.yaml): a
# catalog is a dozen levels deep, and aliases must not multiply it (a 289-byte alias bomb
# stands for billions of nodes).
MAX_DEPTH = 64
MAX_NODES = 1_000_000


def check_limits(root: yaml.Node, file: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Problem | None:
    """The first limit a composed document breaks, as a located problem (None: within them):
    nesting deeper than ``max_depth``, aliases that expand it to more than ``max_nodes``
    nodes, or an alias to a node that contains it. Shared (aliased) nodes are measured once,
    so this costs one pass over the distinct nodes, however large the expansion."""
    if root.__class__ is _Scalar:
        return None
    try:
        return _depth_problem(root, file, max_depth)
    except _Shared:
        pass
    size: dict[int, int] = {}  # id(node) -> expanded node count
    height: dict[int, int] = {}  # id(node) -> levels below and including it
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]

    def where(node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    while stack:
        node, depth, done = stack.pop()
        nid = id(node)
        if isinstance(node, yaml.ScalarNode):
            size[nid], height[nid] = 1, 1
            if depth > max_depth:
                return Problem(file, *where(node), "", f"nesting deeper than {max_depth} levels; flatten the structure", "yaml-limits")
            continue
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        if done:
            open_nodes.discard(nid)
            size[nid] = 1 + sum(size[id(c)] for c in children)
            height[nid] = 1 + max((height[id(c)] for c in children), default=0)
            if size[nid] > max_nodes:
                return Problem(file, *where(node), "", f"YAML aliases expand this node to more than {max_nodes:,} "
                               "nodes (an alias bomb); refusing to load it", "yaml-limits")
            continue
        if nid in size:  # an alias of a node measured already
            if depth + height[nid] - 1 > max_depth:
                return Problem(file, *where(node), "", f"nesting deeper than {max_depth} levels (through an alias); flatten the structure",
                               "yaml-limits")
            continue
        if nid in open_nodes:
            return Problem(file, *where(node), "", "an alias refers to a node that contains it (a recursive "
                           "structure)", "yaml-limits")
        if depth > max_depth:
            return Problem(file, *where(node), "", f"nesting deeper than {max_depth} levels; flatten the structure", "yaml-limits")
        open_nodes.add(nid)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in reversed(children))
    return None


_Scalar, _Mapping, _Sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Shared(Exception):
    """A container appears twice: the document uses aliases."""


def _depth_problem(root: yaml.Node, file: str, max_depth: int) -> Problem | None:
    """Depth alone, for a document without shared nodes (containers only: a scalar is a
    leaf). Raises _Shared when a container is reached twice (aliases: the full check)."""
    seen: set[int] = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _Shared
        seen.add(id(node))
        if depth >= max_depth:
            kids = [n for pair in node.value for n in pair] if node.__class__ is _Mapping else node.value
            if kids:
                mark = kids[0].start_mark
                return Problem(file, mark.line + 1, mark.column + 1, "", f"nesting deeper than {max_depth} levels; flatten the structure",
                               "yaml-limits")
            continue
        if node.__class__ is _Mapping:
            stack.extend((n, depth + 1) for pair in node.value for n in pair if n.__class__ is not _Scalar)
        else:
            stack.extend((n, depth + 1) for n in node.value if n.__class__ is not _Scalar)
    return None


def compose_bounded(text: str, file: str) -> yaml.Node | None:
    """Compose one document (libyaml where available) and check its limits; a syntax error
    or a broken limit raises LimitError carrying the located problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise LimitError(_syntax_problem(exc, file)) from None
    if node is not None:
        problem = check_limits(node, file)
        if problem is not None:
            raise LimitError(problem)
    return node


def _syntax_problem(exc: yaml.YAMLError, file: str) -> Problem:
    """A parser or composer error, located where the YAML library marks it."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(file, 1, 1, "", f"invalid YAML: {exc}", "yaml-syntax")
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    msg = exc.problem or str(exc)
    if exc.context:
        msg = f"{exc.context}, {msg}"
    return Problem(file, line, col, "", f"invalid YAML: {msg}", "yaml-syntax")


def _constructor_problem(exc: yaml.constructor.ConstructorError, file: str) -> Problem:
    mark = exc.problem_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(file, line, col, "", f"invalid YAML: {exc.problem}", "yaml-syntax")


def safe_load_bounded(text: str, file: str):
    """``yaml.safe_load`` within the limits: the data, or LimitError with a located problem."""
    node = compose_bounded(text, file)
    if node is None:
        return None
    try:
        return yaml.SafeLoader("").construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        raise LimitError(_constructor_problem(exc, file)) from None


def safe_load_all_bounded(text: str, file: str) -> list:
    """``yaml.safe_load_all`` within the limits (each document checked before it is built):
    the documents, or LimitError with a located problem."""
    out = []
    try:
        nodes = yaml.compose_all(text, Loader=_Loader)
        for node in nodes:
            if node is None:
                out.append(None)
                continue
            problem = check_limits(node, file)
            if problem is not None:
                raise LimitError(problem)
            out.append(yaml.SafeLoader("").construct_document(node))
    except yaml.constructor.ConstructorError as exc:
        raise LimitError(_constructor_problem(exc, file)) from None
    except yaml.YAMLError as exc:
        raise LimitError(_syntax_problem(exc, file)) from None
    return out


class LimitError(ValueError):
    """A YAML document that is malformed or breaks the loader's limits; ``problem`` says where."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.format())


def load_yaml(text: str, file: str = "<string>") -> tuple[object, SourceMap, list[Problem]]:
    """Load one YAML document. Returns (data, source map, problems)."""
    smap = SourceMap(file)
    try:
        node = compose_bounded(text, file)
    except LimitError as exc:
        return None, smap, [exc.problem]
    if node is None:
        smap._values[()] = (1, 1)
        return None, smap, []
    try:
        data = _fast_build(node)
        if data is not _SLOW:
            smap.root = node  # positions on demand
            return data, smap, []
        builder = _Builder(smap)
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        return None, smap, [_constructor_problem(exc, file)]
    return data, smap, builder.problems
