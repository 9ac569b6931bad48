#!/usr/bin/env bash
# build-acmedns.sh — acme-dns's own server ($ACMEDNS_VERSION of github.com/acme-dns/acme-dns, whose
# go.mod names the module github.com/joohoi/acme-dns), for the dns01.acmeDNS tests
# (start-acmedns.sh runs it), into $ACMEDNS_BIN_DIR/acme-dns. Returns at once when it is there.
#
# Where the source comes from: the Go module proxy this project reaches refuses
# github.com/joohoi/acme-dns (every version; and its v2 tags, which keep a v1 module path, are
# no module version the proxy could serve anyway). So it is built from a checkout named by
# ACMEDNS_SRC (e.g. `git clone -b $ACMEDNS_VERSION https://github.com/acme-dns/acme-dns`); its
# dependencies come from the Go module proxy, pinned by its go.sum. It needs no C toolchain (v2
# uses a pure-Go SQLite). Without a checkout it says so and succeeds: the acme_dns e2e tests then
# skip, loudly (or fail, with CERTSMITH_REQUIRE_ACMEDNS=1). Cold build: ~2 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[build-acmedns] $*" >&2; }
[[ -x $ACMEDNS_BIN_DIR/acme-dns ]] && exit 0
src=${ACMEDNS_SRC:-}
if [[ -z $src ]]; then
  log "acme-dns $ACMEDNS_VERSION not built: the Go module proxy does not serve it; set ACMEDNS_SRC to a checkout of it (the acme_dns e2e tests skip without it)"
  exit 0
fi
grep -q '^module github.com/joohoi/acme-dns$' "$src/go.mod" \
  || { log "$src/go.mod is not acme-dns's (module github.com/joohoi/acme-dns)"; exit 1; }
[[ -f $src/pkg/api/update.go ]] \
  || { log "$src is not acme-dns v2 (no pkg/api/update.go): check out $ACMEDNS_VERSION"; exit 1; }
. "$here/go-env.sh"
mkdir -p "$ACMEDNS_BIN_DIR"
log "go build acme-dns $ACMEDNS_VERSION from $src"
(cd "$src" && go build -trimpath -ldflags "-s -w" -o "$ACMEDNS_BIN_DIR/acme-dns.tmp" .)
mv "$ACMEDNS_BIN_DIR/acme-dns.tmp" "$ACMEDNS_BIN_DIR/acme-dns"
log "built $ACMEDNS_BIN_DIR/acme-dns"
