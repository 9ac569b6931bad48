{{- define "certsmith.labels" -}}
app.kubernetes.io/name: certsmith
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "certsmith.selector" -}}
app.kubernetes.io/name: certsmith
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "certsmith.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default "certsmith" -}}
{{- end -}}

{{- define "certsmith.image" -}}
{{- $repo := .Values.image.repository -}}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" . $repo }}{{ end -}}
{{- if .Values.image.digest -}}
{{ $repo }}@{{ .Values.image.digest }}
{{- else -}}
{{ $repo }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The default issuer: cert-manager's ingressShim.* win over defaultIssuer.* when set. */}}
{{- define "certsmith.defaultIssuerName" -}}
{{- .Values.ingressShim.defaultIssuerName | default .Values.defaultIssuer.name -}}
{{- end -}}

{{- define "certsmith.serviceMonitor" -}}
{{- if or .Values.metrics.serviceMonitor.enabled (and .Values.prometheus.enabled .Values.prometheus.servicemonitor.enabled) }}true{{ end -}}
{{- end -}}

{{/* Non-empty when the cainjector runs, and gets its grants: cert-manager's cainjector.enabled, unless
     extraArgs turn it off by hand. */}}
{{- define "certsmith.cainjectorOn" -}}
{{- if and .Values.cainjector.enabled (not (regexMatch "[=,]-cainjector\\b" (join " " .Values.extraArgs))) }}true{{ end -}}
{{- end -}}
{{/* Non-empty when certsmith's built-in approver is off: cert-manager's disableAutoApproval, or
the approver turned off by hand in extraArgs (--controllers=...,-certificaterequests-approver). */}}
{{- define "certsmith.approverOff" -}}
{{- if or .Values.disableAutoApproval (regexMatch "[=,]-certificaterequests-approver" (join " " .Values.extraArgs)) }}true{{ end -}}
{{- end -}}
