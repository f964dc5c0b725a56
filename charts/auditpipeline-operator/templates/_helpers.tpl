{{/* The chart name, or nameOverride. */}}
{{- define "auditpipeline-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: fullnameOverride, or <release>-<name> (just the release name when it already
contains the chart name). At most 52 characters, so that suffixes such as "-metrics-reader" fit in 63.
*/}}
{{- define "auditpipeline-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := include "auditpipeline-operator.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels that select the manager pods; never change them in an upgrade. */}}
{{- define "auditpipeline-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditpipeline-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "auditpipeline-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "auditpipeline-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auditpipeline
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the manager runs as. */}}
{{- define "auditpipeline-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auditpipeline-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager image: repository, then @digest or :tag (default: the chart's appVersion). */}}
{{- define "auditpipeline-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The metrics Service's name (also the Prometheus job label of its targets). */}}
{{- define "auditpipeline-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "auditpipeline-operator.fullname" .) }}
{{- end }}

{{/* True (non-empty) when the metrics endpoint is on. */}}
{{- define "auditpipeline-operator.metricsEnabled" -}}
{{- if ne (int .Values.metrics.port) 0 }}true{{ end }}
{{- end }}

{{/* The audit API's Deployment, Service, ServiceAccount and Certificate: <fullname>-audit-api. */}}
{{- define "auditpipeline-operator.auditAPI.name" -}}
{{- printf "%s-audit-api" (include "auditpipeline-operator.fullname" .) }}
{{- end }}

{{/* The audit API's serving Secret (kubernetes.io/tls), written by the operator or by cert-manager. */}}
{{- define "auditpipeline-operator.auditAPI.secretName" -}}
{{- printf "%s-tls" (include "auditpipeline-operator.auditAPI.name" .) }}
{{- end }}

{{/*
The labels that select the audit API pods. Their name differs from the manager's: the manager's Deployment
and metrics Service select on name and instance alone, and must not match these pods.
*/}}
{{- define "auditpipeline-operator.auditAPI.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auditpipeline-operator.name" . | trunc 53 | trimSuffix "-" }}-audit-api
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* auditAPI.pipeline, checked: namespace/name of an AuditPipeline. */}}
{{- define "auditpipeline-operator.auditAPI.pipeline" -}}
{{- $p := required "auditAPI.pipeline is required when auditAPI.enabled is true: the AuditPipeline to serve, as namespace/name (e.g. audit/cluster-audit)" .Values.auditAPI.pipeline }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$" $p) }}
{{- fail (printf "auditAPI.pipeline %q must name the AuditPipeline as namespace/name, e.g. audit/cluster-audit" $p) }}
{{- end }}
{{- $p }}
{{- end }}

{{/* The namespace of auditAPI.pipeline. */}}
{{- define "auditpipeline-operator.auditAPI.pipelineNamespace" -}}
{{- include "auditpipeline-operator.auditAPI.pipeline" . | splitList "/" | first }}
{{- end }}

{{/* The name of auditAPI.pipeline. */}}
{{- define "auditpipeline-operator.auditAPI.pipelineName" -}}
{{- include "auditpipeline-operator.auditAPI.pipeline" . | splitList "/" | last }}
{{- end }}

{{/*
True (non-empty) when the audit API is on and the operator issues its serving certificate: certificates
operator, or auto on a cluster without cert-manager's API.
*/}}
{{- define "auditpipeline-operator.auditAPI.operatorCerts" -}}
{{- if .Values.auditAPI.enabled }}
{{- $c := .Values.auditAPI.certificates }}
{{- if not (has $c (list "auto" "operator" "cert-manager")) }}
{{- fail (printf "auditAPI.certificates is %q: it must be auto, operator or cert-manager" $c) }}
{{- end }}
{{- if or (eq $c "operator") (and (eq $c "auto") (not (.Capabilities.APIVersions.Has "cert-manager.io/v1/Certificate"))) }}true{{ end }}
{{- end }}
{{- end }}
