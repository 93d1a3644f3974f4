#!/usr/bin/env bash
# What a node script keeps so that undo-prep.sh can give an existing host back as it was found (prep.sh,
# vip.sh). composeScript inlines this file in place of the script's `source .../lib/record.sh` line,
# after the prelude and lib/apt.sh (it uses log/warn from the prelude and BACKUP_DIR from lib/apt.sh).
#
# The record, under ${BACKUP_DIR} (/var/lib/kubeadm-cluster-backup):
#   files/<path>      the original of a file a script overwrote, saved once before the first change (cp -a)
#   absent/<path>     marker: <path> did not exist before a script created it
#   written/<path>    sha256 of what a script last wrote there (undo leaves a file alone that changed since)
#   dirs-created      directories a script created, parents first
#   services-enabled  units prep enabled that were not enabled before
#   units/<unit>      "enabled=yes|no active=yes|no": a unit's state before vip.sh first touched it
#                     (before its package was installed, if vip.sh installed it); undo-prep puts it back
#   packages-installed  packages the scripts' apt-get installed that were not installed before (lib/apt.sh)

# backup_once PATH: saves the original of PATH (or the marker that there was none), the first time only.
backup_once() {
  local p="$1"
  if [ -e "${BACKUP_DIR}/files${p}" ] || [ -e "${BACKUP_DIR}/absent${p}" ]; then return 0; fi
  if [ -e "${p}" ]; then
    install -d -m 700 "$(dirname "${BACKUP_DIR}/files${p}")"
    cp -a "${p}" "${BACKUP_DIR}/files${p}"
  else
    install -d -m 700 "$(dirname "${BACKUP_DIR}/absent${p}")"
    : >"${BACKUP_DIR}/absent${p}"
  fi
}

# note_written PATH: the hash of what was just written to PATH.
note_written() {
  install -d -m 700 "$(dirname "${BACKUP_DIR}/written$1")"
  sha256sum <"$1" | cut -d' ' -f1 >"${BACKUP_DIR}/written$1"
}

# make_dir DIR: mkdir -p that records the directories it had to create.
make_dir() {
  local d="$1" missing=()
  while [ ! -d "${d}" ]; do
    missing=("${d}" "${missing[@]}")
    d="$(dirname "${d}")"
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  mkdir -p "$1"
  install -d -m 700 "${BACKUP_DIR}"
  printf '%s\n' "${missing[@]}" >>"${BACKUP_DIR}/dirs-created"
}

# enable_unit UNIT: systemctl enable, recording a unit that was not enabled before.
enable_unit() {
  local was=true
  systemctl is-enabled --quiet "$1" 2>/dev/null || was=false
  systemctl enable "$1" >/dev/null 2>&1 || { warn "systemctl enable $1 failed"; return 0; }
  [ "${was}" = false ] || return 0
  install -d -m 700 "${BACKUP_DIR}"
  grep -qx "$1" "${BACKUP_DIR}/services-enabled" 2>/dev/null || echo "$1" >>"${BACKUP_DIR}/services-enabled"
  log "$1 enabled"
}

# record_unit_state UNIT: the first time only, what UNIT was before this script changed anything about
# it: enabled or not, running or not (a unit whose package is not installed yet is neither).
record_unit_state() {
  local f="${BACKUP_DIR}/units/$1" enabled=no active=no
  [ -e "${f}" ] && return 0
  systemctl is-enabled --quiet "$1" 2>/dev/null && enabled=yes
  systemctl is-active --quiet "$1" 2>/dev/null && active=yes
  install -d -m 700 "${BACKUP_DIR}/units"
  echo "enabled=${enabled} active=${active}" >"${f}"
}

# write_if_changed PATH MODE < content: installs stdin at PATH only when content or mode differ, so a
# second run leaves every file untouched; the original is saved first and what was written is noted.
# Sets WROTE=true|false (call with a redirect, not a pipe).
WROTE=false
# shellcheck disable=SC2034 # WROTE is read by the scripts that take this library
write_if_changed() {
  local path="$1" mode="$2" tmp
  tmp="$(mktemp)"
  cat >"${tmp}"
  if [ -f "${path}" ] && cmp -s "${tmp}" "${path}" && [ "$(stat -c %a "${path}")" = "${mode#0}" ]; then
    log "${path}: unchanged"
    WROTE=false
  else
    backup_once "${path}"
    make_dir "$(dirname "${path}")"
    install -m "${mode}" "${tmp}" "${path}"
    note_written "${path}"
    log "${path}: written"
    WROTE=true
  fi
  rm -f "${tmp}"
}
