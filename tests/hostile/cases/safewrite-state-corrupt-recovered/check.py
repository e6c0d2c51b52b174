import yaml


def check(ctx):
    assert yaml.safe_load((ctx.dir / "charts/shop-mesh/Chart.yaml").read_text())["version"] == "2.0.0"
