#!/usr/bin/env bash
# The version-change rule of components/upgrade-path.ts checkUpgradePath, in bash, for the scripts that
# read the installed versions on the node (prep.sh, upgrade-check.sh, upgrade-control-plane.sh). Same
# verdicts, same message words: a user sees one message whichever side refuses.
# test/upgrade-path-bash.test.ts runs these functions against the TypeScript function over a matrix.
# composeScript inlines this file in place of the script's `source .../lib/versions.sh` line. Needs
# nothing from the prelude (so the test can run it alone).

# version_installed TEXT: "MINOR PATCH RAW" for "v1.30.12", "1.30.12-1.1" or "1.30.12" (RAW = "1.30.12",
# numbers without leading zeros, as installedVersion() gives); returns 1 when TEXT is not a full version.
version_installed() {
  local re='^v?1\.([0-9]{1,2})\.([0-9]{1,3})(-[^[:space:]]*)?$' t
  t="$(printf '%s' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
  [[ "${t}" =~ ${re} ]] || return 1
  local minor=$((10#${BASH_REMATCH[1]})) patch=$((10#${BASH_REMATCH[2]}))
  echo "${minor} ${patch} 1.${minor}.${patch}"
}

# version_target TEXT: "MINOR PATCH RAW" for a kubernetes.version ("1.31.6", "v1.31.6" or minor-only
# "1.31": PATCH is then "-" and RAW "1.31"), as parseKubernetesVersion() gives; returns 1 otherwise.
version_target() {
  local re='^v?1\.([0-9]{1,2})(\.([0-9]{1,3}))?$' t
  t="$(printf '%s' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
  [[ "${t}" =~ ${re} ]] || return 1
  local minor=$((10#${BASH_REMATCH[1]}))
  if [ -z "${BASH_REMATCH[3]}" ]; then
    echo "${minor} - 1.${minor}"
  else
    local patch=$((10#${BASH_REMATCH[3]}))
    echo "${minor} ${patch} 1.${minor}.${patch}"
  fi
}

# check_upgrade_path INSTALLED TARGET WHERE: may a node or cluster at INSTALLED ("1.30.12", "v1.30.12",
# "1.30.12-1.1") go to TARGET (kubernetes.version, "1.31.6" or "1.31")? WHERE names what runs INSTALLED
# in the message ("the cluster", "node k8s-worker"). Sets UPGRADE_KIND (none|patch|minor) and returns 0,
# or sets UPGRADE_REFUSAL (the message) and returns 1; returns 2 (UPGRADE_REFUSAL says why) when a
# version cannot be read. Called without a subshell, so the caller sees both variables.
UPGRADE_KIND=""
UPGRADE_REFUSAL=""
check_upgrade_path() {
  local from to fmin fpat fraw tmin tpat traw m path="" skipped=""
  UPGRADE_KIND=""
  UPGRADE_REFUSAL=""
  if ! from="$(version_installed "$1")"; then
    UPGRADE_REFUSAL="internal: installed version \"$1\" is not x.y.z"
    return 2
  fi
  if ! to="$(version_target "$2")"; then
    UPGRADE_REFUSAL="internal: kubernetes.version \"$2\" is not a version like 1.31 or 1.31.6"
    return 2
  fi
  read -r fmin fpat fraw <<<"${from}"
  read -r tmin tpat traw <<<"${to}"
  if [ "${tmin}" -lt "${fmin}" ] || { [ "${tmin}" -eq "${fmin}" ] && [ "${tpat}" != - ] && [ "${tpat}" -lt "${fpat}" ]; }; then
    UPGRADE_REFUSAL="kubernetes.version ${traw} is older than ${fraw}, which $3 runs: kubeadm cannot downgrade a cluster. Set kubernetes.version back to ${fraw} (or newer); to run ${traw}, destroy and recreate the cluster."
    return 1
  fi
  if [ "${tmin}" -gt $((fmin + 1)) ]; then
    for ((m = fmin + 1; m <= tmin; m++)); do
      path="${path:+${path} -> }1.${m}"
      [ "${m}" -eq "${tmin}" ] || skipped="${skipped:+${skipped}, }1.${m}"
    done
    UPGRADE_REFUSAL="kubernetes.version ${traw} skips ${skipped}: $3 runs ${fraw} and kubeadm upgrades one minor at a time. Set kubernetes.version to 1.$((fmin + 1)).x, run pulumi up, then the next minor (${path})."
    return 1
  fi
  if [ "${tmin}" -eq $((fmin + 1)) ]; then
    UPGRADE_KIND="minor"
  elif [ "${tpat}" = - ]; then
    UPGRADE_KIND="none"
  elif [ "${tpat}" -gt "${fpat}" ]; then
    UPGRADE_KIND="patch"
  else
    UPGRADE_KIND="none"
  fi
  return 0
}

# upgrade_path INSTALLED TARGET WHERE: prints none|patch|minor, or prints the refusal on stderr and
# returns 1 (2 for an unreadable version). For callers that want the verdict as text.
upgrade_path() {
  local rc=0
  check_upgrade_path "$@" || rc=$?
  if [ "${rc}" -ne 0 ]; then
    printf '%s\n' "${UPGRADE_REFUSAL}" >&2
    return "${rc}"
  fi
  printf '%s\n' "${UPGRADE_KIND}"
}
