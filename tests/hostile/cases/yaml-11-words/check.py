"""Every word of the catalog comes back verbatim: env ConfigMaps, subsets and labels, rule names."""

from chartgen.mesh import env_views
from chartgen.validate import load_catalog


def check(ctx):
    catalog = load_catalog(ctx.dir / "catalog.yaml")
    for view in env_views(catalog):
        expected_env = {}
        expected_subsets = {}
        for key, svc in view.enabled.items():
            if svc.spec.env:
                expected_env[f"{svc.service_name}-env"] = dict(svc.spec.env)
            if svc.spec.versions:
                expected_subsets[svc.service_name] = {v: svc.version_labels(v) for v in svc.spec.versions}
        renders = [ctx.helm_template(view.name, "helm"), ctx.helm_template(view.name, "helm3"),
                   ctx.helmfile_template(view.name), ctx.helmfile_template(view.name, v1=True)]
        for docs in renders:
            maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
            for name, env in expected_env.items():
                assert maps[name] == env, (view.name, name, maps[name], env)
            rules = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "DestinationRule"}
            for name, subsets in expected_subsets.items():
                got = {s["name"]: s["labels"] for s in rules[name]["subsets"]}
                assert got == subsets, (view.name, name, got, subsets)
            vs = [d for d in docs if d["kind"] == "VirtualService" and d["metadata"]["name"] == "web"]
            beta = [r for r in vs[0]["spec"]["http"] if r.get("name") == "beta"]
            assert beta[0]["match"][0]["queryParams"] == {"on": {"exact": "off"}}, beta
            assert beta[0]["match"][0]["headers"] == {"x-track": {"exact": "true"}}, beta
    chart = next((ctx.dir / "charts").iterdir()) / "Chart.yaml"
    import yaml
    meta = yaml.safe_load(chart.read_text())
    assert meta["description"] == "on" and {"yes", "y", "off", "1e3"} <= set(meta["keywords"]), meta
