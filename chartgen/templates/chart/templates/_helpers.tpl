{{/*
Helpers of the mesh chart. Every helper is namespaced "chartgen.".
Templates read only the keys listed in docs/design/values-contract.md.
*/}}

{{/*
chartgen.name: the chart name (or .Values.nameOverride), DNS-label safe.
Usage: {{ include "chartgen.name" . }}
*/}}
{{- define "chartgen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
chartgen.shortName: a Kubernetes name of at most 63 characters. A longer composed name
(allow-<from>-to-<to>, <service>-ingress, …) keeps its first 54 characters and gets a
dash and 8 hex digits of its SHA-256: stable, and two long names never shorten to one.
Usage: {{ printf "allow-%s-to-%s" $a $b | include "chartgen.shortName" }}
*/}}
{{- define "chartgen.shortName" -}}
{{- if le (len .) 63 -}}
{{- . -}}
{{- else -}}
{{- printf "%s-%s" (trunc 54 . | trimSuffix "-") (sha256sum . | trunc 8) -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.chart: "<chart name>-<chart version>" for the helm.sh/chart label.
Usage: {{ include "chartgen.chart" . }}
*/}}
{{- define "chartgen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
chartgen.labels: the common labels of every object. The text is rendered once
per component and kept on the root context (a large mesh renders thousands of
objects).
Usage: {{- include "chartgen.labels" (dict "root" $ "component" "traffic") | nindent 4 }}
*/}}
{{- define "chartgen.labels" -}}
{{- if not (hasKey .root "_chartgenLabels") -}}
{{- $_ := set .root "_chartgenLabels" dict -}}
{{- end -}}
{{- $key := .component | default "" -}}
{{- if not (hasKey .root._chartgenLabels $key) -}}
{{- $_ := set .root._chartgenLabels $key (include "chartgen.labelsText" .) -}}
{{- end -}}
{{- get .root._chartgenLabels $key -}}
{{- end -}}

{{/*
chartgen.labelsText: the labels themselves (see chartgen.labels).
*/}}
{{- define "chartgen.labelsText" -}}
{{- $root := .root -}}
app.kubernetes.io/name: {{ include "chartgen.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | default $root.Chart.Version | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: {{ $root.Chart.Name | trunc 63 | trimSuffix "-" }}
{{- with .component }}
app.kubernetes.io/component: {{ . | trunc 63 | trimSuffix "-" }}
{{- end }}
helm.sh/chart: {{ include "chartgen.chart" $root }}
{{- end -}}

{{/*
chartgen.svcNamespace: the namespace of a service or external service
(its "namespace", else environment.namespace).
Usage: {{ include "chartgen.svcNamespace" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.svcNamespace" -}}
{{- $ns := get .svc "namespace" | default .root.Values.environment.namespace -}}
{{- required "environment.namespace is required (a service or external service has no namespace of its own)" $ns | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
chartgen.fqdn: "<serviceName>.<namespace>.svc.cluster.local" of a service.
Usage: {{ include "chartgen.fqdn" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.fqdn" -}}
{{- $name := required "every enabled service needs a serviceName" (get .svc "serviceName") -}}
{{- printf "%s.%s.svc.cluster.local" $name (include "chartgen.svcNamespace" .) -}}
{{- end -}}

{{/*
chartgen.externalHost: the host a service is exposed as on the gateway:
"<expose.host>.<environment.hostSuffix>", or expose.host when hostSuffix is "".
Usage: {{ include "chartgen.externalHost" (dict "root" $ "svc" $svc) }}
*/}}
{{- define "chartgen.externalHost" -}}
{{- $host := required (printf "service %q is exposed but has no expose.host" (get .svc "serviceName")) (get (get .svc "expose") "host") -}}
{{- with .root.Values.environment.hostSuffix -}}
{{- printf "%s.%s" $host . -}}
{{- else -}}
{{- $host -}}
{{- end -}}
{{- end -}}

{{/*
chartgen.namespaces: the sorted, unique namespaces of the enabled services
and enabled external services, as a JSON list.
Usage: {{- range include "chartgen.namespaces" . | fromJsonArray }}
*/}}
{{- define "chartgen.namespaces" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- range $key, $svc := (.Values.services | default dict) -}}
{{- if and $svc (get $svc "enabled") -}}
{{- $_ := set $out (include "chartgen.svcNamespace" (dict "root" $root "svc" $svc)) true -}}
{{- end -}}
{{- end -}}
{{- range $key, $ext := (.Values.externalServices | default dict) -}}
{{- if and $ext (get $ext "enabled") -}}
{{- $_ := set $out (include "chartgen.svcNamespace" (dict "root" $root "svc" $ext)) true -}}
{{- end -}}
{{- end -}}
{{- keys $out | sortAlpha | toJson -}}
{{- end -}}

{{/*
chartgen.principal: the SPIFFE-style principal "<trustDomain>/ns/<ns>/sa/<sa>".
Usage: {{ include "chartgen.principal" (dict "root" $ "ns" $svc.ns "sa" $svc.serviceAccount.name) }}
*/}}
{{- define "chartgen.principal" -}}
{{- printf "%s/ns/%s/sa/%s" (required "istio.trustDomain is required" .root.Values.istio.trustDomain) (required "principal: namespace is required" .ns) (required "principal: service account is required" .sa) -}}
{{- end -}}

{{/*
chartgen.gatewayRef: "<gateway.namespace>/<gateway.name>", as used in VirtualService.gateways.
Usage: {{ include "chartgen.gatewayRef" . }}
*/}}
{{- define "chartgen.gatewayRef" -}}
{{- printf "%s/%s" (required "gateway.namespace is required" .Values.gateway.namespace) (required "gateway.name is required" .Values.gateway.name) -}}
{{- end -}}

{{/*
chartgen.gatewayPrincipal: the principal of the ingress gateway workload.
Usage: {{ include "chartgen.gatewayPrincipal" . }}
*/}}
{{- define "chartgen.gatewayPrincipal" -}}
{{- include "chartgen.principal" (dict "root" . "ns" .Values.gateway.namespace "sa" (required "gateway.serviceAccount is required" .Values.gateway.serviceAccount)) -}}
{{- end -}}

{{/*
chartgen.jaegerFqdn / chartgen.prometheusFqdn: the observability Services.
Usage: {{ include "chartgen.jaegerFqdn" . }}
*/}}
{{- define "chartgen.jaegerFqdn" -}}
{{- printf "%s.%s.svc.cluster.local" (required "observability.jaeger.service is required" .Values.observability.jaeger.service) (required "observability.namespace is required" .Values.observability.namespace) -}}
{{- end -}}

{{- define "chartgen.prometheusFqdn" -}}
{{- printf "%s.%s.svc.cluster.local" (required "observability.prometheus.service is required" .Values.observability.prometheus.service) (required "observability.namespace is required" .Values.observability.namespace) -}}
{{- end -}}

{{/*
chartgen.serviceDefaults / chartgen.externalDefaults: the shape of one entry
of .Values.services / .Values.externalServices. Missing keys take these values,
so templates never read a key that is absent.
*/}}
{{- define "chartgen.serviceDefaults" -}}
enabled: false
waypoint: ""
namespace: ""
serviceName: ""
selector: {}
serviceAccount: {create: false, name: ""}
ports: []
expose: {enabled: false, host: "", paths: [], gatewayPort: 0}
timeout: ""
retries: {}
loadBalancer: {}
connectionPool: {}
outlierDetection: {}
versions: {}
weights: {}
routes: []
mirror: {enabled: false, version: "", percent: 0}
faults: []
rateLimit: {enabled: false, maxTokens: 0, tokensPerFill: 0, fillInterval: ""}
calls: []
env: {}
{{- end -}}

{{- define "chartgen.externalDefaults" -}}
enabled: false
namespace: ""
hosts: []
ports: []
exportTo: []
redirect: {enabled: false, service: "", port: 0}
envVar: ""
{{- end -}}

{{/*
chartgen.fillDefaults: a shallow copy of "value" with "defaults" filled in (a key of
"value" replaces the default; a non-empty map default is merged key by key).
The result is left in defaults._filled, since include returns only text (a JSON
round trip per service made large meshes slow).
Usage: {{- $_ := include "chartgen.fillDefaults" (dict "defaults" $d "value" $v) }}{{- $x := $d._filled }}
*/}}
{{- define "chartgen.fillDefaults" -}}
{{- $out := dict -}}
{{- range $k, $v := (.value | default dict) -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- range $k, $d := .defaults -}}
{{- if eq $k "_filled" -}}
{{- else if or (not (hasKey $out $k)) (kindIs "invalid" (get $out $k)) -}}
{{- $_ := set $out $k (deepCopy $d) -}}
{{- else if and (kindIs "map" $d) (gt (len $d) 0) (kindIs "map" (get $out $k)) -}}
{{- $_ := set $out $k (merge (get $out $k) (deepCopy $d)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set .defaults "_filled" $out -}}
{{- end -}}

{{/*
chartgen.model: the validated, normalized view of the values that every
template works from. Fails on inconsistent values.
The result is left on the root context as ._chartgenModel (include returns only
text; a JSON round trip of the whole model was a large part of the render time).
Usage: through chartgen.cacheModel.
  $m.services.<key>   service with defaults + ns, fqdn, port (first port number),
                      portStrings, principal, exposed, host, gwPort, scheme,
                      hostPort ("host" or "host:port"), callees (internal keys
                      reached, directly or through an active redirect),
                      externalCalls (enabled external keys called)
  $m.externals.<key>  external service with defaults + ns, redirectActive
  $m.edges            {"<from>/<to>": {from, to}} between enabled services
  $m.edgeKeys         the keys of $m.edges, sorted
  $m.services.<key>.callers  keys of the enabled services that call it, sorted
  selectorYaml, npPortsYaml  the selector and NetworkPolicy ports as YAML text
  $m.namespaces       the output of chartgen.namespaces
  $m.waypoints        ambient: {namespace: waypoint name} of the namespaces that need one
  $m.services.<key>.versionServices  per-version Services are rendered (Gateway API routing)
*/}}
{{- define "chartgen.model" -}}
{{- $root := . -}}
{{- $V := .Values -}}
{{- $gw := $V.gateway -}}
{{- $sd := include "chartgen.serviceDefaults" . | fromYaml -}}
{{- $ed := include "chartgen.externalDefaults" . | fromYaml -}}
{{- $services := dict -}}
{{- $externals := dict -}}
{{- range $key, $raw := ($V.services | default dict) -}}
{{- $_ := include "chartgen.fillDefaults" (dict "defaults" $sd "value" $raw) -}}
{{- $_ := set $services $key $sd._filled -}}
{{- end -}}
{{- range $key, $raw := ($V.externalServices | default dict) -}}
{{- if hasKey $services $key -}}
{{- fail (printf "%q is both a service and an external service; keys must be unique" $key) -}}
{{- end -}}
{{- $_ := include "chartgen.fillDefaults" (dict "defaults" $ed "value" $raw) -}}
{{- $_ := set $externals $key $ed._filled -}}
{{- end -}}
{{- if and $gw.enabled $gw.https (not $gw.credentialName) -}}
{{- fail "gateway.https is true but gateway.credentialName is empty" -}}
{{- end -}}
{{- $ambient := eq (toString $V.environment.dataPlane) "ambient" -}}
{{- /* ambient: mesh traffic reaches pods as HBONE on 15008, which NetworkPolicies must admit */ -}}
{{- $hbone := list (dict "number" 15008 "protocol" "TCP") -}}
{{- $extraPorts := dict -}}
{{- range $p := ($gw.extraPorts | default list) -}}
{{- $_ := set $extraPorts (toString (int $p.number)) $p -}}
{{- end -}}
{{- /* pass 1: per service */ -}}
{{- range $key, $svc := $services -}}
{{- $_ := set $svc "key" $key -}}
{{- $_ := set $svc "ns" (include "chartgen.svcNamespace" (dict "root" $root "svc" $svc)) -}}
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
{{- $_ := set $svc "fqdn" (include "chartgen.fqdn" (dict "root" $root "svc" $svc)) -}}
{{- $_ := set $svc "port" (int (first $svc.ports).number) -}}
{{- $ps := list -}}
{{- range $p := $svc.ports -}}
{{- $ps = append $ps (toString (int $p.number)) -}}
{{- end -}}
{{- $_ := set $svc "portStrings" $ps -}}
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
{{- $_ := set $svc "selectorYaml" (toYaml $svc.selector) -}}
{{- $_ := set $svc "npPortsYaml" (include "chartgen.npPorts" (ternary (concat $svc.ports $hbone) $svc.ports $ambient)) -}}
{{- $sa := required (printf "services.%s.serviceAccount.name is required" $key) $svc.serviceAccount.name -}}
{{- $_ := set $svc "principal" (include "chartgen.principal" (dict "root" $root "ns" $svc.ns "sa" $sa)) -}}
{{- $exposed := and $gw.enabled $svc.expose.enabled -}}
{{- $_ := set $svc "exposed" $exposed -}}
{{- if $exposed -}}
{{- if not $svc.expose.paths -}}
{{- fail (printf "services.%s.expose.paths must not be empty" $key) -}}
{{- end -}}
{{- if not $httpPorts -}}
{{- fail (printf "services.%s is exposed but has no HTTP, HTTP2 or GRPC port" $key) -}}
{{- end -}}
{{- /* the gateway routes to the first HTTP port; paths as matches: a string is a prefix */ -}}
{{- $_ := set $svc "ingressPort" (first $httpPorts) -}}
{{- $pms := list -}}
{{- $authzPaths := list -}}
{{- $anyPath := false -}}
{{- $testPaths := list -}}
{{- range $p := $svc.expose.paths -}}
{{- $pm := ternary (dict "prefix" (toString $p)) $p (kindIs "string" $p) -}}
{{- $pms = append $pms $pm -}}
{{- if hasKey $pm "regex" -}}
{{- $anyPath = true -}}
{{- else if hasKey $pm "exact" -}}
{{- $authzPaths = append $authzPaths (toString $pm.exact) -}}
{{- $testPaths = append $testPaths (toString $pm.exact) -}}
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
{{- $ep := get $extraPorts (toString $gp) -}}
{{- if not $ep -}}
{{- fail (printf "services.%s.expose.gatewayPort %d is not a number of gateway.extraPorts" $key $gp) -}}
{{- end -}}
{{- $_ := set $svc "gwPort" $gp -}}
{{- $_ := set $svc "scheme" (ternary "https" "http" (eq (upper (toString $ep.protocol)) "HTTPS")) -}}
{{- $_ := set $svc "hostPort" (printf "%s:%d" $svc.host $gp) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* ambient: waypoints by namespace; per-version Services where the Gateway API routes */ -}}
{{- $gatewayApi := and $gw.enabled (eq (toString $gw.api) "gatewayApi") -}}
{{- $waypoints := dict -}}
{{- range $key, $svc := $services -}}
{{- $routed := false -}}
{{- if and $svc.enabled $ambient $svc.waypoint -}}
{{- $_ := set $waypoints $svc.ns $svc.waypoint -}}
{{- $routed = true -}}
{{- end -}}
{{- if and $svc.enabled $gatewayApi $svc.exposed -}}
{{- $routed = true -}}
{{- end -}}
{{- $_ := set $svc "versionServices" (and $routed (gt (len ($svc.versions | default dict)) 0)) -}}
{{- end -}}
{{- /* pass 2: external services */ -}}
{{- range $key, $ext := $externals -}}
{{- $_ := set $ext "key" $key -}}
{{- $_ := set $ext "ns" (include "chartgen.svcNamespace" (dict "root" $root "svc" $ext)) -}}
{{- $active := false -}}
{{- if $ext.redirect.enabled -}}
{{- $target := get $services (toString $ext.redirect.service) -}}
{{- if not $target -}}
{{- fail (printf "externalServices.%s.redirect.service %q is not a key of services" $key $ext.redirect.service) -}}
{{- end -}}
{{- if $target.enabled -}}
{{- if not (has (toString (int $ext.redirect.port)) $target.portStrings) -}}
{{- fail (printf "externalServices.%s.redirect.port %d is not a port of services.%s" $key (int $ext.redirect.port) $ext.redirect.service) -}}
{{- end -}}
{{- $active = $ext.enabled -}}
{{- end -}}
{{- end -}}
{{- if and $ext.enabled (not $ext.hosts) -}}
{{- fail (printf "externalServices.%s.hosts must not be empty" $key) -}}
{{- end -}}
{{- $_ := set $ext "redirectActive" $active -}}
{{- if and $active $ambient -}}
{{- /* the redirect HTTPRoute's parent is the ServiceEntry: its namespace needs a waypoint */ -}}
{{- $_ := set $waypoints $ext.ns (get $waypoints $ext.ns | default "waypoint") -}}
{{- end -}}
{{- $_ := set $ext "npPortsYaml" (include "chartgen.npPorts" ($ext.ports | default list)) -}}
{{- end -}}
{{- /* pass 3: calls → callees, external calls, edges */ -}}
{{- $edges := dict -}}
{{- range $key, $svc := $services -}}
{{- $callees := list -}}
{{- $extCalls := list -}}
{{- range $c := $svc.calls -}}
{{- $c = toString $c -}}
{{- if hasKey $services $c -}}
{{- if (get $services $c).enabled -}}
{{- $callees = append $callees $c -}}
{{- end -}}
{{- else if hasKey $externals $c -}}
{{- $ext := get $externals $c -}}
{{- if $ext.enabled -}}
{{- $extCalls = append $extCalls $c -}}
{{- if $ext.redirectActive -}}
{{- $callees = append $callees (toString $ext.redirect.service) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- fail (printf "services.%s.calls: %q is neither a key of services nor of externalServices" $key $c) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $svc "callees" ($callees | uniq | sortAlpha) -}}
{{- $_ := set $svc "externalCalls" ($extCalls | uniq | sortAlpha) -}}
{{- if $svc.enabled -}}
{{- range $t := $svc.callees -}}
{{- $_ := set $edges (printf "%s/%s" $key $t) (dict "from" $key "to" $t) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $svc := $services -}}
{{- $_ := set $svc "callers" list -}}
{{- end -}}
{{- /* edges stay a dict with a sorted key list: appending to a long list copies it each time */ -}}
{{- $edgeKeys := keys $edges | sortAlpha -}}
{{- range $k := $edgeKeys -}}
{{- $e := get $edges $k -}}
{{- $to := get $services $e.to -}}
{{- $_ := set $to "callers" (append $to.callers $e.from) -}}
{{- end -}}
{{- $_ := set $root "_chartgenModel" (dict "services" $services "externals" $externals "edges" $edges "edgeKeys" $edgeKeys "namespaces" (include "chartgen.namespaces" $root | fromJsonArray) "waypoints" $waypoints) -}}
{{- end -}}

{{/*
chartgen.cacheModel: compute chartgen.model once per render and keep it on the
root context, so that the template files share it instead of each recomputing it.
Usage: {{- include "chartgen.cacheModel" . }}{{- $m := $._chartgenModel }}
*/}}
{{- define "chartgen.cacheModel" -}}
{{- if not (hasKey . "_chartgenModel") -}}
{{- $_ := include "chartgen.model" . -}}
{{- end -}}
{{- end -}}

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
{{- $d := dict "fixedDelay" (required "a fault delay needs fixedDelay" (get . "fixedDelay")) -}}
{{- $_ := set $d "percentage" (dict "value" (float64 (ternary (get . "percent") 100 (hasKey . "percent")))) -}}
{{- $_ := set $fault "delay" $d -}}
{{- end -}}
{{- with get $f "abort" -}}
{{- $a := dict -}}
{{- if hasKey . "grpcStatus" -}}
{{- $_ := set $a "grpcStatus" (toString (get . "grpcStatus")) -}}
{{- else -}}
{{- $_ := set $a "httpStatus" (int (required "a fault abort needs httpStatus or grpcStatus" (get . "httpStatus"))) -}}
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

{{/*
chartgen.npPorts: NetworkPolicy ports (TCP, or UDP for UDP ports) of a port list.
Usage: {{- include "chartgen.npPorts" $svc.ports | nindent 8 }}
*/}}
{{- define "chartgen.npPorts" -}}
{{- $out := list -}}
{{- range $p := . -}}
{{- $out = append $out (dict "protocol" (ternary "UDP" "TCP" (eq (upper (toString (get $p "protocol"))) "UDP")) "port" (int $p.number)) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

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
uri prefix "/" becomes PathPrefix "/", any other string prefix the full-match regex
"<quoted prefix>.*" (a PathPrefix matches whole path segments only), exact stays Exact;
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
{{- range $m := include "chartgen.matches" (dict "svc" .svc "ingress" .ingress "match" .match) | fromJsonArray -}}
{{- $x := include "chartgen.gatewayApiMatch" $m | fromJson -}}
{{- if not (has $x $out) -}}
{{- $out = append $out $x -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
chartgen.versionService: the per-version Service of a service, "<serviceName>-<version>"
(a Gateway API backendRef names a Service, not a subset).
Usage: {{ include "chartgen.versionService" (dict "svc" $svc "version" $v) }}
*/}}
{{- define "chartgen.versionService" -}}
{{- printf "%s-%s" .svc.serviceName .version | trunc 63 | trimSuffix "-" -}}
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
