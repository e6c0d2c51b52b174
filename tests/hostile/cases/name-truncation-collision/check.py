"""Each callee keeps its own allow rule from the caller, under a distinct name."""


def check(ctx):
    for helm in ("helm", "helm3"):
        docs = ctx.helm_template("dev", helm)
        allows = {}
        for d in docs:
            if d["kind"] == "AuthorizationPolicy" and d["spec"].get("rules") and "selector" in d["spec"]:
                principals = d["spec"]["rules"][0]["from"][0]["source"].get("principals", [])
                if any(p.endswith("/sa/orders-frontend-gateway-service") for p in principals):
                    allows[d["metadata"]["name"]] = d["spec"]["selector"]["matchLabels"]["app"]
        assert sorted(allows.values()) == ["payments-processing-worker-alpha", "payments-processing-worker-bravo"], allows
        names = sorted(allows)
        assert all(len(n) == 63 and n.startswith("allow-orders-frontend-gateway-service-to-pa") for n in names), names
        assert names[0] != names[1], names
