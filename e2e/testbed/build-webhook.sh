#!/usr/bin/env bash
# build-webhook.sh — the bed's cert-manager DNS-01 webhook solver (go/webhook-solver: a small main
# on cert-manager's own webhook server library and RFC 2136 provider, at $CERT_MANAGER_VERSION)
# from the Go module proxy, into $WEBHOOK_BIN_DIR/webhook-solver (start-webhook.sh runs it).
# Returns at once when the binary is there. Cold: ~4 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[build-webhook] $*" >&2; }
mod=$here/go/webhook-solver
grep -q "github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION" "$mod/go.mod" \
  || { log "go/webhook-solver/go.mod does not pin cert-manager $CERT_MANAGER_VERSION"; exit 1; }
[[ -x $WEBHOOK_BIN_DIR/webhook-solver ]] && exit 0
. "$here/go-env.sh"
mkdir -p "$WEBHOOK_BIN_DIR"
log "go build the webhook solver on cert-manager $CERT_MANAGER_VERSION"
(cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$WEBHOOK_BIN_DIR/webhook-solver.tmp" .)
mv "$WEBHOOK_BIN_DIR/webhook-solver.tmp" "$WEBHOOK_BIN_DIR/webhook-solver"
log "built $WEBHOOK_BIN_DIR/webhook-solver"
