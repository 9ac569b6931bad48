#!/usr/bin/env bash
# stop-pebble.sh <state-dir> — stop what start-pebble.sh started there and remove the directory.
set -uo pipefail
D=${1:?usage: stop-pebble.sh <state-dir>}
[[ -f $D/config.json ]] || exit 0
for name in pebble challtestsrv; do
  f=$D/$name.pid; [[ -f $f ]] || continue
  kill -TERM "$(cat "$f")" 2>/dev/null
  rm -f "$f"
done
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
