# env.sh — where the test bed keeps what it builds and installs (sourced by the other scripts).
# Outside the repository so a clean clone reuses them, keyed by version so an upgrade rebuilds.
KUBE_VERSION=v1.20.2
CERTSMITH_CACHE=${CERTSMITH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certsmith}
KUBE_BIN_DIR=${KUBE_BIN_DIR:-$CERTSMITH_CACHE/kube-$KUBE_VERSION}
CERTSMITH_VENV=${CERTSMITH_VENV:-$CERTSMITH_CACHE/venv}
export KUBE_VERSION CERTSMITH_CACHE KUBE_BIN_DIR CERTSMITH_VENV
