#!/usr/bin/env bash
# build-traefik.sh — Traefik (a Gateway API implementation: its kubernetesgateway provider runs
# as a plain process against the bed's API server) from the Go module proxy, into
# $CERTSMITH_CACHE/traefik-$TRAEFIK_VERSION/traefik. Cold: ~7 min on 2 cores, 2-3 GB of RAM,
# a 144 MB binary; the Go build cache under $CERTSMITH_CACHE/gocache makes a rebuild take ~20 s.
#
# go/traefik/ pins it (its go.mod says why each replace is there). Its go.mod replaces lego, the
# ACME library, by ./lego: here, a copy of the pinned lego from the module cache, checked against
# LEGO_SUM, with go/traefik/_lego/ laid over it, in a build folder beside the binary.
#
#   TRAEFIK=$(e2e/testbed/build-traefik.sh)     # stdout: the binary's path, nothing else
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
TRAEFIK_VERSION=${TRAEFIK_VERSION:-v3.7.13}
LEGO_VERSION=v5.4.1
LEGO_SUM=h1:Jt6xAP9xQrJ3SLLGgxejfDDd3pzdrmuLCWe4oTqHHQc=
TRAEFIK_BIN_DIR=$CERTSMITH_CACHE/traefik-$TRAEFIK_VERSION
log() { echo "[build-traefik] $*" >&2; }
mod=$here/go/traefik
grep -q "github.com/traefik/traefik/v3 $TRAEFIK_VERSION" "$mod/go.mod" \
  || { log "go/traefik/go.mod does not pin Traefik $TRAEFIK_VERSION"; exit 1; }
grep -q "github.com/go-acme/lego/v5 $LEGO_VERSION" "$mod/go.mod" \
  || { log "go/traefik/go.mod does not pin lego $LEGO_VERSION"; exit 1; }
if [[ -x $TRAEFIK_BIN_DIR/traefik ]]; then echo "$TRAEFIK_BIN_DIR/traefik"; exit 0; fi
. "$here/go-env.sh"

src=$TRAEFIK_BIN_DIR/src
rm -rf "$src"; mkdir -p "$src"
cp -r "$mod/go.mod" "$mod/go.sum" "$mod/ext" "$src/"
# lego as the proxy serves it (checked against LEGO_SUM: go.sum holds no hash of a module that
# a folder replaces), with the DNS-provider table replaced.
lego_json=$(cd "$TRAEFIK_BIN_DIR" && GOFLAGS= GOWORK=off \
  go mod download -json "github.com/go-acme/lego/v5@$LEGO_VERSION")
lego_dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$lego_json")
grep -q "\"Sum\": \"$LEGO_SUM\"" <<<"$lego_json" \
  || { log "lego $LEGO_VERSION does not have the sum $LEGO_SUM"; exit 1; }
cp -r "$lego_dir" "$src/lego"; chmod -R u+w "$src/lego"
cp -r "$mod/_lego/." "$src/lego/"

log "go build github.com/traefik/traefik/v3/cmd/traefik $TRAEFIK_VERSION with $(go version)"
(cd "$src" && nice -n 10 go build -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
  -o "$TRAEFIK_BIN_DIR/traefik.tmp" github.com/traefik/traefik/v3/cmd/traefik)
mv "$TRAEFIK_BIN_DIR/traefik.tmp" "$TRAEFIK_BIN_DIR/traefik"
rm -rf "$src"
log "built $("$TRAEFIK_BIN_DIR/traefik" version | head -1 | tr -s ' ') in $TRAEFIK_BIN_DIR"
echo "$TRAEFIK_BIN_DIR/traefik"
