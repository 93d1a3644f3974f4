#!/usr/bin/env bash
# Runs on the control plane before worker NODE_NAME is upgraded (`<w>-upgrade-drain`): cordon it, mark
# it as cordoned by us (kubeadm-cluster.io/upgrade-cordoned=<target>, so the uncordon step releases
# only what we cordoned; a node the user cordoned stays cordoned), and drain it (kubeadm upgrade docs:
# "you must first drain the node", upgrade-ha-facts.md A1.5/A1.7).
# Nothing to do: the worker already reports the target kubelet and is not cordoned by us, or it has not
# joined yet (a worker added with the new version). Re-running it on a node we cordoned drains again,
# which finds nothing left to evict.
# Refuses while the control plane is not at the target yet: a kubelet must never be newer than the API
# server (version skew policy), and `<cp>-upgrade` comes first.
#
# Header variables:
#   NODE_NAME                  the worker
#   K8S_VERSION K8S_MINOR      the target ("1.31.6", or "" for minor-only) and its minor
#   API_WAIT DRAIN_TIMEOUT     seconds
# Progress on stderr; one summary line on stdout.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/kube.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/kube.sh"

: "${NODE_NAME:?}" "${K8S_MINOR:?}" "${DRAIN_TIMEOUT:?}"
K8S_VERSION="${K8S_VERSION:-}"
TARGET="${K8S_VERSION:-${K8S_MINOR}}"

step "check"
[ -f "${ADMIN}" ] || fail "no ${ADMIN} on this control plane: cannot drain ${NODE_NAME}"
api_wait
node_state "${NODE_NAME}"
if [ "${N_FOUND}" = false ]; then
  log "${NODE_NAME} is not registered (it joins with ${TARGET}): nothing to drain"
  echo "${NODE_NAME}: not joined yet: nothing to do"
  exit 0
fi
log "${NODE_NAME}: kubelet ${N_VERSION}, Ready=${N_READY:-unknown}$([ "${N_UNSCHEDULABLE}" = true ] && echo ', cordoned')${N_MARK:+ (by us, ${MARK}=${N_MARK})}"
if version_matches "${N_VERSION}" "${TARGET}" && [ -z "${N_MARK}" ]; then
  echo "${NODE_NAME}: kubelet ${N_VERSION}: nothing to do"
  exit 0
fi
cluster="$(cluster_version)"
version_matches "${cluster}" "${TARGET}" ||
  fail "the control plane is not at ${TARGET} yet (kube-system/kubeadm-config says ${cluster}): the control plane's upgrade step must finish before ${NODE_NAME} is drained (a kubelet must not be newer than the API server)"

step "cordon and drain ${NODE_NAME}"
cordon_ours "${NODE_NAME}" "v${TARGET}"
drain_node "${NODE_NAME}" "${DRAIN_TIMEOUT}"

step "done"
echo "${NODE_NAME}: cordoned and drained for the upgrade from ${N_VERSION} to ${TARGET}"
