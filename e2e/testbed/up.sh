#!/usr/bin/env bash
# up.sh — start the whole local test bed (Kubernetes API + Pebble), install certsmith's CRDs,
# and print the environment to use it:   eval "$(e2e/testbed/up.sh)"   …   e2e/testbed/down.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/install.sh"
# shellcheck source=env.sh
. "$here/env.sh"
KUBE_STATE=$("$here/start-kube.sh")
PEBBLE_STATE=$("$here/start-pebble.sh")
export KUBECONFIG=$KUBE_STATE/kubeconfig
"$KUBE_BIN_DIR/kubectl" apply -f "$here/../../crds" >&2
"$KUBE_BIN_DIR/kubectl" wait --for=condition=established --timeout=60s -f "$here/../../crds" >&2
cat <<ENV
export KUBECONFIG=$KUBECONFIG
export PATH=$KUBE_BIN_DIR:\$PATH
export CERTSMITH_KUBE_STATE=$KUBE_STATE CERTSMITH_PEBBLE_STATE=$PEBBLE_STATE
$(cat "$PEBBLE_STATE/env")
ENV
echo "[up] test bed ready: kubectl get crds; stop with e2e/testbed/down.sh" >&2
