#!/usr/bin/env bash
# start-route53.sh <bind-state-dir> (or BIND_STATE=) — the bed's Route 53: moto (the AWS API emulator, installed
# by install.sh into $MOTO_VENV) on a free loopback port, run by route53-bed.py, which enforces
# SigV4 and IAM (one IAM user allowed route53:*, its access key), creates the public hosted zone
# example.test. and mirrors every TXT change moto accepts into the bed's BIND (test plumbing:
# Pebble and certsmith's check read DNS, not moto).
#
#   STATE=$(e2e/testbed/start-route53.sh "$BIND_STATE")   # stdout: the state directory
#   . "$STATE/env"   # ROUTE53_PORT, ROUTE53_ZONE_ID, ROUTE53_ACCESS_KEY_ID, ROUTE53_SECRET_ACCESS_KEY
#   e2e/testbed/stop-route53.sh "$STATE"
#
# Environment: WATCH_PID (stop when that process exits).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[start-route53] $*" >&2; }
B=${1:-${BIND_STATE:?usage: start-route53.sh <bind-state-dir> (or BIND_STATE=)}}
[[ -x $MOTO_VENV/bin/python ]] || { log "$MOTO_VENV missing: run e2e/testbed/install.sh"; exit 1; }
# shellcheck disable=SC1091
. "$B/env"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-route53.XXXXXX")
PORT=$(free_port)
"$MOTO_VENV/bin/python" "$here/route53-bed.py" "$PORT" "$D" "$DNS_PORT" "$TSIG_SHA256_SECRET" \
  </dev/null >"$D/moto.log" 2>&1 &
echo $! > "$D/moto.pid"
for _ in $(seq 300); do
  [[ -f $D/env ]] && break
  if ! kill -0 "$(cat "$D/moto.pid")" 2>/dev/null; then
    tail -n 30 "$D/moto.log" >&2; "$here/stop-route53.sh" "$D"; log "moto exited"; exit 1
  fi
  sleep 0.2
done
[[ -f $D/env ]] && echo "export ROUTE53_PYTHON=$MOTO_VENV/bin/python" >> "$D/env"
[[ -f $D/env ]] || { tail -n 30 "$D/moto.log" >&2; "$here/stop-route53.sh" "$D"; log "not ready after 60 s"; exit 1; }
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-route53.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
log "ready in ${SECONDS}s: moto $MOTO_VERSION at 127.0.0.1:$PORT (state $D)"
echo "$D"
