#!/usr/bin/env bash
# fault-table.sh [--print] — the fault table: runs the fault tests (API server outages, a CA
# outage and reset, half the nonces refused, SIGKILL at every order state, SIGTERM handover, a
# restart against a CA that requires EAB), the order budget, real renewal cycles and ARI on the local
# test bed, and prints one row per fault: PASS or FAIL and its figures. --print prints the rows
# the last test run left, running nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
table=${CARGO_TARGET_DIR:-target}/tmp/fault-table.tsv
print() {
  echo "fault table ($table):"
  if [[ -s $table ]]; then
    local align=(column -t -s $'\t')
    command -v column >/dev/null || align=(cat)
    { printf 'FAULT\tRESULT\tFIGURES\n'; cat "$table"; } | "${align[@]}"
  else
    echo "  (no fault test ran)"
  fi
}
if [[ ${1:-} == --print ]]; then print; exit 0; fi
rm -f "$table"
cargo test --locked --test e2e -- faults:: resume:: leader:: accounts:: budget:: renewal:: ari::
rc=$?
print
exit $rc
