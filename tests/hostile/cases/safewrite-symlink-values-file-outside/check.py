def check(ctx):
    assert (ctx.dir.parent / "outside" / "prod.yaml").read_text() == "mine: 1\n"
