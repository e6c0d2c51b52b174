"""yamlout.dump writes with libyaml's emitter only where it writes what PyYAML's would: the
files chartgen writes stay byte-identical whichever emitter ran."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from chartgen.base import yamlout

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


def pyyaml_text(data, width: int) -> str:
    """The text PyYAML's own emitter writes, with the same policy and options."""
    return yaml.dump(data, Dumper=yamlout.SafeDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=width)


scalars = st.one_of(
    st.text(alphabet=PRINTABLE, max_size=40),
    st.text(alphabet=PRINTABLE + "\n", max_size=200),
    st.text(alphabet=" -:#'\"|>{}[],&*!%@`?~ab01.eE+\\\n", max_size=30),
    st.text(alphabet="ab '", min_size=100, max_size=300),  # folded at the width
    st.text(max_size=20),  # any character: controls, line separators, outside the BMP
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
)
keys = st.one_of(
    st.text(alphabet=PRINTABLE, min_size=1, max_size=20),
    st.text(alphabet=" -:#'\"ab01.?", max_size=8),  # the empty key too
    st.text(alphabet="ab ", min_size=90, max_size=140),  # around PyYAML's 128-character simple key
    st.text(max_size=6),
)
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(keys, documents, max_size=5), st.sampled_from([120, 4096]))
def test_dump_writes_what_pyyaml_writes(data, width):
    assert yamlout.dump(data, width=width) == pyyaml_text(data, width)


@pytest.mark.parametrize("data", [
    {"": None},  # PyYAML: an explicit key
    {"a" * 128: 1},
    {"a\rb": []},
    {"k": "\U0001f600"},  # libyaml escapes it
    {"k": "tab\there"},
    {"k": ("tuple",)},
])
def test_data_the_emitters_write_differently_goes_to_pyyaml(data):
    assert not yamlout.libyaml_writes_alike(data)


def test_a_chart_file_shape_goes_to_libyaml():
    data = {"apiVersion": "v2", "name": "mesh", "annotations": {"example.io/changes": "- kind: added\n  x: 'y'\n"},
            "items": [1, 2.5, True, None, "on", "", "a: b"]}
    assert yamlout.libyaml_writes_alike(data)
    assert yamlout.dump(data) == pyyaml_text(data, 120)
