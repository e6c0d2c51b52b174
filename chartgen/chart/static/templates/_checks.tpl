{{/* The consistency checks of one service entry that its values' schema cannot express. */}}

{{/*
chartgen.checkService: fails on a service entry (defaults filled in, .key set) whose
parts disagree: weights over unknown versions or not adding up to 100, an A/B route
to an unknown version, a mirror to an unknown version, a fault with neither delay
nor abort; when enabled, an empty selector. The messages are those of the checks in
chartgen/chart/invariants.py (chartgen.fail); what the schema states is left to the schema.
Usage: {{- $_ := include "chartgen.checkService" $svc }}
*/}}
{{- define "chartgen.checkService" -}}
{{- $svc := . -}}
{{- $key := $svc.key -}}
{{- $versions := $svc.versions | default dict -}}
{{- $sum := 0 -}}
{{- range $v, $w := ($svc.weights | default dict) -}}
{{- if not (hasKey $versions $v) -}}
{{- include "chartgen.fail" (dict "check" "weights-version" "args" (list $key $v $key)) -}}
{{- end -}}
{{- $sum = add $sum (int $w) -}}
{{- end -}}
{{- if and $svc.weights (ne (int $sum) 100) -}}
{{- include "chartgen.fail" (dict "check" "weights-sum" "args" (list $key (int $sum))) -}}
{{- end -}}
{{- range $i, $r := $svc.routes -}}
{{- if not (hasKey $versions (toString (get $r "version"))) -}}
{{- include "chartgen.fail" (dict "check" "route-version" "args" (list $key $i (get $r "name") (get $r "version") $key)) -}}
{{- end -}}
{{- end -}}
{{- if and $svc.mirror.enabled (not (hasKey $versions (toString $svc.mirror.version))) -}}
{{- include "chartgen.fail" (dict "check" "mirror-version" "args" (list $key $svc.mirror.version $key)) -}}
{{- end -}}
{{- range $i, $f := $svc.faults -}}
{{- if not (or (get $f "delay") (get $f "abort")) -}}
{{- include "chartgen.fail" (dict "check" "fault-action" "args" (list $key $i (get $f "name"))) -}}
{{- end -}}
{{- end -}}
{{- if and $svc.enabled (not $svc.selector) -}}
{{- include "chartgen.fail" (dict "check" "selector" "args" (list $key)) -}}
{{- end -}}
{{- end -}}
