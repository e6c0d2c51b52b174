"""No dead keys: every key chartgen writes into the values of an upstream chart's release
changes that release's render when its value changes.

For each release of a remote chart (Istio's charts and the add-ons) and each environment,
the release's values layers are written as helmfile would stack them (``common.yaml``, the
chartgen-owned ``generated/`` files, ``<env>.yaml``) and the real chart archive from
``$CHARTGEN_UPSTREAM_CHARTS`` is rendered with helm 3. Then each leaf chartgen writes is
changed, one at a time, in a last layer on top, and the chart is rendered again: the output
must differ. A key the chart ignores (as jaeger 4.x ignores ``allInOne.enabled``) would
render the same and fail the test, unless it is listed in ``RESTATED`` with the reason it is
written anyway; a listed key must really be a no-op, so the list cannot go stale.

The kiali-server chart passes its values through into Kiali's own configuration, so there a
changed render proves only that the chart copied the key. Kiali is the reader: every key
chartgen writes for it must be one Kiali 2.26's configuration schema knows and does not
mark as deprecated or ignored (``tests/fixtures/upstream/kiali-2.26.0-config-schema.json``).
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from chartgen.releases.helmfile import ENV_FILE, build_generated_values, build_helmfile, build_release_values
from chartgen.catalog.mesh import env_views
from chartgen.base.toolchain import find_tool
from chartgen.catalog.validate import load_catalog

from conftest import ROOT

KIALI_SCHEMA = Path(__file__).parent / "fixtures" / "upstream" / "kiali-2.26.0-config-schema.json"

# (release, dotted key path) → why chartgen writes a value the chart would render the same
# without. Empty today: every key chartgen writes changes what the chart renders.
RESTATED: dict[tuple[str, str], str] = {}


def _leaves(data, path=()):
    """Leaves as userfiles defines them: scalars, lists and empty mappings."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, path + (key,))
    elif path:
        yield path, data


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list):
        return value[:-1] if value else ["changed"]
    if isinstance(value, dict):
        return {"changed": "changed"}
    return "changed"


def _nested(path: tuple, value) -> dict:
    out: dict = {}
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def _archive(charts: Path, name: str, version: str) -> Path:
    index = yaml.safe_load((charts / "index.yaml").read_text(encoding="utf-8"))
    entries = [e for e in index["entries"].get(name, []) if e["version"] == version]
    assert entries, f"{charts}/index.yaml has no {name} {version}: the tier cannot check that release"
    entry = entries[0]
    return charts / Path(entry["urls"][0]).name


_KEY = re.compile(r"^\s*(?:- )?([^:\s]+):")


def _masked(text: str, noisy: set[str]) -> str:
    """``text`` with the values of the keys that change between two identical renders
    (random passwords and their checksums) blanked."""
    out = []
    for line in text.splitlines():
        m = _KEY.match(line)
        out.append(f"{m.group(1)}: <random>" if m and m.group(1) in noisy else line)
    return "\n".join(out)


def _noisy_keys(a: str, b: str) -> set[str]:
    keys = set()
    for line in set(a.splitlines()) ^ set(b.splitlines()):
        m = _KEY.match(line)
        assert m, f"two renders differ in a line that is no `key: value`: {line!r}"
        keys.add(m.group(1))
    return keys


def _cases(catalog):
    """(release, chart archive name/version, namespace, env, layers, leaves to change)."""
    docs = build_helmfile(catalog, chart_dir="./charts/x", chart_mirror="http://127.0.0.1:1")
    values = {**build_release_values(catalog), **build_generated_values(catalog)}
    for rel in docs[1]["releases"]:
        if not rel["chart"].startswith("mirror/"):
            continue  # the mesh chart: its values are the chart's own contract
        chart = rel["chart"].split("/", 1)[1]
        envs = [v.name for v in env_views(catalog) if f"{rel['name']}/{v.name}.yaml" in values]
        for i, env in enumerate(envs):
            layers = [values[f.removeprefix("values/").replace(ENV_FILE, env)] for f in rel["values"]]
            files = [f.removeprefix("values/").replace(ENV_FILE, env) for f in rel["values"]]
            # environment-independent files are probed once (in the first environment)
            probe = [(path, value) for f, layer in zip(files, layers) if i == 0 or ENV_FILE in rel["values"][files.index(f)]
                     for path, value in _leaves(layer)]
            yield rel["name"], chart, rel["version"], rel["namespace"], env, layers, probe


CATALOGS = {"sidecar": ROOT / "catalog.yaml", "ambient": ROOT / "examples" / "ambient" / "catalog.yaml"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOGS["sidecar"])


@pytest.mark.integration
@pytest.mark.parametrize("which", sorted(CATALOGS))
def test_every_written_key_changes_the_render(which, upstream_charts, tmp_path, helm_env):
    catalog = load_catalog(CATALOGS[which])
    helm3 = find_tool("helm3", start=ROOT).path

    def render(release, archive, namespace, files) -> str:
        cmd = [helm3, "template", release, str(archive), "--namespace", namespace]
        for f in files:
            cmd += ["-f", str(f)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=helm_env, timeout=300)
        if proc.returncode != 0:
            # a key the chart's schema validates but no template reads would fail here too:
            # only a template's own failure counts as the key being read
            assert "values don't meet the specifications of the schema" not in proc.stderr, proc.stderr
            return f"render failed: {proc.stderr.strip()}"
        return proc.stdout

    jobs = []
    dead, restated_alive, probed = [], [], 0
    for n, (release, chart, version, namespace, env, layers, leaves) in enumerate(_cases(catalog)):
        archive = _archive(upstream_charts, chart, version)
        base_files = []
        for j, layer in enumerate(layers):
            path = tmp_path / f"{n}-{j}.yaml"
            path.write_text(yaml.safe_dump(layer, sort_keys=False), encoding="utf-8")
            base_files.append(path)
        for k, (key, value) in enumerate(leaves):
            override = tmp_path / f"{n}-probe-{k}.yaml"
            override.write_text(yaml.safe_dump(_nested(key, _changed(value))), encoding="utf-8")
            jobs.append((release, env, ".".join(key), archive, namespace, base_files, override))
        jobs.append((release, env, None, archive, namespace, base_files, None))  # the base, twice
        jobs.append((release, env, "", archive, namespace, base_files, None))

    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(pool.map(lambda j: render(j[0], j[3], j[4], j[5] + ([j[6]] if j[6] else [])), jobs))

    bases: dict[tuple, list[str]] = {}
    for job, out in zip(jobs, outputs):
        if job[2] in (None, ""):
            assert not out.startswith("render failed"), f"{job[0]} ({job[1]}): {out}"
            bases.setdefault((job[0], job[1]), []).append(out)
    for job, out in zip(jobs, outputs):
        release, env, key = job[:3]
        if key in (None, ""):
            continue
        probed += 1
        first, second = bases[(release, env)]
        noisy = _noisy_keys(first, second)
        unchanged = _masked(out, noisy) == _masked(first, noisy)
        if (release, key) in RESTATED:
            if not unchanged:
                restated_alive.append(f"{release}: {key}")
        elif unchanged:
            dead.append(f"{release} ({env}): {key}")
    assert probed >= {"sidecar": 40, "ambient": 30}[which]
    assert dead == [], "keys the chart ignores (drop them, or list them in RESTATED with a reason):\n" + "\n".join(dead)
    assert restated_alive == [], "listed as restatements but they change the render:\n" + "\n".join(restated_alive)


def _kiali_problem(schema: dict, path: tuple) -> str | None:
    """Why Kiali would not read ``path`` (None when it does)."""
    node = schema
    for depth, key in enumerate(path):
        if node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node and key not in node.get("properties", {}):
            return None  # a free-form map: its keys are data (annotations, variables)
        if node.get("type") == "array":
            node = node.get("items") or {}
            if isinstance(key, int):
                continue
        props = node.get("properties") or {}
        if key not in props:
            return f"not a Kiali 2.26 setting ({'.'.join(map(str, path[:depth + 1]))} unknown)"
        node = props[key]
        if str(node.get("description", "")).startswith("DEPRECATED") or "will be ignored" in str(node.get("description", "")):
            return f"deprecated or ignored by Kiali 2.26: {node['description'].splitlines()[0]}"
    return None


def _paths(data, path=()):
    """Every key path, lists included (their items by index)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield path + (key,)
            yield from _paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, path + (i,))


def test_every_kiali_key_is_one_kiali_reads(catalog):
    schema = json.loads(KIALI_SCHEMA.read_text(encoding="utf-8"))
    values = build_release_values(catalog)
    written = [(f, p) for f, data in values.items() if f.startswith("kiali/") for p in _paths(data)]
    assert len(written) > 20
    problems = [f"{f}: {'.'.join(map(str, p))}: {why}" for f, p in written if (why := _kiali_problem(schema, p))]
    assert problems == []
    # the check sees what it must: the keys Kiali ignores are refused
    assert _kiali_problem(schema, ("istio_namespace",)).startswith("deprecated or ignored")
    assert _kiali_problem(schema, ("external_services", "istio", "root_namespace")).startswith("deprecated or ignored")
    assert _kiali_problem(schema, ("external_services", "grafana", "no_such_key")).startswith("not a Kiali")
