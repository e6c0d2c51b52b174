{{/* The VirtualService http rules of a service: faults, A/B routes, the default (weights, mirror). */}}

{{/*
chartgen.httpParts: what every http rule of a service repeats, as YAML text, made once
per service and shared by the mesh VirtualService's ports and the ingress
VirtualService; left in .out (include returns only text):
  tails.<port>, tails.<port>/<version>  the keys a rule ends with (chartgen.ruleTail):
                retries, the route to that port (weighted over the version subsets, or
                the plain host; or to one version, for an A/B route) and timeout
  faults        (environment.chaos only) per fault rule: its fault key and its name as
                YAML text (chartgen.faultYaml), its match, and whether it is a gRPC abort
  routes        per A/B route: its name key as YAML text, version and match
Disabled retries render as exactly {attempts: 0} (Istio rejects other retry fields then).
Usage: {{- $_ := include "chartgen.httpParts" (dict "root" $ "svc" $svc "out" $parts) }}
*/}}
{{- define "chartgen.httpParts" -}}
{{- $svc := .svc -}}
{{- $policy := dict "retries" "" "timeout" "" -}}
{{- with $svc.retries -}}
{{- $r := dict -}}
{{- if and (hasKey . "attempts") (eq (int (get . "attempts")) 0) -}}
{{- $_ := set $r "attempts" 0 -}}
{{- else -}}
{{- with get . "attempts" }}{{ $_ := set $r "attempts" (int .) }}{{ end -}}
{{- with get . "perTryTimeout" }}{{ $_ := set $r "perTryTimeout" . }}{{ end -}}
{{- with get . "retryOn" }}{{ $_ := set $r "retryOn" . }}{{ end -}}
{{- end -}}
{{- $_ := set $policy "retries" (include "chartgen.retriesYaml" $r) -}}
{{- end -}}
{{- with $svc.timeout }}{{ $_ := set $policy "timeout" (include "chartgen.timeoutYaml" .) }}{{ end -}}
{{- $split := list -}}
{{- range $v, $w := $svc.weights -}}
{{- if gt (int $w) 0 -}}
{{- $split = append $split (dict "subset" (get $svc.subsetYaml $v) "weight" (int $w)) -}}
{{- end -}}
{{- end -}}
{{- $tails := dict -}}
{{- range $p := $svc.httpPorts -}}
{{- $_ := set $tails (toString $p) (include "chartgen.ruleTail" (dict "svc" $svc "port" $p "policy" $policy "split" $split)) -}}
{{- range $r := $svc.routes -}}
{{- $v := toString (get $r "version") -}}
{{- $one := list (dict "subset" (get $svc.subsetYaml $v)) -}}
{{- $_ := set $tails (printf "%d/%s" (int $p) $v) (include "chartgen.ruleTail" (dict "svc" $svc "port" $p "policy" $policy "split" $one)) -}}
{{- end -}}
{{- end -}}
{{- $faults := list -}}
{{- if .root.Values.environment.chaos -}}
{{- range $f := $svc.faults -}}
{{- $grpc := hasKey (get $f "abort" | default dict) "grpcStatus" -}}
{{- $faults = append $faults (dict "fault" (include "chartgen.faultYaml" $f) "name" (get $f "name" | default "fault" | toYaml) "match" (get $f "match") "grpc" $grpc) -}}
{{- end -}}
{{- end -}}
{{- $routes := list -}}
{{- range $r := $svc.routes -}}
{{- $v := toString (get $r "version") -}}
{{- $routes = append $routes (dict "name" (get $r "name" | default (printf "route-%s" $v) | toYaml) "version" $v "match" (get $r "match")) -}}
{{- end -}}
{{- $_ := set .out "tails" $tails -}}
{{- $_ := set .out "faults" $faults -}}
{{- $_ := set .out "routes" $routes -}}
{{- end -}}

{{/*
chartgen.httpRules: the VirtualService http rules of a service for one HTTP port, in
order: fault rules (only when environment.chaos), A/B routes, then the default
(weighted over the version subsets, or the plain host; mirror when enabled), each a
list item. "parts" is the service's chartgen.httpParts; "port" is the destination port;
"matchPort" (not 0) adds the port to every match of a mesh rule (a service with several
ports, IST0112); on the ingress, matches are combined with the exposed paths.
Usage: {{- include "chartgen.httpRules" (dict "svc" $svc "parts" $parts "ingress" false "port" 8080 "matchPort" 0) | nindent 4 }}
*/}}
{{- define "chartgen.httpRules" -}}
{{- $svc := .svc -}}
{{- $ingress := .ingress -}}
{{- $matchPort := int (.matchPort | default 0) -}}
{{- $tail := get .parts.tails (toString .port) -}}
{{- $rules := list -}}
{{- range $f := .parts.faults -}}
{{- /* a gRPC abort applies on the service's GRPC ports only */ -}}
{{- if or (not $f.grpc) (has (int $.port) $svc.grpcPorts) -}}
{{- $m := dict -}}
{{- $_ := include "chartgen.ruleMatch" (dict "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" $f.match "out" $m) -}}
{{- if or $m.list (not $f.match) -}}
{{- $rules = append $rules (dict "fault" $f.fault "match" $m.list "name" $f.name "tail" $tail) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $r := .parts.routes -}}
{{- $m := dict -}}
{{- $_ := include "chartgen.ruleMatch" (dict "svc" $svc "ingress" $ingress "matchPort" $matchPort "match" $r.match "out" $m) -}}
{{- if $m.list -}}
{{- $rules = append $rules (dict "match" $m.list "name" $r.name "tail" (get $.parts.tails (printf "%d/%s" (int $.port) $r.version))) -}}
{{- end -}}
{{- end -}}
{{- $default := dict "name" "default" "tail" $tail -}}
{{- if $ingress -}}
{{- $m := dict -}}
{{- $_ := include "chartgen.matches" (dict "svc" $svc "ingress" true "match" list "out" $m) -}}
{{- $_ := set $default "match" $m.list -}}
{{- else if $matchPort -}}
{{- $_ := set $default "matchPort" $matchPort -}}
{{- end -}}
{{- if $svc.mirror.enabled -}}
{{- $_ := set $default "mirror" (dict "svc" $svc "port" .port) -}}
{{- end -}}
{{- /* one list item per rule, one line break between them */ -}}
{{- range $i, $rule := append $rules $default -}}
{{- if $i }}{{ "\n" }}{{ end -}}
- {{ include "chartgen.httpRule" $rule | trimPrefix "\n  " }}
{{- end -}}
{{- end -}}

{{/*
chartgen.httpRule: one http rule of chartgen.httpRules, one key a line, each line
starting with a line break and indented for a list item, in the layout toYaml gives a
list of rules (keys sorted, nested lists not indented): "fault" (a fault rule's fault
key, chartgen.faultYaml), "match" (a list) or "matchPort" (a default rule's match of
its port alone), "mirror" (the default rule's: svc and port), "name" (YAML text) and
"tail" (chartgen.ruleTail).
Usage: {{ include "chartgen.httpRule" $rule | trimPrefix "\n  " }}
*/}}
{{- define "chartgen.httpRule" }}
{{- with .fault }}
{{- . }}
{{- end }}
{{- with .match }}
  match:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .matchPort }}
  match:
  - port: {{ . }}
{{- end }}
{{- with .mirror }}
  mirror:
    host: {{ .svc.fqdn }}
    port:
      number: {{ .port }}
    subset: {{ get .svc.subsetYaml (toString .svc.mirror.version) }}
  mirrorPercentage:
    value: {{ float64 .svc.mirror.percent }}
{{- end }}
  name: {{ .name }}
{{- .tail }}
{{- end }}

{{/*
chartgen.faultYaml: the fault key of a fault rule, as chartgen.httpRule writes it (an
abort's or a delay's percentage defaults to 100). A duration needs no quotes: the
values schema admits only digits and units ("1.5s", "1h30m"), which YAML reads as text.
Usage: {{ include "chartgen.faultYaml" $fault }}
*/}}
{{- define "chartgen.faultYaml" }}
  fault:
{{- with get . "abort" }}
    abort:
      {{- if hasKey . "grpcStatus" }}
      grpcStatus: {{ toString (get . "grpcStatus") | toYaml }}
      {{- else }}
      httpStatus: {{ int (get . "httpStatus") }}
      {{- end }}
      percentage:
        value: {{ float64 (ternary (get . "percent") 100 (hasKey . "percent")) }}
{{- end }}
{{- with get . "delay" }}
    delay:
      fixedDelay: {{ get . "fixedDelay" }}
      percentage:
        value: {{ float64 (ternary (get . "percent") 100 (hasKey . "percent")) }}
{{- end }}
{{- if not (or (get . "abort") (get . "delay")) }} {}{{ end }}
{{- end }}

{{/*
chartgen.ruleTail: the keys every http rule of a service ends with, as YAML text:
retries and timeout ("policy": chartgen.retriesYaml, chartgen.timeoutYaml; "" for none)
around the route to "port": over "split" (each a subset as YAML text and its weight,
or one subset without a weight), or the plain host when "split" is empty.
Usage: {{ include "chartgen.ruleTail" (dict "svc" $svc "port" 8080 "policy" $policy "split" $split) }}
*/}}
{{- define "chartgen.ruleTail" }}
{{- .policy.retries }}
  route:
{{- range .split }}
  - destination:
      host: {{ $.svc.fqdn }}
      port:
        number: {{ $.port }}
      subset: {{ .subset }}
    {{- with .weight }}
    weight: {{ . }}
    {{- end }}
{{- else }}
  - destination:
      host: {{ .svc.fqdn }}
      port:
        number: {{ .port }}
{{- end }}
{{- .policy.timeout }}
{{- end }}

{{/*
chartgen.retriesYaml / chartgen.timeoutYaml: the retries key of an http rule (from a
dict of attempts, perTryTimeout, retryOn; none when it is empty) and its timeout key.
Durations are written as they are (chartgen.faultYaml says why), retryOn by toYaml.
Usage: {{ include "chartgen.retriesYaml" $retries }}
*/}}
{{- define "chartgen.retriesYaml" }}
{{- if . }}
  retries:
    {{- if hasKey . "attempts" }}
    attempts: {{ .attempts }}
    {{- end }}
    {{- with .perTryTimeout }}
    perTryTimeout: {{ . }}
    {{- end }}
    {{- with .retryOn }}
    retryOn: {{ toYaml . }}
    {{- end }}
{{- end }}
{{- end }}

{{- define "chartgen.timeoutYaml" }}
  timeout: {{ . }}
{{- end }}
