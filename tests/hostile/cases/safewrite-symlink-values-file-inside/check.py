def check(ctx):
    link = ctx.dir / "values/shop-mesh/prod.yaml"
    assert link.is_symlink()
    text = (ctx.dir / "shared/prod.yaml").read_text()
    assert "mine: 1" in text and "credentialName: shop-tls  # chartgen" in text
