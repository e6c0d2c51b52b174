{{/* The consistency checks of one service entry that its values' schema cannot express. */}}

{{/*
chartgen.checkService: fails on a service entry (defaults filled in, .key set) whose
parts disagree: weights over unknown versions or not adding up to 100, an A/B route
to an unknown version or without a match, a mirror to an unknown version, a fault
with neither delay nor abort; when enabled, an empty selector or port list.
Usage: {{- $_ := include "chartgen.checkService" $svc }}
*/}}
{{- define "chartgen.checkService" -}}
{{- $svc := . -}}
{{- $key := $svc.key -}}
{{- $versions := $svc.versions | default dict -}}
{{- $sum := 0 -}}
{{- range $v, $w := ($svc.weights | default dict) -}}
{{- if not (hasKey $versions $v) -}}
{{- fail (printf "services.%s.weights: %q is not a version of services.%s.versions" $key $v $key) -}}
{{- end -}}
{{- $sum = add $sum (int $w) -}}
{{- end -}}
{{- if and $svc.weights (ne (int $sum) 100) -}}
{{- fail (printf "services.%s.weights must add up to 100 (got %d)" $key (int $sum)) -}}
{{- end -}}
{{- range $i, $r := $svc.routes -}}
{{- if not (hasKey $versions (toString (get $r "version"))) -}}
{{- fail (printf "services.%s.routes[%d] (%v): version %q is not in services.%s.versions" $key $i (get $r "name") (get $r "version") $key) -}}
{{- end -}}
{{- if not (get $r "match") -}}
{{- fail (printf "services.%s.routes[%d] (%v) needs a match (an A/B rule without one would take all traffic)" $key $i (get $r "name")) -}}
{{- end -}}
{{- end -}}
{{- if and $svc.mirror.enabled (not (hasKey $versions (toString $svc.mirror.version))) -}}
{{- fail (printf "services.%s.mirror.version %q is not in services.%s.versions" $key $svc.mirror.version $key) -}}
{{- end -}}
{{- range $i, $f := $svc.faults -}}
{{- if not (or (get $f "delay") (get $f "abort")) -}}
{{- fail (printf "services.%s.faults[%d] (%v) has neither delay nor abort" $key $i (get $f "name")) -}}
{{- end -}}
{{- end -}}
{{- if $svc.enabled -}}
{{- if not $svc.selector -}}
{{- fail (printf "services.%s.selector must not be empty" $key) -}}
{{- end -}}
{{- if not $svc.ports -}}
{{- fail (printf "services.%s.ports must not be empty" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
