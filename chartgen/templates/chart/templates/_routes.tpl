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
The rules are written as text in the layout toYaml gives a list of rules (keys
sorted, nested lists not indented): each string is quoted as toYaml quotes it
(toYaml once per distinct string and render, kept on the root context), each
match list as chartgen.ruleMatch writes it.
One toYaml of all rules per port was half of this template's time.
Usage: {{- include "chartgen.httpRules" (dict "root" $ "svc" $svc "ingress" false "port" 8080 "matchPort" 0) | nindent 4 }}
*/}}
{{- define "chartgen.httpRules" -}}
{{- $svc := .svc -}}
{{- $ingress := .ingress -}}
{{- $matchPort := int (.matchPort | default 0) -}}
{{- if not (hasKey .root "_chartgenYaml") }}{{ $_ := set .root "_chartgenYaml" dict }}{{ end -}}
{{- $y := .root._chartgenYaml -}}
{{- /* every string of the rules, written by toYaml once per render */ -}}
{{- $strings := concat (list $svc.fqdn (toString $svc.mirror.version)) (keys $svc.weights) (values (pick ($svc.retries | default dict) "perTryTimeout" "retryOn")) (compact (list $svc.timeout)) -}}
{{- range $f := $svc.faults -}}
{{- $strings = concat $strings (list (get $f "name" | default "fault") (toString (dig "delay" "fixedDelay" "" $f)) (toString (dig "abort" "grpcStatus" "" $f))) -}}
{{- end -}}
{{- range $r := $svc.routes -}}
{{- $strings = concat $strings (list (toString (get $r "version")) (get $r "name" | default (printf "route-%s" (get $r "version")))) -}}
{{- end -}}
{{- range $s := $strings -}}
{{- if not (hasKey $y $s) -}}
{{- /* a value the schema would refuse (a space, a line break) stays one line */ -}}
{{- $_ := set $y $s (ternary (toJson $s) (toYaml $s) (or (contains " " $s) (contains "\n" $s))) -}}
{{- end -}}
{{- end -}}
{{- $host := get $y $svc.fqdn -}}
{{- $dest := printf "host: %s\n      port:\n        number: %d" $host (int .port) -}}
{{- $default := "" -}}
{{- range $v, $wt := $svc.weights -}}
{{- if gt (int $wt) 0 -}}
{{- $default = printf "%s\n  - destination:\n      %s\n      subset: %s\n    weight: %d" $default $dest (get $y $v) (int $wt) -}}
{{- end -}}
{{- end -}}
{{- $default = printf "\n  route:%s" ($default | default (printf "\n  - destination:\n      %s" $dest)) -}}
{{- $retries := "" -}}
{{- with $svc.retries -}}
{{- $r := dict -}}
{{- if and (hasKey . "attempts") (eq (int (get . "attempts")) 0) -}}
{{- $_ := set $r "attempts" 0 -}}
{{- else -}}
{{- with get . "attempts" }}{{ $_ := set $r "attempts" (int .) }}{{ end -}}
{{- with get . "perTryTimeout" }}{{ $_ := set $r "perTryTimeout" . }}{{ end -}}
{{- with get . "retryOn" }}{{ $_ := set $r "retryOn" . }}{{ end -}}
{{- end -}}
{{- $retries = "\n  retries:" -}}
{{- if hasKey $r "attempts" }}{{ $retries = printf "%s\n    attempts: %d" $retries $r.attempts }}{{ end -}}
{{- with $r.perTryTimeout }}{{ $retries = printf "%s\n    perTryTimeout: %s" $retries (get $y .) }}{{ end -}}
{{- with $r.retryOn }}{{ $retries = printf "%s\n    retryOn: %s" $retries (get $y .) }}{{ end -}}
{{- end -}}
{{- $timeout := "" -}}
{{- with $svc.timeout -}}
{{- $timeout = printf "\n  timeout: %s" (get $y .) -}}
{{- end -}}
{{- $rules := "" -}}
{{- if .root.Values.environment.chaos -}}
{{- range $f := $svc.faults -}}
{{- $fault := "" -}}
{{- $grpc := false -}}
{{- with get $f "abort" -}}
{{- $pct := float64 (ternary (get . "percent") 100 (hasKey . "percent")) -}}
{{- if hasKey . "grpcStatus" -}}
{{- $grpc = true -}}
{{- $fault = printf "\n    abort:\n      grpcStatus: %s\n      percentage:\n        value: %v" (get $y (toString (get . "grpcStatus"))) $pct -}}
{{- else -}}
{{- $fault = printf "\n    abort:\n      httpStatus: %d\n      percentage:\n        value: %v" (int (get . "httpStatus")) $pct -}}
{{- end -}}
{{- end -}}
{{- with get $f "delay" -}}
{{- $fault = printf "%s\n    delay:\n      fixedDelay: %s\n      percentage:\n        value: %v" $fault (get $y (get . "fixedDelay")) (float64 (ternary (get . "percent") 100 (hasKey . "percent"))) -}}
{{- end -}}
{{- /* a gRPC abort applies on the service's GRPC ports only */ -}}
{{- $onPort := or (not $grpc) (has (int $.port) $svc.grpcPorts) -}}
{{- $match := include "chartgen.ruleMatch" (dict "root" $.root "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" (get $f "match")) -}}
{{- if and $onPort (or $match (not (get $f "match"))) -}}
{{- $name := printf "\n  name: %s" (get $y (get $f "name" | default "fault")) -}}
{{- $rules = printf "%s\n- fault:%s%s%s%s%s%s" $rules ($fault | default " {}") $match $name $retries $default $timeout -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $r := $svc.routes -}}
{{- $match := include "chartgen.ruleMatch" (dict "root" $.root "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" (get $r "match")) -}}
{{- if $match -}}
{{- $name := printf "\n  name: %s" (get $y (get $r "name" | default (printf "route-%s" (get $r "version")))) -}}
{{- $route := printf "\n  route:\n  - destination:\n      %s\n      subset: %s" $dest (get $y (toString (get $r "version"))) -}}
{{- $rules = printf "%s\n- %s%s%s%s%s" $rules ($match | trimPrefix "\n  ") $name $retries $route $timeout -}}
{{- end -}}
{{- end -}}
{{- $match := "" -}}
{{- if $ingress -}}
{{- $match = include "chartgen.ruleMatch" (dict "root" .root "svc" $svc "ingress" true "match" list) -}}
{{- else if $matchPort -}}
{{- $match = printf "\n  match:\n  - port: %d" $matchPort -}}
{{- end -}}
{{- $mirror := "" -}}
{{- if $svc.mirror.enabled -}}
{{- $mirror = printf "\n  mirror:\n    host: %s\n    port:\n      number: %d\n    subset: %s\n  mirrorPercentage:\n    value: %v" $host (int .port) (get $y (toString $svc.mirror.version)) (float64 $svc.mirror.percent) -}}
{{- end -}}
{{- $body := printf "%s%s\n  name: default%s%s%s" $match $mirror $retries $default $timeout -}}
{{- printf "%s\n- %s" $rules ($body | trimPrefix "\n  ") | trimPrefix "\n" -}}
{{- end -}}

{{/*
chartgen.ruleMatch: the "match" key of an http rule as text (empty when the
rule has no match left): the rule's matches on the ingress (chartgen.matches)
or with the port of a mesh rule ("matchPort", chartgen.portMatches). Written by
toYaml once per distinct match list and render (kept on the root context).
Usage: {{ include "chartgen.ruleMatch" (dict "root" $ "svc" $svc "ingress" false "matchPort" 8080 "match" $list) }}
*/}}
{{- define "chartgen.ruleMatch" -}}
{{- if not (hasKey .root "_chartgenMatchYaml") }}{{ $_ := set .root "_chartgenMatchYaml" dict }}{{ end -}}
{{- $memo := .root._chartgenMatchYaml -}}
{{- $ms := .match | default list -}}
{{- $key := "" -}}
{{- if .ingress -}}
{{- $key = include "chartgen.matches" (dict "svc" .svc "ingress" true "match" $ms) -}}
{{- else if .matchPort -}}
{{- $w := dict -}}
{{- $_ := include "chartgen.portMatches" (dict "match" $ms "port" .matchPort "out" $w) -}}
{{- $key = toJson $w.list -}}
{{- else -}}
{{- $key = toJson $ms -}}
{{- end -}}
{{- if ne $key "[]" -}}
{{- if not (hasKey $memo $key) -}}
{{- $_ := set $memo $key (printf "\n  %s" (toYaml (list (dict "match" (fromJsonArray $key))) | trimPrefix "- ")) -}}
{{- end -}}
{{- get $memo $key -}}
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
