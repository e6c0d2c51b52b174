{{/* The common labels of every object (app.kubernetes.io/*, helm.sh/chart). */}}

{{/*
chartgen.labels: the common labels of every object; "component" adds
app.kubernetes.io/component.
Usage: {{- include "chartgen.labels" (dict "root" $ "component" "traffic") | nindent 4 }}
*/}}
{{- define "chartgen.labels" -}}
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
chartgen.chart: "<chart name>-<chart version>" for the helm.sh/chart label.
Usage: {{ include "chartgen.chart" . }}
*/}}
{{- define "chartgen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}
