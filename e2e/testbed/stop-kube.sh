#!/usr/bin/env bash
# stop-kube.sh <state-dir> — stop what start-kube.sh started there and remove the directory
# (KEEP_STATE=1 keeps it for its logs). Only PIDs whose command line names the directory are
# signalled, so a reused PID is never hit.
# DEPRECATED_LOG=<file>: append there each audited request to a deprecated API (verb, URI, user
# agent), so a whole suite can show it made none (e2e/test.sh).
set -uo pipefail
D=${1:?usage: stop-kube.sh <state-dir>}
[[ -d $D/pki ]] || exit 0
if [[ -n ${DEPRECATED_LOG:-} && -f $D/audit.log ]]; then
  grep -F '"k8s.io/deprecated":"true"' "$D/audit.log" | python3 -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e.get("verb"), e.get("requestURI"), e.get("userAgent"), sep="\t")' >> "$DEPRECATED_LOG"
fi
for name in kube-controller-manager kube-apiserver etcd; do
  f=$D/$name.pid; [[ -f $f ]] || continue
  pid=$(cat "$f")
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D/"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
done
[[ ${KEEP_STATE:-0} == 1 ]] || rm -rf -- "$D"
