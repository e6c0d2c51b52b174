"""The catalog is resolved once per run into a ``Mesh`` that the renderers share; nothing is
memoised on the (frozen) catalog itself."""

from __future__ import annotations

import importlib

from chartgen.catalog import mesh as mesh_module
from chartgen.catalog.mesh import Mesh, env_views, resolve
from chartgen.catalog.validate import load_catalog
from chartgen.chart.values import chart_values, mesh_env_values, mesh_values
from conftest import ROOT

generate_module = importlib.import_module("chartgen.lifecycle.generate")


def test_a_mesh_holds_its_views_and_their_values():
    catalog = load_catalog(ROOT / "catalog.yaml")
    mesh = resolve(catalog)
    assert isinstance(mesh, Mesh) and resolve(mesh) is mesh and mesh.catalog is catalog
    assert [v.name for v in mesh.views] == sorted(catalog.environments)
    assert all(v.mesh is mesh for v in mesh.views) and env_views(mesh) == list(mesh.views)
    dev = mesh.view("dev")
    assert dev.services is dev.services  # resolved once per view
    assert chart_values(catalog, dev) is mesh_values(mesh).of(dev)  # the view's mesh holds its values
    assert mesh_env_values(mesh) is mesh_values(mesh).overrides
    # the catalog carries no derived data: another resolution starts from scratch
    assert catalog.__pydantic_private__ is None
    other = resolve(catalog)
    assert other is not mesh and other.view("dev").services is not dev.services
    assert chart_values(other, other.view("dev")) == chart_values(mesh, dev)


def test_plan_resolves_each_service_once_per_environment(monkeypatch, tmp_path):
    catalog = load_catalog(ROOT / "catalog.yaml")
    seen: list[tuple[str, str | None]] = []
    real = mesh_module.resolve_service

    def counting(cat, key, env):
        seen.append((key, env))
        return real(cat, key, env)

    monkeypatch.setattr(mesh_module, "resolve_service", counting)
    generate_module.plan(catalog, tmp_path)
    envs = [None, *sorted(catalog.environments)]
    assert sorted(seen, key=str) == sorted(((k, e) for k in catalog.services for e in envs), key=str)
