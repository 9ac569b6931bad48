#!/usr/bin/env bash
# start-a2c.sh — acme2certifier (PyPI), an ACME server that serves ACME Renewal Information
# (RFC 9773), on a free loopback port over HTTPS, issuing from its own test CA (openssl handler).
# Pebble 2.4 has no ARI; this is the test bed's ARI server.
#
#   STATE=$(e2e/testbed/start-a2c.sh)   # stdout: the state directory
#   . "$STATE/env"        # A2C_DIRECTORY_URL, A2C_CA (the HTTPS certificate's CA)
#   e2e/testbed/stop-a2c.sh "$STATE"
#
# It validates no challenge (challenge_validation_disable: this is an ARI bed; HTTP-01 is
# Pebble's to check). Its renewal window starts at 85% of a certificate's life; RENEW_NOW=1 in
# run-a2c's environment makes every window "renew now" (renewal_force). Retry-After: 10 s.
# Environment: WATCH_PID (stop when that process exits), CERTSMITH_VENV (where pip put it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/env.sh"
log() { echo "[start-a2c] $*" >&2; }
py=$CERTSMITH_VENV/bin/python
"$py" -c 'import acme2certifier' 2>/dev/null || { log "acme2certifier missing: run e2e/testbed/install.sh"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
D=$(mktemp -d "${TMPDIR:-/tmp}/certsmith-a2c.XXXXXX")
PORT=$(free_port)
mkdir -p "$D/certs"
(
  cd "$D"
  # The issuing CA (its key signs the certificates) and the HTTPS server's certificate.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=certsmith a2c CA" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -addext subjectKeyIdentifier=hash 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout tls.key -out tls.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext
  openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext -out tls.pem 2>/dev/null
  rm -f tls.csr ext
  # Its openssl handler wants a CRL to publish: an empty one.
  touch index.txt; echo 01 > crlnumber
  printf '[ca]\ndefault_ca=CA\n[CA]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n' > ca.cnf
  openssl ca -gencrl -config ca.cnf -keyfile ca.key -cert ca.pem -out ca.crl 2>/dev/null
)
# run-a2c starts it (again) on the same port and database; RENEW_NOW=1 forces renewal windows.
cat > "$D/run-a2c" <<RUN
#!/usr/bin/env bash
force=False; [[ \${RENEW_NOW:-0} == 1 ]] && force=True
cat > "$D/acme_srv.cfg" <<CFG
[DEFAULT]
debug: True
[Nonce]
nonce_check_disable: False
[CAhandler]
handler_module: acme2certifier.cahandlers.openssl_ca_handler
issuing_ca_key: $D/ca.key
issuing_ca_cert: $D/ca.pem
issuing_ca_crl: $D/ca.crl
cert_save_path: $D/certs
ca_cert_chain_list: ["$D/ca.pem"]
cert_validity_days: 30
[DBhandler]
handler_module: acme2certifier.dbhandlers.wsgi_handler
dbfile: $D/acme_srv.db
[Challenge]
challenge_validation_disable: True
[Renewalinfo]
renewalthreshold_pctg: 85
retry_after_timeout: 10
renewal_force: \$force
CFG
ACME2CERTIFIER_I_KNOW_THE_RISK=1 "$py" "$here/a2c-serve.py" $PORT "$D/acme_srv.cfg" \\
  "$D/tls.pem" "$D/tls.key" </dev/null >>"$D/a2c.log" 2>&1 &
echo \$! > "$D/a2c.pid"
for _ in \$(seq 100); do
  curl -sf --cacert "$D/ca.pem" https://127.0.0.1:$PORT/directory >/dev/null && exit 0
  sleep 0.1
done
echo "[run-a2c] acme2certifier did not answer" >&2; exit 1
RUN
chmod +x "$D/run-a2c"
"$D/run-a2c" || { tail -n 20 "$D/a2c.log" >&2; exit 1; }
cat > "$D/env" <<ENV
export A2C_DIRECTORY_URL=https://127.0.0.1:$PORT/directory
export A2C_CA=$D/ca.pem
ENV
if [[ -n ${WATCH_PID:-} ]]; then
  ( while kill -0 "$WATCH_PID" 2>/dev/null && [[ -d $D ]]; do sleep 1; done
    "$here/stop-a2c.sh" "$D" ) </dev/null >/dev/null 2>&1 &
fi
log "ready at https://127.0.0.1:$PORT/directory (state $D)"
echo "$D"
