#!/usr/bin/env bash
# apt for node scripts (prep.sh, undo-prep.sh, upgrade-*.sh): waits for apt's locks instead of failing on
# them, keeps the record of the packages prep installed, retries, resolves and holds the kube packages'
# versions. composeScript inlines this file in place of the script's `source .../lib/apt.sh` line, after the prelude (it uses log/warn/fail from there).
# Header variables: APT_LOCK_TIMEOUT (seconds to wait for apt's locks before giving up).
: "${APT_LOCK_TIMEOUT:?}"

# What prep keeps for undo-prep.sh: the originals of files it overwrote, what it created, the packages
# it installed. Not under /var/lib/kubeadm-cluster, which reset.sh removes: undo-prep runs after reset.
BACKUP_DIR=/var/lib/kubeadm-cluster-backup

# apt's lock files, as cloud-init lists them (cloudinit/distros/debian.py APT_LOCK_FILES). apt takes
# them with fcntl(F_SETLK), POSIX record locks (apt-pkg/contrib/fileutl.cc GetLock), which flock(1)
# cannot see. `apt-get update` takes only /var/lib/apt/lists/lock, in one attempt with no timeout
# (apt-pkg/acquire.cc pkgAcquire::GetLock); -o DPkg::Lock::Timeout covers only the two dpkg locks
# (apt-pkg/deb/debsystem.cc; ipspace/netlab #2473). Cloud-init's package steps, apt-daily and
# unattended-upgrades hold them for minutes on a fresh image. [node-facts.md §2]
APT_LOCK_FILES=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/cache/apt/archives/lock /var/lib/apt/lists/lock)

# apt_lock_holders: one "LOCKFILE PID" line per process holding a lock on an apt lock file. From
# /proc/locks, whose lines read "N: POSIX ADVISORY WRITE <pid> <major>:<minor>:<inode> <start> <end>"
# with major/minor in hex as the kernel splits st_dev; a blocked waiter's line has "->" after "N:" and
# is skipped, FLOCK locks never block apt's fcntl locks. [node-facts.md §2, checked on Linux 6.x]
apt_lock_holders() {
  local f dev ino key
  [ -r /proc/locks ] || return 0
  for f in "${APT_LOCK_FILES[@]}"; do
    [ -e "${f}" ] || continue
    dev="$(stat -c %d "${f}")"
    ino="$(stat -c %i "${f}")"
    # glibc's gnu_dev_major / gnu_dev_minor of st_dev.
    key="$(printf '%02x:%02x:%s' $((((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))) $(((dev & 0xff) | ((dev >> 12) & ~0xff))) "${ino}")"
    awk -v key="${key}" -v f="${f}" '($2 == "POSIX" || $2 == "OFDLCK") && tolower($6) == key { print f, $5 }' /proc/locks
  done
}

# describe_holders < holders: "LOCKFILE held by pid PID (COMMAND LINE)", one per holder, joined by "; ".
describe_holders() {
  local f pid cmd out=""
  while read -r f pid; do
    [ -n "${pid}" ] || continue
    cmd="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | head -c 200 || true)"
    out="${out:+${out}; }${f} held by pid ${pid} (${cmd% })"
  done
  printf '%s' "${out}"
}

# wait_for_apt_locks: returns when no process holds an apt lock; after APT_LOCK_TIMEOUT seconds it
# fails naming each holder's pid and command line. Says when it had to wait.
wait_for_apt_locks() {
  local start="${SECONDS}" holders waited=false
  while holders="$(apt_lock_holders)" && [ -n "${holders}" ]; do
    if [ $((SECONDS - start)) -ge "${APT_LOCK_TIMEOUT}" ]; then
      fail "apt-lock: gave up after ${APT_LOCK_TIMEOUT}s: $(describe_holders <<<"${holders}")"
    fi
    if [ "${waited}" = false ]; then
      log "waiting (up to ${APT_LOCK_TIMEOUT}s) for apt locks: $(describe_holders <<<"${holders}")"
      waited=true
    fi
    sleep 2
  done
  if [ "${waited}" = true ]; then log "apt locks free: waited $((SECONDS - start))s"; fi
}

# installed_packages: names of the packages dpkg has installed, sorted (C collation, for comm).
installed_packages() {
  dpkg-query -W -f='${db:Status-Status} ${Package}\n' 2>/dev/null | awk '$1 == "installed" { print $2 }' | LC_ALL=C sort -u
}

# record_new_packages BEFORE: adds to ${BACKUP_DIR}/packages-installed every package installed now
# that was not in BEFORE (installed_packages output), dependencies included: undo-prep removes those.
record_new_packages() {
  local new
  new="$(LC_ALL=C comm -13 <(printf '%s\n' "$1") <(installed_packages))"
  [ -n "${new}" ] || return 0
  install -d -m 700 "${BACKUP_DIR}"
  { cat "${BACKUP_DIR}/packages-installed" 2>/dev/null || true; printf '%s\n' "${new}"; } | LC_ALL=C sort -u >"${BACKUP_DIR}/packages-installed.new"
  mv -f "${BACKUP_DIR}/packages-installed.new" "${BACKUP_DIR}/packages-installed"
  log "newly installed (recorded for undo-prep): $(tr '\n' ' ' <<<"${new}")"
}

# retry N cmd...: network steps (mirrors hiccup, apt locks held by unattended-upgrades).
retry() {
  local attempts="$1" n=1 delay=3
  shift
  until "$@"; do
    if [ "${n}" -ge "${attempts}" ]; then
      warn "gave up after ${n} attempts: $*"
      return 1
    fi
    warn "attempt ${n}/${attempts} failed, retrying in ${delay}s: $*"
    sleep "${delay}"
    n=$((n + 1))
    delay=$((delay * 2))
  done
}

APT_OPTS=(-y -q -o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT}" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt_update() {
  wait_for_apt_locks
  timeout 600 apt-get -q -o "DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT}" update
}
# dpkg_recover: a dpkg run that was killed (a timeout, a dropped SSH session) leaves dpkg "interrupted",
# and every later apt-get refuses with "E: dpkg was interrupted, you must manually run 'dpkg --configure
# -a'" (apt-pkg/deb/debsystem.cc CheckUpdates: pending files in /var/lib/dpkg/updates/). Finishing it
# first is what makes a re-run after a kill continue instead of failing.
dpkg_recover() {
  if compgen -G "/var/lib/dpkg/updates/[0-9]*" >/dev/null; then
    log "dpkg was interrupted by an earlier run: dpkg --configure -a"
    timeout 600 dpkg --configure -a >&"${LOG_FD}" 2>&1 || fail "dpkg --configure -a failed (an interrupted package install could not be finished)"
  fi
}

apt_install() {
  local before rc=0
  wait_for_apt_locks
  dpkg_recover
  before="$(installed_packages)"
  timeout 1200 apt-get install "${APT_OPTS[@]}" --no-install-recommends "$@" || rc=$?
  record_new_packages "${before}"
  return "${rc}"
}

# apt_version_of PKG: the installed version of PKG ("1.30.12-1.1"), empty when not installed.
apt_version_of() {
  local v
  v="$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true)"
  [[ "${v}" == "installed "* ]] && echo "${v#installed }"
  return 0
}

# apt_matches PKG PATTERN: PKG is installed at a version matching the glob PATTERN ("1.30.12-*").
apt_matches() {
  local v
  v="$(apt_version_of "$1")"
  # shellcheck disable=SC2053  # the pattern is a glob on purpose
  [[ -n "${v}" && "${v}" == $2 ]]
}

# apt_resolve PATTERN: the newest kubeadm version in the configured repositories matching the glob
# PATTERN (e.g. "1.31.*" -> "1.31.6-1.1"), from `apt-cache madison`, newest first; empty when none.
# pkgs.k8s.io version strings look like "1.30.12-1.1", so a bare "1.30.12" never matches [FACTS §1.1].
apt_resolve() {
  local v
  while read -r v; do
    # shellcheck disable=SC2053  # glob on purpose
    if [[ "${v}" == $1 ]]; then
      echo "${v}"
      return 0
    fi
  done < <(apt-cache madison kubeadm | awk -F'|' '{ gsub(/[[:space:]]/, "", $2); print $2 }')
}

# install_held PKG=VERSION...: the kubeadm upgrade docs' package steps ("apt-mark unhold kubeadm &&
# apt-get install -y kubeadm='1.xx.x-*' && apt-mark hold kubeadm"; upgrade-ha-facts.md A1.2/A1.6):
# unhold, install (retried), hold again. A bare PKG (cri-tools) is installed at the newest version, not held.
install_held() {
  local names=() p
  for p in "$@"; do [[ "${p}" == *=* ]] && names+=("${p%%=*}"); done
  wait_for_apt_locks
  [ "${#names[@]}" -eq 0 ] || apt-mark unhold "${names[@]}" >/dev/null
  # apt's own output is progress: it goes where the script's progress goes (stdout may be a value).
  retry 3 apt_install --allow-change-held-packages --allow-downgrades "$@" >&"${LOG_FD}" || fail "apt-get install $* failed"
  wait_for_apt_locks
  [ "${#names[@]}" -eq 0 ] || apt-mark hold "${names[@]}" >/dev/null
  log "installed and held: $*"
}

# ensure_held PKG...: holds each PKG that is not held (a run stopped between install and hold left it
# unheld, and a later unattended upgrade would then move it under the running cluster).
ensure_held() {
  local held p
  held="$(apt-mark showhold 2>/dev/null || true)"
  for p in "$@"; do
    grep -qx "${p}" <<<"${held}" && continue
    dpkg-query -W -f='${db:Status-Status}' "${p}" 2>/dev/null | grep -q '^installed$' || continue
    wait_for_apt_locks
    apt-mark hold "${p}" >/dev/null || fail "apt-mark hold ${p} failed"
    log "${p}: held again (an earlier run stopped before holding it)"
  done
}
