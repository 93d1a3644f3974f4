#!/usr/bin/env bash
# Full node reset: the seed's 问题4 procedure (seed 000), plus what kubeadm reset leaves behind per
# its docs (CNI state, the cni0 and flannel.1 links, network rules). Used by a worker's delete, the
# control plane's delete, and before retrying a half-done init/join. Must never hang and must tolerate a
# node where kubeadm was never installed or never ran: every step is best effort and says what happened.
# On an existing host it must leave the host's own things alone: only flannel's CNI files go (other CNI
# configs stay), only kube-proxy's and flannel's IPv6 chains go, and files the kube packages ship in the
# directories kubeadm reset empties (.kubelet-keep, .kubernetes-cni-keep) are put back.
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

# Files the kube packages ship in the directories emptied below: kubeadm reset's CleanDir removes every
# entry of /etc/kubernetes/manifests, /etc/kubernetes/pki and /var/lib/kubelet, dotfiles included
# (cmd/kubeadm/app/cmd/phases/reset/cleanupnode.go CleanDir), so the kubelet package's .kubelet-keep
# files (kubernetes/release kubelet.spec) would be missing for dpkg. Kept aside and put back at the end.
KEEP="$(mktemp -d)"
trap 'rm -rf "${KEEP}"' EXIT
if command -v dpkg-query >/dev/null 2>&1; then
  while read -r f; do
    [ -f "${f}" ] || continue
    mkdir -p "${KEEP}$(dirname "${f}")"
    cp -a "${f}" "${KEEP}${f}"
  done < <(dpkg-query -L kubelet kubeadm kubernetes-cni 2>/dev/null | grep -E '^/(etc/kubernetes|var/lib/kubelet|etc/cni)/' || true)
fi

# The control-plane endpoint (HA on VirtualBox/existing hosts, vip.sh): released first. Stopping
# keepalived makes it send a VRRP advertisement with priority 0, so a backup takes the address over
# at once instead of after the master-down interval (VRRPv2, RFC 3768 6.4.3: on Shutdown the master
# sends "an ADVERTISEMENT with Priority = 0"; keepalived vrrp.c vrrp_restore_interface: "if we stop
# vrrp, warn the other routers to speed up the recovery"), and with haproxy stopped too this node never
# answers on the endpoint port again. Disabled, so a reboot does not bring them back. Only when the
# files are vip.sh's (first line VIP_MANAGED_MARK, components/node/vip-config.ts); anything else is
# the host's own and stays as it is. undo-prep.sh later puts the units back as they were before vip.sh.
# KEEP_ENDPOINT=true (environment, set by join.sh when it resets a node to join it again): they stay,
# since nothing runs vip.sh again before that join.
VIP_MANAGED_MARK='# managed by kubeadm-cluster (scripts/node/vip.sh)'
for pair in keepalived:/etc/keepalived/keepalived.conf haproxy:/etc/haproxy/haproxy.cfg; do
  if [ "${KEEP_ENDPOINT:-false}" = true ]; then
    [ ! -f "${pair#*:}" ] || say "${pair%%:*}: kept running (a join follows this reset)"
    continue
  fi
  unit="${pair%%:*}" file="${pair#*:}"
  if [ ! -f "${file}" ] || [ "$(head -n1 "${file}")" != "${VIP_MANAGED_MARK}" ]; then
    [ ! -f "${file}" ] || say "${unit}: ${file} is not ours: left alone"
    continue
  fi
  if systemctl is-active --quiet "${unit}" 2>/dev/null; then
    try "stop ${unit} (control-plane endpoint released)" systemctl stop "${unit}"
  else
    say "${unit}: not running"
  fi
  if systemctl is-enabled --quiet "${unit}" 2>/dev/null; then
    try "disable ${unit}" systemctl disable "${unit}"
  else
    say "${unit}: not enabled"
  fi
done

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

# CNI: what flannel and the pods of this cluster left, nothing else (kube-flannel.yml v0.28.9 and
# node-facts.md §6): flannel's conflist (network "cbr0"), the flannel plugin's saved delegate configs
# (/var/lib/cni/flannel, flannel.go defaultDataDir), host-local's IP leases for cbr0 (/var/lib/cni/
# networks/cbr0, host-local backend/disk defaultDataDir + network name), libcni's result cache for the
# cbr0 and containerd's cni-loopback networks (libcni api.go getCacheFilePath: /var/lib/cni/results/
# <network>-<container>-<ifname>; go-cni WithLoNetwork names the loopback network "cni-loopback"),
# flanneld's subnet.env (/run/flannel) and the plugin binary its init container copied. Other files in
# /etc/cni/net.d (another CNI's, or the kubernetes-cni package's .kubernetes-cni-keep) stay.
for f in /etc/cni/net.d/10-flannel.conflist /opt/cni/bin/flannel; do
  if [ -e "${f}" ]; then rm -f "${f}" && say "removed ${f}"; fi
done
for d in /var/lib/cni/flannel /var/lib/cni/networks/cbr0 /run/flannel; do
  if [ -e "${d}" ]; then rm -rf "${d}" && say "removed ${d}"; fi
done
if compgen -G "/var/lib/cni/results/cbr0-*" >/dev/null || compgen -G "/var/lib/cni/results/cni-loopback-*" >/dev/null; then
  rm -f /var/lib/cni/results/cbr0-* /var/lib/cni/results/cni-loopback-*
  say "removed libcni's cached results of the cbr0 and cni-loopback networks"
fi
for d in /var/lib/cni/networks /var/lib/cni/results /var/lib/cni; do
  if [ -d "${d}" ] && rmdir "${d}" 2>/dev/null; then say "removed ${d} (empty)"; fi
done
# (No /etc/cni/net.d at all on a host where the kube packages never got installed: find fails, pipefail.)
other="$(find /etc/cni/net.d -mindepth 1 -maxdepth 1 ! -name .kubernetes-cni-keep 2>/dev/null | tr '\n' ' ' || true)"
[ -z "${other}" ] || say "kept CNI files that are not flannel's: ${other}"

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
# IPv6: kube-proxy in iptables mode runs a second, IPv6 proxier whenever ip6tables works on the host,
# also in a single-stack IPv4 cluster (cmd/kube-proxy/app/server_linux.go platformCheckSupported ->
# dualStackSupported; server.go createProxier -> NewDualStackProxier; node-facts.md §5), and the
# kubelet adds its KUBE-* canary/firewall chains there too. Nothing else of this cluster is in ip6tables
# (flannel runs IPv4 only: EnableIPv6 is not set). So only the KUBE-* and FLANNEL-* chains and the rules
# that jump to them are removed; the host's own IPv6 firewall (ufw6-*, a plain INPUT policy, ...)
# stays exactly as it is, where the IPv4 flush above resets everything (the seed's procedure).
if command -v ip6tables-save >/dev/null 2>&1 && command -v ip6tables-restore >/dev/null 2>&1; then
  if saved="$(timeout 60 ip6tables-save 2>/dev/null)"; then
    # iptables-restore --noflush input: per table, delete the jumps into our chains, then flush and
    # delete our chains. Quoted comments survive, because ip6tables-restore parses them itself.
    plan="$(awk '
      /^\*/ { t = substr($0, 2); next }
      /^:/ { name = substr($1, 2); if (name ~ /^(KUBE-|FLANNEL-)/) { ch[t] = ch[t] " " name; used[t] = 1 } next }
      /^-A / { if ($2 !~ /^(KUBE-|FLANNEL-)/ && $0 ~ / -[jg] (KUBE-|FLANNEL-)/) { del[t] = del[t] "-D" substr($0, 3) "\n"; used[t] = 1 } next }
      END {
        for (t in used) {
          printf "*%s\n%s", t, del[t]
          n = split(ch[t], c, " ")
          for (i = 1; i <= n; i++) print "-F " c[i]
          for (i = 1; i <= n; i++) print "-X " c[i]
          print "COMMIT"
        }
      }' <<<"${saved}")"
    if [ -z "${plan}" ]; then
      say "ip6tables: no KUBE-*/FLANNEL-* chains"
    elif timeout 60 ip6tables-restore --noflush <<<"${plan}" >/dev/null 2>&1; then
      say "ip6tables: removed $(grep -c '^-X ' <<<"${plan}") KUBE-*/FLANNEL-* chains and $(grep -c '^-D ' <<<"${plan}") rules jumping to them; other IPv6 rules kept"
    else
      say "ip6tables: removing the KUBE-*/FLANNEL-* chains failed (ignored)"
    fi
  else
    say "ip6tables: not usable here (no IPv6 netfilter): nothing to remove"
  fi
else
  say "ip6tables not installed: no IPv6 rules to remove"
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
# Package files put back where reset removed them, with their original mode and times (dpkg's view of
# the kubelet/kubernetes-cni packages stays complete).
while read -r f; do
  [ -n "${f}" ] || continue
  orig="${f#"${KEEP}"}"
  if [ ! -e "${orig}" ] && [ -d "$(dirname "${orig}")" ]; then
    cp -a "${f}" "${orig}" && say "put back ${orig} (shipped by a kube package)"
  fi
done < <(find "${KEEP}" -type f)
try "restart containerd" systemctl restart containerd
say "node reset complete"
