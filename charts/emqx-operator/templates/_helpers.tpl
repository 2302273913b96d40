{{/* Full name: the release name, or release-chart when the release name does not contain the chart's. */}}
{{- define "emqx-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "emqx-operator.fullname" -}}
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

{{- define "emqx-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "emqx-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "emqx-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "emqx-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: emqx-operator
{{- end }}

{{- define "emqx-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "emqx-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "emqx-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "emqx-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "emqx-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "emqx-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "emqx-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
RBAC rules for the resources the operator manages inside the namespaces it watches: a ClusterRole's rules when it
watches all namespaces, a Role's in the watched namespace otherwise.
*/}}
{{- define "emqx-operator.workloadRules" -}}
- apiGroups: [apps.emqx.io]
  resources: [emqxes, rebalances]
  verbs: [get, list, watch, update, patch]
- apiGroups: [apps.emqx.io]
  resources: [emqxes/status, rebalances/status]
  verbs: [get, update, patch]
- apiGroups: [apps.emqx.io]
  resources: [emqxes/finalizers, rebalances/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [statefulsets, replicasets]
  verbs: [get, list, watch, create, update, patch, delete]
# Old revisions are scaled down one pod at a time through the scale subresource.
- apiGroups: [apps]
  resources: [statefulsets/scale, replicasets/scale]
  verbs: [get, update, patch]
- apiGroups: ['']
  resources: [services, configmaps, secrets, serviceaccounts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, patch, delete]
- apiGroups: ['']
  resources: [pods/status]
  verbs: [patch, update]
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, delete]
# Needed to grant the same to EMQX pods that use `cluster.discovery_strategy = k8s` (RBAC forbids granting what one
# does not hold).
- apiGroups: ['']
  resources: [endpoints]
  verbs: [get, list, watch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch, update]
# list: a takeover checks that the Go operator's leader-election Lease (19fd6fcc.emqx.io) is no longer renewed.
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [list]
{{- end }}

{{/* What the operator needs in its own namespace: its leader-election Lease and its webhook certificate Secret. */}}
{{- define "emqx-operator.ownRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, create]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch, update]
{{- end }}

{{/* Cluster-scoped: the CRD, to register the conversion webhook's CA bundle (and check it is installed). */}}
{{- define "emqx-operator.crdRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch, patch]
{{- end }}
