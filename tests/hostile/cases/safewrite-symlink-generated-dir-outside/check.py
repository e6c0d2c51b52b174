def check(ctx):
    outside = ctx.dir.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["precious.yaml", "slo-rules-old.yaml"]
    assert (outside / "precious.yaml").read_text() == "keep: me\n"
