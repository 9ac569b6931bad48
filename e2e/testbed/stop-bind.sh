#!/usr/bin/env bash
# stop-bind.sh <state-dir> — stop the named that start-bind.sh started there and remove the directory.
set -uo pipefail
D=${1:?usage: stop-bind.sh <state-dir>}
[[ -f $D/named.conf ]] || exit 0
f=$D/named.pid.start
[[ -f $f ]] && kill -TERM "$(cat "$f")" 2>/dev/null
rm -f "$f"
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
