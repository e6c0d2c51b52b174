"""The opted-in weaknesses are really in the output (so lint had something to honour), and
the same catalog without the opt-ins fails lint's rules, not only validate."""


def check(ctx):
    docs = ctx.helm_template("prod")
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    assert any(p["spec"].get("mtls", {}).get("mode") == "PERMISSIVE" for p in kinds["PeerAuthentication"])
    assert any(r.get("fault") for vs in kinds["VirtualService"] for r in vs["spec"].get("http", []))
    assert all(s["spec"]["outboundTrafficPolicy"]["mode"] == "ALLOW_ANY" for s in kinds["Sidecar"])
    assert kinds["RequestAuthentication"][0]["spec"]["jwtRules"][0]["jwksUri"].startswith("http://")
    assert any(h.startswith("*") for se in kinds["ServiceEntry"] for h in se["spec"]["hosts"])
    assert not any(s["port"]["protocol"] in ("HTTPS", "TLS") for g in kinds["Gateway"] for s in g["spec"]["servers"])
    out = ctx.steps[-1].stdout + ctx.steps[-1].stderr
    for code in ("CG101", "CG104", "CG105", "CG109", "CG110", "CG111"):
        assert code not in out, out
