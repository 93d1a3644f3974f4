#!/usr/bin/env bash
# ops:trace-kubectl (sent by trace-pod-create, runs as root on the control plane): creates the Pod
# with `kubectl run` under strace, like the seed's terminal C3, so kubectl's connect to :6443 is on
# the same clock as the API server and scheduler traces.
# Usage: trace-kubectl.sh DIR ADMIN_KUBECONFIG POD IMAGE [NODE]
set -euo pipefail
dir=$1 admin=$2 pod=$3 image=$4 node=${5:-}
args=(run "$pod" "--image=$image")
# A nodeSelector (not nodeName) pins the Pod but still goes through the scheduler being traced.
[ -n "$node" ] && args+=("--overrides={\"apiVersion\":\"v1\",\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"$node\"}}}")
timeout 120 strace -f -tt -T -s 4096 -y -o "$dir/kubectl.trace" kubectl --kubeconfig "$admin" "${args[@]}"
