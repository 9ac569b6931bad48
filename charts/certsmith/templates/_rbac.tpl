{{/* The namespace of cert-manager's single-namespace mode, as its users give it: `--namespace=<ns>`
     (or `--namespace <ns>`) in extraArgs; empty when every namespace is watched. */}}
{{- define "certsmith.singleNamespace" -}}
{{- $found := regexFind "(^| )--namespace[= ][^ ]*" (join " " .Values.extraArgs) -}}
{{- regexReplaceAll "^ ?--namespace[= ]" $found "" -}}
{{- end -}}

{{/* What certsmith does with namespaced kinds: granted by the ClusterRole in every namespace, or
     by a Role in the one namespace of single-namespace mode. */}}
{{- define "certsmith.namespacedRules" }}
# Certificates; the ingress-shim creates, updates and deletes the ones it owns.
- apiGroups: [cert-manager.io]
  resources: [certificates]
  verbs: [get, list, watch, create, patch, delete]
# One CertificateRequest per issuance (pruned by revisionHistoryLimit); approved and signed.
- apiGroups: [cert-manager.io]
  resources: [certificaterequests]
  verbs: [get, list, watch, create, delete]
- apiGroups: [cert-manager.io]
  resources: [certificates/status, certificaterequests/status, issuers/status]
  verbs: [patch]
- apiGroups: [cert-manager.io]
  resources: [issuers]
  verbs: [get, list, watch]
# Orders and their Challenges; Challenges carry a finalizer (a metadata patch) for cleanup.
- apiGroups: [acme.cert-manager.io]
  resources: [orders]
  verbs: [get, list, watch, create]
- apiGroups: [acme.cert-manager.io]
  resources: [challenges]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [acme.cert-manager.io]
  resources: [orders/status, challenges/status]
  verbs: [patch]
# Owner references that block deletion need this where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [cert-manager.io]
  resources: [certificates/finalizers, certificaterequests/finalizers]
  verbs: [update]
- apiGroups: [acme.cert-manager.io]
  resources: [orders/finalizers, challenges/finalizers]
  verbs: [update]
# TLS Secrets, in-flight key Secrets and Issuer account keys, in the Certificates' namespaces.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
# The ingress-shim reads Ingresses; solver Ingresses live in the Challenges' namespaces;
# edit-in-place patches a challenge rule in and out.
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, list, watch, create, patch, delete]
# The gateway-shim and the ListenerSet shim watch their sources (the ListenerSet shim also the
# parent Gateways' metadata, for what ListenerSets inherit).
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, listenersets]
  verbs: [list, watch]
# The Certificates they own block their deletion: needed, as above, where the
# OwnerReferencesPermissionEnforcement admission plugin is on (cert-manager's chart grants it).
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways/finalizers, listenersets/finalizers]
  verbs: [update]
# The HTTPRoute solver's routes, in the Challenges' namespaces: applied (a patch that may create)
# and deleted on clean-up, never read.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [create, patch, delete]
# The responder Service of each namespace with challenges (no selector) and its EndpointSlices,
# copied from the responder Service's: read by name, and written (created too) by server-side
# apply, a PATCH whose creation the API server authorizes as a create of that name, so
# resourceNames hold for all three verbs (a plain POST create, naming nothing, is refused).
# The slices are listed by their kubernetes.io/service-name label, here and in the release
# namespace, and RBAC cannot restrict a list by label. The admission policy
# certsmith-http01-solver bounds what these objects may contain.
- apiGroups: [""]
  resources: [services]
  resourceNames: [certsmith-acme-http01]
  verbs: [get, create, patch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  resourceNames: [certsmith-acme-http01, certsmith-acme-http01-ipv6, certsmith-acme-http01-fqdn]
  verbs: [create, patch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
