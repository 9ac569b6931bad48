#!/usr/bin/env bash
# build-tools.sh — the bed's etcd (go/etcd: etcd's server entry point at $ETCD_VERSION; Debian's
# 3.4 is older than Kubernetes 1.33+ supports) and Pebble with pebble-challtestsrv (go/pebble:
# Let's Encrypt's test CA at $PEBBLE_VERSION, with ARI and profiles) from the Go module proxy,
# into $TOOLS_BIN_DIR. Cold: ~2 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[build-tools] $*" >&2; }
grep -qx "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$here/go/etcd/go.mod" \
  || { log "go/etcd/go.mod does not pin etcd $ETCD_VERSION"; exit 1; }
grep -q "github.com/letsencrypt/pebble/v2 $PEBBLE_VERSION" "$here/go/pebble/go.mod" \
  || { log "go/pebble/go.mod does not pin Pebble $PEBBLE_VERSION"; exit 1; }
. "$here/go-env.sh"
mkdir -p "$TOOLS_BIN_DIR"
if [[ ! -x $TOOLS_BIN_DIR/etcd ]]; then
  log "go build etcd $ETCD_VERSION"
  (cd "$here/go/etcd" && go build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN_DIR/etcd.tmp" .)
  mv "$TOOLS_BIN_DIR/etcd.tmp" "$TOOLS_BIN_DIR/etcd"
fi
for t in pebble pebble-challtestsrv; do
  [[ -x $TOOLS_BIN_DIR/$t ]] && continue
  log "go build $t $PEBBLE_VERSION"
  (cd "$here/go/pebble" && go build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN_DIR/$t.tmp" \
    "github.com/letsencrypt/pebble/v2/cmd/$t")
  mv "$TOOLS_BIN_DIR/$t.tmp" "$TOOLS_BIN_DIR/$t"
done
log "built etcd $ETCD_VERSION, Pebble $PEBBLE_VERSION in $TOOLS_BIN_DIR"
