#!/usr/bin/env bash
# Runs on the control plane before any node's prep (`<cp>-version-check`): may the running cluster go
# to kubernetes.version? Reads, changes nothing:
#   - the cluster version: kube-system/kubeadm-config's ClusterConfiguration kubernetesVersion;
#   - every Node's kubeletVersion;
#   - the installed kubeadm package (reported only).
# Refuses, with the words of components/upgrade-path.ts (lib/versions.sh), a skipped minor or a
# downgrade against the cluster or any Node, and a new minor while a node still runs an older minor than the
# cluster (an upgrade that did not finish). kubeadm itself refuses the same (policy.go
# EnforceVersionPolicies: "kubeadm can upgrade only 1 minor version at a time"; upgrade-ha-facts.md A2),
# but only once `kubeadm upgrade apply` runs, after every node's prep has switched its apt repository.
# No cluster yet (no admin.conf, or an init that never finished): nothing to check.
#
# Header variables:
#   NODE_NAME                 this control plane
#   K8S_VERSION K8S_MINOR     the target ("1.31.6", or "" for minor-only) and its minor ("1.31")
#   API_WAIT                  seconds to wait for the API server
#   FIRST_RUN                 true when Pulumi creates this step (its create), not when a change updates it:
#                             then a version different from the cluster's is refused (see below)
#   ENDPOINT                  the controlPlaneEndpoint the program configures ("host:port")
#   CONTROL_PLANES            the control-plane node names the program configures, space-separated
# Also refused, whatever the version:
#   - a controlPlaneEndpoint other than the cluster's: kubeadm cannot move a running cluster (its
#     certificates and every kubeconfig name the endpoint);
#   - removing as many control planes as would leave etcd without a majority of the current members.
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
FIRST_RUN="${FIRST_RUN:-false}"
ENDPOINT="${ENDPOINT:-}"
CONTROL_PLANES="${CONTROL_PLANES:-}"
# init.sh writes this once kubeadm init has succeeded on this node.
INIT_MARKER=/var/lib/kubeadm-cluster/init-complete

step "check for a cluster"
if [ ! -f "${ADMIN}" ] && [ -f "${INIT_MARKER}" ]; then
  fail "${NODE_NAME} finished kubeadm init before (${INIT_MARKER}) but ${ADMIN} is missing: restore it (sudo kubeadm init phase kubeconfig admin) before changing anything"
fi
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
if [ ! -f "${INIT_MARKER}" ]; then
  # The API answers, admin.conf is here, but this node never ran kubeadm init: it joined as a further
  # control plane. The first control plane in `nodes` must stay the one that ran init (the program
  # initialises a cluster there): a reordered list, or one whose first control plane was removed, would
  # have the old init node's steps deleted (reset) and this node "initialised" in name only.
  fail "${NODE_NAME} is listed first among the control planes but did not run kubeadm init (it joined the cluster): keep the control plane that ran init first in nodes (the order of the list matters), and do not remove it; replacing it means a new cluster"
fi

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
# Not against the kubeadm package: the control-plane upgrade installs it before `upgrade apply`, so after
# an apply that failed it is already at the new version while the cluster is not; going back to the
# cluster's version must stay possible (the upgrade step then puts kubeadm back).
[ -z "${kubeadm_pkg}" ] || log "kubeadm package ${kubeadm_pkg} (the upgrade step sets it to the target)"

if [ "${FIRST_RUN}" = true ] && [ "${kind}" != none ]; then
  # This step is being created next to a running cluster: the stack was deployed by a version of this
  # program without the upgrade steps (or they were removed from state). Those steps are created in
  # this same `up`, and creating them runs nothing: the cluster would stay at ${cluster}.
  fail "kubernetes.version ${TARGET} differs from the ${cluster} the cluster runs, in the first pulumi up that sets up the upgrade steps (a stack deployed before they existed). Set kubernetes.version to ${cluster#v}, run pulumi up once, then change it."
fi

step "control-plane topology"
if [ -n "${ENDPOINT}" ]; then
  cfg="$(kc -n kube-system get cm kubeadm-config -o 'jsonpath={.data.ClusterConfiguration}')" || fail "cannot read kube-system/kubeadm-config"
  current_endpoint="$(sed -n 's/^controlPlaneEndpoint:[[:space:]]*//p' <<<"${cfg}" | tr -d "\"'" | head -n1)"
  if [ -n "${current_endpoint}" ] && [ "${current_endpoint}" != "${ENDPOINT}" ]; then
    fail "the cluster's controlPlaneEndpoint is ${current_endpoint}, the configuration gives ${ENDPOINT}: kubeadm cannot move a running cluster to another endpoint (its certificates and every kubeconfig name it). Set kubernetes.controlPlaneEndpoint back (unset: the first control plane's IP), or recreate the cluster."
  fi
  log "controlPlaneEndpoint ${ENDPOINT}: as configured"
fi
if [ -n "${CONTROL_PLANES}" ]; then
  current_cps="$(kc get nodes -l node-role.kubernetes.io/control-plane -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')" || fail "cannot list the control-plane Nodes"
  total=0
  removed=()
  while read -r n; do
    [ -n "${n}" ] || continue
    total=$((total + 1))
    [[ " ${CONTROL_PLANES} " == *" ${n} "* ]] || removed+=("${n}")
  done <<<"${current_cps}"
  # etcd keeps working while a majority of its members do; removing members one at a time is how the
  # docs shrink a cluster. Here the removals run in one `up`: at most fewer than half of the members.
  if [ "${#removed[@]}" -gt 0 ] && [ $((2 * ${#removed[@]})) -ge "${total}" ]; then
    fail "removing ${#removed[@]} of ${total} control planes (${removed[*]}) in one pulumi up would leave etcd without a majority of its members: remove one control plane per pulumi up (and keep an odd number), or recreate the cluster"
  fi
  log "control planes: ${total} now${removed[0]:+, removing ${removed[*]}}"
fi

step "done"
count="$(grep -c . <<<"${nodes}" || true)"
case "${kind}" in
  none) echo "cluster at ${cluster}, ${count} node(s): ${TARGET} needs no upgrade" ;;
  *) echo "cluster at ${cluster}, ${count} node(s): ${kind} upgrade to ${TARGET} allowed" ;;
esac
