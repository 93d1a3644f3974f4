#!/usr/bin/env bash
# Runs on the control plane when a node is removed (scale down or destroy): drain it, then delete its
# Node object. Best effort and bounded: a cluster that is already half gone must not block
# `pulumi destroy`, so failures are reported and the script still succeeds.
# A further control plane (HA) also loses its etcd member here, on the first control plane, before its
# Node object goes: `kubeadm reset` on the node itself cannot do it later (its remove-etcd-member phase
# reads the node's registration from the cluster, FetchInitConfigurationFromCluster ->
# getNodeRegistration, which fails once the Node is deleted), and when the node's machine is deleted in
# the same run its reset does not run at all (deletedWith). A member left behind keeps counting towards
# etcd's quorum while never answering.
# Header variables:
#   NODE_NAME        the node
#   DRAIN_TIMEOUT    seconds for kubectl drain
#   ETCD_MEMBER_IP   (control planes only) the node's IP: the etcd member with peer URL https://<ip>:2380
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${NODE_NAME:?}" "${DRAIN_TIMEOUT:?}"
ETCD_MEMBER_IP="${ETCD_MEMBER_IP:-}"
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
# remove_etcd_member: through this control plane's etcd (etcdctl in its container, the client
# certificate kubeadm made for health checks), the member whose peer URL is the node's; nothing when
# there is none. kubeadm's own remove-etcd-member does the same by peer URL (etcdutil RemoveMember).
remove_etcd_member() {
  [ -n "${ETCD_MEMBER_IP}" ] || return 0
  local cid list id url="https://${ETCD_MEMBER_IP}:2380"
  cid="$(timeout 30 crictl ps --name '^etcd$' -q 2>/dev/null | head -n1 || true)"
  if [ -z "${cid}" ]; then
    say "no running etcd container here: the etcd member of ${ETCD_MEMBER_IP} is not removed (on a control plane: crictl exec <etcd> etcdctl member remove <id>)"
    return 0
  fi
  etcdctl() {
    timeout 60 crictl exec "${cid}" etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
      --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key "$@"
  }
  if ! list="$(etcdctl member list 2>&1)"; then
    say "etcdctl member list failed (the member of ${ETCD_MEMBER_IP} is not removed): ${list}"
    return 0
  fi
  # `member list` (simple format): "<id>, <status>, <name>, <peer URLs>, <client URLs>, <is learner>".
  id="$(awk -F', ' -v url="${url}" 'index($4, url) { print $1; exit }' <<<"${list}")"
  if [ -z "${id}" ]; then
    say "no etcd member with peer URL ${url}: nothing to remove"
  elif etcdctl member remove "${id}" >&2; then
    say "etcd member ${id} (${url}) removed"
  else
    say "etcdctl member remove ${id} failed: remove it by hand before adding a control plane (it still counts towards etcd's quorum)"
  fi
}

if ! kc get node "${NODE_NAME}" >/dev/null 2>&1; then
  say "node not registered: nothing to drain"
  remove_etcd_member
  exit 0
fi
if timeout $((DRAIN_TIMEOUT + 30)) kubectl --kubeconfig "${ADMIN}" drain "${NODE_NAME}" \
  --ignore-daemonsets --delete-emptydir-data --force --timeout="${DRAIN_TIMEOUT}s" >&2; then
  say "drained"
else
  say "drain did not finish within ${DRAIN_TIMEOUT}s (continuing: the node is being removed anyway)"
fi
remove_etcd_member
if kc delete node "${NODE_NAME}" --ignore-not-found --wait=false >&2; then
  say "node object deleted"
else
  say "kubectl delete node failed (ignored)"
fi
