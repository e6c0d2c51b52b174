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
fields then).
Usage: {{- include "chartgen.httpRules" (dict "root" $ "svc" $svc "ingress" false "port" 8080 "matchPort" 0) | nindent 4 }}
*/}}
{{- define "chartgen.httpRules" -}}
{{- $svc := .svc -}}
{{- $ingress := .ingress -}}
{{- $matchPort := int (.matchPort | default 0) -}}
{{- $w := dict -}}
{{- $_ := include "chartgen.weighted" (dict "svc" $svc "port" .port "out" $w) -}}
{{- $dest := $w.dest -}}
{{- $default := $w.route -}}
{{- $common := dict -}}
{{- with $svc.timeout -}}
{{- $_ := set $common "timeout" . -}}
{{- end -}}
{{- with $svc.retries -}}
{{- $r := dict -}}
{{- if and (hasKey . "attempts") (eq (int (get . "attempts")) 0) -}}
{{- $_ := set $r "attempts" 0 -}}
{{- else -}}
{{- with get . "attempts" }}{{ $_ := set $r "attempts" (int .) }}{{ end -}}
{{- with get . "perTryTimeout" }}{{ $_ := set $r "perTryTimeout" . }}{{ end -}}
{{- with get . "retryOn" }}{{ $_ := set $r "retryOn" . }}{{ end -}}
{{- end -}}
{{- $_ := set $common "retries" $r -}}
{{- end -}}
{{- $rules := list -}}
{{- if .root.Values.environment.chaos -}}
{{- range $f := $svc.faults -}}
{{- $fault := dict -}}
{{- with get $f "delay" -}}
{{- $d := dict "fixedDelay" (get . "fixedDelay") -}}
{{- $_ := set $d "percentage" (dict "value" (float64 (ternary (get . "percent") 100 (hasKey . "percent")))) -}}
{{- $_ := set $fault "delay" $d -}}
{{- end -}}
{{- with get $f "abort" -}}
{{- $a := dict -}}
{{- if hasKey . "grpcStatus" -}}
{{- $_ := set $a "grpcStatus" (toString (get . "grpcStatus")) -}}
{{- else -}}
{{- $_ := set $a "httpStatus" (int (get . "httpStatus")) -}}
{{- end -}}
{{- $_ := set $a "percentage" (dict "value" (float64 (ternary (get . "percent") 100 (hasKey . "percent")))) -}}
{{- $_ := set $fault "abort" $a -}}
{{- end -}}
{{- /* a gRPC abort applies on the service's GRPC ports only */ -}}
{{- $onPort := or (not (hasKey $fault "abort")) (not (hasKey $fault.abort "grpcStatus")) (has (int $.port) $svc.grpcPorts) -}}
{{- $rule := dict "name" (get $f "name" | default "fault") "fault" $fault "route" $default -}}
{{- $ms := (get $f "match") | default list -}}
{{- if $ingress -}}
{{- $ms = include "chartgen.matches" (dict "svc" $svc "ingress" true "match" $ms) | fromJsonArray -}}
{{- else if $matchPort -}}
{{- $_ := include "chartgen.portMatches" (dict "match" $ms "port" $matchPort "out" $w) -}}
{{- $ms = $w.list -}}
{{- end -}}
{{- if $ms -}}
{{- $_ := set $rule "match" $ms -}}
{{- end -}}
{{- if and $onPort (or $ms (not (get $f "match"))) -}}
{{- $rules = append $rules (merge $rule $common) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $r := $svc.routes -}}
{{- $route := list (dict "destination" (merge (dict "subset" (toString (get $r "version"))) $dest)) -}}
{{- $rule := dict "name" (get $r "name" | default (printf "route-%s" (get $r "version"))) "route" $route -}}
{{- $ms := (get $r "match") | default list -}}
{{- if $ingress -}}
{{- $ms = include "chartgen.matches" (dict "svc" $svc "ingress" true "match" $ms) | fromJsonArray -}}
{{- else if $matchPort -}}
{{- $_ := include "chartgen.portMatches" (dict "match" $ms "port" $matchPort "out" $w) -}}
{{- $ms = $w.list -}}
{{- end -}}
{{- if $ms -}}
{{- $_ := set $rule "match" $ms -}}
{{- $rules = append $rules (merge $rule $common) -}}
{{- end -}}
{{- end -}}
{{- $rule := dict "name" "default" "route" $default -}}
{{- if $ingress -}}
{{- with include "chartgen.matches" (dict "svc" $svc "ingress" true "match" list) | fromJsonArray -}}
{{- $_ := set $rule "match" . -}}
{{- end -}}
{{- else if $matchPort -}}
{{- $_ := set $rule "match" (list (dict "port" $matchPort)) -}}
{{- end -}}
{{- if $svc.mirror.enabled -}}
{{- $_ := set $rule "mirror" (merge (dict "subset" (toString $svc.mirror.version)) $dest) -}}
{{- $_ := set $rule "mirrorPercentage" (dict "value" (float64 $svc.mirror.percent)) -}}
{{- end -}}
{{- $rules = append $rules (merge $rule $common) -}}
{{- toYaml $rules -}}
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
