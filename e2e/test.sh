#!/usr/bin/env bash
# test.sh — the whole suite on the Kubernetes v1.36 bed (certsmith's own CRDs); every test that
# issues certificates again on cert-manager's own published CRDs (../shared/testdata), v1.21.1's
# (what a cluster running cert-manager now has) and v1.14.7's (an older one's), as on a cluster
# that runs cert-manager already; then the smoke set on v1.33, the oldest release certsmith
# supports (install the chart, issue the seed's Ingress, renew, sign a CertificateRequest).
# Outside CI a clone without ../shared/testdata skips the cert-manager CRD runs and says so;
# under CI=true a missing folder fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=${CARGO_TARGET_DIR:-target}/tmp
mkdir -p "$tmp"
rm -f "$tmp/fault-table.tsv"
stage() { printf '\ntest.sh: %s (%ss)\n' "$*" "$SECONDS"; }
issuing=(--test issuance --test resume --test ingress_shim --test leader --test accounts
         --test requests --test ari --test internal_pki --test dns01)

stage "the suite on Kubernetes $(. e2e/testbed/env.sh && echo "$KUBE_VERSION")"
cargo test --locked
e2e/fault-table.sh --print
for crds in cert-manager cert-manager-v1.14.7; do
  dir=../shared/testdata/cert-manager-crds-v1.21.1
  [[ $crds == *v1.14.7 ]] && dir=../shared/testdata/cert-manager-crds-v1.14.7
  if [[ ! -d $dir ]]; then
    if [[ ${CI:-} == true ]]; then
      echo "test.sh: $dir is missing; CI must run the suite on cert-manager's CRDs" >&2
      exit 1
    fi
    echo "test.sh: skipping the run on cert-manager's CRDs: $dir not found (a clone outside CI)"
    continue
  fi
  stage "the issuing tests again, on cert-manager's own CRDs ($dir)"
  CERTSMITH_TEST_CRDS=$crds cargo test --locked "${issuing[@]}"
done
stage "the smoke set on Kubernetes v1.33, the oldest supported"
# The chart installed and the operator working as its ServiceAccount, the seed's Ingress issued,
# short-lived certificates renewed, hand-made CertificateRequests signed.
KUBE_VERSION=v1.33.13 cargo test --locked --test chart --test ingress_shim --test renewal \
  --test requests -- helm_install the_seed_ingress short_lived hand_made_requests

