#!/usr/bin/env bash
# install.sh — everything the test bed needs on a fresh Debian machine, idempotent.
#   apt: prometheus, bind9, openssl, curl, python3-venv, default-jre-headless (keytool);
#   pip: helm-python-sdk into a venv (Helm's Go SDK, for chart lint/render/install), cryptography
#   (a PKCS#12 reader that knows PBMAC1), and
#        acme2certifier (an ACME server that serves ARI for the ARI fault tests);
#        moto[server] and dnspython into a venv of their own (the Route 53 tests' AWS API);
#   Go modules, built with the machine's Go (1.26) and cached: kube-apiserver,
#        kube-controller-manager and kubectl of each of KUBE_VERSIONS (build-kube.sh), etcd and
#        Pebble (build-tools.sh), Traefik, the Gateway API implementation (build-traefik.sh), a
#        DNS-01 webhook solver on cert-manager's webhook library (build-webhook.sh), acme-dns's
#        server (build-acmedns.sh: from a checkout in ACMEDNS_SRC, which the proxy does not serve).
# Prints nothing on stdout; the cache locations are in env.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$here/env.sh"
log() { echo "[install] $*" >&2; }

export DEBIAN_FRONTEND=noninteractive
apt_pkgs=(openssl curl python3-venv)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Prometheus and promtool, for the alert-rule test; the package's own service is not wanted.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'install ok installed'; then
  log "apt-get install prometheus"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  service prometheus stop >/dev/null 2>&1 || true
fi

# keytool (Debian's JDK): the keystore test reads the JKS and PKCS#12 keystores back with it.
if ! command -v keytool >/dev/null; then
  log "apt-get install default-jre-headless"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
fi

# BIND 9 (named, and dig from bind9-dnsutils): the authoritative DNS server the DNS-01 tests
# update through RFC 2136; the package's own service is not wanted (start-bind.sh runs one).
if ! dpkg-query -W -f='${Status}' bind9 2>/dev/null | grep -q 'install ok installed'; then
  log "apt-get install bind9 bind9-dnsutils"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends bind9 bind9-dnsutils >/dev/null
  service named stop >/dev/null 2>&1 || true
fi

if [[ ! -x $CERTSMITH_VENV/bin/python ]] || ! "$CERTSMITH_VENV/bin/python" -c 'import helm_python' 2>/dev/null; then
  log "pip install helm-python-sdk into $CERTSMITH_VENV"
  python3 -m venv "$CERTSMITH_VENV"
  "$CERTSMITH_VENV/bin/pip" install -q --disable-pip-version-check helm-python-sdk pyyaml
fi

# cryptography: a PKCS#12 reader that knows PBMAC1 (the Modern2026 keystore test); its wheel
# carries an OpenSSL newer than Debian's 3.0, which predates PBMAC1.
if ! "$CERTSMITH_VENV/bin/python" -c 'from cryptography.hazmat.primitives.serialization import pkcs12' 2>/dev/null; then
  log "pip install cryptography into $CERTSMITH_VENV"
  "$CERTSMITH_VENV/bin/pip" install -q --disable-pip-version-check cryptography
fi

# acme2certifier: the test bed's ACME server with renewal information (ARI), which Pebble lacks.
if ! "$CERTSMITH_VENV/bin/python" -c 'import acme2certifier' 2>/dev/null; then
  log "pip install acme2certifier into $CERTSMITH_VENV"
  "$CERTSMITH_VENV/bin/pip" install -q --disable-pip-version-check acme2certifier
fi

# moto (the AWS API emulator: Route 53, IAM) and dnspython, for the Route 53 tests
# (start-route53.sh), in a venv of their own so that moto's pins meet no one else's.
if ! "$MOTO_VENV/bin/python" -c 'import moto, dns.update' 2>/dev/null; then
  log "pip install moto[server]==$MOTO_VERSION into $MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" dnspython==2.7.0
fi

for v in $KUBE_VERSIONS; do
  bin=$CERTSMITH_CACHE/kube-$v
  if [[ ! -x $bin/kube-apiserver || ! -x $bin/kube-controller-manager || ! -x $bin/kubectl ]]; then
    "$here/build-kube.sh" "$v"
  fi
done
if [[ ! -x $TOOLS_BIN_DIR/etcd || ! -x $TOOLS_BIN_DIR/pebble || ! -x $TOOLS_BIN_DIR/pebble-challtestsrv ]]; then
  "$here/build-tools.sh"
fi
# build-traefik.sh and build-webhook.sh return at once when their binaries are there.
"$here/build-traefik.sh" >/dev/null
"$here/build-webhook.sh"
"$here/build-acmedns.sh"
log "ready: Kubernetes $KUBE_VERSIONS, etcd $ETCD_VERSION, Pebble $PEBBLE_VERSION, Traefik, a cert-manager $CERT_MANAGER_VERSION webhook solver under $CERTSMITH_CACHE"
