#!/usr/bin/env bash
# ops:trace-prepare (sent by trace-pod-create, runs as root on a node): makes sure strace is there
# (installs it with apt-get, retried and bounded) and that the processes to trace are running.
# Usage: trace-prepare.sh ADMIN_KUBECONFIG|- COMPONENT...   (a path = also check kubectl can run here)
set -euo pipefail
admin=$1
shift
host=$(hostname)
if ! command -v strace >/dev/null 2>&1; then
  echo "strace is missing on $host: installing it (apt-get)" >&2
  ok=""
  for attempt in 1 2 3; do
    if timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -qq &&
      DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -o DPkg::Lock::Timeout=120 install -y -qq strace; then
      ok=1
      break
    fi
    echo "apt-get failed on $host (attempt $attempt/3)" >&2
    sleep $((attempt * 5))
  done
  [ -n "$ok" ] || { echo "error: could not install strace on $host; install it by hand: sudo apt-get install strace" >&2; exit 3; }
fi
for comp in "$@"; do
  pgrep -x "$comp" >/dev/null || { echo "error: no running $comp process on $host" >&2; exit 3; }
done
command -v ss >/dev/null 2>&1 || echo "warning: ss (iproute2) missing on $host: the summary cannot name long-lived sockets" >&2
if [ "$admin" != - ]; then
  command -v kubectl >/dev/null 2>&1 || { echo "error: kubectl is not installed on $host (node prep installs it on the control plane)" >&2; exit 3; }
  [ -r "$admin" ] || { echo "error: $admin is not readable on $host (pass --cp-kubeconfig)" >&2; exit 3; }
fi
echo "ready: $host"
