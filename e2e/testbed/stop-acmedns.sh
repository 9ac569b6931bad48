#!/usr/bin/env bash
# stop-acmedns.sh <state-dir> — stop the acme-dns start-acmedns.sh started there and remove the
# directory (its database, accounts and values go with it: acme-dns's API deletes nothing).
set -uo pipefail
D=${1:?usage: stop-acmedns.sh <state-dir>}
[[ -f $D/acme-dns.pid ]] || exit 0
kill -TERM "$(cat "$D/acme-dns.pid")" 2>/dev/null
rm -f "$D/acme-dns.pid"
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
