"""Rules that the catalog model (``chartgen.catalog.model``: types, enums, ranges, unknown keys,
one-of settings) and the YAML reader (``chartgen.base.yamlsrc``, ``chartgen.base.reading``) enforce.
They have no check here; they are in the table so that every rule id is documented."""

from __future__ import annotations

from functools import partial

from .registry import MODEL, READER, rule

_model = partial(rule, section="Structure (the catalog model)", source=MODEL)
_reader = partial(rule, section="Reading the file", source=READER)
_WEB = "services:\n  web:\n    ports: [{name: http, port: 8080}]\n"
_V = _WEB + "    versions: {v1: {}, v2: {}}\n"
_GITOPS = "gitops:\n  repoURL: https://git.example/shop.git\n"


def _route_match(match: str) -> str:
    return _V + f"    routes: [{{name: beta, version: v2, match: {match}}}]\n"


# --- the file ----------------------------------------------------------------------------------
_reader("io", "The catalog file can be read", fail=None, ok=_WEB,
        note="the file is missing, a directory, or not readable by the user running chartgen")
_reader("encoding", "The catalog is UTF-8 text", fail=None, ok=_WEB,
        note="the file is UTF-16 or UTF-32 text, holds a NUL byte, or has bytes that are not UTF-8")
_reader("yaml-syntax", "The catalog is well-formed YAML whose mapping keys are scalars",
        fail="services: [web\n", ok=_WEB)
_reader("duplicate-key", "No mapping has the same key twice (YAML would keep only the last)",
        fail=_WEB + "    timeout: 5s\n    timeout: 10s\n", ok=_WEB + "    timeout: 10s\n")
_reader("yaml-limits", "The catalog is at most 64 levels deep and its aliases expand to at most 1,000,000 nodes, "
        "none containing itself", fail="metadata: &m {name: shop, domain: shop.example, keywords: [*m]}\n",
        ok="metadata: {name: shop, domain: shop.example, keywords: [shop]}\n")
_reader("yaml-depth", "The catalog is not nested deeper than Python can follow", fail=None, ok=_WEB,
        note="nesting deep enough to exhaust Python's recursion while the catalog is read (yaml-limits "
             "catches any catalog over 64 levels first)")

# --- generic structure -------------------------------------------------------------------------
_model("required", "Every required key is present", fail="metadata: {name: shop}\n",
       ok="metadata: {name: shop, domain: shop.example}\n")
_model("unknown-key", "Every key is one the catalog knows (a close match is suggested)",
       fail=_WEB + "    timout: 5s\n", ok=_WEB + "    timeout: 5s\n")
_model("type", "Every value has its key's type (a string, a number, a boolean, a list, a mapping)",
       fail="environments:\n  dev: {gateway: {https: false}, chaos: 'yes'}\n",
       ok="environments:\n  dev: {gateway: {https: false}, chaos: true}\n")
_model("enum", "A value with a fixed set of choices is one of them",
       fail="services:\n  web:\n    ports: [{name: http, port: 8080, protocol: HTTPX}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080, protocol: HTTP2}]\n")
_model("length", "Lists and mappings that need entries have them; strings that must not be empty are not",
       fail="environments: {}\n", ok="environments:\n  dev: {gateway: {https: false}}\n")
_model("range", "Numbers are within the range of their key (and of the Istio or Envoy field they become)",
       fail=_WEB + "    retries: {attempts: 21}\n", ok=_WEB + "    retries: {attempts: 3}\n")
_model("pattern", "Strings with a fixed form match it (istio.revision, naming.prefix, a cookie's name)",
       fail="istio: {revision: '1.30'}\n", ok="istio: {revision: 1-30}\n")

# --- names and text ----------------------------------------------------------------------------
_model("yaml-ambiguous", "A name is not one that YAML 1.1 tools read as a boolean, null or number ('on', 'no', "
       "'y', 'null', '012', '1e3')",
       fail="services:\n  web:\n    ports: [{name: 'y', port: 8080}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n")
_model("text", "Free text has no control characters (one line where one line is expected)",
       fail='metadata: {name: shop, domain: shop.example, description: "one\\ntwo"}\n',
       ok='metadata: {name: shop, domain: shop.example, description: "one two"}\n')
_model("invisible-character", "Paths, match values, names, kube contexts and descriptions hold no invisible or "
       "bidirectional control character (Unicode format characters such as U+200B, U+202E, U+2066, U+FEFF): "
       "'/api' followed by U+200B would be another path than '/api' that looks the same",
       fail=_WEB + '    expose: {paths: ["/api\\u200b"]}\n', ok=_WEB + "    expose: {paths: [/api]}\n")
_model("label-key", "Label keys are Kubernetes label keys ([prefix/]name)",
       fail=_WEB + "    versions: {v1: {labels: {'bad key': v1}}}\n",
       ok=_WEB + "    versions: {v1: {labels: {version: v1}}}\n")
_model("label-value", "Label values are Kubernetes label values",
       fail=_WEB + "    versions: {v1: {labels: {version: 'v1 beta'}}}\n",
       ok=_WEB + "    versions: {v1: {labels: {version: v1-beta}}}\n")
_model("env-name", "Environment variable names are valid names",
       fail=_WEB + "    env: {1-MODE: fast}\n", ok=_WEB + "    env: {APP_MODE: fast}\n")
_model("kube-context", "A kube context is 1–253 characters without control characters or '{{' / '}}' "
       "(helmfile renders helmfile.yaml as a template)",
       fail="environments:\n  dev: {gateway: {https: false}, kubeContext: '{{ .Values.ctx }}'}\n",
       ok="environments:\n  dev: {gateway: {https: false}, kubeContext: kind-dev}\n")
_model("semver", "Chart versions are versions such as 1.30.3", fail="versions: {istio: latest}\n",
       ok="versions: {istio: 1.30.3}\n")
_model("spdx", "metadata.license is an SPDX license expression",
       fail="metadata: {name: shop, domain: shop.example, license: 'free for all'}\n",
       ok="metadata: {name: shop, domain: shop.example, license: Apache-2.0}\n")
_model("chart-mirror", "helmfile.chartMirror is an https://, http:// or oci:// URL",
       fail="helmfile: {chartMirror: 'ftp://mirror.example/charts'}\n",
       ok="helmfile: {chartMirror: 'https://mirror.example/charts'}\n")
_model("mesh-chart", "helmfile.meshChart is <repository>/<chart> or oci://<registry>/<path>",
       fail="helmfile: {meshChart: 'shop mesh'}\n", ok="helmfile: {meshChart: charts/shop-mesh}\n")

# --- numbers and durations ---------------------------------------------------------------------
_model("port-range", "Port numbers are 1–65535",
       fail="services:\n  web:\n    ports: [{name: http, port: 70000}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 8080}]\n")
_model("target-port", "A port's targetPort is a port number or a container port name (IANA_SVC_NAME)",
       fail="services:\n  web:\n    ports: [{name: http, port: 80, targetPort: Http_Web}]\n",
       ok="services:\n  web:\n    ports: [{name: http, port: 80, targetPort: http-web}]\n")
_model("percent-range", "Percentages are 0–100 (a fault's: 0, or 0.0001–100)",
       fail="environments:\n  dev: {gateway: {https: false}, tracing: {samplingPercent: 150}}\n",
       ok="environments:\n  dev: {gateway: {https: false}, tracing: {samplingPercent: 15}}\n")
_model("ratio-range", "An SLO's error ratio is 0–1", fail=_WEB + "    slo: {errorRatio: 5}\n",
       ok=_WEB + "    slo: {errorRatio: 0.05}\n")
_model("http-status", "HTTP statuses are 200–599",
       fail=_WEB + "    faults: [{name: err, abort: {httpStatus: 700, percent: 10}}]\n",
       ok=_WEB + "    faults: [{name: err, abort: {httpStatus: 503, percent: 10}}]\n")
_model("duration", "Durations read like '2s', '500ms' or '1m' (at least 1ms, whole milliseconds)",
       fail=_WEB + "    timeout: 5\n", ok=_WEB + "    timeout: 5s\n")
_model("duration-range", "Durations are at most 2562047h (the longest Istio can read)",
       fail=_WEB + "    timeout: 3000000h\n", ok=_WEB + "    timeout: 300s\n")
_model("fill-interval", "A rate limit's period is at least 50ms (Envoy's shortest token bucket fill interval)",
       fail=_WEB + "    rateLimit: {requests: 10, per: 10ms}\n", ok=_WEB + "    rateLimit: {requests: 10, per: 1s}\n")

# --- traffic settings --------------------------------------------------------------------------
_model("retry-on", "retries.retryOn is a comma-separated list of Envoy retry conditions or status codes",
       fail=_WEB + "    retries: {attempts: 2, retryOn: sometimes}\n",
       ok=_WEB + "    retries: {attempts: 2, retryOn: '5xx,reset'}\n")
_model("affinity-one-of", "sessionAffinity has exactly one of header, cookie, sourceIp, queryParameter",
       fail=_WEB + "    sessionAffinity: {header: x-user, sourceIp: true}\n",
       ok=_WEB + "    sessionAffinity: {header: x-user}\n")
_model("match-one-of", "A string match (and an exposed path mapping) has exactly one of exact, prefix, regex",
       fail=_route_match("{headers: {x-beta: {exact: '1', prefix: '1'}}}"),
       ok=_route_match("{headers: {x-beta: {exact: '1'}}}"))
_model("non-empty", "A match's prefix or regex is not empty (Istio refuses one)",
       fail=_route_match("{headers: {x-beta: {prefix: ''}}}"), ok=_route_match("{headers: {x-beta: {prefix: '1'}}}"))
_model("header-name", "A matched header's name is lowercase", fail=_route_match("{headers: {X-Beta: {exact: '1'}}}"),
       ok=_route_match("{headers: {x-beta: {exact: '1'}}}"))
_model("regex", "A regex is RE2 (what Envoy runs), at most 1024 characters, without control characters",
       fail=_WEB + "    expose: {paths: [{regex: '/api/(v1'}]}\n", ok=_WEB + "    expose: {paths: [{regex: '/api/(v1|v2)'}]}\n")
_model("path", "An HTTP path starts with '/' and has no spaces, control characters (nor, when exposed, '*', "
       "'{', '}', '?', '#')", fail=_WEB + "    expose: {paths: [api]}\n", ok=_WEB + "    expose: {paths: [/api]}\n")
_model("abort-one-of", "A fault's abort has exactly one of httpStatus, grpcStatus",
       fail=_WEB + "    faults: [{name: err, abort: {percent: 10}}]\n",
       ok=_WEB + "    faults: [{name: err, abort: {percent: 10, httpStatus: 503}}]\n")
_model("fault-empty", "A fault has a delay, an abort or both", fail=_WEB + "    faults: [{name: nothing}]\n",
       ok=_WEB + "    faults: [{name: slow, delay: {fixedDelay: 1s, percent: 10}}]\n")
_model("http-url", "gateway.jwt.jwksUri is an http:// or https:// URL",
       fail="environments:\n  dev:\n    gateway: {https: false, jwt: {issuer: https://id.example, jwksUri: id.example/jwks}}\n",
       ok="environments:\n  dev:\n    gateway: {https: false, jwt: {issuer: https://id.example, jwksUri: "
          "'https://id.example/jwks'}}\n")

# --- GitOps ------------------------------------------------------------------------------------
_model("git-url", "gitops.repoURL is a git repository URL (https://, ssh:// or git@host:path)",
       fail="gitops: {repoURL: 'my repo'}\n", ok=_GITOPS)
_model("git-revision", "gitops.revision is a branch, tag or commit", fail=_GITOPS + "  revision: 'main branch'\n",
       ok=_GITOPS + "  revision: main\n")
_model("repo-path", "gitops.path is a relative directory inside the repository", fail=_GITOPS + "  path: /deploy\n",
       ok=_GITOPS + "  path: deploy/mesh\n")
_model("cluster-server", "An Argo CD cluster's server is an API server URL",
       fail=_GITOPS + "  argocd: {clusters: {dev: {server: 'cluster one'}}}\n",
       ok=_GITOPS + "  argocd: {clusters: {dev: {server: 'https://10.0.0.1:6443'}}}\n")
_model("cluster", "An Argo CD cluster has exactly one of server, name", fail=_GITOPS + "  argocd: {clusters: {dev: {}}}\n",
       ok=_GITOPS + "  argocd: {clusters: {dev: {name: dev-cluster}}}\n")
