{{/* How an enabled service is exposed on the ingress gateway: port, paths, host and scheme. */}}

{{/*
chartgen.serviceExposure: sets on an enabled service "svc" whether it is exposed (the
gateway and expose.enabled), and when it is: ingressPort (the first HTTP port, where
the gateway routes), pathMatches (expose.paths as matches: a string is a prefix on whole
path segments, {pathPrefix: P} without its trailing "/", or {prefix: "/"} for "/"),
authzPaths (AuthorizationPolicy paths; [] when a regex path admits any), testPaths,
host, gwPort, scheme and hostPort ("host" or "host:port" on an extra gateway port).
"extraPorts" holds gateway.extraPorts by number (as a string).
Usage: {{- $_ := include "chartgen.serviceExposure" (dict "root" $ "svc" $svc "extraPorts" $byNumber) }}
*/}}
{{- define "chartgen.serviceExposure" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $key := $svc.key -}}
{{- $gw := $root.Values.gateway -}}
{{- $httpPorts := $svc.httpPorts -}}
{{- $exposed := and $gw.enabled $svc.expose.enabled -}}
{{- $_ := set $svc "exposed" $exposed -}}
{{- if $exposed -}}
{{- if not $httpPorts -}}
{{- include "chartgen.fail" (dict "check" "exposed-http-port" "args" (list $key)) -}}
{{- end -}}
{{- /* the gateway routes to the first HTTP port; paths as matches: a string is a prefix on
whole segments (the Gateway API's PathPrefix: a trailing "/" is ignored) */ -}}
{{- $_ := set $svc "ingressPort" (first $httpPorts) -}}
{{- $pms := list -}}
{{- $authzPaths := list -}}
{{- $anyPath := false -}}
{{- $testPaths := list -}}
{{- range $p := $svc.expose.paths -}}
{{- $pm := $p -}}
{{- if kindIs "string" $p -}}
{{- $base := regexReplaceAll "/+$" (toString $p) "" -}}
{{- $pm = ternary (dict "prefix" "/") (dict "pathPrefix" $base) (eq $base "") -}}
{{- end -}}
{{- $pms = append $pms $pm -}}
{{- if hasKey $pm "regex" -}}
{{- $anyPath = true -}}
{{- else if hasKey $pm "exact" -}}
{{- $authzPaths = append $authzPaths (toString $pm.exact) -}}
{{- $testPaths = append $testPaths (toString $pm.exact) -}}
{{- else if hasKey $pm "pathPrefix" -}}
{{- /* the path itself and everything below it: "P" exactly, "P/*" a plain prefix */ -}}
{{- $authzPaths = append (append $authzPaths $pm.pathPrefix) (printf "%s/*" $pm.pathPrefix) -}}
{{- $testPaths = append $testPaths $pm.pathPrefix -}}
{{- else -}}
{{- /* AuthorizationPolicy "P*" is a plain prefix match, as the route's prefix is */ -}}
{{- $authzPaths = append $authzPaths (printf "%s*" $pm.prefix) -}}
{{- $testPaths = append $testPaths (toString $pm.prefix) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $svc "pathMatches" $pms -}}
{{- $_ := set $svc "authzPaths" (ternary list $authzPaths $anyPath) -}}
{{- $_ := set $svc "testPaths" $testPaths -}}
{{- $_ := set $svc "host" (include "chartgen.externalHost" (dict "root" $root "svc" $svc)) -}}
{{- $gp := int $svc.expose.gatewayPort -}}
{{- if eq $gp 0 -}}
{{- $_ := set $svc "gwPort" (ternary 443 80 (eq (toString $gw.https) "true")) -}}
{{- $_ := set $svc "scheme" (ternary "https" "http" (eq (toString $gw.https) "true")) -}}
{{- $_ := set $svc "hostPort" $svc.host -}}
{{- else -}}
{{- $ep := get .extraPorts (toString $gp) -}}
{{- if not $ep -}}
{{- include "chartgen.fail" (dict "check" "gateway-port" "args" (list $key $gp)) -}}
{{- end -}}
{{- $_ := set $svc "gwPort" $gp -}}
{{- $_ := set $svc "scheme" (ternary "https" "http" (eq (upper (toString $ep.protocol)) "HTTPS")) -}}
{{- $_ := set $svc "hostPort" (printf "%s:%d" $svc.host $gp) -}}
{{- end -}}
{{- end -}}
{{- end -}}
