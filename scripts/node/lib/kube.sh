#!/usr/bin/env bash
# kubectl on the control plane for the upgrade scripts (upgrade-check, upgrade-control-plane,
# upgrade-drain, upgrade-uncordon): every call bounded (`timeout` around kubectl and its own
# --request-timeout), reads by jsonpath, and the cordon bookkeeping that lets us uncordon only what we
# cordoned. composeScript inlines this file after the prelude (it uses log/warn/fail from there).
# Header variables: API_WAIT (seconds to wait for the API server to answer).
: "${API_WAIT:?}"

ADMIN=/etc/kubernetes/admin.conf
# The Node annotation our drains leave, value = the target ("v1.31.6"): we uncordon only a node that
# carries it, so a node the user cordoned stays cordoned. The second one records whether the node was
# Ready before we drained it (a node that never was, e.g. no CNI yet, is not waited on for Ready).
MARK=kubeadm-cluster.io/upgrade-cordoned
MARK_READY=kubeadm-cluster.io/upgrade-ready-before
# kubectl jsonpath needs the dots of a key escaped (kubectl reference "JSONPath Support": `\.`).
MARK_JP='kubeadm-cluster\.io/upgrade-cordoned'
MARK_READY_JP='kubeadm-cluster\.io/upgrade-ready-before'

# kc ARGS...: kubectl with admin.conf, bounded twice (the request and the whole call).
kc() { timeout 60 kubectl --kubeconfig "${ADMIN}" --request-timeout=20s "$@"; }

# api_wait: returns once the API server answers /readyz, fails after API_WAIT seconds.
api_wait() {
  local deadline=$((SECONDS + API_WAIT))
  until kc get --raw /readyz >/dev/null 2>&1; do
    [ "${SECONDS}" -lt "${deadline}" ] || fail "the API server does not answer /readyz within ${API_WAIT}s (check 'sudo crictl ps -a' and 'journalctl -u kubelet' on the control plane)"
    sleep 3
  done
}

# cluster_version: the kubernetesVersion of kube-system/kubeadm-config's ClusterConfiguration ("v1.30.12"),
# the version the last `kubeadm init`/`kubeadm upgrade apply` wrote (its upload-config phase; kubeadm
# docs: "kubectl -n kube-system get cm kubeadm-config -oyaml"; upgrade-ha-facts.md A3).
cluster_version() {
  local cfg v
  cfg="$(kc -n kube-system get cm kubeadm-config -o 'jsonpath={.data.ClusterConfiguration}')" || fail "cannot read kube-system/kubeadm-config from the API server"
  v="$(sed -n 's/^kubernetesVersion:[[:space:]]*//p' <<<"${cfg}" | tr -d "\"'" | head -n1)"
  [ -n "${v}" ] || fail "kube-system/kubeadm-config has no kubernetesVersion in its ClusterConfiguration"
  echo "${v}"
}

# node_versions: "NAME VERSION" per Node (kubeletVersion is what the node's kubelet reports, kubeadm's
# KubeletVersions() reads the same field; upgrade-ha-facts.md A3).
node_versions() {
  kc get nodes -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.nodeInfo.kubeletVersion}{"\n"}{end}' || fail "cannot list the Nodes"
}

# node_state NAME: sets N_FOUND (true|false), N_VERSION ("v1.31.6"), N_UNSCHEDULABLE (true|""),
# N_MARK (our annotation's value), N_MARK_READY, N_READY (True|False|Unknown|"").
node_state() {
  local out
  N_FOUND=false N_VERSION="" N_UNSCHEDULABLE="" N_MARK="" N_MARK_READY="" N_READY=""
  if ! out="$(kc get node "$1" --ignore-not-found -o "jsonpath={.status.nodeInfo.kubeletVersion}|{.spec.unschedulable}|{.metadata.annotations.${MARK_JP}}|{.metadata.annotations.${MARK_READY_JP}}|{.status.conditions[?(@.type==\"Ready\")].status}")"; then
    fail "cannot read Node $1"
  fi
  [ -n "${out}" ] || return 0
  # shellcheck disable=SC2034 # read by the scripts that take this library
  N_FOUND=true
  IFS='|' read -r N_VERSION N_UNSCHEDULABLE N_MARK N_MARK_READY N_READY <<<"${out}"
}

# cordon_ours NAME TARGET: cordons NAME and marks it as cordoned by us, unless it is already
# unschedulable without our mark (the user's cordon: left to the user, never uncordoned by us).
cordon_ours() {
  node_state "$1"
  if [ -n "${N_MARK}" ]; then
    log "$1: already cordoned by an earlier run (${MARK}=${N_MARK})"
    return 0
  fi
  if [ "${N_UNSCHEDULABLE}" = true ]; then
    log "$1: cordoned by someone else before the upgrade: it stays cordoned afterwards"
    return 0
  fi
  # Mark first, then cordon: a run that dies in between leaves a mark on a schedulable node, which the
  # uncordon step clears; the other order could leave a cordoned node without the mark (never uncordoned).
  kc annotate node "$1" --overwrite "${MARK}=$2" "${MARK_READY}=${N_READY:-Unknown}" >&2 || fail "kubectl annotate node $1 failed"
  kc cordon "$1" >&2 || fail "kubectl cordon $1 failed"
}

# drain_node NAME SECONDS: evicts every pod but DaemonSet pods and mirror pods (kubectl drain: "The given
# node will be marked unschedulable ... evicts or deletes all pods except mirror pods"). --force deletes
# bare Pods, which declare no controller and are not re-created anywhere (kubectl drain without it refuses
# them: "cannot delete Pods that declare no controller (use --force to override)"; kubespray's drain uses
# --force too); each one is named here first. --delete-emptydir-data: their emptyDir data is lost.
drain_node() {
  local pods pod owners mirror
  pods="$(kc get pods -A --field-selector "spec.nodeName=$1" -o 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"|"}{.metadata.ownerReferences[*].kind}{"|"}{.metadata.annotations.kubernetes\.io/config\.mirror}{"\n"}{end}')" || fail "cannot list the pods on $1"
  while IFS='|' read -r pod owners mirror; do
    # No owner reference and not a static pod's mirror: a bare Pod (DaemonSet pods have their owner).
    if [ -n "${pod}" ] && [ -z "${owners}" ] && [ -z "${mirror}" ]; then
      log "$1: deleting bare pod ${pod} (it declares no controller and does not come back)"
    fi
  done <<<"${pods}"
  timeout $(($2 + 30)) kubectl --kubeconfig "${ADMIN}" drain "$1" --ignore-daemonsets --delete-emptydir-data --force --timeout="$2s" >&2 ||
    fail "kubectl drain $1 did not finish within $2s (a PodDisruptionBudget or a stuck pod? see the output above; the next 'pulumi up' drains again)"
  log "$1: drained"
}

# uncordon_ours NAME: uncordons NAME if our mark is on it and removes the marks; says what it did.
uncordon_ours() {
  node_state "$1"
  if [ -z "${N_MARK}" ]; then
    if [ "${N_UNSCHEDULABLE}" = true ]; then log "$1: cordoned, not by us: left cordoned"; fi
    return 0
  fi
  kc uncordon "$1" >&2 || fail "kubectl uncordon $1 failed"
  kc annotate node "$1" "${MARK}-" "${MARK_READY}-" >&2 || fail "kubectl annotate node $1 (removing ${MARK}) failed"
  log "$1: uncordoned (${MARK} removed)"
}

# version_matches VERSION WANT: true when the Node's "v1.31.6" is WANT ("1.31.6"), or for a minor-only
# WANT ("1.31") any patch of that minor.
version_matches() {
  case "$2" in
    *.*.*) [ "$1" = "v$2" ] ;;
    *) [[ "$1" == "v$2."* ]] ;;
  esac
}

# wait_node NAME WANT SECONDS: waits until the Node reports kubeletVersion WANT (see version_matches)
# and, if we drained it while it was Ready, Ready=True again (a node we did not drain, or one that was
# not Ready before, e.g. no CNI yet, is not waited on for Ready). Fails after SECONDS.
wait_node() {
  local deadline=$((SECONDS + $3)) need_ready=false
  node_state "$1"
  if [ -n "${N_MARK}" ] && [ "${N_MARK_READY}" = True ]; then need_ready=true; fi
  while :; do
    node_state "$1"
    if version_matches "${N_VERSION}" "$2" && { [ "${need_ready}" = false ] || [ "${N_READY}" = True ]; }; then
      return 0
    fi
    [ "${SECONDS}" -lt "${deadline}" ] ||
      fail "$1 does not report kubelet v$2$([ "${need_ready}" = true ] && echo ' and Ready') within $3s (it reports ${N_VERSION:-nothing}, Ready=${N_READY:-unknown}); check 'journalctl -u kubelet' on $1"
    sleep 3
  done
}
