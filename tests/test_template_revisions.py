"""The changelog's claim "the rendered objects for the committed values are unchanged" rests on
the template revisions (``chartgen.lifecycle.versioning.TEMPLATE_REVISIONS``): a template change that
renders other objects must add a revision saying what changes. This test renders the values
recorded with the newest revision (those of the repository's catalog and of the examples,
every environment, frozen so that catalog and values edits do not count) through the current
templates with the real helm, and fails when the objects differ from those recorded.

`pytest --update-golden` records values and objects for a NEW revision only: it refuses to
record other objects under a revision that already has some, which a silent template change
would need."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chartgen.lifecycle.versioning import TEMPLATE_REVISION
from chartgen.chart.render import ChartMeta, build_chart, dump_yaml
from chartgen.catalog.validate import load_catalog
from chartgen.chart.values import mesh_env_values
from conftest import ROOT
from helpers.meshrender import KUBE_VERSION

pytestmark = pytest.mark.integration  # renders with the real helm

RECORD_DIR = Path(__file__).resolve().parent / "golden" / "template-revision"
CORPUS = {"bytefreezer": "catalog.yaml",
          **{p.parent.name: p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "examples").glob("*/catalog.yaml"))}}


def _objects_fingerprint(text: str) -> str:
    """The rendered objects, order and YAML layout aside."""
    docs = sorted(json.dumps(d, sort_keys=True) for d in yaml.safe_load_all(text) if d)
    return hashlib.sha256("\n".join(docs).encode()).hexdigest()


def _freeze_values(where: Path) -> None:
    """The corpus's values as the catalogs give them now: values.yaml and one file per environment."""
    shutil.rmtree(where, ignore_errors=True)
    for name, rel in CORPUS.items():
        catalog = load_catalog(ROOT / rel)
        (where / name).mkdir(parents=True)
        (where / name / "values.yaml").write_text(build_chart(catalog, ChartMeta(version="1.0.0"))["values.yaml"])
        for env, values in mesh_env_values(catalog).items():
            (where / name / f"{env}.yaml").write_text(dump_yaml(values))


def _render(helm: str, helm_env: dict, values_dir: Path, tmp: Path) -> dict[str, str]:
    """{"<name>:<env>": fingerprint} of the current templates with the values in ``values_dir``."""
    out = {}
    for name, rel in CORPUS.items():
        chart = tmp / name
        for path, text in build_chart(load_catalog(ROOT / rel), ChartMeta(version="1.0.0")).items():
            (chart / path).parent.mkdir(parents=True, exist_ok=True)
            (chart / path).write_text(text)
        shutil.copy(values_dir / name / "values.yaml", chart / "values.yaml")  # the recorded values, not today's
        for env_file in sorted((values_dir / name).glob("*.yaml")):
            if env_file.name == "values.yaml":
                continue
            r = subprocess.run([helm, "template", "mesh", str(chart), "-n", "istio-system", "--kube-version",
                                KUBE_VERSION, "-f", str(env_file)], capture_output=True, text=True, env=helm_env,
                               timeout=120)
            if r.returncode != 0:
                pytest.fail(f"the values recorded with template revision {TEMPLATE_REVISION} no longer render "
                            f"({name}:{env_file.stem}): the values contract changed; add a TemplateRevision saying what "
                            f"changes, then pytest --update-golden\n{r.stderr}")
            out[f"{name}:{env_file.stem}"] = _objects_fingerprint(r.stdout)
    return out


def test_the_rendered_objects_change_only_with_a_new_template_revision(helm, helm_env, tmp_path, update_golden):
    record_file = RECORD_DIR / "objects.json"
    record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
    if record.get("revision") == TEMPLATE_REVISION:
        rendered = _render(helm, helm_env, RECORD_DIR / "values", tmp_path)
        moved = sorted(k for k in set(record["objects"]) | set(rendered) if record["objects"].get(k) != rendered.get(k))
        assert not moved, (
            f"the templates render other objects than template revision {TEMPLATE_REVISION} recorded for the same "
            f"values ({', '.join(moved)}): add a TemplateRevision to chartgen/lifecycle/versioning.py saying what changes in the "
            "rendered objects (every regenerated chart's changelog shows it), then record it with pytest --update-golden")
        return
    if not update_golden:
        pytest.fail(f"template revision {TEMPLATE_REVISION} has no recorded objects: run pytest --update-golden")
    _freeze_values(RECORD_DIR / "values")
    rendered = _render(helm, helm_env, RECORD_DIR / "values", tmp_path)
    record_file.write_text(json.dumps({"revision": TEMPLATE_REVISION, "objects": rendered}, indent=1, sort_keys=True)
                           + "\n", encoding="utf-8")


def test_the_corpus_is_the_committed_catalogs():
    assert CORPUS["bytefreezer"] == "catalog.yaml" and len(CORPUS) >= 4, CORPUS
