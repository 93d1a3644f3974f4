#!/usr/bin/env bash
# Upgrades worker NODE_NAME (`<w>-upgrade`, root, between its drain and its uncordon, which run on the
# control plane): the kubeadm docs' worker steps (upgrading-linux-nodes.md; upgrade-ha-facts.md A1.7):
# kubeadm package, `kubeadm upgrade node` (writes this node's kubelet configuration from the cluster's
# kubelet-config ConfigMap, A6), kubelet + kubectl packages, daemon-reload, kubelet restart.
# It cannot see the API server (no admin credentials here): the order drain -> upgrade -> uncordon is the
# Pulumi graph's job.
#
# Nothing to do: not joined yet (prep installed the target and the join follows), or kubeadm, kubelet
# and kubectl already at the target with no upgrade pending (the kubelet is started if it is not active).
# Resumable: a pending mark (/var/lib/kubeadm-cluster/upgrade-node-pending) is written before
# `kubeadm upgrade node` and removed once the new kubelet is restarted. A run that dies in between runs
# `kubeadm upgrade node` again, which is safe (it skips static pods whose manifests are unchanged and
# rewrites the kubelet config from the same ConfigMap; A3), then continues with the packages and the restart.
#
# Header variables:
#   NODE_NAME
#   K8S_VERSION K8S_MINOR            the target ("1.31.6", or "" = the newest 1.31 patch) and its minor
#   APT_BASE APT_VERSION_PATTERN     repo base, e.g. "1.31.6-*" or "1.31.*"
#   INSTALL_CRI_TOOLS                true when kubeadm no longer pulls cri-tools (>= 1.32)
#   APT_LOCK_TIMEOUT UPGRADE_NODE_TIMEOUT   seconds
# Progress on stderr; one summary line on stdout.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/versions.sh"

: "${NODE_NAME:?}" "${K8S_MINOR:?}" "${APT_BASE:?}" "${APT_VERSION_PATTERN:?}" "${INSTALL_CRI_TOOLS:?}" "${UPGRADE_NODE_TIMEOUT:?}"
K8S_VERSION="${K8S_VERSION:-}"
TARGET="${K8S_VERSION:-${K8S_MINOR}}"
export DEBIAN_FRONTEND=noninteractive
PENDING=/var/lib/kubeadm-cluster/upgrade-node-pending

step "check"
if [ ! -f /etc/kubernetes/kubelet.conf ]; then
  log "no /etc/kubernetes/kubelet.conf: ${NODE_NAME} has not joined; prep installed ${APT_VERSION_PATTERN} and the join follows"
  echo "${NODE_NAME}: not joined yet: nothing to do"
  exit 0
fi
log "packages: kubeadm $(apt_version_of kubeadm), kubelet $(apt_version_of kubelet), kubectl $(apt_version_of kubectl)"
if apt_matches kubeadm "${APT_VERSION_PATTERN}" && apt_matches kubelet "${APT_VERSION_PATTERN}" && apt_matches kubectl "${APT_VERSION_PATTERN}" && [ ! -f "${PENDING}" ]; then
  if ! systemctl is-active --quiet kubelet; then
    systemctl restart kubelet || fail "systemctl restart kubelet failed (journalctl -u kubelet)"
    log "kubelet was not active: restarted"
  fi
  ensure_held kubeadm kubelet kubectl
  echo "${NODE_NAME}: kubelet, kubeadm, kubectl at $(apt_version_of kubelet): nothing to do"
  exit 0
fi
installed="$(apt_version_of kubelet)"
[ -n "${installed}" ] || fail "the kubelet package is not installed on ${NODE_NAME} (run prep first)"
rc=0
check_upgrade_path "${installed}" "${TARGET}" "node ${NODE_NAME}" || rc=$?
[ "${rc}" -eq 0 ] || fail "${UPGRADE_REFUSAL}"

updated=false
apt_ready() {
  [ "${updated}" = true ] && return 0
  retry 3 apt_update >&2 || fail "apt-get update failed (is ${APT_BASE}v${K8S_MINOR}/deb/ reachable?)"
  updated=true
}
# The exact package version: the installed kubeadm's when it already matches (a resumed run keeps the
# three packages equal), else the newest in the repository matching the pattern (minor-only: newest patch).
if apt_matches kubeadm "${APT_VERSION_PATTERN}"; then
  deb="$(apt_version_of kubeadm)"
else
  apt_ready
  deb="$(apt_resolve "${APT_VERSION_PATTERN}")"
  [ -n "${deb}" ] || fail "no kubeadm version matching ${APT_VERSION_PATTERN} in ${APT_BASE}v${K8S_MINOR}/deb/"
fi

step "kubeadm ${deb}"
if apt_matches kubeadm "${deb}"; then
  log "kubeadm package already at ${deb}"
else
  pkgs=("kubeadm=${deb}")
  [ "${INSTALL_CRI_TOOLS}" = true ] && pkgs+=(cri-tools)
  install_held "${pkgs[@]}"
fi

step "kubeadm upgrade node"
install -d -m 755 "$(dirname "${PENDING}")"
echo "${deb}" >"${PENDING}"
timeout "${UPGRADE_NODE_TIMEOUT}" kubeadm upgrade node >&2 ||
  fail "kubeadm upgrade node failed or timed out after ${UPGRADE_NODE_TIMEOUT}s (output above); the next 'pulumi up' runs it again"

step "kubelet kubectl ${deb}"
if apt_matches kubelet "${deb}" && apt_matches kubectl "${deb}"; then
  log "kubelet and kubectl packages already at ${deb}"
else
  apt_ready
  install_held "kubelet=${deb}" "kubectl=${deb}"
fi

step "restart kubelet"
systemctl daemon-reload || fail "systemctl daemon-reload failed"
systemctl restart kubelet || fail "systemctl restart kubelet failed (journalctl -u kubelet)"
rm -f "${PENDING}"
log "kubelet restarted"

step "done"
echo "${NODE_NAME}: kubelet, kubeadm, kubectl upgraded to ${deb}; kubelet restarted"
