#!/usr/bin/env bash
# ops:node-facts (sent by scripts/ops/verify over ssh, runs as root). Prints key=value facts only;
# verify judges them locally, so the judging is the same code the tests exercise.
set -euo pipefail
if grep -q '^br_netfilter ' /proc/modules 2>/dev/null; then
  echo "br_netfilter=module"
elif [ -d /proc/sys/net/bridge ]; then
  echo "br_netfilter=builtin"
else
  echo "br_netfilter=missing"
fi
echo "bridge_nf_call_iptables=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo missing)"
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo missing)"
# /proc/swaps has a header line; anything after it is an active swap device or file.
echo "swap_devices=$(tail -n +2 /proc/swaps 2>/dev/null | wc -l | tr -d ' ')"
echo "containerd=$(systemctl is-active containerd 2>/dev/null || true)"
echo "kubelet=$(systemctl is-active kubelet 2>/dev/null || true)"
