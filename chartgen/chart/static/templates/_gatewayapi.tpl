{{/* The Gateway API form of a service's routes: HTTPRoute matches, backends and rules. */}}

{{/*
chartgen.gatewayApiString: an Istio string match ({exact|prefix|regex}) as a Gateway
API match value: exact stays Exact; a prefix becomes the full-match regex
"<quoted prefix>.*" (a Gateway API PathPrefix matches whole path segments only, and
headers and query parameters have no prefix type).
Usage: {{ include "chartgen.gatewayApiString" $cond | fromJson }} → {type, value}
*/}}
{{- define "chartgen.gatewayApiString" -}}
{{- if hasKey . "exact" -}}
{{- dict "type" "Exact" "value" (toString .exact) | toJson -}}
{{- else if hasKey . "prefix" -}}
{{- dict "type" "RegularExpression" "value" (printf "%s.*" (regexQuoteMeta (toString .prefix))) | toJson -}}
{{- else -}}
{{- dict "type" "RegularExpression" "value" (toString .regex) | toJson -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.gatewayApiMatch: one Istio HTTPMatchRequest as a Gateway API HTTPRouteMatch:
uri prefix "/" becomes PathPrefix "/", a segment prefix ({pathPrefix: P}) PathPrefix P,
any other string prefix the full-match regex "<quoted prefix>.*" (a PathPrefix matches
whole path segments only), exact stays Exact;
the port is left to the parent's listener (sectionName).
Usage: {{ include "chartgen.gatewayApiMatch" $m | fromJson }}
*/}}
{{- define "chartgen.gatewayApiMatch" -}}
{{- $m := . | default dict -}}
{{- $out := dict -}}
{{- with get $m "uri" -}}
{{- if hasKey . "exact" -}}
{{- $_ := set $out "path" (dict "type" "Exact" "value" (toString .exact)) -}}
{{- else if and (hasKey . "prefix") (eq (toString .prefix) "/") -}}
{{- $_ := set $out "path" (dict "type" "PathPrefix" "value" "/") -}}
{{- else if hasKey . "pathPrefix" -}}
{{- $_ := set $out "path" (dict "type" "PathPrefix" "value" (toString .pathPrefix)) -}}
{{- else -}}
{{- $_ := set $out "path" (include "chartgen.gatewayApiString" . | fromJson) -}}
{{- end -}}
{{- end -}}
{{- with get $m "headers" -}}
{{- $hs := list -}}
{{- range $name := keys . | sortAlpha -}}
{{- $hs = append $hs (merge (dict "name" $name) (include "chartgen.gatewayApiString" (get $m.headers $name) | fromJson)) -}}
{{- end -}}
{{- $_ := set $out "headers" $hs -}}
{{- end -}}
{{- with get $m "queryParams" -}}
{{- $qs := list -}}
{{- range $name := keys . | sortAlpha -}}
{{- $qs = append $qs (merge (dict "name" $name) (include "chartgen.gatewayApiString" (get $m.queryParams $name) | fromJson)) -}}
{{- end -}}
{{- $_ := set $out "queryParams" $qs -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
chartgen.gatewayApiMatches: the Gateway API matches of one rule: the Istio matches of
chartgen.matches (on the ingress: each combined with each exposed path, as the
ingress VirtualService has them), converted. An ingress result of [] means the rule
cannot apply on the ingress.
Usage: {{ include "chartgen.gatewayApiMatches" (dict "svc" $svc "ingress" true "match" $list) | fromJsonArray }}
*/}}
{{- define "chartgen.gatewayApiMatches" -}}
{{- $out := list -}}
{{- $matches := dict -}}
{{- $_ := include "chartgen.matches" (dict "svc" .svc "ingress" .ingress "match" .match "segments" true "out" $matches) -}}
{{- range $m := $matches.list -}}
{{- $x := include "chartgen.gatewayApiMatch" $m | fromJson -}}
{{- if not (has $x $out) -}}
{{- $out = append $out $x -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
chartgen.gatewayApiBackends: the default backendRefs of a service's route on "port":
weighted over the per-version Services, or the Service itself.
Usage: {{ include "chartgen.gatewayApiBackends" (dict "svc" $svc "port" 8080) | fromJsonArray }}
*/}}
{{- define "chartgen.gatewayApiBackends" -}}
{{- $svc := .svc -}}
{{- $port := int .port -}}
{{- $out := list -}}
{{- range $v, $w := $svc.weights -}}
{{- if gt (int $w) 0 -}}
{{- $out = append $out (dict "name" (include "chartgen.versionService" (dict "svc" $svc "version" $v)) "port" $port "weight" (int $w)) -}}
{{- end -}}
{{- end -}}
{{- if not $out -}}
{{- $out = list (dict "name" $svc.serviceName "port" $port) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
chartgen.gatewayApiRules: the HTTPRoute rules of a service, in the catalog's order
(A/B routes, then the default: weighted over the per-version Services, or the
Service itself; a RequestMirror filter when mirror.enabled). Faults and retries have
no Gateway API form: validation refuses them where a service is routed this way.
"port" is the Service port the route serves (and its backends' port).
Usage: {{- include "chartgen.gatewayApiRules" (dict "root" $ "svc" $svc "ingress" false "port" 8080) | nindent 4 }}
*/}}
{{- define "chartgen.gatewayApiRules" -}}
{{- $svc := .svc -}}
{{- $ingress := .ingress -}}
{{- $port := int .port -}}
{{- $default := include "chartgen.gatewayApiBackends" (dict "svc" $svc "port" $port) | fromJsonArray -}}
{{- $timeouts := dict -}}
{{- with $svc.timeout -}}
{{- $_ := set $timeouts "request" . -}}
{{- end -}}
{{- $rules := list -}}
{{- range $r := $svc.routes -}}
{{- $ms := include "chartgen.gatewayApiMatches" (dict "svc" $svc "ingress" $ingress "match" (get $r "match")) | fromJsonArray -}}
{{- if $ms -}}
{{- $rule := dict "name" (get $r "name") "matches" $ms "backendRefs" (list (dict "name" (include "chartgen.versionService" (dict "svc" $svc "version" (toString (get $r "version")))) "port" $port)) -}}
{{- with $timeouts }}{{ $_ := set $rule "timeouts" . }}{{ end -}}
{{- $rules = append $rules $rule -}}
{{- end -}}
{{- end -}}
{{- $rule := dict "name" "default" "backendRefs" $default -}}
{{- if $ingress -}}
{{- $_ := set $rule "matches" (include "chartgen.gatewayApiMatches" (dict "svc" $svc "ingress" true "match" list) | fromJsonArray) -}}
{{- end -}}
{{- if $svc.mirror.enabled -}}
{{- $pct := float64 $svc.mirror.percent -}}
{{- $mirror := dict "backendRef" (dict "name" (include "chartgen.versionService" (dict "svc" $svc "version" (toString $svc.mirror.version))) "port" $port) -}}
{{- if eq $pct (float64 (int $pct)) -}}
{{- $_ := set $mirror "percent" (int $pct) -}}
{{- else -}}
{{- $_ := set $mirror "fraction" (dict "numerator" (int (round (mulf $pct 10000) 0)) "denominator" 1000000) -}}
{{- end -}}
{{- $_ := set $rule "filters" (list (dict "type" "RequestMirror" "requestMirror" $mirror)) -}}
{{- end -}}
{{- with $timeouts }}{{ $_ := set $rule "timeouts" . }}{{ end -}}
{{- $rules = append $rules $rule -}}
{{- toYaml $rules -}}
{{- end -}}
