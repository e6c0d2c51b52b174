"""Read the generated SLO rules back per service: which alert covers a service, with the
recorded expression it compares, its reporter and its threshold."""

from __future__ import annotations

import re

_ALERT = re.compile(r'^(?P<record>[\w:]+)\{reporter="(?P<reporter>\w+)",destination_service=~`(?P<regex>[^`]+)`\} '
                    r'> (?P<threshold>[\d.]+)$')
_GROUP = re.compile(r"\(([^)]*)\)\\\.([a-z0-9-]+)\\\.svc\\\.cluster\\\.local")


def service_alerts(doc: dict) -> dict[tuple[str, str], str]:
    """(service, alert name) → ``<recorded expression> [reporter=R] > <threshold>`` for every
    service an alert rule names, from ``{"groups": [...]}``. Every FQDN the rule's regular
    expression matches is listed; a service named twice for one alert fails."""
    rules = [r for g in doc["groups"] for r in g["rules"]]
    recorded = {r["record"]: r["expr"] for r in rules if "record" in r}
    out: dict[tuple[str, str], str] = {}
    for r in rules:
        if "alert" not in r:
            continue
        m = _ALERT.match(r["expr"])
        assert m, r["expr"]
        regex = re.compile(m["regex"])
        for names, ns in _GROUP.findall(m["regex"]):
            for name in names.split("|"):
                assert regex.fullmatch(f"{name}.{ns}.svc.cluster.local")
                key = (name, r["alert"])
                assert key not in out, f"{key} in two alert rules"
                out[key] = f'{recorded[m["record"]]} [reporter={m["reporter"]}] > {m["threshold"]}'
    return out
