#!/usr/bin/env bash
# stop-a2c.sh <state-dir> — stops acme2certifier and removes its state (KEEP_STATE=1 keeps it).
set -uo pipefail
D=${1:?usage: stop-a2c.sh <state-dir>}
[[ -f $D/a2c.pid ]] && kill "$(cat "$D/a2c.pid")" 2>/dev/null
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf "$D"
