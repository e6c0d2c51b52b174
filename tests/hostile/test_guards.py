"""Guards behind the catalog model: what holds even when a string gets past validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartgen.base import naming
from chartgen.base.errors import RenderError
from chartgen.releases.helmfile import build_helmfile, dump_helmfile
from chartgen.catalog.validate import load_catalog

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "catalog.yaml")


@pytest.mark.parametrize("payload", ['{{ exec "sh" (list "-c" "touch pwned") }}', "a }} b", "ctx\nreleases: []"])
def test_helmfile_emitter_refuses_template_delimiters_from_any_source(catalog, payload):
    docs = build_helmfile(catalog, chart_dir="./charts/x")
    docs[0]["environments"]["dev"]["kubeContext"] = payload
    with pytest.raises(RenderError, match="environments.dev.kubeContext"):
        dump_helmfile(docs)


def test_helmfile_emitter_keeps_its_own_environment_file_names(catalog):
    text = dump_helmfile(build_helmfile(catalog, chart_dir="./charts/x"))
    assert "{{ .Environment.Name }}" in text


@pytest.mark.parametrize("value", ["https://x/{{ exec }}", "oci://r.example/c\nreleases: []", "ftp://x/y",
                                   "https://u:p@x/y", "https://x/a b"])
def test_chart_mirror_problems(value):
    assert naming.chart_mirror_problem(value)


@pytest.mark.parametrize("value", ["https://charts.example/mirror/", "oci://registry.internal:5000/charts",
                                   "http://127.0.0.1:8080"])
def test_chart_mirrors_accepted(value):
    assert naming.chart_mirror_problem(value) is None


@pytest.mark.parametrize("value", ["a.example\n", "a" * 64 + ".example", ".".join(["a" * 63] * 4) + "x"])
def test_hosts_refused(value):
    assert not naming.is_host(value)


# --- one YAML emitter policy ------------------------------------------------------------------

YAML_WORDS = ("y Y yes Yes YES n N no No NO on On ON off Off OFF true True TRUE false False FALSE ~ null Null NULL "
              "1:20 0o17 012 08 1e3 1E3 .inf -.inf +.INF .nan = << 0x1F +1 -1 1_000 0b101 2001-12-14 1.0 .5 "
              "+12.5e-3 0 -0 Infinity").split() + [""]


def _ruamel_load(text):
    import io

    from ruamel.yaml import YAML

    return YAML(typ="rt").load(io.StringIO(text))


@pytest.mark.parametrize("word", YAML_WORDS)
def test_emitter_words_read_back_as_strings_in_yaml_11_and_12(word):
    import yaml

    from chartgen.base import yamlout

    text = yamlout.dump({word: word, "list": [word]})
    for loaded in (yaml.safe_load(text), _ruamel_load(text)):
        assert {str(k): v for k, v in loaded.items()} == {word: word, "list": [word]}
        assert all(type(k) is not bool and k is not None for k in loaded)
    assert yamlout.ambiguous(word) or word in ("Infinity",)


def test_user_values_files_quote_words():
    import yaml

    from chartgen.releases.userfiles import merge_user_values

    data = {"env": {w: w for w in YAML_WORDS if w}}
    text = merge_user_values(None, data, header="h")
    assert yaml.safe_load(text) == data
    assert {str(k): v for k, v in _ruamel_load(text)["env"].items()} == data["env"]
    assert merge_user_values(text, data, header="h") == text  # stable


def test_values_yaml_keys_quoted():
    import yaml

    from chartgen.chart.render import values_yaml

    values = {"env": {"ON": "yes", "Y": "n", "1:20": "x"}}
    assert yaml.safe_load(values_yaml(values)) == values


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="yYnNoOfFtTrRuUeEaAlLsS0123456789.:+-_~=<eEx ", max_size=8))
def test_any_short_string_reads_back(text):
    import yaml

    from chartgen.base import yamlout

    out = yamlout.dump({"k": text})
    assert yaml.safe_load(out) == {"k": text}
    assert dict(_ruamel_load(out)) == {"k": text}


MULTILINE = ["a\n012<<\u2028  x", "x\u2028y\u2029z", "nel\x85", "tab\there\nx", "trailing  \nline", " lead\nx",
             "end\n\n", "\nstart", "one\n", "a\n---\nkind: Secret", "a\n...\nb"]


def test_multiline_strings_read_back_everywhere():
    import yaml

    from chartgen.chart.render import values_yaml
    from chartgen.releases.userfiles import merge_user_values

    data = {"env": {f"K{i}": v for i, v in enumerate(MULTILINE)}}
    for text in (values_yaml(data), merge_user_values(None, data, header="h")):
        assert yaml.safe_load(text) == data, text
        assert {str(k): v for k, v in _ruamel_load(text)["env"].items()} == data["env"]
        assert "\u2028" not in text and "\x85" not in text and "\n...\n" not in text
