#!/usr/bin/env bash
# start-kube.sh — a throw-away Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver and
# kube-controller-manager of env.sh's KUBE_VERSION (v1.36 unless KUBE_VERSION picks another of
# KUBE_VERSIONS), with the aggregation layer on (for webhook solvers), and the namespace, garbage-collector, service-account and
# ClusterRole-aggregation controllers, so ownerReference GC, namespace deletion, token requests
# and the built-in view/edit roles' aggregation work. No kubelet, no scheduler.
#
#   STATE=$(e2e/testbed/start-kube.sh)        # stdout: the state directory, nothing else
#   export KUBECONFIG=$STATE/kubeconfig
#   e2e/testbed/stop-kube.sh "$STATE"
#
# Every port is a free one picked at start, so several beds run side by side. WATCH_PID=<pid>
# stops the bed when that process exits (test binaries set it, so a panic leaks nothing).
# Logs and certificates stay in the state directory; KEEP_STATE=1 on stop keeps it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[start-kube] $*" >&2; }
for b in kube-apiserver kube-controller-manager; do
  [[ -x $KUBE_BIN_DIR/$b ]] || { log "$KUBE_BIN_DIR/$b missing: run e2e/testbed/install.sh"; exit 1; }
done
[[ -x $TOOLS_BIN_DIR/etcd ]] || { log "$TOOLS_BIN_DIR/etcd missing: run e2e/testbed/install.sh"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-kube.XXXXXX")
chmod 700 "$D"; mkdir -p "$D/pki" "$D/etcd"
API_PORT=$(free_port); ETCD_PORT=$(free_port); PEER_PORT=$(free_port)
while [[ $ETCD_PORT == "$API_PORT" ]]; do ETCD_PORT=$(free_port); done
while [[ $PEER_PORT == "$API_PORT" || $PEER_PORT == "$ETCD_PORT" ]]; do PEER_PORT=$(free_port); done

fail() { log "failed: $*"; tail -n 20 "$D"/*.log >&2 2>/dev/null || true; "$here/stop-kube.sh" "$D" >&2 || true; exit 1; }

# PKI: one CA signs the serving certificate and the admin client certificate
# (O=system:masters); sa.key signs service-account tokens.
(
  cd "$D/pki"; umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=certsmith-test-ca \
    -keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  issue() {  # issue <name> <subject> <extensions>
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  issue server /CN=kube-apiserver "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
  issue admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
  # The aggregation layer: a CA of its own signs the client certificate the API server shows
  # an aggregated API (a webhook solver), which trusts the X-Remote-* headers of that CA only.
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=certsmith-front-proxy-ca \
    -keyout front-proxy-ca.key -out front-proxy-ca.crt -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=front-proxy-client -keyout front-proxy-client.key \
    -out front-proxy-client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > front-proxy-client.ext
  openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key \
    -CAcreateserial -days 365 -extfile front-proxy-client.ext -out front-proxy-client.crt 2>/dev/null
  rm -f front-proxy-client.csr front-proxy-client.ext
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
) || fail "openssl"

ETCD_URL=http://127.0.0.1:$ETCD_PORT
"$TOOLS_BIN_DIR/etcd" --name certsmith --data-dir "$D/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "certsmith=http://127.0.0.1:$PEER_PORT" \
  </dev/null >"$D/etcd.log" 2>&1 &
echo $! > "$D/etcd.pid"

wait_until() {  # wait_until <what> <pidfile> <command...>: poll for up to 60 s
  local what=$1 pid; pid=$(cat "$2"); shift 2
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what exited"
    sleep 0.2
  done
  fail "$what not ready after 60 s"
}
wait_until etcd "$D/etcd.pid" curl -sf "$ETCD_URL/health"

# Every request is audited (verb, resource, user agent, and the API server's `k8s.io/deprecated`
# annotation on a deprecated API) in $D/audit.log, so tests count the requests an operator makes
# and stop-kube.sh reports any request to a deprecated API.
cat > "$D/audit-policy.yaml" <<POLICY
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
POLICY

# --endpoint-reconciler-type=none: the default Service's endpoints cannot be loopback.
# The aggregation layer (--requestheader-*, --proxy-client-*) serves APIServices such as
# cert-manager webhook solvers, each behind a Service of type ExternalName (start-webhook.sh).
# $D/run-apiserver starts it again on the same port and etcd (restart-apiserver.sh: an outage).
cat > "$D/run-apiserver" <<RUN
#!/usr/bin/env bash
"$KUBE_BIN_DIR/kube-apiserver" \\
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \\
  --secure-port="$API_PORT" \\
  --etcd-servers="$ETCD_URL" --service-cluster-ip-range=10.0.0.0/24 \\
  --endpoint-reconciler-type=none --authorization-mode=RBAC \\
  --client-ca-file="$D/pki/ca.crt" \\
  --tls-cert-file="$D/pki/server.crt" --tls-private-key-file="$D/pki/server.key" \\
  --service-account-issuer=https://kubernetes.default.svc \\
  --service-account-key-file="$D/pki/sa.pub" --service-account-signing-key-file="$D/pki/sa.key" \\
  --api-audiences=https://kubernetes.default.svc \\
  --cert-dir="$D/pki/apiserver" --profiling=false \\
  --requestheader-client-ca-file="$D/pki/front-proxy-ca.crt" \\
  --requestheader-allowed-names=front-proxy-client \\
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \\
  --requestheader-extra-headers-prefix=X-Remote-Extra- \\
  --proxy-client-cert-file="$D/pki/front-proxy-client.crt" \\
  --proxy-client-key-file="$D/pki/front-proxy-client.key" \\
  --audit-policy-file="$D/audit-policy.yaml" --audit-log-path="$D/audit.log" --audit-log-format=json \\
  </dev/null >>"$D/kube-apiserver.log" 2>&1 &
echo \$! > "$D/kube-apiserver.pid"
RUN
chmod +x "$D/run-apiserver"
"$D/run-apiserver"
API=https://127.0.0.1:$API_PORT
api() { curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" "$API$1"; }
wait_until kube-apiserver "$D/kube-apiserver.pid" api /readyz

b64() { base64 -w0 < "$1"; }
cat > "$D/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: certsmith-test
  cluster: {server: "$API", certificate-authority-data: $(b64 "$D/pki/ca.crt")}
users:
- name: admin
  user: {client-certificate-data: $(b64 "$D/pki/admin.crt"), client-key-data: $(b64 "$D/pki/admin.key")}
contexts:
- name: admin
  context: {cluster: certsmith-test, user: admin, namespace: default}
current-context: admin
KC
chmod 600 "$D/kubeconfig"

"$KUBE_BIN_DIR/kube-controller-manager" \
  --kubeconfig="$D/kubeconfig" --leader-elect=false \
  --controllers=namespace,garbagecollector,serviceaccount,serviceaccount-token,clusterrole-aggregation \
  --service-account-private-key-file="$D/pki/sa.key" --root-ca-file="$D/pki/ca.crt" \
  --use-service-account-credentials=false --bind-address=127.0.0.1 --secure-port=0 \
  </dev/null >"$D/kube-controller-manager.log" 2>&1 &
echo $! > "$D/kube-controller-manager.pid"
# Ready once the service-account controller has made default/default.
wait_until kube-controller-manager "$D/kube-controller-manager.pid" \
  api /api/v1/namespaces/default/serviceaccounts/default

if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-kube.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
log "ready in ${SECONDS}s at $API (state $D)"
echo "$D"
