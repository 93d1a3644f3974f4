#!/usr/bin/env bash
# Runs on the control plane after worker NODE_NAME's upgrade (`<w>-upgrade-uncordon`): waits (bounded)
# until the Node reports the target kubelet (and Ready again, if it was Ready when we drained it), then
# uncordons it if our mark (kubeadm-cluster.io/upgrade-cordoned) is on it and removes the mark (kubeadm
# upgrade docs: "kubectl uncordon <node-to-uncordon>", upgrade-ha-facts.md A1.6). A node the user
# cordoned stays cordoned.
# Nothing to do: the node is not registered yet, or reports the target and carries no mark of ours.
#
# Header variables:
#   NODE_NAME                  the worker
#   K8S_VERSION K8S_MINOR      the target ("1.31.6", or "" for minor-only: any patch of the minor)
#   API_WAIT NODE_WAIT         seconds
# Progress on stderr; the node's version line on stdout.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/kube.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/kube.sh"

: "${NODE_NAME:?}" "${K8S_MINOR:?}" "${NODE_WAIT:?}"
K8S_VERSION="${K8S_VERSION:-}"
TARGET="${K8S_VERSION:-${K8S_MINOR}}"

step "check"
[ -f "${ADMIN}" ] || fail "no ${ADMIN} on this control plane: cannot uncordon ${NODE_NAME}"
api_wait
node_state "${NODE_NAME}"
if [ "${N_FOUND}" = false ]; then
  echo "${NODE_NAME}: not joined yet: nothing to do"
  exit 0
fi
if version_matches "${N_VERSION}" "${TARGET}" && [ -z "${N_MARK}" ]; then
  echo "${NODE_NAME}: kubelet ${N_VERSION}, Ready=${N_READY:-unknown}$([ "${N_UNSCHEDULABLE}" = true ] && echo ', cordoned (not by us)'): nothing to do"
  exit 0
fi

step "wait for ${NODE_NAME} at ${TARGET}"
wait_node "${NODE_NAME}" "${TARGET}" "${NODE_WAIT}"

step "uncordon ${NODE_NAME}"
uncordon_ours "${NODE_NAME}"
node_state "${NODE_NAME}"

step "done"
echo "${NODE_NAME}: kubelet ${N_VERSION}, Ready=${N_READY:-unknown}, $([ "${N_UNSCHEDULABLE}" = true ] && echo 'cordoned (not by us)' || echo schedulable)"
