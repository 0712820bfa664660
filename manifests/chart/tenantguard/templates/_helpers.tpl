{{/*
Every object carries the same names: the binary expects the ServiceAccount, Service and
Secret names below and its claims and Lease in tenantguard-system, so nothing is prefixed
with the release name (one release per cluster).
*/}}
{{- define "tenantguard.labels" -}}
app.kubernetes.io/name: tenantguard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "tenantguard.selectorLabels" -}}
app.kubernetes.io/name: tenantguard
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The serving Secret's name: the chart's own, or the one given in existing mode. */}}
{{- define "tenantguard.tlsSecret" -}}
{{- if eq .Values.certificates.mode "existing" -}}
{{ .Values.certificates.existing.secretName }}
{{- else -}}
tenantguard-tls
{{- end -}}
{{- end }}

{{/*
The entry namespace, from the one value the ConfigMap's config.yaml also holds
(config.entryNamespace), so the webhooks' matchConditions follow it; when the config leaves
the key out, the binary's default (DESIGN §6).
*/}}
{{- define "tenantguard.entryNamespace" -}}
{{- .Values.config.entryNamespace | default "higress-system" -}}
{{- end }}

{{/*
namespaceSelector: kube-system and the release namespace always stay out, by the label the
apiserver sets (tenants cannot forge it); then the webhook's own extra exclusions.
*/}}
{{- define "tenantguard.namespaceSelector" -}}
{{- $ns := concat (list "kube-system" .root.Release.Namespace) .exclude | uniq -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: [{{ join ", " $ns }}]
{{- end }}

{{- define "tenantguard.guard" -}}
{{- if ne .Release.Namespace "tenantguard-system" -}}
{{- fail (printf "tenantguard must be installed into the namespace tenantguard-system (its claims and Lease live there), not %s" .Release.Namespace) -}}
{{- end -}}
{{- end }}
