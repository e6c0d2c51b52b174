{{/* Names, namespaces, hosts and principals of the chart's objects and services. */}}

{{/*
chartgen.name: the chart name (or .Values.nameOverride), DNS-label safe.
Usage: {{ include "chartgen.name" . }}
*/}}
{{- define "chartgen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
chartgen.shortName: a Kubernetes name of at most 63 characters. A longer composed name
(allow-<from>-to-<to>, <service>-ingress, …) keeps its first 54 characters and gets a
dash and 8 hex digits of its SHA-256: stable, and two long names never shorten to one.
Usage: {{ printf "allow-%s-to-%s" $a $b | include "chartgen.shortName" }}
*/}}
{{- define "chartgen.shortName" -}}
{{- if le (len .) 63 -}}
{{- . -}}
{{- else -}}
{{- printf "%s-%s" (trunc 54 . | trimSuffix "-") (sha256sum . | trunc 8) -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.svcNamespace: the namespace of a service or external service
(its "namespace", else environment.namespace).
Usage: {{ include "chartgen.svcNamespace" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.svcNamespace" -}}
{{- $ns := get .svc "namespace" | default .root.Values.environment.namespace -}}
{{- $ns | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
chartgen.fqdn: "<serviceName>.<namespace>.svc.cluster.local" of a service.
Usage: {{ include "chartgen.fqdn" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.fqdn" -}}
{{- $name := get .svc "serviceName" -}}
{{- printf "%s.%s.svc.cluster.local" $name (include "chartgen.svcNamespace" .) -}}
{{- end -}}

{{/*
chartgen.externalHost: the host a service is exposed as on the gateway:
"<expose.host>.<environment.hostSuffix>", or expose.host when hostSuffix is "".
Usage: {{ include "chartgen.externalHost" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.externalHost" -}}
{{- $host := get (get .svc "expose") "host" -}}
{{- with .root.Values.environment.hostSuffix -}}
{{- printf "%s.%s" $host . -}}
{{- else -}}
{{- $host -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.namespaces: the sorted, unique namespaces of the enabled services
and enabled external services, as a JSON list.
Usage: {{- range include "chartgen.namespaces" . | fromJsonArray }}
*/}}
{{- define "chartgen.namespaces" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- range $key, $svc := (.Values.services | default dict) -}}
{{- if and $svc (get $svc "enabled") -}}
{{- $_ := set $out (include "chartgen.svcNamespace" (dict "root" $root "svc" $svc)) true -}}
{{- end -}}
{{- end -}}
{{- range $key, $ext := (.Values.externalServices | default dict) -}}
{{- if and $ext (get $ext "enabled") -}}
{{- $_ := set $out (include "chartgen.svcNamespace" (dict "root" $root "svc" $ext)) true -}}
{{- end -}}
{{- end -}}
{{- keys $out | sortAlpha | toJson -}}
{{- end -}}

{{/*
chartgen.principal: the SPIFFE-style principal "<trustDomain>/ns/<ns>/sa/<sa>".
Usage: {{ include "chartgen.principal" (dict "root" $ "ns" $svc.ns "sa" $svc.serviceAccount.name) }}
*/}}
{{- define "chartgen.principal" -}}
{{- printf "%s/ns/%s/sa/%s" .root.Values.istio.trustDomain .ns .sa -}}
{{- end -}}

{{/*
chartgen.gatewayRef: "<gateway.namespace>/<gateway.name>", as used in VirtualService.gateways.
Usage: {{ include "chartgen.gatewayRef" . }}
*/}}
{{- define "chartgen.gatewayRef" -}}
{{- printf "%s/%s" .Values.gateway.namespace .Values.gateway.name -}}
{{- end -}}

{{/*
chartgen.gatewayPrincipal: the principal of the ingress gateway workload.
Usage: {{ include "chartgen.gatewayPrincipal" . }}
*/}}
{{- define "chartgen.gatewayPrincipal" -}}
{{- include "chartgen.principal" (dict "root" . "ns" .Values.gateway.namespace "sa" .Values.gateway.serviceAccount) -}}
{{- end -}}

{{/*
chartgen.jaegerFqdn / chartgen.prometheusFqdn: the observability Services.
Usage: {{ include "chartgen.jaegerFqdn" . }}
*/}}
{{- define "chartgen.jaegerFqdn" -}}
{{- printf "%s.%s.svc.cluster.local" .Values.observability.jaeger.service .Values.observability.namespace -}}
{{- end -}}

{{- define "chartgen.prometheusFqdn" -}}
{{- printf "%s.%s.svc.cluster.local" .Values.observability.prometheus.service .Values.observability.namespace -}}
{{- end -}}

{{/*
chartgen.versionService: the per-version Service of a service, "<serviceName>-<version>"
(a Gateway API backendRef names a Service, not a subset).
Usage: {{ include "chartgen.versionService" (dict "svc" $svc "version" $v) }}
*/}}
{{- define "chartgen.versionService" -}}
{{- printf "%s-%s" .svc.serviceName .version | trunc 63 | trimSuffix "-" -}}
{{- end -}}
