{{/* The match lists of the VirtualService HTTP rules (mesh and ingress). */}}

{{/*
chartgen.portMatches: the matches of a mesh rule of a service with several ports:
each match (or one empty match) with "port" added. Left in .out.list, since
include returns only text.
Usage: {{- $_ := include "chartgen.portMatches" (dict "match" $list "port" 8080 "out" $holder) }}
*/}}
{{- define "chartgen.portMatches" -}}
{{- $out := list -}}
{{- range $m := (.match | default (list dict)) -}}
{{- $out = append $out (merge (dict "port" $.port) $m) -}}
{{- end -}}
{{- $_ := set .out "list" $out -}}
{{- end -}}

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
{{- $_ := include "chartgen.matches" (dict "svc" .svc "ingress" true "match" $ms "out" .out) -}}
{{- else if .matchPort -}}
{{- $_ := include "chartgen.portMatches" (dict "match" $ms "port" .matchPort "out" .out) -}}
{{- else -}}
{{- $_ := set .out "list" $ms -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.matches: the match list of one HTTP rule. Mesh rules keep the rule's
matches. Ingress rules combine each match with each exposed path
(svc.pathMatches: one entry per path, ORed) and, on a non-default gateway port,
the port. A match with its own path keeps it only where every request it admits
is under the exposed path (a prefix within a prefix, an exact path within a
prefix, or the exposed exact path itself); a prefix of the rule that covers an
exposed segment prefix narrows to it; elsewhere it is dropped, so that the ingress
admits exactly the exposed paths. An empty result means the rule cannot apply on
the ingress. A segment prefix P ({pathPrefix: P}) stays one match where "segments"
is true (the Gateway API's PathPrefix); for a VirtualService, whose prefix is a
plain string prefix, it becomes two: {exact: P} and {prefix: "P/"}. The list is left in
.out.list, since include returns only text.
Usage: {{- $_ := include "chartgen.matches" (dict "svc" $svc "ingress" true "match" $list "segments" false "out" $holder) }}
*/}}
{{- define "chartgen.matches" -}}
{{- $ms := .match | default list -}}
{{- if not .ingress -}}
{{- $_ := set .out "list" $ms -}}
{{- else -}}
{{- $out := list -}}
{{- $gp := int .svc.expose.gatewayPort -}}
{{- range $m := ($ms | default (list dict)) -}}
{{- range $pm := $.svc.pathMatches -}}
{{- $x := deepCopy $m -}}
{{- $keep := true -}}
{{- $u := get $x "uri" -}}
{{- if $u -}}
{{- /* the rule has its own path: keep it where it lies under this exposed path */ -}}
{{- $keep = false -}}
{{- if and (hasKey $pm "pathPrefix") (not (hasKey $u "regex")) -}}
{{- $base := toString $pm.pathPrefix -}}
{{- $v := toString (coalesce (get $u "prefix") (get $u "exact") "") -}}
{{- $keep = or (eq (toString (get $u "exact")) $base) (hasPrefix (printf "%s/" $base) $v) -}}
{{- if and (not $keep) (hasKey $u "prefix") (hasPrefix $v $base) -}}
{{- $_ := set $x "uri" (deepCopy $pm) -}}
{{- $keep = true -}}
{{- end -}}
{{- else if and (hasKey $pm "prefix") (not (hasKey $u "regex")) -}}
{{- $v := toString (coalesce (get $u "prefix") (get $u "exact") "") -}}
{{- $keep = hasPrefix (toString $pm.prefix) $v -}}
{{- else if and (hasKey $pm "prefix") (eq (toString $pm.prefix) "/") -}}
{{- $keep = true -}}
{{- else if and (hasKey $pm "exact") (not (hasKey $u "regex")) -}}
{{- $e := toString $pm.exact -}}
{{- if or (eq (toString (get $u "exact")) $e) (and (hasKey $u "prefix") (hasPrefix (toString (get $u "prefix")) $e)) -}}
{{- $_ := set $x "uri" (dict "exact" $e) -}}
{{- $keep = true -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $_ := set $x "uri" (deepCopy $pm) -}}
{{- end -}}
{{- if ne $gp 0 -}}
{{- $_ := set $x "port" $gp -}}
{{- end -}}
{{- $xs := list $x -}}
{{- if and $keep (not $.segments) (hasKey (get $x "uri" | default dict) "pathPrefix") -}}
{{- $base := toString $x.uri.pathPrefix -}}
{{- $y := deepCopy $x -}}
{{- $_ := set $x "uri" (dict "exact" $base) -}}
{{- $_ := set $y "uri" (dict "prefix" (printf "%s/" $base)) -}}
{{- $xs = list $x $y -}}
{{- end -}}
{{- range $x := $xs -}}
{{- if and $keep (not (has $x $out)) -}}
{{- $out = append $out $x -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set .out "list" $out -}}
{{- end -}}
{{- end -}}
