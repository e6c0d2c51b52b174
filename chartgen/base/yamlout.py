"""The one policy for every YAML file chartgen writes: a string is written so that it reads
back as the same string under YAML 1.1 (helm and helmfile read values with go-yaml v2, which
takes ``y``, ``on``, ``NO`` as booleans and ``1e3`` as a number) and under YAML 1.2 (go-yaml v3,
ruamel). A plain scalar that any of these readers would take for something else (a boolean,
null, a number, a merge key) is quoted; quoting never changes a string, so the rule errs on
the side of quoting.

Every writer goes through here: ``dump`` / ``dump_fast`` (PyYAML; chart files, helmfile.yaml),
``scalar`` (ruamel nodes of the user-owned values files) and ``ambiguous`` (the hand-written
keys of values.yaml).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

__all__ = ["ambiguous", "dump", "dump_fast", "scalar", "SafeDumper", "FastSafeDumper"]

# YAML 1.1 booleans and nulls as go-yaml v2 reads them (PyYAML's resolver omits y/n)
_WORDS_11 = frozenset(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "~ null Null NULL".split()
)
# YAML 1.2 core schema (go-yaml v3, ruamel)
_CORE_12 = re.compile(
    r"""(?x)
    ~|null|Null|NULL
    |true|True|TRUE|false|False|FALSE
    |[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+
    |[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    |[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN
    """
)
_SPECIAL = frozenset({"", "=", "<<"})
_NUMBER_START = frozenset("+-.0123456789")
_NUMERIC_CHARS = frozenset("+-.0123456789_")
_PYYAML = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _go_number(text: str) -> bool:
    """Would go-yaml v2 (strconv.ParseInt base 0, then ParseFloat) read ``text`` as a number?"""
    if text[0] not in _NUMBER_START:
        return False
    plain = text.replace("_", "")
    body = plain.lstrip("+-")
    try:
        if len(body) > 1 and body[0] == "0" and body[1:].isdigit():
            int(body, 8)  # Go reads a leading zero as octal
            return True
        int(plain, 0)
        return True
    except ValueError:
        pass
    for parse in (float, float.fromhex):
        try:
            parse(plain)
            return True
        except ValueError:
            pass
    return False


@lru_cache(maxsize=65536)
def ambiguous(text: str) -> bool:
    """True when ``text`` written as a plain scalar would not read back as this string under
    YAML 1.1 or 1.2 (so it must be quoted)."""
    if text in _SPECIAL or text in _WORDS_11 or _CORE_12.fullmatch(text):
        return True
    if _PYYAML.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        return True  # YAML 1.1 as PyYAML reads it: sexagesimals (1:20), 012, 0b101, dates, .inf
    if "_" in text and text[0] in _NUMBER_START and set(text) <= _NUMERIC_CHARS:
        return True  # digits, signs and dots with underscores: a number to ruamel ('-_', '1_.5')
    return _go_number(text)


# characters that YAML 1.1 readers take for line breaks (NEL, LS, PS) or that a block scalar
# cannot hold: such a string is written double-quoted, with escapes
_NEEDS_ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _represent_str(dumper: yaml.SafeDumper, data: str):
    if _NEEDS_ESCAPES.search(data):
        style = '"'
    elif ambiguous(data):
        style = "'"
    elif "\n" in data:
        # a literal block, unless it would need the keep indicator (several trailing line
        # breaks: PyYAML then ends the document with '...') or an indentation indicator
        # (leading blanks): those are double-quoted
        plain_block = not data.endswith("\n\n") and not data.startswith((" ", "\t", "\n")) and "\t" not in data
        style = "|" if plain_block else '"'
    else:
        style = None
    return dumper.represent_scalar(_STR_TAG, data, style=style)


class SafeDumper(yaml.SafeDumper):
    """PyYAML's safe dumper with the quoting policy."""


class FastSafeDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """The same with libyaml's emitter (large files)."""


for _dumper in (SafeDumper, FastSafeDumper):
    _dumper.add_representer(str, _represent_str)


# What libyaml's emitter writes byte for byte as PyYAML's does (a property test holds them
# equal): strings of printable ASCII (values may hold line breaks), keys non-empty, on one line
# and shorter than 100 characters. Outside of it they differ: PyYAML writes an empty, long or
# multi-line key as an explicit `? ` key, and libyaml escapes characters outside the BMP.
_LIBYAML_TEXT = re.compile(r"[\x20-\x7e\n]*")
_LIBYAML_KEY = re.compile(r"[\x20-\x7e]{1,99}")
_LIBYAML_LEAVES = (bool, int, float, type(None))


def libyaml_writes_alike(data: Any) -> bool:
    """Whether libyaml's emitter writes ``data`` exactly as PyYAML's (see above)."""
    stack = [data]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not _LIBYAML_TEXT.fullmatch(item):
                return False
        elif kind is dict:
            for key, value in item.items():
                if type(key) is not str or not _LIBYAML_KEY.fullmatch(key):
                    return False
                stack.append(value)
        elif kind is list:
            stack.extend(item)
        elif kind not in _LIBYAML_LEAVES:
            return False
    return True


def dump(data: Any, *, width: int = 120) -> str:
    """``data`` as YAML with the quoting policy; libyaml's emitter writes it when it would
    write the same text (most files: it is several times faster), PyYAML's otherwise."""
    dumper = FastSafeDumper if libyaml_writes_alike(data) else SafeDumper
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=width)


def dump_fast(data: Any, *, width: int = 120) -> str:
    return yaml.dump(data, Dumper=FastSafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=width)


def scalar(value: Any) -> Any:
    """A value for a ruamel round-trip document: ambiguous strings become quoted scalars, and
    strings with line breaks or control characters double-quoted ones (escaped)."""
    if isinstance(value, str):
        if "\n" in value or "\r" in value or "\t" in value or _NEEDS_ESCAPES.search(value):
            from ruamel.yaml.scalarstring import DoubleQuotedScalarString  # start-up: ruamel.yaml; only the user-owned values files need it

            return DoubleQuotedScalarString(value)
        if ambiguous(value):
            from ruamel.yaml.scalarstring import SingleQuotedScalarString  # start-up: ruamel.yaml; only the user-owned values files need it

            return SingleQuotedScalarString(value)
    return value
