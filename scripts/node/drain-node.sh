#!/usr/bin/env bash
# Runs on the control plane when a worker is removed (scale down or destroy): drain it, then delete its
# Node object. Best effort and bounded: a cluster that is already half gone must not block
# `pulumi destroy`, so failures are reported and the script still succeeds.
# Header variables:
#   NODE_NAME      the worker
#   DRAIN_TIMEOUT  seconds for kubectl drain
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${NODE_NAME:?}" "${DRAIN_TIMEOUT:?}"
ADMIN=/etc/kubernetes/admin.conf
say() { echo "==> [remove node ${NODE_NAME}] $*" >&2; }
kc() { kubectl --kubeconfig "${ADMIN}" --request-timeout=15s "$@"; }

if [ ! -f "${ADMIN}" ]; then
  say "${ADMIN} not found: the cluster is gone, nothing to drain"
  exit 0
fi
if ! timeout 30 kubectl --kubeconfig "${ADMIN}" --request-timeout=10s get --raw /readyz >/dev/null 2>&1; then
  say "the API server does not answer: skipping drain and node deletion"
  exit 0
fi
if ! kc get node "${NODE_NAME}" >/dev/null 2>&1; then
  say "node not registered: nothing to drain"
  exit 0
fi
if timeout $((DRAIN_TIMEOUT + 30)) kubectl --kubeconfig "${ADMIN}" drain "${NODE_NAME}" \
  --ignore-daemonsets --delete-emptydir-data --force --timeout="${DRAIN_TIMEOUT}s" >&2; then
  say "drained"
else
  say "drain did not finish within ${DRAIN_TIMEOUT}s (continuing: the node is being removed anyway)"
fi
if kc delete node "${NODE_NAME}" --ignore-not-found --wait=false >&2; then
  say "node object deleted"
else
  say "kubectl delete node failed (ignored)"
fi
