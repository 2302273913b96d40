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
watches all namespaces, a Role's in the watched namespace otherwise. Exactly the verbs the code calls (issue 11,
finding 10); test/rbac-manifests.test.ts pins them and the e2e tests run the operator bound to deploy/rbac.yaml.
  - EMQX / Rebalance: read through informers; status by server-side apply or merge patch; a Rebalance's finalizer by
    merge patch; finalizers/update so children may carry ownerReferences with blockOwnerDeletion.
  - What the operator builds: informers, server-side apply (create for the first apply, patch); StatefulSets,
    ReplicaSets and pods are deleted during rollouts; sets are scaled through the scale subresource. No PUT.
  - Secrets: informers, and get for Secrets named by spec.bootstrapAPIKeys[].secretRef and spec.tls.
  - PersistentVolumeClaims: read; delete only when a takeover retires the Go operator's StatefulSet and the resource
    says persistentVolumeClaimRetentionPolicy.whenScaled: Delete.
  - Endpoints: held only so that they may be granted to EMQX pods with cluster.discovery_strategy = k8s.
*/}}
{{- define "emqx-operator.workloadRules" -}}
- apiGroups: [apps.emqx.io]
  resources: [emqxes]
  verbs: [list, watch]
- apiGroups: [apps.emqx.io]
  resources: [rebalances]
  verbs: [list, watch, patch]
- apiGroups: [apps.emqx.io]
  resources: [emqxes/status, rebalances/status]
  verbs: [patch]
- apiGroups: [apps.emqx.io]
  resources: [emqxes/finalizers, rebalances/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [statefulsets, replicasets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets/scale, replicasets/scale]
  verbs: [patch]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [list, watch, create, patch]
{{- /* delete: a dashboard or listeners Service, the discovery ServiceAccount, RBAC and replicant PDB, the licence
Secret, a cert-manager Certificate and the Secret issued from it, once the spec no longer asks for them
(src/controller/prune.ts; only its own, by owner and field manager) */}}
- apiGroups: ['']
  resources: [services, serviceaccounts]
  verbs: [list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: ['']
  resources: [pods]
  verbs: [list, watch, patch, delete]
- apiGroups: ['']
  resources: [pods/status]
  verbs: [patch]
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [list, watch, delete]
- apiGroups: ['']
  resources: [endpoints]
  verbs: [get, list, watch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [list, watch, create, patch, delete]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, create, patch, delete]
{{- end }}

{{/*
What the operator needs in its own namespace: its leader-election Lease and its webhook certificate Secret, by name
(create cannot be limited by name).
*/}}
{{- define "emqx-operator.ownRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [emqx-operator-leader]
  verbs: [get, update]
{{- if .Values.webhook.enabled }}
- apiGroups: ['']
  resources: [secrets]
  verbs: [create]
- apiGroups: ['']
  resources: [secrets]
  resourceNames: [emqx-operator-webhook-cert]
  verbs: [get, update]
{{- end }}
{{- end }}

{{/*
Cluster-scoped in both modes: the operator's own two CRDs by name (it points their conversion webhook at itself),
and list on Leases across namespaces: a takeover checks that the Go operator's leader-election Lease
(19fd6fcc.emqx.io, namespace unknown) is no longer renewed (a list cannot be limited by resourceNames).
*/}}
{{- define "emqx-operator.crdRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [emqxes.apps.emqx.io, rebalances.apps.emqx.io]
  {{- if .Values.webhook.enabled }}
  verbs: [get, patch]
  {{- else }}
  verbs: [get]
  {{- end }}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [list]
{{- end }}
