#!/usr/bin/env bash
# demo.sh — certsmith's main job, end to end, on the local test bed: install what is missing,
# start Kubernetes + Pebble, run the operator, apply the seed tutorial's letsencrypt-prod
# ClusterIssuer (server pointed at the local Pebble, caBundle set) and its auto-tls-ingress
# Ingress as the tutorial writes it, wait until the Certificate the Ingress asks for is Ready,
# show it, and tear everything down.
#   e2e/demo.sh --gateway   the same, the Gateway API way: Gateway API's CRDs, the ClusterIssuer
#                           with the HTTPRoute solver, and the tutorial's app as a Gateway and an
#                           HTTPRoute (e2e/fixtures/seed-gateway*.yaml).
set -euo pipefail
gateway=false
case ${1:-} in
  "") ;;
  --gateway) gateway=true ;;
  *) echo "usage: e2e/demo.sh [--gateway]" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing the test bed (the first run builds Kubernetes v1.36 and v1.33, etcd and Pebble from the Go module proxy: ~17 min on 2 cores)"
e2e/testbed/install.sh
say "building certsmith"
cargo build --locked --quiet
say "starting Kubernetes and Pebble on 127.0.0.1"
eval "$(e2e/testbed/up.sh)"
op_pid=""
cleanup() {
  [[ -n $op_pid ]] && kill "$op_pid" 2>/dev/null
  e2e/testbed/down.sh
}
trap cleanup EXIT
kubectl version
kubectl create namespace certsmith >/dev/null
if $gateway; then
  say "installing Gateway API's CRDs (v1.6.1, standard channel) before the operator starts"
  kubectl create -f ../shared/testdata/gateway-api-v1.6.1-standard >/dev/null
  kubectl wait --for=condition=established --timeout=60s \
    crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io
fi

say "running the operator (responder on 127.0.0.1:$HTTP01_PORT, where Pebble validates)"
log=$(mktemp /tmp/certsmith-demo.XXXXXX.log)
target/debug/certsmith run --operator-namespace certsmith \
  --http01-listen "127.0.0.1:$HTTP01_PORT" --metrics-listen 127.0.0.1:0 \
  --http01-self-check-address "127.0.0.1:$HTTP01_PORT" >"$log" 2>&1 &
op_pid=$!

if $gateway; then
  say "applying the seed's ClusterIssuer with the Gateway API solver (ACME server: the local Pebble)"
  sed -e "s|server: https://acme-v02.api.letsencrypt.org/directory|server: $PEBBLE_DIRECTORY_URL\n    caBundle: $(base64 -w0 "$PEBBLE_CA")|" \
    e2e/fixtures/seed-gateway-clusterissuer.yaml | kubectl apply -f -
  say "applying the tutorial's app as a Gateway and an HTTPRoute"
  cat e2e/fixtures/seed-gateway.yaml
  kubectl apply -f e2e/fixtures/seed-gateway.yaml
else
  say "applying the seed's ClusterIssuer (ACME server: the local Pebble)"
  kubectl apply -f - <<YAML
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-prod
spec:
  acme:
    server: $PEBBLE_DIRECTORY_URL
    caBundle: $(base64 -w0 "$PEBBLE_CA")
    email: admin@example.com
    privateKeySecretRef:
      name: letsencrypt-prod
    solvers:
    - http01:
        ingress:
          class: nginx
YAML
  say "applying the seed's auto-tls-ingress, as the tutorial writes it"
  cat e2e/fixtures/seed-auto-tls-ingress.yaml
  kubectl apply -f e2e/fixtures/seed-auto-tls-ingress.yaml
fi
for _ in $(seq 50); do kubectl get certificate app-tls-cert >/dev/null 2>&1 && break; sleep 0.1; done
start=$(date +%s%N)
if ! kubectl wait --for=condition=Ready --timeout=120s certificate/app-tls-cert; then
  target/debug/certsmith status app-tls-cert; tail -20 "$log"; exit 1
fi
echo "Ready after $(( ($(date +%s%N) - start) / 1000000 )) ms"

if $gateway; then
  say "kubectl get gateway,certificates -o wide"
  kubectl get gateway app-gateway
else
  say "kubectl get ingress,certificates -o wide"
  kubectl get ingress auto-tls-ingress
fi
kubectl get certificates -o wide
say "kubectl get clusterissuers -o wide"
kubectl get clusterissuers -o wide
say "kubectl get certificaterequests,orders,challenges (cert-manager's resources, as its runbooks read them)"
kubectl get certificaterequests,orders,challenges
say "the issued certificate (Secret app-tls-cert)"
kubectl get secret app-tls-cert -o jsonpath='{.data.tls\.crt}' | base64 -d \
  | openssl x509 -noout -subject -issuer -dates -ext subjectAltName
say "certsmith status app-tls-cert"
target/debug/certsmith status app-tls-cert
