# env.sh — what the test bed runs and where it keeps what it builds (sourced by the other scripts).
# Everything is built from Go modules (go/ beside this file pins each one) with the machine's Go,
# outside the repository so a clean clone reuses it, keyed by version so an upgrade rebuilds.
#   KUBE_VERSION: the bed's Kubernetes; v1.36 (the newest cert-manager v1.21 supports) unless
#   the caller picks another of KUBE_VERSIONS (v1.33, the oldest, for the smoke set).
KUBE_VERSIONS="v1.36.3 v1.33.13"
KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
ETCD_VERSION=v3.6.16
PEBBLE_VERSION=v2.10.3
CERT_MANAGER_VERSION=v1.21.1
# acme-dns's own server (the dns01.acmeDNS tests), v2.0.2 of github.com/acme-dns/acme-dns (its
# go.mod names the module github.com/joohoi/acme-dns): see build-acmedns.sh for where it comes from.
ACMEDNS_VERSION=v2.0.2
CERTSMITH_CACHE=${CERTSMITH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certsmith}
KUBE_BIN_DIR=$CERTSMITH_CACHE/kube-$KUBE_VERSION
TOOLS_BIN_DIR=$CERTSMITH_CACHE/tools-etcd-$ETCD_VERSION-pebble-$PEBBLE_VERSION
WEBHOOK_BIN_DIR=$CERTSMITH_CACHE/webhook-solver-cert-manager-$CERT_MANAGER_VERSION
ACMEDNS_BIN_DIR=$CERTSMITH_CACHE/acme-dns-$ACMEDNS_VERSION
CERTSMITH_VENV=${CERTSMITH_VENV:-$CERTSMITH_CACHE/venv}
# moto, the AWS API emulator the Route 53 tests ask (start-route53.sh), in a venv of its own.
MOTO_VERSION=5.2.5
MOTO_VENV=$CERTSMITH_CACHE/moto-$MOTO_VERSION
export KUBE_VERSIONS KUBE_VERSION ETCD_VERSION PEBBLE_VERSION CERT_MANAGER_VERSION \
  CERTSMITH_CACHE KUBE_BIN_DIR TOOLS_BIN_DIR WEBHOOK_BIN_DIR CERTSMITH_VENV ACMEDNS_VERSION \
  ACMEDNS_BIN_DIR MOTO_VERSION MOTO_VENV
