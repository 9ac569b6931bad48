#!/usr/bin/env bash
# restart-apiserver.sh <state-dir> [down-seconds] — an API server outage: kube-apiserver stopped,
# kept down for down-seconds (default 0), started again on the same port over the same etcd
# (every object kept; every watch of a client breaks). Returns once it answers /readyz.
set -euo pipefail
D=${1:?usage: restart-apiserver.sh <state-dir> [down-seconds]}
pid=$(cat "$D/kube-apiserver.pid")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
sleep "${2:-0}"
"$D/run-apiserver"
api=$(sed -n 's/.*server: "\(https[^"]*\)".*/\1/p' "$D/kubeconfig")
for _ in $(seq 600); do
  curl -sf --cacert "$D/pki/ca.crt" --cert "$D/pki/admin.crt" --key "$D/pki/admin.key" \
    "$api/readyz" >/dev/null && exit 0
  sleep 0.1
done
echo "[restart-apiserver] kube-apiserver did not come back" >&2
exit 1
