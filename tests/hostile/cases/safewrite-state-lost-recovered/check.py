import yaml


def check(ctx):
    chart = ctx.dir / "charts/shop-mesh"
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["version"] == "2.0.0"
    log = (chart / "CHANGELOG.md").read_text(encoding="utf-8")
    assert log.index("## 2.0.0") < log.index("## 1.4.2") < log.index("## 1.4.1") < log.index("## 1.0.0")
    again = ctx.chartgen("generate")
    assert again.returncode == 0 and "nothing written" in again.stdout, again.stdout + again.stderr
