#!/usr/bin/env bash
# start-acmedns.sh — acme-dns's own server (built by build-acmedns.sh) on free loopback ports:
# its DNS (UDP and TCP) authoritative for $ACMEDNS_ZONE (default auth.acme-dns.test), its HTTP
# API plain HTTP (certsmith speaks http or https to `host`; a bed CA would add nothing the test
# checks). One account is registered per domain of ACMEDNS_DOMAINS (default example.test) with
# `POST /register`, and the account JSON written as acme-dns's clients write it:
# {"<domain>": {"username", "password", "fulldomain", "subdomain", "allowfrom"}, ...}.
#
#   STATE=$(ACMEDNS_DOMAINS="example.test other.example.test" e2e/testbed/start-acmedns.sh)
#   . "$STATE/env"   # ACMEDNS_API (http://127.0.0.1:<port>), ACMEDNS_DNS_PORT, ACMEDNS_ZONE,
#                    # ACMEDNS_ACCOUNTS (the JSON's file), ACMEDNS_CNAMES (a file of zone lines:
#                    # _acme-challenge.<domain>. CNAME <fulldomain>. for each domain)
#   FORWARD_ZONE="$ACMEDNS_ZONE $ACMEDNS_DNS_PORT" EXTRA_RECORDS="$ACMEDNS_CNAMES" \
#     e2e/testbed/start-bind.sh    # BIND answers for acme-dns's zone and holds the CNAMEs
#   e2e/testbed/stop-acmedns.sh "$STATE"
#
# acme-dns has no way to remove an account or a value: they go with the state directory.
# Environment: ACMEDNS_ZONE, ACMEDNS_DOMAINS, WATCH_PID (stop when that process exits).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[start-acmedns] $*" >&2; }
BIN=$ACMEDNS_BIN_DIR/acme-dns
[[ -x $BIN ]] || { log "$BIN missing: run e2e/testbed/build-acmedns.sh (see there)"; exit 1; }
ZONE=${ACMEDNS_ZONE:-auth.acme-dns.test}
DOMAINS=${ACMEDNS_DOMAINS:-example.test}
free_ports() { python3 -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-acmedns.XXXXXX")
read -r DNS_PORT API_PORT <<<"$(free_ports 2)"
fail() { log "failed: $*"; tail -n 20 "$D/acme-dns.log" >&2 2>/dev/null || true; "$here/stop-acmedns.sh" "$D" >&2 || true; exit 1; }

cat > "$D/config.cfg" <<CFG
[general]
listen = "127.0.0.1:$DNS_PORT"
protocol = "both4"
domain = "$ZONE"
nsname = "$ZONE"
nsadmin = "admin.$ZONE"
records = ["$ZONE. A 127.0.0.1", "$ZONE. NS $ZONE."]
debug = false

[database]
engine = "sqlite"
connection = "$D/acme-dns.db"

[api]
ip = "127.0.0.1"
disable_registration = false
port = "$API_PORT"
tls = "none"
corsorigins = ["*"]
use_header = false
header_name = "X-Forwarded-For"

[logconfig]
loglevel = "info"
logtype = "stdout"
logformat = "text"
CFG
(cd "$D" && exec "$BIN" -c "$D/config.cfg") </dev/null >"$D/acme-dns.log" 2>&1 &
echo $! > "$D/acme-dns.pid"
API=http://127.0.0.1:$API_PORT
for _ in $(seq 100); do
  curl -sf "$API/health" >/dev/null 2>&1 && break
  kill -0 "$(cat "$D/acme-dns.pid")" 2>/dev/null || fail "acme-dns exited"
  sleep 0.1
done
curl -sf "$API/health" >/dev/null || fail "its API does not answer after 10 s"
dig +short +time=1 +tries=3 @127.0.0.1 -p "$DNS_PORT" "$ZONE" A | grep -q 127.0.0.1 \
  || fail "its DNS does not answer for $ZONE"

# One account per domain, registered as acme-dns's clients register (an empty body: no
# allowfrom), and the JSON they keep.
: > "$D/cnames"
for d in $DOMAINS; do
  curl -sf -X POST "$API/register" > "$D/register-$d.json" || fail "POST /register"
done
python3 - "$D" "$DOMAINS" <<'PY' || fail "writing the account JSON"
import json, os, sys
d, domains = sys.argv[1], sys.argv[2].split()
accounts = {}
with open(os.path.join(d, "cnames"), "w") as cnames:
    for name in domains:
        with open(os.path.join(d, f"register-{name}.json")) as f:
            accounts[name] = json.load(f)
        cnames.write(f"_acme-challenge.{name}. IN CNAME {accounts[name]['fulldomain']}.\n")
with open(os.path.join(d, "accounts.json"), "w") as f:
    json.dump(accounts, f)
PY
rm -f "$D"/register-*.json
chmod 600 "$D/accounts.json"

cat > "$D/env" <<ENV
export ACMEDNS_API=$API
export ACMEDNS_DNS_PORT=$DNS_PORT
export ACMEDNS_ZONE=$ZONE
export ACMEDNS_ACCOUNTS=$D/accounts.json
export ACMEDNS_CNAMES=$D/cnames
ENV
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-acmedns.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
log "ready in ${SECONDS}s: API $API, DNS 127.0.0.1:$DNS_PORT for $ZONE, accounts for $DOMAINS (state $D)"
echo "$D"
