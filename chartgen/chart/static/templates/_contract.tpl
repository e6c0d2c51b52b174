{{/* The values contract as the templates see it: defaults of absent keys, messages of the checks. */}}

{{/*
Generated from chartgen/chart/values_model.py and chartgen/chart/invariants.py. Do not edit: `python -m chartgen.chart.values_contract` rewrites it.

chartgen.serviceDefaults / chartgen.externalDefaults: the shape of one entry
of .Values.services / .Values.externalServices. Missing keys take these values,
so templates never read a key that is absent.
*/}}
{{- define "chartgen.serviceDefaults" -}}
enabled: false
waypoint: ""
namespace: ""
serviceName: ""
selector: {}
serviceAccount: {create: false, name: ""}
ports: []
expose: {enabled: false, host: "", paths: [], gatewayPort: 0}
timeout: ""
retries: {}
loadBalancer: {}
connectionPool: {}
outlierDetection: {}
versions: {}
weights: {}
routes: []
mirror: {enabled: false, version: "", percent: 0}
faults: []
rateLimit: {enabled: false, maxTokens: 0, tokensPerFill: 0, fillInterval: ""}
calls: []
env: {}
metrics: {enabled: false, port: 0, path: ""}
{{- end -}}

{{- define "chartgen.externalDefaults" -}}
enabled: false
namespace: ""
hosts: []
ports: []
exportTo: []
redirect: {enabled: false, service: "", port: 0}
envVar: ""
{{- end -}}

{{/*
chartgen.fail: fails the render with the message of a check the values' schema cannot
express (chartgen/chart/invariants.py), its verbs filled with "args".
Usage: {{- include "chartgen.fail" (dict "check" "weights-sum" "args" (list $key (int $sum))) }}
*/}}
{{- define "chartgen.fail" -}}
{{- $messages := dict -}}
{{- $_ := set $messages "unique-keys" "%q is both a service and an external service; keys must be unique" -}}
{{- $_ := set $messages "https-credential" "gateway.https is true but gateway.credentialName is empty" -}}
{{- $_ := set $messages "weights-version" "services.%s.weights: %q is not a version of services.%s.versions" -}}
{{- $_ := set $messages "weights-sum" "services.%s.weights must add up to 100 (got %d)" -}}
{{- $_ := set $messages "route-version" "services.%s.routes[%d] (%v): version %q is not in services.%s.versions" -}}
{{- $_ := set $messages "mirror-version" "services.%s.mirror.version %q is not in services.%s.versions" -}}
{{- $_ := set $messages "fault-action" "services.%s.faults[%d] (%v) has neither delay nor abort" -}}
{{- $_ := set $messages "https-extra-port-credential" "gateway.credentialName is required for an HTTPS extra port" -}}
{{- $_ := set $messages "jwt-issuer" "gateway.jwt.issuer is required when gateway.jwt.enabled" -}}
{{- $_ := set $messages "jwt-jwks-uri" "gateway.jwt.jwksUri is required when gateway.jwt.enabled" -}}
{{- $_ := set $messages "selector" "services.%s.selector must not be empty" -}}
{{- $_ := set $messages "exposed-http-port" "services.%s is exposed but has no HTTP, HTTP2 or GRPC port" -}}
{{- $_ := set $messages "gateway-port" "services.%s.expose.gatewayPort %d is not a number of gateway.extraPorts" -}}
{{- $_ := set $messages "redirect-service" "externalServices.%s.redirect.service %q is not a key of services" -}}
{{- $_ := set $messages "redirect-port" "externalServices.%s.redirect.port %d is not a port of services.%s" -}}
{{- $_ := set $messages "unknown-call" "services.%s.calls: %q is neither a key of services nor of externalServices" -}}
{{- $format := get $messages .check | required (printf "chartgen.fail: no check %q" .check) -}}
{{- $a := .args | default list -}}
{{- if eq (len $a) 0 -}}
{{- fail $format -}}
{{- else if eq (len $a) 1 -}}
{{- fail (printf $format (index $a 0)) -}}
{{- else if eq (len $a) 2 -}}
{{- fail (printf $format (index $a 0) (index $a 1)) -}}
{{- else if eq (len $a) 3 -}}
{{- fail (printf $format (index $a 0) (index $a 1) (index $a 2)) -}}
{{- else if eq (len $a) 4 -}}
{{- fail (printf $format (index $a 0) (index $a 1) (index $a 2) (index $a 3)) -}}
{{- else if eq (len $a) 5 -}}
{{- fail (printf $format (index $a 0) (index $a 1) (index $a 2) (index $a 3) (index $a 4)) -}}
{{- end -}}
{{- end -}}
