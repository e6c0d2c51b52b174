def check(ctx):
    assert not list(ctx.dir.rglob("*.chartgen-tmp"))
    assert (ctx.dir / ".notes.chartgen-tmp.txt").read_text() == "mine\n"
    # a killed run again, now over a generated tree: --check reports, changes nothing
    stray = ctx.dir / "values" / "shop-mesh" / ".prod.yaml.q7w8e9.chartgen-tmp"
    stray.write_text("half a values file\n", encoding="utf-8")
    step = ctx.chartgen("generate", "--check")
    assert step.returncode == 0, step.stdout + step.stderr
    assert f"note: {stray} is a temporary file left by an interrupted chartgen run" in step.stderr, step.stderr
    assert stray.exists()
    step = ctx.chartgen("generate")
    assert "removed 1 temporary file(s) left by an interrupted run: values/shop-mesh/.prod.yaml.q7w8e9.chartgen-tmp" \
        in step.stderr, step.stderr
    assert not stray.exists()
