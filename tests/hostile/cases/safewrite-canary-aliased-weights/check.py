def check(ctx):
    from pathlib import Path
    assert (ctx.dir / "catalog.yaml").read_text(encoding="utf-8") == (Path(__file__).parent / "catalog.yaml").read_text(encoding="utf-8")
