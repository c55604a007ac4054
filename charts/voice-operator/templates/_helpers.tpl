{{/*
Names and labels shared by every template.
*/}}

{{/*
The chart's name, or nameOverride.
*/}}
{{- define "voice-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: fullnameOverride, else <release>-<name>,
else the release name alone when it already contains the chart's name (so a
release called voice-operator gives voice-operator-metrics, not
voice-operator-voice-operator-metrics). Cut to 55 characters, so that the
metrics Service's name, <fullname>-metrics, stays within the 63 characters
of a DNS label; the other suffixed names are of roles, which may be longer.
*/}}
{{- define "voice-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 55 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 55 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
chart-version, for the helm.sh/chart label.
*/}}
{{- define "voice-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select the manager's Pods: the Deployment's selector, the
Service's, the ServiceMonitor's and the NetworkPolicy's. They never change
between upgrades (a Deployment's selector is immutable).
*/}}
{{- define "voice-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "voice-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/*
The labels of every object the chart creates.
*/}}
{{- define "voice-operator.labels" -}}
helm.sh/chart: {{ include "voice-operator.chart" . }}
{{ include "voice-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: voice-operator
{{- end }}

{{/*
The ServiceAccount the manager runs as.
*/}}
{{- define "voice-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "voice-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The subject every binding of the manager's roles names.
*/}}
{{- define "voice-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "voice-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is given, else
repository:tag with the tag defaulting to the chart's appVersion.
*/}}
{{- define "voice-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The rules of the manager's ClusterRole (all namespaces) or of its Role in
each watched namespace. They are the rules of config/rbac/role.yaml, which
controller-gen generates from the controllers' +kubebuilder:rbac markers;
files/manager-role.yaml is a copy of it, kept equal by the chart's tests
(test/helm: go test . -update rewrites it), so the chart cannot drift from
what the code asks for.
*/}}
{{- define "voice-operator.managerRules" -}}
{{- $role := .Files.Get "files/manager-role.yaml" | fromYaml }}
{{- if not $role.rules }}
{{- fail "files/manager-role.yaml holds no rules: the chart is broken, rebuild it with test/helm's -update" }}
{{- end }}
{{- toYaml $role.rules }}
{{- end }}

{{/*
The name of the metrics Service.
*/}}
{{- define "voice-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "voice-operator.fullname" .) }}
{{- end }}

{{/*
The name of the metrics port: https when the endpoint is secure, else http.
*/}}
{{- define "voice-operator.metricsPortName" -}}
{{- if .Values.metrics.secure }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Where the metrics certificate Secret is mounted.
*/}}
{{- define "voice-operator.metricsCertDir" -}}
/tmp/k8s-metrics-server/metrics-certs
{{- end }}
