#!/usr/bin/env bash
# start-bind.sh — BIND 9 (Debian's named) on a free loopback port, authoritative for two zones:
#   example.test  dynamic: RFC 2136 updates signed with one of two TSIG keys are allowed
#                 (certsmith-md5: hmac-md5, cert-manager's default algorithm; certsmith-sha256);
#   http.test     static: every name is 127.0.0.1 (the HTTP-01 side of a mixed issuer), and
#                 _acme-challenge.alias.http.test is a CNAME into example.test;
#   example.com   static: every name is 127.0.0.1 (the seed tutorial's app.example.com).
# example.test and *.example.test are 127.0.0.1 too. Recursion (loopback only) is on so that a
# CNAME into the other zone is followed in one answer, as the resolvers CAs use follow it.
#
#   STATE=$(e2e/testbed/start-bind.sh)   # stdout: the state directory
#   . "$STATE/env"    # DNS_PORT, TSIG_MD5_SECRET, TSIG_SHA256_SECRET (base64)
#   e2e/testbed/stop-bind.sh "$STATE"
#
# Environment: WATCH_PID (stop when that process exits); FORWARD_ZONE="<zone> <port>": BIND
# also answers for <zone>, forwarding its queries to 127.0.0.1:<port> (acme-dns's DNS:
# start-acmedns.sh); EXTRA_RECORDS=<file>: its zone-file lines (absolute names) are added to
# example.test (the _acme-challenge CNAMEs into acme-dns's zone).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "[start-bind] $*" >&2; }
command -v named >/dev/null || PATH=$PATH:/usr/sbin
command -v named >/dev/null || { log "named missing: run e2e/testbed/install.sh"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-bind.XXXXXX")
PORT=$(free_port)
MD5=$(openssl rand -base64 32)
SHA256=$(openssl rand -base64 32)

cat > "$D/named.conf" <<CONF
options {
  directory "$D";
  pid-file "$D/named.pid";
  session-keyfile "$D/session.key";
  listen-on port $PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-recursion { 127.0.0.1; };
  allow-query { any; };
  dnssec-validation no;
};
key "certsmith-md5" { algorithm hmac-md5; secret "$MD5"; };
key "certsmith-sha256" { algorithm hmac-sha256; secret "$SHA256"; };
zone "example.test" {
  type primary;
  file "$D/example.test.zone";
  allow-update { key "certsmith-md5"; key "certsmith-sha256"; };
};
zone "http.test" { type primary; file "$D/http.test.zone"; };
zone "example.com" { type primary; file "$D/example.com.zone"; };
CONF
if [[ -n ${FORWARD_ZONE:-} ]]; then
  read -r fzone fport <<<"$FORWARD_ZONE"
  printf 'zone "%s" { type forward; forward only; forwarders { 127.0.0.1 port %s; }; };\n' \
    "$fzone" "$fport" >> "$D/named.conf"
fi
for zone in example.test http.test example.com; do
  cat > "$D/$zone.zone" <<ZONE
\$TTL 60
@       IN SOA ns.$zone. hostmaster.$zone. (1 60 60 3600 60)
        IN NS  ns.$zone.
ns      IN A   127.0.0.1
@       IN A   127.0.0.1
*       IN A   127.0.0.1
ZONE
done
# cnameStrategy: Follow — alias.http.test's challenge record is delegated into example.test.
echo '_acme-challenge.alias IN CNAME _acme-challenge.alias.example.test.' >> "$D/http.test.zone"
[[ -z ${EXTRA_RECORDS:-} ]] || cat "$EXTRA_RECORDS" >> "$D/example.test.zone"
# named runs as the user who starts it, so the zone journals land in $D.
named -g -c "$D/named.conf" </dev/null >"$D/named.log" 2>&1 &
echo $! > "$D/named.pid.start"
for _ in $(seq 100); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" ns.example.test A 2>/dev/null | grep -q 127.0.0.1 && break
  sleep 0.1
done
if ! dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" ns.example.test A | grep -q 127.0.0.1; then
  cat "$D/named.log" >&2; "$here/stop-bind.sh" "$D"; log "named did not start"; exit 1
fi
cat > "$D/env" <<ENV
export DNS_PORT=$PORT
export TSIG_MD5_SECRET=$MD5
export TSIG_SHA256_SECRET=$SHA256
ENV
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-bind.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
echo "$D"
