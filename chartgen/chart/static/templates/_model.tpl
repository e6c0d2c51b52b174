{{/* The model every template works from: the values with defaults filled in, checked and resolved, computed once per render. */}}

{{/*
Helpers of the mesh chart, one file per concern (_names, _labels, _contract, _model,
_checks, _ports, _expose, _calls, _match, _routes, _l4routes, _gatewayapi). Every define is
named "chartgen.<name>" here; chartgen prefixes it with the chart's name instead when it
copies the templates into a chart (Helm's define names are global across a chart and its
subcharts). Templates read only the keys listed in
docs/design/values-contract.md; _contract.tpl is generated from the values model.
*/}}

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
chartgen.model: the validated, normalized view of the values that every
template works from. Fails on inconsistent values.
The result is left on the root context as ._chartgenModel, since include returns
only text.
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
  $m.services.<key>.subsetYaml  {version: the version's name as YAML text}
  $m.namespaces       the output of chartgen.namespaces
  $m.waypoints        ambient: {namespace: waypoint name} of the namespaces that need one
  $m.services.<key>.viaWaypoint  ambient: the waypoint that calls into the service pass
                      (its namespace's; "" without one), gatewayViaWaypoint: the gateway's too
  $m.services.<key>.versionServices  per-version Services are rendered (Gateway API routing)
Its parts: chartgen.checkService (_checks.tpl),
chartgen.servicePorts (_ports.tpl), chartgen.serviceExposure (_expose.tpl),
chartgen.callGraph (_calls.tpl).
Everything here is derived from keys that a user's values file may override (ports,
expose.paths, calls, environment.*): it is computed here, from the values in effect,
rather than carried in the values, where an override would leave it stale.
*/}}
{{- define "chartgen.model" -}}
{{- $root := . -}}
{{- $V := .Values -}}
{{- $gw := $V.gateway -}}
{{- $sd := include "chartgen.serviceDefaults" . | fromYaml -}}
{{- $ed := include "chartgen.externalDefaults" . | fromYaml -}}
{{- $services := dict -}}
{{- $externals := dict -}}
{{- /* each entry with its defaults filled in: sprig's merge gives a key that the entry
leaves out, null or empty its default, and merges a map default key by key. Every default
is an empty value (false, 0, "", [], {} or a map of them: the generator of _contract.tpl refuses
others), so an empty value that an entry states stays what it was. */ -}}
{{- range $key, $raw := ($V.services | default dict) -}}
{{- $_ := set $services $key (merge (omit ($raw | default dict)) (deepCopy $sd)) -}}
{{- end -}}
{{- range $key, $raw := ($V.externalServices | default dict) -}}
{{- if hasKey $services $key -}}
{{- include "chartgen.fail" (dict "check" "unique-keys" "args" (list $key)) -}}
{{- end -}}
{{- $_ := set $externals $key (merge (omit ($raw | default dict)) (deepCopy $ed)) -}}
{{- end -}}
{{- if and $gw.enabled $gw.https (not $gw.credentialName) -}}
{{- include "chartgen.fail" (dict "check" "https-credential") -}}
{{- end -}}
{{- $ambient := eq (toString $V.environment.dataPlane) "ambient" -}}
{{- $extraPorts := dict -}}
{{- range $p := ($gw.extraPorts | default list) -}}
{{- $_ := set $extraPorts (toString (int $p.number)) $p -}}
{{- end -}}
{{- /* pass 1: per service */ -}}
{{- range $key, $svc := $services -}}
{{- $_ := set $svc "key" $key -}}
{{- $_ := set $svc "ns" (include "chartgen.svcNamespace" (dict "root" $root "svc" $svc)) -}}
{{- $_ := include "chartgen.checkService" $svc -}}
{{- if $svc.enabled -}}
{{- $_ := set $svc "fqdn" (include "chartgen.fqdn" (dict "root" $root "svc" $svc)) -}}
{{- $_ := include "chartgen.servicePorts" (dict "svc" $svc "ambient" $ambient) -}}
{{- /* rendered once here: every template that needs it reuses the text */ -}}
{{- $_ := set $svc "selectorYaml" (toYaml $svc.selector) -}}
{{- /* each version's name as YAML text, for the subsets of every http rule */ -}}
{{- $subsetYaml := dict -}}
{{- range $v, $version := ($svc.versions | default dict) }}{{ $_ := set $subsetYaml $v (toYaml $v) }}{{ end -}}
{{- $_ := set $svc "subsetYaml" $subsetYaml -}}
{{- $sa := $svc.serviceAccount.name -}}
{{- $_ := set $svc "principal" (include "chartgen.principal" (dict "root" $root "ns" $svc.ns "sa" $sa)) -}}
{{- $_ := include "chartgen.serviceExposure" (dict "root" $root "svc" $svc "extraPorts" $extraPorts) -}}
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
{{- include "chartgen.fail" (dict "check" "redirect-service" "args" (list $key $ext.redirect.service)) -}}
{{- end -}}
{{- if $target.enabled -}}
{{- if not (has (toString (int $ext.redirect.port)) $target.portStrings) -}}
{{- include "chartgen.fail" (dict "check" "redirect-port" "args" (list $key (int $ext.redirect.port) $ext.redirect.service)) -}}
{{- end -}}
{{- $active = $ext.enabled -}}
{{- end -}}
{{- end -}}
{{- $_ := set $ext "redirectActive" $active -}}
{{- if and $active $ambient -}}
{{- /* the redirect HTTPRoute's parent is the ServiceEntry: its namespace needs a waypoint */ -}}
{{- $_ := set $waypoints $ext.ns (get $waypoints $ext.ns | default "waypoint") -}}
{{- end -}}
{{- $_ := set $ext "npPortsYaml" (include "chartgen.npPorts" ($ext.ports | default list)) -}}
{{- end -}}
{{- /* ambient: the namespace's waypoint carries every service-addressed call into a service
of that namespace (the label is on the namespace), and the ingress gateway's calls too where
the namespace labels say istio.io/ingress-use-waypoint */ -}}
{{- $ingressWaypoint := eq (toString (get ($V.namespaces.labels | default dict) "istio.io/ingress-use-waypoint")) "true" -}}
{{- range $key, $svc := $services -}}
{{- $via := ternary (get $waypoints (toString $svc.ns) | default "") "" $ambient -}}
{{- $_ := set $svc "viaWaypoint" $via -}}
{{- $_ := set $svc "gatewayViaWaypoint" (and $via $svc.exposed $ingressWaypoint | default false) -}}
{{- end -}}
{{- /* pass 3: calls → callees, callers, edges */ -}}
{{- $graph := dict -}}
{{- $_ := include "chartgen.callGraph" (dict "services" $services "externals" $externals "out" $graph) -}}
{{- $_ := set $root "_chartgenModel" (dict "services" $services "externals" $externals "edges" $graph.edges "edgeKeys" $graph.edgeKeys "namespaces" (include "chartgen.namespaces" $root | fromJsonArray) "waypoints" $waypoints) -}}
{{- end -}}
