#!/usr/bin/env bash
# build-kube.sh — build kube-apiserver, kube-controller-manager and kubectl v1.20.2 from
# Debian's `kubernetes` source package with Debian's Go, into $KUBE_BIN_DIR (see env.sh).
# Cold: ~5-6 minutes on 2 cores; the Go build cache under $CERTSMITH_CACHE makes reruns fast.
#
# Three facts about this tree (1.20.5+really1.20.2) with Go 1.19, each handled below:
#  - module mode misreads the 1.20 vendor/modules.txt, so build in GOPATH mode (GO111MODULE=off);
#  - the vendored reflect2 1.0.1 crashes Go >= 1.18 binaries on the first custom object, so it is
#    swapped for Debian's 1.0.2;
#  - pkg/generated/openapi is not in the tarball: generate it with the vendored openapi-gen.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[build-kube] $*" >&2; }
WORK=$CERTSMITH_CACHE/kube-build
mkdir -p "$WORK" "$KUBE_BIN_DIR"

export DEBIAN_FRONTEND=noninteractive
if ! compgen -G "$WORK/kubernetes-*/cmd/kube-apiserver" >/dev/null; then
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    log "enabling deb-src"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/debian-src.sources
  fi
  apt-get update -qq
  apt-get install -y -qq golang-go dpkg-dev golang-github-modern-go-reflect2-dev >/dev/null
  log "apt-get source kubernetes"
  (cd "$WORK" && apt-get source -qq kubernetes >/dev/null)
fi
SRC=$(find "$WORK" -maxdepth 1 -type d -name 'kubernetes-*' | sort | tail -n1)

export GOPATH=$WORK/gopath GOCACHE=$CERTSMITH_CACHE/gocache
export GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
log "source $SRC, $(go version)"

R2=vendor/github.com/modern-go/reflect2
if [[ ! -f $R2/go_above_118.go ]]; then
  rm -rf "$R2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$R2"
fi

OPENAPI=pkg/generated/openapi/zz_generated.openapi.go
if [[ ! -f $OPENAPI ]]; then
  log "generating $OPENAPI"
  go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  # Input: every package tagged +k8s:openapi-gen, staging named through vendor/, as upstream's
  # Makefile.generated_files does (grep exits 1 on batches without a match: pipefail off).
  set +o pipefail
  dirs=$(find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) \
           -type f -name '*.go' \
         | sed -e 's|^\./staging/src|vendor|' -e 's|^\./||' \
         | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' \
         | xargs grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' \
         | xargs -n1 dirname | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  set -o pipefail
  "$WORK/openapi-gen" --logtostderr -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$WORK/openapi_violations.report"
fi

ldflags="-s -w"
for p in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
         k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=20 -X $p.gitTreeState=archive"
done
for t in kube-apiserver kube-controller-manager kubectl; do
  log "go build ./cmd/$t"
  go build -o "$KUBE_BIN_DIR/$t.tmp" -ldflags "$ldflags" "./cmd/$t"
  mv "$KUBE_BIN_DIR/$t.tmp" "$KUBE_BIN_DIR/$t"
done
log "built $("$KUBE_BIN_DIR/kube-apiserver" --version) in $KUBE_BIN_DIR"
