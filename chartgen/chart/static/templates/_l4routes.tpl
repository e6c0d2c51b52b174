{{/* The VirtualService tcp and tls rules of a service (weighted over its versions). */}}

{{/*
chartgen.weighted: the route of a rule to "port" of a service: weighted over
the version subsets, or the plain host. Left in .out (include returns text).
Usage: {{- $_ := include "chartgen.weighted" (dict "svc" $svc "port" 8080 "out" $holder) }}
*/}}
{{- define "chartgen.weighted" -}}
{{- $dest := dict "host" .svc.fqdn "port" (dict "number" (int .port)) -}}
{{- $route := list -}}
{{- range $v, $w := .svc.weights -}}
{{- if gt (int $w) 0 -}}
{{- $route = append $route (dict "destination" (merge (dict "subset" $v) $dest) "weight" (int $w)) -}}
{{- end -}}
{{- end -}}
{{- if not $route -}}
{{- $route = list (dict "destination" $dest) -}}
{{- end -}}
{{- $_ := set .out "route" $route -}}
{{- $_ := set .out "dest" $dest -}}
{{- end -}}

{{/*
chartgen.l4Rules: the VirtualService tcp or tls rules of a service ("kind"),
one per port of that kind: weighted over the version subsets (a canary), with
the port in the match when the service has several ports, and for tls the
service host as SNI (passthrough: the sidecar routes by the TLS handshake).
Usage: {{- include "chartgen.l4Rules" (dict "svc" $svc "kind" "tcp") | nindent 4 }}
*/}}
{{- define "chartgen.l4Rules" -}}
{{- $svc := .svc -}}
{{- $rules := list -}}
{{- range $p := (ternary $svc.tlsPorts $svc.tcpPorts (eq $.kind "tls")) -}}
{{- $w := dict -}}
{{- $_ := include "chartgen.weighted" (dict "svc" $svc "port" $p "out" $w) -}}
{{- $m := dict -}}
{{- if $svc.multiPort -}}
{{- $_ := set $m "port" (int $p) -}}
{{- end -}}
{{- if eq $.kind "tls" -}}
{{- $_ := set $m "sniHosts" (list $svc.fqdn) -}}
{{- end -}}
{{- $rule := dict "route" $w.route -}}
{{- if $m -}}
{{- $_ := set $rule "match" (list $m) -}}
{{- end -}}
{{- $rules = append $rules $rule -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
