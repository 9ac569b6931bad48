#!/usr/bin/env bash
# start-pebble.sh — Pebble (Let's Encrypt's ACME test CA, built from its Go module by
# build-tools.sh) and pebble-challtestsrv (its DNS: every name resolves to 127.0.0.1) on free
# loopback ports.
#
#   STATE=$(HTTP01_PORT=5002 e2e/testbed/start-pebble.sh)   # stdout: the state directory
#   . "$STATE/env"        # PEBBLE_DIRECTORY_URL, PEBBLE_CA, PEBBLE_MANAGEMENT_URL, HTTP01_PORT
#   e2e/testbed/stop-pebble.sh "$STATE"
#
# Pebble validates HTTP-01 at http://<name>:$HTTP01_PORT/, so the operator's responder listens
# there. Environment: HTTP01_PORT (default: a free port), CERT_VALIDITY (seconds),
# EAB_KID + EAB_HMAC (require External Account Binding with that key), PEBBLE_DNS_SERVER
# (host:port Pebble resolves through instead, e.g. start-bind.sh's BIND for DNS-01), WATCH_PID
# (stop when that process exits), and Pebble's own switches. Pebble keeps its own defaults, as a real CA
# behaves: 5% of nonces rejected (PEBBLE_WFE_NONCEREJECT), 50% of valid authorizations reused
# (PEBBLE_AUTHZREUSE); only its validation delay is off (PEBBLE_VA_NOSLEEP=1). PEBBLE_HARSH=1
# rejects half the nonces, for the fault tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "[start-pebble] $*" >&2; }
# shellcheck source=env.sh
. "$here/env.sh"
[[ -x $TOOLS_BIN_DIR/pebble ]] || { log "$TOOLS_BIN_DIR/pebble missing: run e2e/testbed/install.sh"; exit 1; }
# Distinct free ports, held open together while chosen: one at a time, a port just freed can be
# handed out again (Pebble and its DNS server once got the same port).
free_ports() { python3 -c 'import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-pebble.XXXXXX")
read -r ACME_PORT MGMT_PORT TLS_PORT DNS_PORT DNS_MGMT_PORT FREE_PORT <<<"$(free_ports 6)"
HTTP01_PORT=${HTTP01_PORT:-$FREE_PORT}

# Pebble's HTTPS needs a certificate for 127.0.0.1; clients trust ca.pem (the PEBBLE_CA).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=certsmith pebble https CA" -keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$D/key.pem" -out "$D/req.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$D/ext"
openssl x509 -req -in "$D/req.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
  -days 30 -extfile "$D/ext" -out "$D/cert.pem" 2>/dev/null
rm -f "$D/req.csr" "$D/ext"

[[ ${PEBBLE_HARSH:-0} == 1 ]] && PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-50}
extra=""
# Pebble 2.10 sets validity per profile (its `default` profile is what an order without one gets).
[[ -n ${CERT_VALIDITY:-} ]] && \
  extra+=", \"profiles\": {\"default\": {\"description\": \"the bed's\", \"validityPeriod\": $CERT_VALIDITY}}"
if [[ -n ${EAB_KID:-} ]]; then
  extra+=", \"externalAccountBindingRequired\": true, \"externalAccountMACKeys\": {\"$EAB_KID\": \"$EAB_HMAC\"}"
fi
cat > "$D/config.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$MGMT_PORT",
  "certificate": "$D/cert.pem", "privateKey": "$D/key.pem", "httpPort": $HTTP01_PORT,
  "tlsPort": $TLS_PORT, "ocspResponderURL": ""$extra}}
JSON

"$TOOLS_BIN_DIR/pebble-challtestsrv" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
  -dnsserver "127.0.0.1:$DNS_PORT" -doh "" -http01 "" -https01 "" -tlsalpn01 "" \
  -management "127.0.0.1:$DNS_MGMT_PORT" \
  </dev/null >"$D/challtestsrv.log" 2>&1 &
echo $! > "$D/challtestsrv.pid"
# Pebble keeps its state (accounts, orders, its CA) in memory: $D/run-pebble starts it again on
# the same ports with a fresh state, as a CA that was reset (restart-pebble.sh).
cat > "$D/run-pebble" <<RUN
#!/usr/bin/env bash
PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} ${PEBBLE_WFE_NONCEREJECT:+PEBBLE_WFE_NONCEREJECT=$PEBBLE_WFE_NONCEREJECT} \\
${PEBBLE_AUTHZREUSE:+PEBBLE_AUTHZREUSE=$PEBBLE_AUTHZREUSE} ${PEBBLE_VA_ALWAYS_VALID:+PEBBLE_VA_ALWAYS_VALID=$PEBBLE_VA_ALWAYS_VALID} \\
${PEBBLE_ALTERNATE_ROOTS:+PEBBLE_ALTERNATE_ROOTS=$PEBBLE_ALTERNATE_ROOTS} \\
  "$TOOLS_BIN_DIR/pebble" -config "$D/config.json" -dnsserver "${PEBBLE_DNS_SERVER:-127.0.0.1:$DNS_PORT}" </dev/null >>"$D/pebble.log" 2>&1 &
echo \$! > "$D/pebble.pid"
RUN
chmod +x "$D/run-pebble"
"$D/run-pebble"

for _ in $(seq 100); do
  curl -sf --cacert "$D/ca.pem" "https://127.0.0.1:$ACME_PORT/dir" >/dev/null && break
  sleep 0.1
done
if ! curl -sf --cacert "$D/ca.pem" "https://127.0.0.1:$ACME_PORT/dir" >/dev/null; then
  cat "$D"/*.log >&2; "$here/stop-pebble.sh" "$D"; log "pebble did not start"; exit 1
fi
cat > "$D/env" <<ENV
export PEBBLE_DIRECTORY_URL=https://127.0.0.1:$ACME_PORT/dir
export PEBBLE_CA=$D/ca.pem
export PEBBLE_MANAGEMENT_URL=https://127.0.0.1:$MGMT_PORT
export HTTP01_PORT=$HTTP01_PORT
ENV
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-pebble.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
echo "$D"
