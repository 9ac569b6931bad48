#!/usr/bin/env bash
# test.sh — the whole suite on the Kubernetes v1.36 bed (certsmith's own CRDs); every test that
# issues certificates again on cert-manager's own published CRDs (../shared/testdata), v1.21.1's
# (what a cluster running cert-manager now has) and v1.14.7's (an older one's), as on a cluster
# that runs cert-manager already; then the smoke set on v1.33, the oldest release certsmith
# supports (install the chart, issue the seed's Ingress, renew, sign a CertificateRequest).
# Over all of it, no request may reach a deprecated API (the beds' audit logs, stop-kube.sh).
# Outside CI a clone without ../shared/testdata skips the cert-manager CRD runs and says so;
# under CI=true a missing folder fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=${CARGO_TARGET_DIR:-target}/tmp
mkdir -p "$tmp"
rm -f "$tmp/fault-table.tsv"
export DEPRECATED_LOG=$PWD/$tmp/deprecated-requests.tsv
: > "$DEPRECATED_LOG"
stage() { printf '\ntest.sh: %s (%ss)\n' "$*" "$SECONDS"; }
# The end-to-end tests are one binary (tests/e2e/); a module path selects a subject's tests.
issuing=(issuance:: resume:: ingress_shim:: gateway:: leader:: accounts:: requests:: ari:: internal_pki:: pki_fields::
         outputs:: dns01:: dns_persist:: route53:: acme_dns:: webhook_solver:: chart_admission::a_tenant chart_identity:: tenant::
         single_namespace::)

stage "the suite on Kubernetes $(. e2e/testbed/env.sh && echo "$KUBE_VERSION")"
cargo test --locked
e2e/fault-table.sh --print
for release in v1.21.1 v1.14.7; do
  dir=../shared/testdata/cert-manager-crds-$release
  if [[ ! -d $dir ]]; then
    if [[ ${CI:-} == true ]]; then
      echo "test.sh: $dir is missing; CI must run the suite on cert-manager's CRDs" >&2
      exit 1
    fi
    echo "test.sh: skipping the run on cert-manager's CRDs: $dir not found (a clone outside CI)"
    continue
  fi
  stage "the issuing tests again, on cert-manager's own CRDs ($dir)"
  CERTSMITH_TEST_CRDS=cert-manager-$release cargo test --locked --test e2e -- "${issuing[@]}"
done
stage "the smoke set on Kubernetes v1.33, the oldest supported"
# The chart installed and the operator working as its ServiceAccount, the seed's Ingress issued,
# short-lived certificates renewed, hand-made CertificateRequests signed; the admission policies
# as v1.33 has them (no MutatingAdmissionPolicy: requests an external approver approved held).
KUBE_VERSION=v1.33.13 cargo test --locked --test e2e -- chart::helm_install \
  ingress_shim::the_seed_ingress renewal::short_lived requests::hand_made_requests \
  chart_admission::a_tenant chart_identity::

# A bed stops within a second of its test binary (WATCH_PID): wait for the last one's report.
for _ in $(seq 100); do
  compgen -G "${TMPDIR:-/tmp}/certsmith-kube.*/pki" >/dev/null || break
  sleep 0.1
done
stage "certsmith's requests to deprecated APIs over the whole suite"
# The log has every client's (the controller manager's garbage collector watches every
# resource, the deprecated ones too); certsmith's user agent is certsmith/<version>.
others=$(awk -F'\t' '$3 !~ /^certsmith\//' "$DEPRECATED_LOG" | cut -f3 | cut -d' ' -f1 | sort -u | paste -sd' ')
[[ -n $others ]] && echo "(other clients that did: $others)"
if awk -F'\t' '$3 ~ /^certsmith\//' "$DEPRECATED_LOG" | sort | uniq -c | sort -rn | head -20 | grep .; then
  echo "test.sh: certsmith's requests reached deprecated APIs (count, verb, URI, user agent above)" >&2
  exit 1
fi
echo "none"
