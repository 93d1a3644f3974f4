#!/usr/bin/env bash
# ops:pod-network (sent by scripts/ops/pod-network, runs as root on a node): prints the raw `ip`
# views pod-network parses: the host's links and addresses, and eth0 inside every named network
# namespace (containerd's CNI namespaces are /var/run/netns/cni-*).
set -euo pipefail
echo "### link"
ip -o link show
echo "### addr"
ip -o addr show
for ns in $(ip netns list | awk '{ print $1 }'); do
  echo "### netns $ns"
  ip -n "$ns" -o link show eth0 2>/dev/null || true
  ip -n "$ns" -o addr show eth0 2>/dev/null || true
done
