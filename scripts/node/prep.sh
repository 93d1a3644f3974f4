#!/usr/bin/env bash
# Node preparation for kubeadm (every node, before init/join). Runbook steps 1.4 (seed 000) and 1-5
# (seed 002), made idempotent: every file is written only when its content differs, so a second run
# changes nothing and says "unchanged". All parameters come from the generated header above.
# On a node of a running cluster (kubelet.conf present) whose kube packages differ from the version,
# prep checks the upgrade path (lib/versions.sh, the rule of components/upgrade-path.ts) against the
# installed kubeadm and kubelet, refuses a skipped minor or a downgrade, and otherwise prepares the
# upgrade (repository, apt lists, containerd config, images) but leaves the packages to <node>-upgrade
# (upgrade-control-plane.sh / upgrade-node.sh).
#
# Header variables (all required):
#   NODE_NAME NODE_IP ROLE                 this node
#   K8S_MINOR K8S_VERSION                  "1.30" and "1.30.12" (K8S_VERSION empty = newest patch)
#   APT_BASE APT_VERSION_PATTERN           repo base ending in "/", e.g. "1.30.12-*"
#   INSTALL_CRI_TOOLS                      true when kubeadm no longer pulls cri-tools (>= 1.32)
#   HOST_PACKAGES                          lines "package executable...": installed when one of the
#                                          executables is missing (kubeadm preflight + kube-proxy needs,
#                                          components/versions.ts nodeHostPackages)
#   SANDBOX_IMAGE                          containerd pause image (must match kubeadm's, from the mirror)
#   REGISTRY_MIRRORS                       lines "registry mirror-url [mirror-url...]"
#   PULL_CONFIG                            control plane: kubeadm ClusterConfiguration for image pre-pull
#   PREPULL_IMAGES                         workers: images to pre-pull, one per line
#   VERSION_PLACEHOLDER                    replaced by the installed kubeadm version when K8S_VERSION is empty
#   CLOUD_INIT_TIMEOUT APT_LOCK_TIMEOUT   seconds (APT_LOCK_TIMEOUT: how long apt waits for its locks)
#   PULL_TIMEOUT                           seconds for the whole image pre-pull
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# shellcheck source=lib/record.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/record.sh"
# shellcheck source=lib/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/versions.sh"

: "${NODE_NAME:?}" "${NODE_IP:?}" "${ROLE:?}" "${K8S_MINOR:?}" "${APT_BASE:?}" "${APT_VERSION_PATTERN:?}"
: "${INSTALL_CRI_TOOLS:?}" "${SANDBOX_IMAGE:?}" "${VERSION_PLACEHOLDER:?}"
: "${CLOUD_INIT_TIMEOUT:?}" "${APT_LOCK_TIMEOUT:?}" "${PULL_TIMEOUT:?}"
K8S_VERSION="${K8S_VERSION:-}"
REGISTRY_MIRRORS="${REGISTRY_MIRRORS:-}"
HOST_PACKAGES="${HOST_PACKAGES:-}"
PULL_CONFIG="${PULL_CONFIG:-}"
PREPULL_IMAGES="${PREPULL_IMAGES:-}"

export DEBIAN_FRONTEND=noninteractive
umask 022

TMPDIR_PREP="$(mktemp -d)"
trap 'rm -rf "${TMPDIR_PREP}"' EXIT

# Every file is written with write_if_changed (lib/record.sh), which keeps what undo-prep.sh needs to
# put an existing host back: the originals, what was created, the units enabled.

# ---------------------------------------------------------------------------------------------
step "version"
kube_mismatch=false
for p in kubelet kubeadm kubectl; do apt_matches "${p}" "${APT_VERSION_PATTERN}" || kube_mismatch=true; done
# On a node of a running cluster (kubelet.conf) a different version is an upgrade: kubeadm's, not apt's.
# Checked first, so a refused version changes nothing on the node: the path from what this node runs
# (the rule of components/upgrade-path.ts, same words). An allowed one leaves the kube packages to
# <node>-upgrade; the repository, containerd and the images for the new version are prepared here.
upgrading=false
if [ "${kube_mismatch}" = true ] && [ -f /etc/kubernetes/kubelet.conf ] && [ -n "$(apt_version_of kubeadm)" ]; then
  # Against the kubelet, what this node runs: the kubeadm package may already be ahead (the control
  # plane's upgrade installs it before `upgrade apply`; after an apply that failed, going back must work).
  v="$(apt_version_of kubelet)"
  if [ -n "${v}" ]; then
    rc=0
    check_upgrade_path "${v}" "${K8S_VERSION:-${K8S_MINOR}}" "node ${NODE_NAME}" || rc=$?
    [ "${rc}" -eq 0 ] || fail "${UPGRADE_REFUSAL}"
  fi
  upgrading=true
  log "node of a running cluster with kubeadm $(apt_version_of kubeadm), kubelet $(apt_version_of kubelet): ${UPGRADE_KIND} upgrade to ${K8S_VERSION:-${K8S_MINOR}}; prep prepares it, ${NODE_NAME}-upgrade upgrades the packages with kubeadm"
elif [ "${kube_mismatch}" = true ]; then
  log "kubelet, kubeadm, kubectl ${APT_VERSION_PATTERN} to be installed"
else
  log "kubelet, kubeadm, kubectl at ${APT_VERSION_PATTERN}"
fi

# ---------------------------------------------------------------------------------------------
step "wait for cloud-init"
# A fresh cloud VM is still running apt and writing /etc/hosts while we connect.
if command -v cloud-init >/dev/null 2>&1; then
  if timeout "${CLOUD_INIT_TIMEOUT}" cloud-init status --wait >/dev/null; then
    log "cloud-init finished"
  else
    warn "cloud-init status --wait did not report success (degraded or timed out); continuing"
  fi
else
  log "cloud-init not installed: nothing to wait for"
fi

# ---------------------------------------------------------------------------------------------
step "hostname"
# Every node needs a unique hostname; it is also the Kubernetes node name.
write_if_changed /etc/hostname 644 <<<"${NODE_NAME}"
if [ "$(hostname)" != "${NODE_NAME}" ]; then
  hostnamectl set-hostname "${NODE_NAME}" 2>/dev/null || hostname "${NODE_NAME}" || fail "cannot set the hostname"
  log "hostname set to ${NODE_NAME}"
else
  log "hostname: unchanged"
fi
if [ -d /etc/cloud/cloud.cfg.d ]; then
  # Otherwise cloud-init puts the metadata hostname back on the next boot and the node name drifts.
  write_if_changed /etc/cloud/cloud.cfg.d/99-kubeadm-cluster-hostname.cfg 644 <<<"preserve_hostname: true"
fi

# ---------------------------------------------------------------------------------------------
step "swap off"
# The kubelet refuses to start with swap on (failSwapOn defaults to true).
if [ -n "$(swapon --show --noheadings 2>/dev/null || true)" ]; then
  swapoff -a || fail "swapoff -a failed"
  log "swap turned off"
else
  log "swap already off"
fi
if [ -f /etc/fstab ]; then
  write_if_changed /etc/fstab 644 < <(awk '!/^[[:space:]]*#/ && $3 == "swap" { print "#" $0; next } { print }' /etc/fstab)
fi

# ---------------------------------------------------------------------------------------------
step "kernel modules"
# flannel crash-loops without br_netfilter and kubeadm >= 1.30 no longer checks it (seed 000 问题5).
write_if_changed /etc/modules-load.d/k8s.conf 644 <<'EOF'
overlay
br_netfilter
EOF
for mod in overlay br_netfilter; do
  if modprobe "${mod}" 2>/dev/null; then
    log "module ${mod} loaded"
  else
    log "modprobe ${mod} failed: checking whether it is built into the kernel"
  fi
done
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || fail "br_netfilter: /proc/sys/net/bridge/bridge-nf-call-iptables missing after modprobe"

# ---------------------------------------------------------------------------------------------
step "sysctl"
write_if_changed /etc/sysctl.d/k8s.conf 644 <<'EOF'
net.bridge.bridge-nf-call-iptables  = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward                 = 1
EOF
if ! sysctl -q -p /etc/sysctl.d/k8s.conf >/dev/null; then
  warn "sysctl -p /etc/sysctl.d/k8s.conf failed; the final checks decide whether that matters"
fi

# ---------------------------------------------------------------------------------------------
step "base packages"
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v gpg >/dev/null 2>&1 || missing+=(gpg)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
# The executables kubeadm's preflight checks for this minor and the node needs (conntrack, iptables,
# ip, ethtool, socat, ...): the kubelet .deb no longer pulls them in (kubernetes/release #4106) and
# iptables is only its Recommends (components/versions.ts nodeHostPackages). A package is installed
# when one of its executables is missing, so a host that has them (ebtables via iptables-nft's
# alternatives, say) keeps what it has.
while read -r pkg bins; do
  [ -n "${pkg}" ] || continue
  for b in ${bins}; do
    if ! command -v "${b}" >/dev/null 2>&1; then
      missing+=("${pkg}")
      break
    fi
  done
done <<<"${HOST_PACKAGES}"
if [ "${#missing[@]}" -gt 0 ]; then
  retry 3 apt_update || fail "apt-get update failed"
  retry 3 apt_install "${missing[@]}" || fail "apt-get install ${missing[*]} failed"
  log "installed: ${missing[*]}"
else
  log "curl, gpg, ca-certificates, containerd and the node's executables already installed"
fi
while read -r pkg bins; do
  for b in ${bins}; do
    command -v "${b}" >/dev/null 2>&1 || fail "check host-executables: ${b} (package ${pkg}) is not on PATH; kubeadm's preflight checks for it"
  done
done <<<"${HOST_PACKAGES}"

# ---------------------------------------------------------------------------------------------
step "containerd config"
# set_toml KEY VALUE SECTION < config: sets KEY = VALUE inside [SECTION] (adding the key or the section
# when missing). Section-aware, so keys with the same name in other tables are left alone.
set_toml() {
  awk -v key="$1" -v value="$2" -v section="[$3]" '
    function flush() { if (insec && !done) { print "  " key " = " value; done = 1 } }
    {
      line = $0; sub(/^[[:space:]]+/, "", line)
      if (line ~ /^\[/) { flush(); insec = (line == section) ; print; next }
      if (insec && !done && line ~ ("^" key "[[:space:]]*=")) {
        match($0, /^[[:space:]]*/); print substr($0, 1, RLENGTH) key " = " value; done = 1; next
      }
      print
    }
    END { flush(); if (!done) { print ""; print section; print "  " key " = " value } }'
}

# containerd_config MAJOR < default-config: the kubeadm edits for the config format of that major
# version (1.x: version 2 keys; 2.x: version 3 keys) [FACTS §1.3].
containerd_config() {
  local cri_v2='plugins."io.containerd.grpc.v1.cri"'
  if [ "$1" -ge 2 ]; then
    set_toml SystemdCgroup true "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options" |
      set_toml sandbox "'${SANDBOX_IMAGE}'" "plugins.'io.containerd.cri.v1.images'.pinned_images" |
      set_toml config_path "'/etc/containerd/certs.d'" "plugins.'io.containerd.cri.v1.images'.registry"
  else
    set_toml SystemdCgroup true "${cri_v2}.containerd.runtimes.runc.options" |
      set_toml sandbox_image "\"${SANDBOX_IMAGE}\"" "${cri_v2}" |
      set_toml config_path '"/etc/containerd/certs.d"' "${cri_v2}.registry"
  fi
}

ctd_version="$(containerd --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
[ -n "${ctd_version}" ] || fail "cannot read the containerd version from: $(containerd --version)"
ctd_major="${ctd_version%%.*}"
log "containerd ${ctd_version}: config format $([ "${ctd_major}" -ge 2 ] && echo 'version 3' || echo 'version 2')"
# Regenerated from `containerd config default` every time: a distro or containerd.io config with
# disabled_plugins = ["cri"] breaks kubeadm (FACTS §1.2), and the comparison keeps reruns quiet.
containerd config default >"${TMPDIR_PREP}/default.toml" || fail "containerd config default failed"
containerd_config "${ctd_major}" <"${TMPDIR_PREP}/default.toml" >"${TMPDIR_PREP}/config.toml"
containerd --config "${TMPDIR_PREP}/config.toml" config dump >/dev/null 2>&1 ||
  fail "containerd-config-valid: containerd rejects the generated config"
write_if_changed /etc/containerd/config.toml 644 <"${TMPDIR_PREP}/config.toml"
containerd_changed="${WROTE}"

step "registry mirrors"
# One hosts.toml per registry; files we wrote earlier for registries no longer configured are removed.
MANAGED='# managed by kubeadm-cluster (scripts/node/prep.sh)'
# hosts_toml REGISTRY MIRROR...: containerd's hosts.toml for REGISTRY: the mirrors in order, then the
# upstream registry as the fallback `server` [FACTS §5.4].
hosts_toml() {
  local registry="$1" upstream m
  shift
  case "${registry}" in
    docker.io) upstream="https://registry-1.docker.io" ;;
    *) upstream="https://${registry}" ;;
  esac
  echo "${MANAGED}"
  echo "server = \"${upstream}\""
  for m in "$@"; do
    echo ""
    echo "[host.\"${m}\"]"
    echo "  capabilities = [\"pull\", \"resolve\"]"
  done
}
make_dir /etc/containerd/certs.d
wanted=" "
while read -r registry mirrors; do
  [ -n "${registry}" ] || continue
  wanted="${wanted}${registry} "
  # shellcheck disable=SC2086  # mirrors: space-separated URLs, split on purpose
  hosts_toml "${registry}" ${mirrors} >"${TMPDIR_PREP}/hosts.toml"
  write_if_changed "/etc/containerd/certs.d/${registry}/hosts.toml" 644 <"${TMPDIR_PREP}/hosts.toml"
done <<<"${REGISTRY_MIRRORS}"
for f in /etc/containerd/certs.d/*/hosts.toml; do
  [ -f "${f}" ] || continue
  reg="$(basename "$(dirname "${f}")")"
  if [[ "${wanted}" != *" ${reg} "* ]] && head -n1 "${f}" | grep -qF "${MANAGED}"; then
    rm -f "${f}"
    rmdir "$(dirname "${f}")" 2>/dev/null || true
    log "${f}: removed (mirror no longer configured)"
  fi
done

step "crictl config"
write_if_changed /etc/crictl.yaml 644 <<'EOF'
runtime-endpoint: unix:///run/containerd/containerd.sock
image-endpoint: unix:///run/containerd/containerd.sock
timeout: 10
EOF

step "containerd service"
enable_unit containerd
# Restarted only when the config changed (a new minor's pause image does that on a running node). Safe
# with running pods: each container's parent is its containerd-shim, not containerd, so containers keep
# running while containerd restarts; only creating or deleting containers waits for it (moby/moby
# discussion #46449, a maintainer's answer with a `systemctl restart containerd` demonstration; the
# runtime v2 shim design).
if [ "${containerd_changed}" = true ]; then
  systemctl restart containerd || fail "systemctl restart containerd failed"
  log "containerd restarted (config changed)"
elif ! systemctl is-active --quiet containerd; then
  systemctl start containerd || fail "systemctl start containerd failed"
  log "containerd started"
else
  log "containerd running, config unchanged: not restarted"
fi

# ---------------------------------------------------------------------------------------------
step "kubernetes apt repository"
repo="${APT_BASE}v${K8S_MINOR}/deb/"
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
make_dir /etc/apt/keyrings
retry 4 timeout 60 curl -fsSL -o "${TMPDIR_PREP}/Release.key" "${repo}Release.key" ||
  fail "download ${repo}Release.key failed"
gpg --batch --yes --dearmor -o "${TMPDIR_PREP}/keyring.gpg" "${TMPDIR_PREP}/Release.key" || fail "gpg --dearmor of the repository key failed"
write_if_changed "${keyring}" 644 <"${TMPDIR_PREP}/keyring.gpg"
repo_changed="${WROTE}"
write_if_changed /etc/apt/sources.list.d/kubernetes.list 644 <<<"deb [signed-by=${keyring}] ${repo} /"
[ "${WROTE}" = true ] && repo_changed=true

step "kubelet kubeadm kubectl ${APT_VERSION_PATTERN}"
need_install=false
[ "${kube_mismatch}" = true ] && [ "${upgrading}" = false ] && need_install=true
cri_missing=false
if [ "${INSTALL_CRI_TOOLS}" = true ] && [ -z "$(apt_version_of cri-tools)" ]; then cri_missing=true; fi
if [ "${need_install}" = true ] || [ "${cri_missing}" = true ] || [ "${repo_changed}" = true ]; then
  retry 3 apt_update || fail "apt-get update failed (is ${repo} reachable?)"
fi
# resolve_version: the exact version string (e.g. 1.30.12-1.1) from the repository, newest first.
resolve_version() {
  version="$(apt_resolve "${APT_VERSION_PATTERN}")"
  [ -n "${version}" ] || fail "no kubeadm version matching ${APT_VERSION_PATTERN} in ${repo}"
}
version=""
if [ "${need_install}" = true ]; then
  resolve_version
  pkgs=("kubelet=${version}" "kubeadm=${version}" "kubectl=${version}")
  [ "${INSTALL_CRI_TOOLS}" = true ] && pkgs+=(cri-tools)
  retry 3 apt_install --allow-change-held-packages --allow-downgrades "${pkgs[@]}" || fail "apt-get install ${pkgs[*]} failed"
  log "installed ${pkgs[*]}"
elif [ "${cri_missing}" = true ]; then
  retry 3 apt_install cri-tools || fail "apt-get install cri-tools failed"
  log "installed cri-tools"
elif [ "${upgrading}" = false ]; then
  log "kubelet, kubeadm, kubectl already at ${APT_VERSION_PATTERN}: unchanged"
fi
if [ "${upgrading}" = true ]; then
  log "kube packages stay at kubeadm $(apt_version_of kubeadm), kubelet $(apt_version_of kubelet): ${NODE_NAME}-upgrade upgrades them to ${APT_VERSION_PATTERN}"
fi
held="$(apt-mark showhold)"
for p in kubelet kubeadm kubectl; do
  if grep -qx "${p}" <<<"${held}"; then
    log "${p}: already held"
  else
    wait_for_apt_locks
    apt-mark hold "${p}" >/dev/null
    log "${p}: held"
  fi
done

step "kubelet node-ip"
# Without node-ip a VirtualBox node advertises the NAT address 10.0.2.15 (identical on every VM).
write_if_changed /etc/default/kubelet 644 <<<"KUBELET_EXTRA_ARGS=--node-ip=${NODE_IP}"
enable_unit kubelet

# ---------------------------------------------------------------------------------------------
step "verify"
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || fail "check br_netfilter: module not present"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "check ip_forward: net.ipv4.ip_forward is not 1"
[ -z "$(swapon --show --noheadings 2>/dev/null || true)" ] || fail "check swap-off: swap is still on"
systemctl is-active --quiet containerd || fail "check containerd-active: systemctl is-active containerd is not active"
command -v kubeadm >/dev/null 2>&1 || fail "check kubeadm-installed: kubeadm not on PATH"
log "br_netfilter present, ip_forward = 1, swap off, containerd active, kubeadm installed"

# ---------------------------------------------------------------------------------------------
step "image pre-pull"
# Overlaps the slow image downloads with the other nodes' work; init/join pull again on failure, so
# a failed pull is only a warning. All pulls share one time budget so they cannot push prep past its
# own bound.
PULL_DEADLINE=$((SECONDS + PULL_TIMEOUT))
within_budget() {
  local left=$((PULL_DEADLINE - SECONDS))
  [ "${left}" -gt 0 ] || { warn "pre-pull time budget (${PULL_TIMEOUT}s) used up"; return 1; }
  timeout "${left}" "$@"
}
kubeadm_version="${K8S_VERSION:+v${K8S_VERSION}}"
if [ -z "${kubeadm_version}" ] && [ "${upgrading}" = true ]; then
  # Minor-only on an upgrading node: the installed kubeadm is the old one; <node>-upgrade installs the
  # newest patch of the minor, so pull that one's images.
  [ -n "${version}" ] || resolve_version
  kubeadm_version="v${version%%-*}"
fi
[ -n "${kubeadm_version}" ] || kubeadm_version="$(kubeadm version -o short 2>/dev/null || true)"
installed_minor="$(kubeadm version -o short 2>/dev/null | sed -nE 's/^v?1\.([0-9]+)\..*/\1/p' || true)"
if [ -z "${kubeadm_version}" ]; then
  warn "cannot read the kubeadm version: pre-pull skipped"
elif [ "${ROLE}" = control-plane ] && [ "${upgrading}" = true ] && [ "1.${installed_minor}" != "${K8S_MINOR}" ]; then
  # An older kubeadm may refuse a newer kubernetesVersion in its config; `kubeadm upgrade apply` pulls
  # the images itself (its preflight phase) once <node>-upgrade has installed the new kubeadm.
  log "kubeadm here is 1.${installed_minor}: the ${kubeadm_version} control-plane images are pulled by kubeadm upgrade apply"
  # The new pause image now, though: containerd's sandbox image just changed, and kubeadm's upgrade
  # health check runs a pod here soon after (a slow mirror would make it time out).
  if timeout 30 crictl info >/dev/null 2>&1 && retry 3 within_budget crictl pull "${SANDBOX_IMAGE}" >/dev/null; then
    log "pulled ${SANDBOX_IMAGE}"
  else
    warn "crictl pull ${SANDBOX_IMAGE} failed; it is pulled when a pod needs it"
  fi
elif ! timeout 30 crictl info >/dev/null 2>&1; then
  warn "containerd does not answer on its CRI socket: pre-pull skipped"
elif [ "${ROLE}" = control-plane ]; then
  printf '%s\n' "${PULL_CONFIG//"${VERSION_PLACEHOLDER}"/${kubeadm_version}}" >"${TMPDIR_PREP}/pull.yaml"
  if retry 3 within_budget kubeadm config images pull --config "${TMPDIR_PREP}/pull.yaml"; then
    log "control-plane images pulled"
  else
    warn "kubeadm config images pull failed; kubeadm init will pull again"
  fi
else
  while read -r image; do
    [ -n "${image}" ] || continue
    image="${image//"${VERSION_PLACEHOLDER}"/${kubeadm_version}}"
    if retry 3 within_budget crictl pull "${image}" >/dev/null; then
      log "pulled ${image}"
    else
      warn "crictl pull ${image} failed; the kubelet will pull it again"
    fi
  done <<<"${PREPULL_IMAGES}"
fi

step "done"
