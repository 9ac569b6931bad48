#!/usr/bin/env bash
# build-kube.sh [version] — kube-apiserver, kube-controller-manager and kubectl of one Kubernetes
# release (default: env.sh's KUBE_VERSION) from the Go module proxy, into $CERTSMITH_CACHE/kube-<v>.
#
# go/kube-<major.minor>/ is a module of the project's that requires k8s.io/kubernetes at the
# release and pins each of its staging modules (k8s.io/api, client-go, ...: its own go.mod points
# them at ./staging, which a dependency's replace cannot do) to the matching v0.x; its go.sum
# fixes every byte. The binaries are built as the module's `tool`s. Cold: ~8 min per release on
# 2 cores (the Go build cache under $CERTSMITH_CACHE/gocache makes a rebuild take seconds).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -n ${1:-} ]] && export KUBE_VERSION=$1
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[build-kube] $*" >&2; }
mod=$here/go/kube-${KUBE_VERSION%.*}
grep -qx "require k8s.io/kubernetes $KUBE_VERSION" "$mod/go.mod" \
  || { log "$mod/go.mod does not pin k8s.io/kubernetes $KUBE_VERSION"; exit 1; }
. "$here/go-env.sh"
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean"
done
mkdir -p "$KUBE_BIN_DIR"
cd "$mod"
log "Kubernetes $KUBE_VERSION with $(go version)"
for t in kube-apiserver kube-controller-manager kubectl; do
  [[ -x $KUBE_BIN_DIR/$t ]] && continue
  log "go build k8s.io/kubernetes/cmd/$t"
  go build -trimpath -ldflags "$ldflags" -o "$KUBE_BIN_DIR/$t.tmp" "k8s.io/kubernetes/cmd/$t"
  mv "$KUBE_BIN_DIR/$t.tmp" "$KUBE_BIN_DIR/$t"
done
log "built $("$KUBE_BIN_DIR/kube-apiserver" --version) in $KUBE_BIN_DIR"
