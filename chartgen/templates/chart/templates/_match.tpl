{{/* The match lists of the VirtualService HTTP rules (mesh and ingress). */}}

{{/*
chartgen.portMatches: the matches of a mesh rule of a service with several ports:
each match (or one empty match) with "port" added. Left in .out.list (include
returns only text; a JSON round trip per rule made large meshes slow).
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
chartgen.matches: the match list of one HTTP rule. Mesh rules keep the rule's
matches. Ingress rules combine each match with each exposed path
(svc.pathMatches: one entry per path, ORed) and, on a non-default gateway port,
the port. A match with its own path keeps it only where every request it admits
is under the exposed path (a prefix within a prefix, an exact path within a
prefix, or the exposed exact path itself); elsewhere it is dropped, so that the
ingress admits exactly the exposed paths. An empty result means the rule cannot
apply on the ingress.
Usage: {{ include "chartgen.matches" (dict "svc" $svc "ingress" true "match" $list) | fromJsonArray }}
*/}}
{{- define "chartgen.matches" -}}
{{- $ms := .match | default list -}}
{{- if not .ingress -}}
{{- toJson $ms -}}
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
{{- if and (hasKey $pm "prefix") (not (hasKey $u "regex")) -}}
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
{{- if and $keep (not (has $x $out)) -}}
{{- $out = append $out $x -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}
{{- end -}}
