"""The hostile file is left exactly as it was."""

from pathlib import Path


def check(ctx):
    src = Path(__file__).parent / "setup"
    for f in src.rglob("*.yaml"):
        rel = f.relative_to(src)
        assert (ctx.dir / rel).read_text(encoding="utf-8") == f.read_text(encoding="utf-8"), rel
