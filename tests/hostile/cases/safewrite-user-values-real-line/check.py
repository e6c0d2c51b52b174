def check(ctx):
    text = (ctx.dir / "values/shop-mesh/prod.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[19] == "   region: [eu-west-1", "line 20 is the broken one"
    assert "values/shop-mesh/prod.yaml:20:" in ctx.steps[-1].stderr
    assert not (ctx.dir / "charts").exists(), "nothing is written"
