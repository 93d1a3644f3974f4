#!/usr/bin/env bash
# Full node reset: the seed's 问题4 procedure (seed 000), plus what kubeadm reset leaves behind per
# its docs (/var/lib/cni, the cni0 and flannel.1 links). Used by a worker's delete, the control plane's
# delete, and before retrying a half-done init/join. Must never hang and must tolerate a node where
# kubeadm was never installed or never ran: every step is best effort and says what happened.
#
# Header variables:
#   ROLE       control-plane | worker (the control plane also loses /var/lib/etcd and the user's ~/.kube)
#   SSH_USER   the user whose ~/.kube/config init wrote
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${ROLE:?}" "${SSH_USER:?}"

say() { echo "==> [reset] $*"; }
try() {
  # try DESCRIPTION CMD...: runs CMD bounded; a failure is reported, never fatal.
  local what="$1"
  shift
  if timeout 120 "$@" >/dev/null 2>&1; then say "${what}: done"; else say "${what}: skipped or failed (ignored)"; fi
}

try "stop kubelet" systemctl stop kubelet
if command -v kubeadm >/dev/null 2>&1; then
  if timeout 300 kubeadm reset -f --cri-socket unix:///var/run/containerd/containerd.sock; then
    say "kubeadm reset -f: done"
  else
    say "kubeadm reset -f: failed (continuing with the manual cleanup)"
  fi
else
  say "kubeadm not installed: nothing for kubeadm reset to do"
fi

rm -rf /etc/cni/net.d /var/lib/cni
say "removed /etc/cni/net.d and /var/lib/cni"

if command -v iptables >/dev/null 2>&1; then
  for table in filter nat mangle raw; do
    try "iptables -t ${table} -F" iptables -t "${table}" -F
    try "iptables -t ${table} -X" iptables -t "${table}" -X
    try "iptables -t ${table} -Z" iptables -t "${table}" -Z
  done
  for chain in INPUT FORWARD OUTPUT; do
    try "iptables -P ${chain} ACCEPT" iptables -P "${chain}" ACCEPT
  done
else
  say "iptables not installed: no rules to flush"
fi
if command -v ipvsadm >/dev/null 2>&1; then
  try "ipvsadm --clear" ipvsadm --clear
else
  say "ipvsadm not installed: no IPVS tables to clear"
fi

for link in cni0 flannel.1; do
  if ip link show "${link}" >/dev/null 2>&1; then
    try "ip link delete ${link}" ip link delete "${link}"
  else
    say "link ${link}: not present"
  fi
done

if [ "${ROLE}" = control-plane ]; then
  rm -rf /var/lib/etcd
  say "removed /var/lib/etcd"
  home="$(getent passwd "${SSH_USER}" | cut -d: -f6 || true)"
  if [ -n "${home}" ] && [ -d "${home}/.kube" ]; then
    rm -rf "${home}/.kube"
    say "removed ${home}/.kube"
  fi
fi

# Keep the directory (the kubelet package owns it), drop its state.
if [ -d /var/lib/kubelet ]; then
  find /var/lib/kubelet -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null ||
    say "some of /var/lib/kubelet could not be removed (mounted volumes?)"
  say "emptied /var/lib/kubelet"
fi
rm -rf /var/lib/kubeadm-cluster
try "restart containerd" systemctl restart containerd
say "node reset complete"
