def check(ctx):
    assert sorted(p.name for p in (ctx.dir / "site").iterdir()) == [".chartgen.lock", "index.yaml"]
