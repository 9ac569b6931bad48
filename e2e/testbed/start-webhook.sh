#!/usr/bin/env bash
# start-webhook.sh <kube-state-dir> — the bed's cert-manager DNS-01 webhook solver
# (go/webhook-solver: cert-manager's own webhook server library and RFC 2136 provider, built by
# build-webhook.sh) on a free loopback port, registered as an aggregated API of the bed's API
# server: APIService v1alpha1.$GROUP (port <port>) -> Service certsmith-webhook/solver of type
# ExternalName localhost, which the API server dials itself (no kube-proxy on the bed; an
# EndpointSlice or Endpoints may not hold a loopback address, so aggregator routing cannot).
# Its solver is "rfc2136": it writes the TXT record to the nameserver its config names.
#
#   STATE=$(e2e/testbed/start-webhook.sh "$KUBE_STATE")   # stdout: the state directory
#   . "$STATE/env"        # WEBHOOK_GROUP, WEBHOOK_SOLVER, WEBHOOK_PORT
#   e2e/testbed/stop-webhook.sh "$STATE"
#
# It authenticates the API server's proxied requests and authorizes them (TokenReview,
# SubjectAccessReview) with the bed's admin kubeconfig, as a webhook solver's own ServiceAccount
# would. Environment: GROUP (default acme.certsmith.test), WATCH_PID (stop when it exits).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[start-webhook] $*" >&2; }
K=${1:-${KUBE_STATE:?usage: start-webhook.sh <kube-state-dir> (or KUBE_STATE=)}}
BIN=$WEBHOOK_BIN_DIR/webhook-solver
[[ -x $BIN ]] || { log "$BIN missing: run e2e/testbed/install.sh"; exit 1; }
GROUP=${GROUP:-acme.certsmith.test}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-webhook.XXXXXX")
PORT=$(free_port)
kubectl() { "$KUBE_BIN_DIR/kubectl" --kubeconfig "$K/kubeconfig" "$@"; }
fail() { log "failed: $*"; tail -n 20 "$D/webhook.log" >&2 2>/dev/null || true; "$here/stop-webhook.sh" "$D" >&2 || true; exit 1; }

# Its serving certificate, for 127.0.0.1 and the Service's name, from a CA the APIService names.
(
  cd "$D"; umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=certsmith-webhook-ca \
    -keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=solver.certsmith-webhook.svc -keyout tls.key \
    -out tls.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:solver.certsmith-webhook.svc\nextendedKeyUsage=serverAuth\n' > tls.ext
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
    -extfile tls.ext -out tls.crt 2>/dev/null
  rm -f tls.csr tls.ext
) || fail openssl

GROUP_NAME=$GROUP "$BIN" --bind-address=127.0.0.1 --secure-port="$PORT" \
  --tls-cert-file="$D/tls.crt" --tls-private-key-file="$D/tls.key" \
  --kubeconfig="$K/kubeconfig" --authentication-kubeconfig="$K/kubeconfig" \
  --authorization-kubeconfig="$K/kubeconfig" \
  </dev/null >"$D/webhook.log" 2>&1 &
echo $! > "$D/webhook.pid"
for _ in $(seq 300); do
  curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$(cat "$D/webhook.pid")" 2>/dev/null || fail "the webhook solver exited"
  sleep 0.2
done
curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null || fail "not healthy after 60 s"

kubectl apply -f - >/dev/null <<YAML || fail "registering the APIService"
apiVersion: v1
kind: Namespace
metadata: {name: certsmith-webhook}
---
apiVersion: v1
kind: Service
metadata: {name: solver, namespace: certsmith-webhook}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.$GROUP}
spec:
  group: $GROUP
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {name: solver, namespace: certsmith-webhook, port: $PORT}
  caBundle: $(base64 -w0 < "$D/ca.crt")
YAML
# Ready once the API server serves the group (its Available condition follows).
for _ in $(seq 150); do
  kubectl get --raw "/apis/$GROUP/v1alpha1" >/dev/null 2>&1 && break
  sleep 0.4
done
kubectl get --raw "/apis/$GROUP/v1alpha1" >/dev/null 2>&1 \
  || fail "the API server does not serve $GROUP/v1alpha1: $(kubectl get apiservice "v1alpha1.$GROUP" -o jsonpath='{.status.conditions}')"

printf 'export WEBHOOK_GROUP=%s\nexport WEBHOOK_SOLVER=rfc2136\nexport WEBHOOK_PORT=%s\n' "$GROUP" "$PORT" > "$D/env"
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-webhook.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
log "ready in ${SECONDS}s: $GROUP/v1alpha1 rfc2136 at 127.0.0.1:$PORT (state $D)"
echo "$D"
