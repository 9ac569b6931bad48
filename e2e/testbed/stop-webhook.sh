#!/usr/bin/env bash
# stop-webhook.sh <state-dir> — stop the webhook solver start-webhook.sh started there and remove
# the directory (its APIService goes with the bed's API server).
set -uo pipefail
D=${1:?usage: stop-webhook.sh <state-dir>}
[[ -f $D/webhook.pid ]] || exit 0
kill -TERM "$(cat "$D/webhook.pid")" 2>/dev/null
rm -f "$D/webhook.pid"
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
