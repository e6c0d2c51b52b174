{{/* The call graph of the mesh: each service's callees and callers, and the edges between them. */}}

{{/*
chartgen.callGraph: from each service's calls, sets on every service of "services"
its callees (the enabled internal keys it reaches, directly or through an active
redirect of an external service), externalCalls (the enabled external keys it calls)
and callers (the enabled services calling it, sorted); leaves in "out" the edges
({"<from>/<to>": {from, to}} between enabled services) and edgeKeys (their keys, sorted).
Fails on a call to neither a service nor an external service.
Usage: {{- $_ := include "chartgen.callGraph" (dict "services" $s "externals" $e "out" $holder) }}
*/}}
{{- define "chartgen.callGraph" -}}
{{- $services := .services -}}
{{- $externals := .externals -}}
{{- $edges := dict -}}
{{- range $key, $svc := $services -}}
{{- $callees := list -}}
{{- $extCalls := list -}}
{{- range $c := $svc.calls -}}
{{- $c = toString $c -}}
{{- if hasKey $services $c -}}
{{- if (get $services $c).enabled -}}
{{- $callees = append $callees $c -}}
{{- end -}}
{{- else if hasKey $externals $c -}}
{{- $ext := get $externals $c -}}
{{- if $ext.enabled -}}
{{- $extCalls = append $extCalls $c -}}
{{- if $ext.redirectActive -}}
{{- $callees = append $callees (toString $ext.redirect.service) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- include "chartgen.fail" (dict "check" "unknown-call" "args" (list $key $c)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $svc "callees" ($callees | uniq | sortAlpha) -}}
{{- $_ := set $svc "externalCalls" ($extCalls | uniq | sortAlpha) -}}
{{- if $svc.enabled -}}
{{- range $t := $svc.callees -}}
{{- $_ := set $edges (printf "%s/%s" $key $t) (dict "from" $key "to" $t) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $svc := $services -}}
{{- $_ := set $svc "callers" list -}}
{{- end -}}
{{- /* edges stay a dict with a sorted key list: appending to a long list copies it each time */ -}}
{{- $edgeKeys := keys $edges | sortAlpha -}}
{{- range $k := $edgeKeys -}}
{{- $e := get $edges $k -}}
{{- $to := get $services $e.to -}}
{{- $_ := set $to "callers" (append $to.callers $e.from) -}}
{{- end -}}
{{- $_ := set .out "edges" $edges -}}
{{- $_ := set .out "edgeKeys" $edgeKeys -}}
{{- end -}}
