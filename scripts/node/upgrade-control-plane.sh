#!/usr/bin/env bash
# Upgrades the control plane to kubernetes.version the kubeadm way (kubernetes.io "Upgrading kubeadm
# clusters", upgrade-ha-facts.md A1): kubeadm package, `kubeadm upgrade plan`, `kubeadm upgrade apply -y`,
# drain, kubelet + kubectl packages, kubelet restart, uncordon. Runs after prep (which switched the apt
# repository to the new minor) and the init step, before any worker is drained.
#
# Nothing to do (a new cluster, a re-run, a finished upgrade): kubeadm-config and the kube-apiserver
# manifest at the target, kubeadm/kubelet/kubectl packages at the target, this Node reporting the target
# kubelet and not cordoned by us: says so and exits.
# Resumable: each step looks at the node first. `kubeadm upgrade apply` counts as done only when BOTH
# kube-system/kubeadm-config's kubernetesVersion (its upload-config phase) and the kube-apiserver static
# pod's image tag (its control-plane phase) are the target; a half-done apply is run again, which kubeadm
# documents as safe ("you can run kubeadm upgrade again. This command is idempotent and eventually makes
# sure that the actual state is the desired state you declare", kubeadm-upgrade.md; A3).
#
# Header variables:
#   NODE_NAME SSH_USER               this control plane; whose ~/.kube/config gets the new admin.conf
#   K8S_VERSION K8S_MINOR            the target ("1.31.6", or "" = the newest 1.31 patch) and its minor
#   APT_BASE APT_VERSION_PATTERN     repo base ("${APT_BASE}v1.31/deb/"), e.g. "1.31.6-*" or "1.31.*"
#   INSTALL_CRI_TOOLS                true when kubeadm no longer pulls cri-tools (>= 1.32)
#   APT_LOCK_TIMEOUT API_WAIT        seconds
#   PLAN_TIMEOUT APPLY_TIMEOUT       seconds for `kubeadm upgrade plan` / `kubeadm upgrade apply`
#   DRAIN_TIMEOUT NODE_WAIT          seconds for kubectl drain / for the Node to report the new kubelet
# Progress on stderr; one summary line on stdout. Nothing secret in or out.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/versions.sh"
# shellcheck source=lib/kube.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/kube.sh"
# shellcheck source=lib/user-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/user-kubeconfig.sh"

: "${NODE_NAME:?}" "${SSH_USER:?}" "${K8S_MINOR:?}" "${APT_BASE:?}" "${APT_VERSION_PATTERN:?}" "${INSTALL_CRI_TOOLS:?}"
: "${PLAN_TIMEOUT:?}" "${APPLY_TIMEOUT:?}" "${DRAIN_TIMEOUT:?}" "${NODE_WAIT:?}"
K8S_VERSION="${K8S_VERSION:-}"
export DEBIAN_FRONTEND=noninteractive
APISERVER_MANIFEST=/etc/kubernetes/manifests/kube-apiserver.yaml

# manifest_version: the image tag of the kube-apiserver static pod ("v1.31.6"), what kubeadm's
# control-plane phase writes; empty when there is no manifest.
manifest_version() {
  [ -f "${APISERVER_MANIFEST}" ] || return 0
  sed -n 's/^[[:space:]]*image:[[:space:]]*//p' "${APISERVER_MANIFEST}" | head -n1 | tr -d "\"'" | sed 's/.*://'
}

step "check"
[ -f "${ADMIN}" ] || fail "no ${ADMIN}: ${NODE_NAME} is not an initialised control plane (the init step runs before this one)"
api_wait
cluster="$(cluster_version)"
manifest="$(manifest_version)"
node_state "${NODE_NAME}"
[ "${N_FOUND}" = true ] || fail "Node ${NODE_NAME} is not registered in the cluster"
# The target: the configured patch; for a minor-only version the cluster's own version when it already
# runs that minor (a minor-only config never chases new patches), else the newest patch in the repository.
if [ -n "${K8S_VERSION}" ]; then
  target="${K8S_VERSION}"
elif [[ "${cluster}" == "v${K8S_MINOR}."* ]]; then
  target="${cluster#v}"
else
  v="$(apt_resolve "${APT_VERSION_PATTERN}")"
  if [ -z "${v}" ]; then
    retry 3 apt_update >&2 || fail "apt-get update failed (is ${APT_BASE}v${K8S_MINOR}/deb/ reachable?)"
    v="$(apt_resolve "${APT_VERSION_PATTERN}")"
  fi
  [ -n "${v}" ] || fail "no kubeadm version matching ${APT_VERSION_PATTERN} in ${APT_BASE}v${K8S_MINOR}/deb/"
  target="${v%%-*}"
  log "kubernetes.version ${K8S_MINOR}: the newest patch in the repository is ${target}"
fi
rc=0
check_upgrade_path "${cluster}" "${target}" "the cluster" || rc=$?
[ "${rc}" -eq 0 ] || fail "${UPGRADE_REFUSAL}"
log "cluster ${cluster} (kube-apiserver manifest ${manifest:-missing}); node ${NODE_NAME}: kubelet ${N_VERSION}, Ready=${N_READY:-unknown}$([ "${N_UNSCHEDULABLE}" = true ] && echo ', cordoned')${N_MARK:+ (by us, ${MARK}=${N_MARK})}"
log "packages: kubeadm $(apt_version_of kubeadm), kubelet $(apt_version_of kubelet), kubectl $(apt_version_of kubectl)"

PKG="${target}-*"
# Applied: kubeadm-config and the kube-apiserver manifest at the target, and no apply of this target
# left unfinished. kubeadm 1.31+ uploads the config (upload-config) before its kubelet-config,
# bootstrap-token and addon phases (kubeadm_upgrade_apply phases; upgrade-ha-facts.md A1.3): an apply
# that failed late already looks done by the first two, so a marker written before apply and removed
# only when apply exits 0 tells a finished apply from an interrupted one.
APPLY_MARK=/var/lib/kubeadm-cluster/upgrade-apply-unfinished
applied=false
if [ "${cluster}" = "v${target}" ] && [ "${manifest}" = "v${target}" ]; then applied=true; fi
if [ "${applied}" = true ] && [ "$(cat "${APPLY_MARK}" 2>/dev/null || true)" = "v${target}" ]; then
  log "kubeadm upgrade apply v${target} started earlier but never finished (${APPLY_MARK}): it runs again"
  applied=false
fi
kubelet_done=false
if apt_matches kubelet "${PKG}" && [ "${N_VERSION}" = "v${target}" ]; then kubelet_done=true; fi

# The SSH user's ~/.kube/config follows admin.conf (lib/user-kubeconfig.sh): apply renews its
# certificate ("kubeadm renews all the certificates during control plane upgrade", kubeadm-certs.md).

if [ "${applied}" = true ] && [ "${kubelet_done}" = true ] && apt_matches kubeadm "${PKG}" && apt_matches kubectl "${PKG}" && [ -z "${N_MARK}" ]; then
  ensure_held kubeadm kubelet kubectl
  step "kubectl config for ${SSH_USER}"
  user_kubeconfig "admin.conf"
  step "done"
  echo "control plane ${NODE_NAME} at v${target}: nothing to do"
  exit 0
fi

updated=false
apt_ready() {
  # apt_ready: the package lists are fresh for this run (prep switched the repository and updated them;
  # one more update here costs little and covers a repository that changed since).
  [ "${updated}" = true ] && return 0
  retry 3 apt_update >&2 || fail "apt-get update failed (is ${APT_BASE}v${K8S_MINOR}/deb/ reachable?)"
  updated=true
}
deb_version() {
  local v
  v="$(apt_resolve "${PKG}")"
  [ -n "${v}" ] || fail "no kubeadm version matching ${PKG} in ${APT_BASE}v${K8S_MINOR}/deb/"
  echo "${v}"
}

step "kubeadm ${target}"
if apt_matches kubeadm "${PKG}"; then
  log "kubeadm package already at $(apt_version_of kubeadm)"
else
  apt_ready
  deb="$(deb_version)"
  pkgs=("kubeadm=${deb}")
  [ "${INSTALL_CRI_TOOLS}" = true ] && pkgs+=(cri-tools)
  install_held "${pkgs[@]}"
fi
kv="$(kubeadm version -o short)" || fail "kubeadm version failed after the install"
[ "${kv}" = "v${target}" ] || fail "kubeadm reports ${kv} after installing ${target}"

step "kubeadm upgrade apply v${target}"
if [ "${applied}" = true ]; then
  log "already applied: kubeadm-config and the kube-apiserver manifest are at v${target}; not run again"
else
  [ "${cluster}" = "v${target}" ] || [ "${manifest}" != "v${target}" ] || log "half-done apply (manifests at v${target}, kubeadm-config at ${cluster}): running it again"
  [ "${manifest}" = "v${target}" ] || [ "${cluster}" != "v${target}" ] || log "half-done apply (kubeadm-config at v${target}, kube-apiserver manifest at ${manifest:-missing}): running it again"
  # `plan` checks the same version policy as apply and shows what changes (A1.2); its exit status counts.
  timeout "${PLAN_TIMEOUT}" kubeadm upgrade plan "v${target}" >&2 || fail "kubeadm upgrade plan v${target} failed (output above)"
  # -y: "Perform the upgrade and do not prompt for confirmation (non-interactive mode)" (apply.go; A1.3).
  # Certificate renewal is on by default (--certificate-renewal=true).
  install -d -m 755 "$(dirname "${APPLY_MARK}")"
  echo "v${target}" >"${APPLY_MARK}"
  if ! timeout "${APPLY_TIMEOUT}" kubeadm upgrade apply -y "v${target}" >&2; then
    fail "kubeadm upgrade apply v${target} failed or timed out after ${APPLY_TIMEOUT}s (output above); the next 'pulumi up' runs it again (kubeadm documents a re-run as idempotent)"
  fi
  rm -f "${APPLY_MARK}"
  api_wait
  cluster="$(cluster_version)"
  manifest="$(manifest_version)"
  if [ "${cluster}" != "v${target}" ] || [ "${manifest}" != "v${target}" ]; then
    fail "kubeadm upgrade apply finished but kubeadm-config says ${cluster} and the kube-apiserver manifest ${manifest:-nothing}"
  fi
  log "applied: the cluster runs v${target}"
fi

step "drain ${NODE_NAME}"
if [ "${kubelet_done}" = true ]; then
  log "kubelet already at v${target}: no drain needed"
else
  # "If you are performing a minor version upgrade for any kubelet, you must first drain the node" (A1.5).
  # A single-node cluster is drained too: its pods go Pending and return after the uncordon.
  cordon_ours "${NODE_NAME}" "v${target}"
  drain_node "${NODE_NAME}" "${DRAIN_TIMEOUT}"
fi

step "kubelet kubectl ${target}"
if apt_matches kubelet "${PKG}" && apt_matches kubectl "${PKG}"; then
  log "kubelet and kubectl packages already at ${target}"
else
  apt_ready
  deb="$(deb_version)"
  install_held "kubelet=${deb}" "kubectl=${deb}"
fi
node_state "${NODE_NAME}"
if [ "${N_VERSION}" != "v${target}" ] || ! systemctl is-active --quiet kubelet; then
  systemctl daemon-reload || fail "systemctl daemon-reload failed"
  systemctl restart kubelet || fail "systemctl restart kubelet failed (journalctl -u kubelet)"
  log "kubelet restarted"
fi

step "wait for ${NODE_NAME} at v${target}"
wait_node "${NODE_NAME}" "${target}" "${NODE_WAIT}"
log "${NODE_NAME} reports kubelet v${target}"

step "uncordon ${NODE_NAME}"
uncordon_ours "${NODE_NAME}"

step "kubectl config for ${SSH_USER}"
user_kubeconfig "admin.conf"

step "done"
echo "control plane ${NODE_NAME} upgraded to v${target}"
