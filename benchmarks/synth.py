"""A synthetic catalog of N services, for the benchmarks.

Each service has 2 ports, 2 versions with a canary, 3–5 dependencies, an SLO and a fault
rule (which applies in dev, where chaos is on). The same N always gives the same catalog.
"""

from __future__ import annotations

import random
import sys

import yaml


def synth_catalog(n: int, seed: int = 7) -> dict:
    rng = random.Random(seed * 1_000_003 + n)
    names = [f"svc-{i:04d}" for i in range(n)]
    services = {}
    for i, name in enumerate(names):
        others = names[:i] + names[i + 1:]
        calls = sorted(rng.sample(others, min(len(others), rng.randint(3, 5))))
        canary = rng.choice([5, 10, 25])
        services[name] = {
            "ports": [{"name": "http", "port": 8080, "protocol": "HTTP"},
                      {"name": "grpc", "port": 9090, "protocol": "GRPC"}],
            "expose": {"host": name, "paths": [f"/{name}"]},
            "versions": {"v1": {}, "v2": {}},
            "weights": {"v1": 100 - canary, "v2": canary},
            "canary": {"stable": "v1", "candidate": "v2", "steps": [canary, 50, 100]},
            "calls": calls,
            "slo": {"errorRatio": 0.01, "p99Latency": "500ms"},
            "faults": [{"name": "chaos", "match": {"headers": {"x-chaos-test": {"exact": "true"}}},
                        "delay": {"percent": 10, "fixedDelay": "1s"}}],
            "loadBalancer": rng.choice(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"]),
        }
    return {
        "apiVersion": "chartgen.io/v1",
        "kind": "ServiceCatalog",
        "metadata": {"name": "synth", "domain": "synth.local"},
        "defaults": {"timeout": "30s", "retries": {"attempts": 2, "perTryTimeout": "10s"}},
        "environments": {
            "dev": {"mtls": "PERMISSIVE", "chaos": True, "gateway": {"https": False}},
            "prod": {"production": True, "gateway": {"https": True, "credentialName": "synth-tls"}},
        },
        "services": services,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    sys.stdout.write(yaml.safe_dump(synth_catalog(n), sort_keys=False))


if __name__ == "__main__":
    main()
