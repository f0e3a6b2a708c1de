{{/* The chart name, or nameOverride. */}}
{{- define "bedrock-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else the release name (with the chart name when it is not in it). */}}
{{- define "bedrock-proxy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the gateway pods: the Service, the PodDisruptionBudget and the Deployment use these. */}}
{{- define "bedrock-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bedrock-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "bedrock-proxy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bedrock-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret the gateway's secrets come from. */}}
{{- define "bedrock-proxy.secretName" -}}
{{- default (include "bedrock-proxy.fullname" .) .Values.secret.name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "bedrock-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bedrock-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* True when several pods may serve at once, so per-pod state would multiply limits and split the ledger. */}}
{{- define "bedrock-proxy.manyPods" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.maxReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/* True when at least two pods always run: only then can a disruption budget keep one without blocking drains. */}}
{{- define "bedrock-proxy.alwaysManyPods" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.minReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}
