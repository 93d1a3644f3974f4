#!/usr/bin/env bash
# /etc/hosts entries for every cluster node (seed 002 step 2), as one managed block between marker
# lines that is replaced, never appended, so reruns and scaling leave exactly one current block.
# Kept out of prep.sh on purpose: adding a worker changes this block on every node, and this small
# command is all that re-runs there (not the whole node preparation).
# Header variables:
#   HOSTS_ENTRIES   lines "ip name"
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${HOSTS_ENTRIES:?}"
BEGIN='# BEGIN kubeadm-cluster nodes (managed by pulumi; edits are overwritten)'
END='# END kubeadm-cluster nodes'
HOSTS=/etc/hosts

tmp="$(mktemp)"
trap 'rm -f "${tmp}"' EXIT
{
  if [ -f "${HOSTS}" ]; then
    awk -v b="${BEGIN}" -v e="${END}" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "${HOSTS}"
  fi
  echo "${BEGIN}"
  while read -r ip name; do
    [ -n "${ip}" ] && printf '%s %s\n' "${ip}" "${name}"
  done <<<"${HOSTS_ENTRIES}"
  echo "${END}"
} >"${tmp}"
if [ -f "${HOSTS}" ] && cmp -s "${tmp}" "${HOSTS}"; then
  echo "${HOSTS}: unchanged"
else
  # Rewrite in place (not mv): /etc/hosts may be a bind mount in containers.
  cat "${tmp}" >"${HOSTS}"
  chmod 644 "${HOSTS}"
  echo "${HOSTS}: node entries updated"
fi
