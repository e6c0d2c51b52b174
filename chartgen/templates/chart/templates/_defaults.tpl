{{/* The shape of one entry of services / externalServices: the defaults of absent keys. */}}

{{/*
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
