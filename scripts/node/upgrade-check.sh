#!/usr/bin/env bash
# Runs on the control plane before any node's prep (`<cp>-version-check`): may the running cluster go
# to kubernetes.version? Reads, changes nothing:
#   - the cluster version: kube-system/kubeadm-config's ClusterConfiguration kubernetesVersion;
#   - every Node's kubeletVersion;
#   - the installed kubeadm package.
# Refuses, with the words of components/upgrade-path.ts (lib/versions.sh), a skipped minor or a
# downgrade against any of them, and a new minor while a node still runs an older minor than the
# cluster (an upgrade that did not finish). kubeadm itself refuses the same (policy.go
# EnforceVersionPolicies: "kubeadm can upgrade only 1 minor version at a time"; upgrade-ha-facts.md A2),
# but only once `kubeadm upgrade apply` runs, after every node's prep has switched its apt repository.
# No cluster yet (no admin.conf, or an init that never finished): nothing to check.
#
# Header variables:
#   NODE_NAME                 this control plane
#   K8S_VERSION K8S_MINOR     the target ("1.31.6", or "" for minor-only) and its minor ("1.31")
#   API_WAIT                  seconds to wait for the API server
# Prints one summary line on stdout; progress on stderr.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/versions.sh"
# shellcheck source=lib/kube.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/kube.sh"

: "${NODE_NAME:?}" "${K8S_MINOR:?}"
K8S_VERSION="${K8S_VERSION:-}"
TARGET="${K8S_VERSION:-${K8S_MINOR}}"
# init.sh writes this once kubeadm init has succeeded on this node.
INIT_MARKER=/var/lib/kubeadm-cluster/init-complete

step "check for a cluster"
if [ ! -f "${ADMIN}" ]; then
  log "no ${ADMIN}: no cluster on ${NODE_NAME} yet; kubeadm init installs ${TARGET}"
  echo "no cluster yet"
  exit 0
fi
if [ ! -f "${INIT_MARKER}" ] && ! kc get --raw /readyz >/dev/null 2>&1; then
  # A half-done init: init.sh resets and retries it; there is no running cluster to protect.
  log "kubeadm init never finished on ${NODE_NAME} and the API does not answer: no cluster yet"
  echo "no cluster yet"
  exit 0
fi
api_wait

step "read the versions"
cluster="$(cluster_version)"
log "cluster (kube-system/kubeadm-config): ${cluster}"
nodes="$(node_versions)"
while read -r n v; do [ -z "${n}" ] || log "node ${n}: kubelet ${v:-unknown}"; done <<<"${nodes}"
kubeadm_pkg="$(dpkg-query -W -f='${Version}' kubeadm 2>/dev/null || true)"
log "kubeadm package on ${NODE_NAME}: ${kubeadm_pkg:-not installed}"

step "check the path to ${TARGET}"
# refuse_unless_path INSTALLED WHERE: fails with the shared message when the rule refuses.
refuse_unless_path() {
  local rc=0
  check_upgrade_path "$1" "${TARGET}" "$2" || rc=$?
  [ "${rc}" -eq 0 ] || fail "${UPGRADE_REFUSAL}"
}
refuse_unless_path "${cluster}" "the cluster"
kind="${UPGRADE_KIND}"
cluster_minor="$(version_installed "${cluster}" | cut -d' ' -f1)"
target_minor="$(version_target "${TARGET}" | cut -d' ' -f1)"
if [ "${target_minor}" -gt "${cluster_minor}" ]; then
  # A new minor while a node still runs an older one than the cluster: the last upgrade did not finish.
  behind=""
  while read -r n v; do
    [ -n "${n}" ] || continue
    nv="$(version_installed "${v}")" || fail "node ${n} reports kubelet version '${v}', which is not x.y.z"
    if [ "${nv%% *}" -lt "${cluster_minor}" ]; then behind="${behind:+${behind}, }node ${n} runs ${v}"; fi
  done <<<"${nodes}"
  [ -z "${behind}" ] ||
    fail "finish the previous upgrade first: ${behind} while the cluster runs ${cluster}. Keep kubernetes.version at ${cluster#v} and run pulumi up until every node is upgraded, then go to ${TARGET}."
fi
while read -r n v; do
  [ -n "${n}" ] || continue
  refuse_unless_path "${v}" "node ${n}"
done <<<"${nodes}"
if [ -n "${kubeadm_pkg}" ]; then refuse_unless_path "${kubeadm_pkg}" "the kubeadm package on ${NODE_NAME}"; fi

step "done"
count="$(grep -c . <<<"${nodes}" || true)"
case "${kind}" in
  none) echo "cluster at ${cluster}, ${count} node(s): ${TARGET} needs no upgrade" ;;
  *) echo "cluster at ${cluster}, ${count} node(s): ${kind} upgrade to ${TARGET} allowed" ;;
esac
