#!/usr/bin/env bash
# stop-route53.sh <state-dir> — stop the moto server start-route53.sh started there and remove
# the directory.
set -uo pipefail
D=${1:?usage: stop-route53.sh <state-dir>}
[[ -f $D/moto.pid ]] || exit 0
kill -TERM "$(cat "$D/moto.pid")" 2>/dev/null
rm -f "$D/moto.pid"
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
