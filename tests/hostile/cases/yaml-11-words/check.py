"""Every word of the catalog comes back verbatim: env ConfigMaps, subsets and labels, rule names."""

from chartgen.catalog.mesh import env_views
from chartgen.catalog.validate import load_catalog


def check(ctx):
    catalog = load_catalog(ctx.dir / "catalog.yaml")
    for view in env_views(catalog):
        expected_env = {f"{svc.service_name}-env": dict(svc.spec.env) for svc in view.enabled.values() if svc.spec.env}
        expected_subsets = {svc.service_name: {v: svc.version_labels(v) for v in svc.spec.versions}
                            for svc in view.enabled.values() if svc.spec.versions}
        renders = [ctx.helm_template(view.name, "helm"), ctx.helm_template(view.name, "helm3"),
                   ctx.helmfile_template(view.name), ctx.helmfile_template(view.name, v1=True)]
        for docs in renders:
            _check_render(view.name, docs, expected_env, expected_subsets)
    chart = next((ctx.dir / "charts").iterdir()) / "Chart.yaml"
    import yaml
    meta = yaml.safe_load(chart.read_text())
    assert meta["description"] == "on" and {"yes", "y", "off", "1e3"} <= set(meta["keywords"]), meta


def _check_render(env: str, docs: list, expected_env: dict, expected_subsets: dict) -> None:
    maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    for name, values in expected_env.items():
        assert maps[name] == values, (env, name, maps[name], values)
    rules = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "DestinationRule"}
    for name, subsets in expected_subsets.items():
        got = {s["name"]: s["labels"] for s in rules[name]["subsets"]}
        assert got == subsets, (env, name, got, subsets)
    vs = [d for d in docs if d["kind"] == "VirtualService" and d["metadata"]["name"] == "web"]
    beta = [r for r in vs[0]["spec"]["http"] if r.get("name") == "beta"]
    assert beta[0]["match"][0]["queryParams"] == {"on": {"exact": "off"}}, beta
    assert beta[0]["match"][0]["headers"] == {"x-track": {"exact": "true"}}, beta
