#!/usr/bin/env bash
# down.sh — stop the bed that up.sh started (reads the state directories from its exports).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -n ${CERTSMITH_KUBE_STATE:-} ]] && "$here/stop-kube.sh" "$CERTSMITH_KUBE_STATE"
[[ -n ${CERTSMITH_PEBBLE_STATE:-} ]] && "$here/stop-pebble.sh" "$CERTSMITH_PEBBLE_STATE"
echo "[down] stopped" >&2
