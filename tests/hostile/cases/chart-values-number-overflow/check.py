"""Numbers beyond int32 / uint32 given to the chart directly are refused by values.schema.json."""

import json
import subprocess

OVERRIDES = [
    {"services": {"web": {"rateLimit": {"enabled": True, "maxTokens": 99999999999999999999, "tokensPerFill": 1,
                                        "fillInterval": "1s"}}}},
    {"services": {"web": {"connectionPool": {"http": {"http2MaxRequests": 4294967296}}}}},
    {"services": {"web": {"connectionPool": {"tcp": {"maxConnections": 9999999999999}}}}},
    {"services": {"web": {"outlierDetection": {"consecutive5xxErrors": 4294967296}}}},
]


def check(ctx):
    chart = ctx.dir / "charts" / "shop-mesh"
    base = ctx.dir / "values" / "shop-mesh" / "dev.yaml"
    for i, values in enumerate(OVERRIDES):
        extra = ctx.dir.parent / f"overflow-{i}.json"
        extra.write_text(json.dumps(values), encoding="utf-8")
        for helm in ("helm", "helm3"):
            proc = subprocess.run([ctx.tools[helm], "template", "m", str(chart), "-f", str(base), "-f", str(extra)],
                                  env=ctx.env, capture_output=True, text=True, timeout=120)
            assert proc.returncode != 0 and "schema" in proc.stderr, (helm, values, proc.stderr[-500:])
            assert "maximum" in proc.stderr or "less than or equal" in proc.stderr or "must be <=" in proc.stderr, \
                proc.stderr[-500:]
