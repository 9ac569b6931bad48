#!/usr/bin/env bash
# restart-pebble.sh <state-dir> [down-seconds] — Pebble stopped, kept down for down-seconds
# (default 0), and started again on the same ports with a fresh state: every account, order and
# authorization is forgotten, as when a CA is reset.
set -euo pipefail
D=${1:?usage: restart-pebble.sh <state-dir> [down-seconds]}
pid=$(cat "$D/pebble.pid")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
sleep "${2:-0}"
"$D/run-pebble"
url=$(. "$D/env" && echo "$PEBBLE_DIRECTORY_URL")
for _ in $(seq 100); do
  curl -sf --cacert "$D/ca.pem" "$url" >/dev/null && exit 0
  sleep 0.1
done
echo "[restart-pebble] pebble did not come back" >&2
exit 1
