{{/* The VirtualService rules of a service: HTTP (faults, A/B, default, mirror), TCP and TLS. */}}

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
chartgen.httpRules: the VirtualService http rules of a service for one HTTP
port, in order: fault rules (only when environment.chaos), A/B routes, then
the default (weighted over version subsets, or the plain host; mirror when
enabled). "port" is the destination port; "matchPort" (not 0) adds the port to
every match of a mesh rule (a service with several ports, IST0112).
Disabled retries render as exactly {attempts: 0} (Istio rejects other retry
fields then). The weighted route is built once and shared by the fault rules
and the default rule.
Usage: {{- include "chartgen.httpRules" (dict "root" $ "svc" $svc "ingress" false "port" 8080 "matchPort" 0) | nindent 4 }}
*/}}
{{- define "chartgen.httpRules" -}}
{{- $svc := .svc -}}
{{- $ingress := .ingress -}}
{{- $matchPort := int (.matchPort | default 0) -}}
{{- $weighted := dict -}}
{{- $_ := include "chartgen.weighted" (dict "svc" $svc "port" .port "out" $weighted) -}}
{{- /* the fields every rule of the service carries: retries, timeout; their strings
as YAML text (toYaml once here rather than once per rule) */ -}}
{{- $common := dict -}}
{{- with $svc.retries -}}
{{- $r := dict -}}
{{- if and (hasKey . "attempts") (eq (int (get . "attempts")) 0) -}}
{{- $_ := set $r "attempts" 0 -}}
{{- else -}}
{{- with get . "attempts" }}{{ $_ := set $r "attempts" (int .) }}{{ end -}}
{{- with get . "perTryTimeout" }}{{ $_ := set $r "perTryTimeout" (toYaml .) }}{{ end -}}
{{- with get . "retryOn" }}{{ $_ := set $r "retryOn" (toYaml .) }}{{ end -}}
{{- end -}}
{{- $_ := set $common "retries" $r -}}
{{- end -}}
{{- with $svc.timeout }}{{ $_ := set $common "timeout" (toYaml .) }}{{ end -}}
{{- $_ := set $common "subsetYaml" $svc.subsetYaml -}}
{{- $rules := list -}}
{{- if .root.Values.environment.chaos -}}
{{- range $f := $svc.faults -}}
{{- $fault := dict -}}
{{- $grpc := false -}}
{{- with get $f "abort" -}}
{{- $percentage := dict "value" (float64 (ternary (get . "percent") 100 (hasKey . "percent"))) -}}
{{- if hasKey . "grpcStatus" -}}
{{- $grpc = true -}}
{{- $_ := set $fault "abort" (dict "grpcStatus" (toString (get . "grpcStatus")) "percentage" $percentage) -}}
{{- else -}}
{{- $_ := set $fault "abort" (dict "httpStatus" (int (get . "httpStatus")) "percentage" $percentage) -}}
{{- end -}}
{{- end -}}
{{- with get $f "delay" -}}
{{- $_ := set $fault "delay" (dict "fixedDelay" (get . "fixedDelay") "percentage" (dict "value" (float64 (ternary (get . "percent") 100 (hasKey . "percent"))))) -}}
{{- end -}}
{{- /* a gRPC abort applies on the service's GRPC ports only */ -}}
{{- $onPort := or (not $grpc) (has (int $.port) $svc.grpcPorts) -}}
{{- $m := dict -}}
{{- $_ := include "chartgen.ruleMatch" (dict "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" (get $f "match") "out" $m) -}}
{{- $match := $m.list -}}
{{- if and $onPort (or $match (not (get $f "match"))) -}}
{{- $rule := merge (dict "fault" $fault "name" (get $f "name" | default "fault") "route" $weighted.route) $common -}}
{{- with $match }}{{ $_ := set $rule "match" . }}{{ end -}}
{{- $rules = append $rules $rule -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $r := $svc.routes -}}
{{- $m := dict -}}
{{- $_ := include "chartgen.ruleMatch" (dict "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" (get $r "match") "out" $m) -}}
{{- $match := $m.list -}}
{{- if $match -}}
{{- $version := toString (get $r "version") -}}
{{- $route := list (dict "destination" (merge (dict "subset" $version) $weighted.dest)) -}}
{{- $rules = append $rules (merge (dict "match" $match "name" (get $r "name" | default (printf "route-%s" $version)) "route" $route) $common) -}}
{{- end -}}
{{- end -}}
{{- $default := merge (dict "name" "default" "route" $weighted.route) $common -}}
{{- if $ingress -}}
{{- with include "chartgen.matches" (dict "svc" $svc "ingress" true "match" list) | fromJsonArray }}{{ $_ := set $default "match" . }}{{ end -}}
{{- else if $matchPort -}}
{{- $_ := set $default "match" (list (dict "port" $matchPort)) -}}
{{- end -}}
{{- if $svc.mirror.enabled -}}
{{- $_ := set $default "mirror" (merge (dict "subset" (toString $svc.mirror.version)) $weighted.dest) -}}
{{- $_ := set $default "mirrorPercentage" (dict "value" (float64 $svc.mirror.percent)) -}}
{{- end -}}
{{- $items := list -}}
{{- range $rule := append $rules $default -}}
{{- $items = append $items (include "chartgen.httpRule" $rule | trimPrefix "\n  " | printf "- %s") -}}
{{- end -}}
{{- join "\n" $items -}}
{{- end -}}

{{/*
chartgen.httpRule: one http rule of chartgen.httpRules (a dict of fault, match,
mirror, mirrorPercentage, name, retries, route, timeout), one key a line, each
line starting with a line break and indented for a list item, in the layout
toYaml gives a list of rules (keys sorted, nested lists not indented). Strings
from the values are written by toYaml (quoted where YAML needs it); those of
retries and timeout arrive as YAML text already (chartgen.httpRules), and the
subsets are looked up in subsetYaml (the model's, per version); the host is the
service's FQDN, which never needs quotes.
Usage: {{ include "chartgen.httpRule" $rule | trimPrefix "\n  " | printf "- %s" }}
*/}}
{{- define "chartgen.httpRule" }}
{{- if hasKey . "fault" }}
  fault:
  {{- with .fault.abort }}
    abort:
      {{- if hasKey . "grpcStatus" }}
      grpcStatus: {{ toYaml .grpcStatus }}
      {{- else }}
      httpStatus: {{ .httpStatus }}
      {{- end }}
      percentage:
        value: {{ .percentage.value }}
  {{- end }}
  {{- with .fault.delay }}
    delay:
      fixedDelay: {{ toYaml .fixedDelay }}
      percentage:
        value: {{ .percentage.value }}
  {{- end }}
  {{- if not .fault }} {}{{ end }}
{{- end }}
{{- with .match }}
  match:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .mirror }}
  mirror:
    host: {{ .host }}
    port:
      number: {{ .port.number }}
    subset: {{ get $.subsetYaml .subset }}
{{- end }}
{{- with .mirrorPercentage }}
  mirrorPercentage:
    value: {{ .value }}
{{- end }}
  name: {{ toYaml .name }}
{{- with .retries }}
  retries:
    {{- if hasKey . "attempts" }}
    attempts: {{ .attempts }}
    {{- end }}
    {{- with .perTryTimeout }}
    perTryTimeout: {{ . }}
    {{- end }}
    {{- with .retryOn }}
    retryOn: {{ . }}
    {{- end }}
{{- end }}
  route:
{{- range .route }}
  - destination:
      host: {{ .destination.host }}
      port:
        number: {{ .destination.port.number }}
      {{- with .destination.subset }}
      subset: {{ get $.subsetYaml . }}
      {{- end }}
    {{- with .weight }}
    weight: {{ . }}
    {{- end }}
{{- end }}
{{- with .timeout }}
  timeout: {{ . }}
{{- end }}
{{- end }}

{{/*
chartgen.ruleMatch: the match list of an http rule (empty when the rule has no
match left), left in .out.list (include returns only text): the rule's matches
on the ingress (chartgen.matches) or with the port of a mesh rule ("matchPort",
chartgen.portMatches).
Usage: {{- $_ := include "chartgen.ruleMatch" (dict "svc" $svc "ingress" false "matchPort" 8080 "match" $list "out" $holder) }}
*/}}
{{- define "chartgen.ruleMatch" -}}
{{- $ms := .match | default list -}}
{{- if .ingress -}}
{{- $_ := set .out "list" (include "chartgen.matches" (dict "svc" .svc "ingress" true "match" $ms) | fromJsonArray) -}}
{{- else if .matchPort -}}
{{- $_ := include "chartgen.portMatches" (dict "match" $ms "port" .matchPort "out" .out) -}}
{{- else -}}
{{- $_ := set .out "list" $ms -}}
{{- end -}}
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
