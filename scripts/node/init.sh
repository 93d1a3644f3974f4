#!/usr/bin/env bash
# kubeadm init on the control plane (runbook 1.5 / seed 002 step 6), re-runnable:
#   - the kubeadm config arrives on stdin (it carries the bootstrap token) and never touches argv;
#   - an initialised cluster (admin.conf present and the API answering) is left alone;
#   - a half-done init (a failed create is not saved in Pulumi state, so the next `up` runs this again)
#     is reset and retried; a cluster this script finished once is never reset (that would wipe etcd).
# Header variables:
#   NODE_NAME NODE_IP SSH_USER
#   SINGLE_NODE          true = no workers: remove the control-plane NoSchedule taint
#   VERSION_PLACEHOLDER  in the config, replaced by the installed kubeadm version (minor-only configs)
#   RESET_SCRIPT         scripts/node/reset.sh with its header, run before retrying a half-done init
#   API_WAIT INIT_TIMEOUT seconds
#   UPLOAD_CERTS         (HA only) true: `kubeadm init --upload-certs`, with the certificate key from the
#                        InitConfiguration on stdin (kubeadm forbids --certificate-key with --config)
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/user-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/user-kubeconfig.sh"

: "${NODE_NAME:?}" "${NODE_IP:?}" "${SSH_USER:?}" "${SINGLE_NODE:?}" "${VERSION_PLACEHOLDER:?}"
: "${RESET_SCRIPT:?}" "${API_WAIT:?}" "${INIT_TIMEOUT:?}"
UPLOAD_CERTS="${UPLOAD_CERTS:-false}"
# kubeadm prints the token ("Using token: ...", the join command) and, with --upload-certs, the
# certificate key (64 hex): mask both in everything we show.
redact() { sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/<bootstrap-token>/g' -e 's/\b[0-9a-f]{64}\b/<certificate-key>/g'; }

ADMIN=/etc/kubernetes/admin.conf
STATE_DIR=/var/lib/kubeadm-cluster
MARKER="${STATE_DIR}/init-complete"
kc() { kubectl --kubeconfig "${ADMIN}" --request-timeout=10s "$@"; }

step "read kubeadm config from stdin"
umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
cat >"${WORK}/kubeadm.yaml"
[ -s "${WORK}/kubeadm.yaml" ] || fail "no kubeadm configuration on stdin"
if grep -qF "${VERSION_PLACEHOLDER}" "${WORK}/kubeadm.yaml"; then
  v="$(kubeadm version -o short)" || fail "cannot read the installed kubeadm version"
  sed -i "s/${VERSION_PLACEHOLDER}/${v}/g" "${WORK}/kubeadm.yaml"
  log "kubernetesVersion taken from the installed kubeadm: ${v}"
fi

api_answers() {
  # api_answers SECONDS: true once the API server answers /readyz within SECONDS.
  local deadline=$((SECONDS + $1))
  while :; do
    kc get --raw /readyz >/dev/null 2>&1 && return 0
    [ "${SECONDS}" -lt "${deadline}" ] || return 1
    sleep 5
  done
}

step "check whether the cluster is initialised"
initialised=false
if [ -f "${ADMIN}" ]; then
  if api_answers "${API_WAIT}"; then
    initialised=true
    log "admin.conf present and the API answers: kubeadm init already done, skipping"
  elif [ -f "${MARKER}" ]; then
    fail "this node finished kubeadm init before but the API does not answer within ${API_WAIT}s; not resetting (it would delete etcd). Check 'systemctl status kubelet' and 'crictl ps -a' on ${NODE_NAME}"
  else
    log "admin.conf present but the API does not answer and init never completed: half-done init"
  fi
fi

if [ "${initialised}" = false ] && [ ! -f "${ADMIN}" ] && [ -f "${MARKER}" ]; then
  # Finished once (marker) but admin.conf is gone: a running cluster that lost a file, not a half-done
  # init. Resetting here would delete etcd (and the next CA would make every node re-join).
  fail "this node finished kubeadm init before (${MARKER}) but ${ADMIN} is missing; not resetting (it would delete etcd). Restore it (sudo kubeadm init phase kubeconfig admin) and run pulumi up again"
fi
if [ "${initialised}" = false ]; then
  if [ -f "${ADMIN}" ] || [ -d /var/lib/etcd/member ] || compgen -G "/etc/kubernetes/manifests/*.yaml" >/dev/null; then
    step "reset the half-done init"
    bash -c "${RESET_SCRIPT}" >&2 || fail "reset before retrying init failed"
  fi
  step "kubeadm init"
  flags=(--config "${WORK}/kubeadm.yaml")
  # HA: the control-plane certificates go to the kubeadm-certs Secret for the other control planes.
  [ "${UPLOAD_CERTS}" = true ] && flags+=(--upload-certs)
  if ! timeout "${INIT_TIMEOUT}" kubeadm init "${flags[@]}" 2>&1 | redact >&2; then
    fail "kubeadm init failed (output above; the next 'pulumi up' resets and retries)"
  fi
  api_answers "${API_WAIT}" || fail "kubeadm init finished but the API does not answer"
fi

step "kubectl config for ${SSH_USER}"
user_kubeconfig ""

step "control-plane taint"
taint=node-role.kubernetes.io/control-plane
if [ "${SINGLE_NODE}" = true ]; then
  if kc get node "${NODE_NAME}" -o jsonpath='{.spec.taints[*].key}' | grep -qw "${taint}"; then
    kc taint node "${NODE_NAME}" "${taint}:NoSchedule-" >&2
    log "single-node cluster: removed the ${taint}:NoSchedule taint"
  else
    log "single-node cluster: no ${taint} taint: unchanged"
  fi
else
  log "cluster has workers: control-plane taint kept"
fi

install -d -m 755 "${STATE_DIR}"
[ -f "${MARKER}" ] || date -u +%Y-%m-%dT%H:%M:%SZ >"${MARKER}"
step "done"
