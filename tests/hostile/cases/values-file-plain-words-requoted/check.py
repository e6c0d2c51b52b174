"""The owned keys come back quoted; the user's own key and comment stay as they were."""


def check(ctx):
    text = (ctx.dir / "values" / "shop-mesh" / "dev.yaml").read_text(encoding="utf-8")
    for line in ("'ON': 'yes'  # chartgen", "'Y': 'n'  # chartgen", "k: '1:20'  # chartgen",
                 "      MINE: \"on\"  # my own key: chartgen never touches it"):
        assert line in text, f"{line!r} not in:\n{text}"
    docs = ctx.helm_template("dev", "helm3")
    env = next(d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "web-env")
    assert env == {"ON": "yes", "Y": "n", "k": "1:20", "MINE": "on"}, env
