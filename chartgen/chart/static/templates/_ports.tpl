{{/* The ports of a service: the first port, the rule kind of each port, the workload ports, NetworkPolicy ports. */}}

{{/*
chartgen.servicePorts: sets on an enabled service "svc" its port (the first port
number), portStrings, the port numbers by rule kind (httpPorts: HTTP, HTTP2, GRPC;
tlsPorts: TLS, HTTPS, routed by SNI; tcpPorts: the rest; the kinds of the catalog's
protocol_class, which a test holds them to), grpcPorts, multiPort; the workload
ports (a port's targetPort, else its number: what the pods listen on, which Istio's
AuthorizationPolicies and the NetworkPolicies match):
targetOf (service port number as text → workload port), authzPorts (the numeric
workload ports as text) and authzAnyPort (a workload port is named, which an
AuthorizationPolicy cannot state: its rule then admits any port); npPortsYaml, its
NetworkPolicy ports as YAML text (with HBONE's 15008 when "ambient"), and metricsNpYaml.
Usage: {{- $_ := include "chartgen.servicePorts" (dict "svc" $svc "ambient" $ambient) }}
*/}}
{{- define "chartgen.servicePorts" -}}
{{- $svc := .svc -}}
{{- /* ambient: mesh traffic reaches pods as HBONE on 15008, which NetworkPolicies must admit */ -}}
{{- $hbone := list (dict "number" 15008 "protocol" "TCP") -}}
{{- $_ := set $svc "port" (int (first $svc.ports).number) -}}
{{- $ps := list -}}
{{- range $p := $svc.ports -}}
{{- $ps = append $ps (toString (int $p.number)) -}}
{{- end -}}
{{- $_ := set $svc "portStrings" $ps -}}
{{- $targetOf := dict -}}
{{- $authz := list -}}
{{- $anyPort := false -}}
{{- range $p := $svc.ports -}}
{{- $t := $p.targetPort | default $p.number -}}
{{- if kindIs "string" $t -}}
{{- $anyPort = true -}}
{{- else -}}
{{- $t = int $t -}}
{{- $authz = append $authz (toString $t) -}}
{{- end -}}
{{- $_ := set $targetOf (toString (int $p.number)) $t -}}
{{- end -}}
{{- $_ := set $svc "targetOf" $targetOf -}}
{{- $_ := set $svc "authzPorts" (uniq $authz) -}}
{{- $_ := set $svc "authzAnyPort" $anyPort -}}
{{- /* rule kind per port: http (HTTP, HTTP2, GRPC), tls (TLS, HTTPS: by SNI), tcp (the rest) */ -}}
{{- $httpPorts := list -}}
{{- $tlsPorts := list -}}
{{- $tcpPorts := list -}}
{{- $grpcPorts := list -}}
{{- range $p := $svc.ports -}}
{{- $proto := upper (toString $p.protocol) -}}
{{- if has $proto (list "HTTP" "HTTP2" "GRPC") -}}
{{- $httpPorts = append $httpPorts (int $p.number) -}}
{{- if eq $proto "GRPC" -}}
{{- $grpcPorts = append $grpcPorts (int $p.number) -}}
{{- end -}}
{{- else if has $proto (list "TLS" "HTTPS") -}}
{{- $tlsPorts = append $tlsPorts (int $p.number) -}}
{{- else -}}
{{- $tcpPorts = append $tcpPorts (int $p.number) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $svc "httpPorts" $httpPorts -}}
{{- $_ := set $svc "tlsPorts" $tlsPorts -}}
{{- $_ := set $svc "tcpPorts" $tcpPorts -}}
{{- $_ := set $svc "grpcPorts" $grpcPorts -}}
{{- $_ := set $svc "multiPort" (gt (len $svc.ports) 1) -}}
{{- /* rendered once here: every template that needs them reuses the text */ -}}
{{- $_ := set $svc "npPortsYaml" (include "chartgen.npPorts" (ternary (concat $svc.ports $hbone) $svc.ports .ambient)) -}}
{{- if $svc.metrics.enabled -}}
{{- $_ := set $svc "metricsNpYaml" (include "chartgen.npPorts" (list (dict "number" $svc.metrics.port "protocol" "TCP"))) -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.npPorts: NetworkPolicy ports (TCP, or UDP for UDP ports) of a port list, each
its targetPort when it has one (a name stays a name: Kubernetes resolves it in the pod),
as YAML in toYaml's layout ("[]" when empty); a name is written by toYaml (quoted
where YAML needs it), a number as it is.
Usage: {{- include "chartgen.npPorts" $svc.ports | nindent 8 }}
*/}}
{{- define "chartgen.npPorts" -}}
{{- range $i, $p := . -}}
{{- $t := get $p "targetPort" | default $p.number -}}
{{- if $i }}{{ "\n" }}{{ end -}}
- port: {{ if kindIs "string" $t }}{{ toYaml $t }}{{ else }}{{ int $t }}{{ end }}
  protocol: {{ ternary "UDP" "TCP" (eq (upper (toString (get $p "protocol"))) "UDP") }}
{{- else -}}
[]
{{- end -}}
{{- end -}}
