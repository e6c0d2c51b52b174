def check(ctx):
    readme = ctx.dir / "charts/shop-mesh/README.md"
    readme.write_bytes(b"\xff\xfe\x00junk")
    step = ctx.chartgen("diff", "--no-color")
    assert step.returncode == 0 and "Traceback" not in step.stderr, step.stderr
    assert "Binary files a/charts/shop-mesh/README.md and b/charts/shop-mesh/README.md differ" in step.stdout
    assert ctx.chartgen("generate").returncode == 0
    assert "# shop-mesh" in readme.read_text(encoding="utf-8")
