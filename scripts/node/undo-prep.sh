#!/usr/bin/env bash
# Undo node preparation on a host the program did not create (provider `existing`): `pulumi destroy`
# runs this after reset.sh, so the machine goes back to what its owner had. It works from what prep.sh
# and vip.sh recorded in /var/lib/kubeadm-cluster-backup (lib/record.sh, lib/apt.sh): originals of the
# files they overwrote, markers for files and directories they created, the units prep enabled, the
# state of keepalived and haproxy before vip.sh (HA control planes) and the packages their apt-get
# installed. Best effort and idempotent: every step says what it did or why it left something alone; a
# second run changes nothing.
#
# What stays, and why:
#   - the hostname prep set: the host is known by that name now (the cluster's /etc/hosts block, the
#     operator's SSH config, sudo's own lookup of the name); renaming a live machine from a destroy is a
#     surprise. The old name is printed with the command that restores it.
#   - loaded kernel modules (overlay, br_netfilter) and the running sysctl values: unloading a module or
#     turning ip_forward off under running containers, bridges or VMs (docker, libvirt) breaks them; the
#     files that load/apply them at boot are removed, so the next boot has the host's own settings.
#   - swap stays off unless RESTORE_SWAP=true; packages stay unless REMOVE_PACKAGES=true.
#
# Header variables:
#   REMOVE_PACKAGES   true: unhold and purge kubelet kubeadm kubectl cri-tools kubernetes-cni and every
#                     package prep or vip.sh installed that was not there before (dependencies included:
#                     keepalived and haproxy on a control plane of an HA cluster); a package
#                     whose removal would take anything else with it is kept
#   RESTORE_SWAP      true: uncomment the fstab swap lines prep commented out, then swapon -a
#   APT_LOCK_TIMEOUT  seconds to wait for apt's locks
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

: "${REMOVE_PACKAGES:?}" "${RESTORE_SWAP:?}"
export DEBIAN_FRONTEND=noninteractive
KUBE_PACKAGES=(kubelet kubeadm kubectl cri-tools kubernetes-cni)
pkg_dirs=()
top_dirs=()
HOSTS_BEGIN='# BEGIN kubeadm-cluster nodes (managed by pulumi; edits are overwritten)'
HOSTS_END='# END kubeadm-cluster nodes'
MANAGED='# managed by kubeadm-cluster (scripts/node/prep.sh)'

# The record of one path: files/ (original), absent/ (marker), written/ (hash of prep's last write).
has_record() { [ -e "${BACKUP_DIR}/files$1" ] || [ -e "${BACKUP_DIR}/absent$1" ] || [ -e "${BACKUP_DIR}/written$1" ]; }
drop_record() { rm -f "${BACKUP_DIR}/files$1" "${BACKUP_DIR}/absent$1" "${BACKUP_DIR}/written$1"; }
recorded_paths() {
  local sub
  for sub in files absent written; do
    [ -d "${BACKUP_DIR}/${sub}" ] || continue
    (cd "${BACKUP_DIR}/${sub}" && find . -type f -o -type l) | sed 's|^\.||'
  done | LC_ALL=C sort -u
}
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }

# restore_path PATH: puts back what was there before prep: the saved original, or nothing when prep
# created it. Leaves a file alone that was changed after prep last wrote it (the owner's edit wins).
# Sets RESTORED=true when it changed something.
RESTORED=false
restore_path() {
  local p="$1" written="${BACKUP_DIR}/written$1" orig="${BACKUP_DIR}/files$1"
  RESTORED=false
  if [ -f "${written}" ] && [ -f "${p}" ] && [ "$(sha256sum <"${p}" | cut -d' ' -f1)" != "$(cat "${written}")" ]; then
    log "${p}: changed since prep wrote it: left as is$([ -e "${orig}" ] && echo " (the original is in ${orig})")"
    return 0
  fi
  if [ -e "${orig}" ] || [ -L "${orig}" ]; then
    if [ -f "${p}" ] && cmp -s "${orig}" "${p}" && [ "$(stat -c %a "${orig}")" = "$(stat -c %a "${p}")" ]; then
      log "${p}: already the original"
    else
      mkdir -p "$(dirname "${p}")"
      cp -a "${orig}" "${p}"
      log "${p}: original restored"
      RESTORED=true
    fi
  elif [ -e "${BACKUP_DIR}/absent${p}" ]; then
    if [ -e "${p}" ]; then
      rm -f "${p}"
      log "${p}: removed (prep created it)"
      RESTORED=true
    else
      log "${p}: already gone"
    fi
  else
    log "${p}: no record of its original: left as is"
    return 0
  fi
  drop_record "${p}"
}

# remove_if_ours PATH EXPECTED: for hosts prepared before prep kept backups: removes PATH when its
# content is exactly what prep writes (and no record says otherwise).
remove_if_ours() {
  local p="$1"
  has_record "${p}" && return 0
  [ -f "${p}" ] || return 0
  if [ "$(cat "${p}")" = "$2" ]; then
    rm -f "${p}"
    log "${p}: removed (prep's content, written before backups were kept)"
  else
    log "${p}: not prep's content: left as is"
  fi
}

step "check"
if [ -f /etc/kubernetes/kubelet.conf ] || [ -d /var/lib/etcd/member ]; then
  fail "this host is still a cluster node (/etc/kubernetes/kubelet.conf or /var/lib/etcd/member exists): run reset.sh first"
fi
if [ -d "${BACKUP_DIR}" ]; then
  log "prep's record: ${BACKUP_DIR}"
else
  log "no record in ${BACKUP_DIR} (prep never ran here, or this was already undone): only files with prep's exact content are removed"
fi

step "package holds"
held="$(apt-mark showhold 2>/dev/null || true)"
for p in kubelet kubeadm kubectl; do
  if grep -qx "${p}" <<<"${held}"; then
    wait_for_apt_locks
    if apt-mark unhold "${p}" >/dev/null; then log "${p}: unheld"; else warn "apt-mark unhold ${p} failed"; fi
  else
    log "${p}: not held"
  fi
done

step "/etc/hosts block"
if [ -f /etc/hosts ] && grep -qxF "${HOSTS_BEGIN}" /etc/hosts; then
  tmp="$(mktemp)"
  awk -v b="${HOSTS_BEGIN}" -v e="${HOSTS_END}" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' /etc/hosts >"${tmp}"
  # In place, as hosts.sh writes it (/etc/hosts may be a bind mount).
  cat "${tmp}" >/etc/hosts
  rm -f "${tmp}"
  log "/etc/hosts: cluster nodes block removed"
else
  log "/etc/hosts: no cluster nodes block"
fi

step "units prep enabled"
if [ -f "${BACKUP_DIR}/services-enabled" ]; then
  while read -r unit; do
    [ -n "${unit}" ] || continue
    if timeout 60 systemctl disable "${unit}" >/dev/null 2>&1; then log "${unit}: disabled (it was not enabled before prep)"; else log "${unit}: disable failed or unit gone"; fi
  done <"${BACKUP_DIR}/services-enabled"
  rm -f "${BACKUP_DIR}/services-enabled"
else
  log "none recorded"
fi

step "files prep wrote"
containerd_config_restored=false
while read -r p; do
  [ -n "${p}" ] || continue
  case "${p}" in
    /etc/hostname | /etc/fstab) continue ;; # their own steps below
  esac
  restore_path "${p}"
  [ "${p}" = /etc/containerd/config.toml ] && [ "${RESTORED}" = true ] && containerd_config_restored=true
done < <(recorded_paths)
# Hosts prepared before backups were kept: prep's fixed-content files (scripts/node/prep.sh).
remove_if_ours /etc/crictl.yaml $'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10'
remove_if_ours /etc/modules-load.d/k8s.conf $'overlay\nbr_netfilter'
remove_if_ours /etc/sysctl.d/k8s.conf $'net.bridge.bridge-nf-call-iptables  = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward                 = 1'
remove_if_ours /etc/cloud/cloud.cfg.d/99-kubeadm-cluster-hostname.cfg 'preserve_hostname: true'
if ! has_record /etc/apt/sources.list.d/kubernetes.list && [ -f /etc/apt/sources.list.d/kubernetes.list ] &&
  grep -qxE 'deb \[signed-by=/etc/apt/keyrings/kubernetes-apt-keyring\.gpg\] \S+v1\.[0-9]+/deb/ /' /etc/apt/sources.list.d/kubernetes.list; then
  rm -f /etc/apt/sources.list.d/kubernetes.list
  log "/etc/apt/sources.list.d/kubernetes.list: removed (prep's repository line)"
  if ! has_record /etc/apt/keyrings/kubernetes-apt-keyring.gpg && [ -f /etc/apt/keyrings/kubernetes-apt-keyring.gpg ]; then
    rm -f /etc/apt/keyrings/kubernetes-apt-keyring.gpg
    log "/etc/apt/keyrings/kubernetes-apt-keyring.gpg: removed (the key of that repository)"
  fi
fi
for f in /etc/containerd/certs.d/*/hosts.toml; do
  [ -f "${f}" ] || continue
  has_record "${f}" && continue
  if head -n1 "${f}" | grep -qxF "${MANAGED}"; then
    rm -f "${f}"
    rmdir "$(dirname "${f}")" 2>/dev/null || true
    log "${f}: removed (registry mirror prep managed)"
  fi
done
if [ "${containerd_config_restored}" = true ] && command -v containerd >/dev/null 2>&1 && systemctl is-active --quiet containerd; then
  if timeout 120 systemctl restart containerd; then log "containerd restarted with its original config"; else warn "systemctl restart containerd failed"; fi
fi
log "kernel modules and running sysctl values are left as they are until the next boot (see the top of this script)"

step "swap"
orig_fstab="${BACKUP_DIR}/files/etc/fstab"
if [ "${RESTORE_SWAP}" != true ]; then
  log "swap stays off (RESTORE_SWAP=false)$([ -e "${orig_fstab}" ] && echo "; the original fstab is kept in ${orig_fstab}")"
elif [ ! -e "${orig_fstab}" ]; then
  log "no record of fstab before prep: nothing to uncomment"
  drop_record /etc/fstab
else
  # The swap lines of the original fstab that prep commented out ("#" + the line), uncommented.
  tmp="$(mktemp)"
  awk 'NR == FNR { if ($0 !~ /^[[:space:]]*#/ && $3 == "swap") want["#" $0] = $0; next }
       ($0 in want) { print want[$0]; n++; next } { print }
       END { if (n) print n " swap line(s) uncommented" > "/dev/stderr" }' "${orig_fstab}" /etc/fstab >"${tmp}" 2>"${tmp}.msg" || true
  if cmp -s "${tmp}" "${orig_fstab}"; then
    # The whole file is the original again: put the original back (mode, owner and times too).
    cmp -s /etc/fstab "${orig_fstab}" || { cat "${orig_fstab}" >/etc/fstab; touch -r "${orig_fstab}" /etc/fstab; }
    log "/etc/fstab: the original again ($(cat "${tmp}.msg" 2>/dev/null || true))"
  elif ! cmp -s "${tmp}" /etc/fstab; then
    cat "${tmp}" >/etc/fstab
    log "/etc/fstab: $(cat "${tmp}.msg")"
  else
    log "/etc/fstab: no swap line of prep's to uncomment"
  fi
  rm -f "${tmp}" "${tmp}.msg"
  if timeout 120 swapon -a; then log "swapon -a: done"; else warn "swapon -a failed (the fstab lines are back; check them)"; fi
  drop_record /etc/fstab
fi

step "hostname"
if [ -e "${BACKUP_DIR}/files/etc/hostname" ]; then
  was="$(cat "${BACKUP_DIR}/files/etc/hostname")"
  if [ "${was}" != "$(cat /etc/hostname 2>/dev/null || true)" ]; then
    log "hostname $(hostname) kept (it was ${was} before prep); to restore it: sudo hostnamectl set-hostname ${was}"
  else
    log "hostname unchanged by prep"
  fi
else
  log "hostname $(hostname) kept"
fi
drop_record /etc/hostname

step "packages"
recorded=()
if [ -f "${BACKUP_DIR}/packages-installed" ]; then mapfile -t recorded <"${BACKUP_DIR}/packages-installed"; fi
if [ "${REMOVE_PACKAGES}" != true ]; then
  log "packages kept (REMOVE_PACKAGES=false): ${KUBE_PACKAGES[*]}${recorded[*]:+; prep also installed: ${recorded[*]}}"
else
  cands=()
  for p in "${KUBE_PACKAGES[@]}" "${recorded[@]}"; do
    installed "${p}" && [[ " ${cands[*]} " != *" ${p} "* ]] && cands+=("${p}")
  done
  # removes PKG...: the packages apt would remove or purge along with PKG... (a simulation, no change).
  removes() { apt-get -s purge "$@" 2>/dev/null | awk '$1 == "Purg" || $1 == "Remv" { print $2 }' | LC_ALL=C sort -u; }
  outside() { LC_ALL=C comm -23 <(removes "$@") <(printf '%s\n' "${cands[@]}" | LC_ALL=C sort -u); }
  purge=()
  if [ "${#cands[@]}" -eq 0 ]; then
    log "none of prep's packages is installed"
  elif [ -z "$(outside "${cands[@]}")" ]; then
    purge=("${cands[@]}")
  else
    for p in "${cands[@]}"; do
      extra="$(outside "${p}")"
      if [ -z "${extra}" ]; then purge+=("${p}"); else log "${p}: kept: removing it would also remove $(tr '\n' ' ' <<<"${extra}")(not installed by prep)"; fi
    done
  fi
  if [ "${#purge[@]}" -gt 0 ]; then
    # dpkg removes a directory of a purged package once it is empty and no installed package lists it,
    # even a top-level one like /opt (kubernetes-cni lists /opt; no Debian/Ubuntu package owns it). The
    # top-level ones existed before (apt does not make /opt for one package) and are put back; the
    # deeper ones are tried again below, after what the cluster left in them is gone (/etc/containerd).
    mapfile -t pkg_dirs < <(dpkg-query -L "${purge[@]}" 2>/dev/null | while read -r f; do if [ -d "${f}" ] && [ ! -L "${f}" ]; then echo "${f}"; fi; done | LC_ALL=C sort -u)
    top_dirs=()
    for dir in "${pkg_dirs[@]}"; do [[ "${dir}" =~ ^/[^/]+$ ]] && top_dirs+=("${dir}:$(stat -c %a "${dir}")"); done
    wait_for_apt_locks
    if timeout 900 apt-get purge "${APT_OPTS[@]}" --allow-change-held-packages "${purge[@]}" >&"${LOG_FD}"; then
      log "purged: ${purge[*]}"
    else
      warn "apt-get purge ${purge[*]} failed"
    fi
  fi
  for t in "${top_dirs[@]}"; do
    if [ ! -d "${t%:*}" ]; then install -d -m "${t##*:}" "${t%:*}" && log "${t%:*}: put back (dpkg removed it with the last package that listed it)"; fi
  done
  still=()
  for p in "${recorded[@]}"; do installed "${p}" && still+=("${p}"); done
  if [ "${#still[@]}" -gt 0 ]; then printf '%s\n' "${still[@]}" >"${BACKUP_DIR}/packages-installed"; else rm -f "${BACKUP_DIR}/packages-installed"; fi
  if [[ " ${recorded[*]} " == *" containerd "* ]] && ! installed containerd; then
    # containerd came with prep: its state (the cluster's images and snapshots) goes with it.
    rm -rf /var/lib/containerd /opt/containerd /run/containerd
    log "removed containerd's state (/var/lib/containerd, /opt/containerd, /run/containerd)"
  fi
fi

step "units vip.sh changed"
# keepalived and haproxy on a control plane of an HA cluster: back to what they were before vip.sh
# first ran (lib/record.sh units/). reset.sh stopped and disabled them; a unit that ran before (the
# owner's own haproxy, say) is started again with its own configuration, restored above. A unit whose
# package was purged above is gone with it.
if [ -d "${BACKUP_DIR}/units" ]; then
  for f in "${BACKUP_DIR}"/units/*; do
    [ -f "${f}" ] || continue
    unit="$(basename "${f}")"
    read -r was_enabled was_active <"${f}" || true
    if ! compgen -G "/lib/systemd/system/${unit}.service" >/dev/null && ! compgen -G "/usr/lib/systemd/system/${unit}.service" >/dev/null; then
      log "${unit}: not installed any more: nothing to put back"
    else
      if [ "${was_enabled}" = enabled=yes ]; then
        if timeout 60 systemctl enable "${unit}" >/dev/null 2>&1; then log "${unit}: enabled again (it was before)"; else warn "systemctl enable ${unit} failed"; fi
      elif timeout 60 systemctl disable "${unit}" >/dev/null 2>&1; then
        log "${unit}: disabled (it was not enabled before)"
      else
        warn "systemctl disable ${unit} failed"
      fi
      if [ "${was_active}" = active=yes ]; then
        if timeout 120 systemctl restart "${unit}" >/dev/null 2>&1; then log "${unit}: running again with its own configuration"; else warn "systemctl restart ${unit} failed (journalctl -u ${unit})"; fi
      elif systemctl is-active --quiet "${unit}"; then
        if timeout 120 systemctl stop "${unit}" >/dev/null 2>&1; then log "${unit}: stopped (it was not running before)"; else warn "systemctl stop ${unit} failed"; fi
      else
        log "${unit}: not running, as before"
      fi
    fi
    rm -f "${f}"
  done
else
  log "none recorded"
fi

step "directories"
# Kubernetes' directories that are empty now and that no installed package owns (kubeadm init made
# /etc/kubernetes/pki; the kube packages' own directories once they are purged), then those prep made.
# And the purged packages' own directories dpkg had to leave (deepest first: children before parents).
dirs=(/etc/kubernetes/pki /etc/kubernetes/tmp /etc/kubernetes/manifests /etc/kubernetes /var/lib/kubelet /etc/cni/net.d /etc/cni /opt/cni/bin /opt/cni /var/lib/cni /var/lib/etcd)
if [ -f "${BACKUP_DIR}/dirs-created" ]; then mapfile -t -O "${#dirs[@]}" dirs <"${BACKUP_DIR}/dirs-created"; fi
for dir in "${pkg_dirs[@]}"; do [[ "${dir}" =~ ^/[^/]+$ ]] || dirs+=("${dir}"); done
mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | LC_ALL=C sort -t "$(printf '\t')" -k1,1nr -k2 -u | cut -f2-)
for d in "${dirs[@]}"; do
  [ -d "${d}" ] || continue
  if [ -n "$(ls -A "${d}")" ]; then continue; fi
  if dpkg-query -S "${d}" >/dev/null 2>&1; then continue; fi
  rmdir "${d}" && log "${d}: removed (empty)"
done
rm -f "${BACKUP_DIR}/dirs-created"

step "record"
if [ -d "${BACKUP_DIR}" ]; then
  find "${BACKUP_DIR}" -depth -mindepth 1 -type d -empty -delete
  left="$(cd "${BACKUP_DIR}" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')"
  if [ -z "${left}" ]; then
    rmdir "${BACKUP_DIR}"
    log "${BACKUP_DIR}: everything undone, removed"
  else
    log "${BACKUP_DIR} kept for what was left in place: ${left}"
  fi
fi
step "done"
