#!/usr/bin/env bash
# Shared prelude of every node script. composeScript (components/node/script.ts) puts this text in
# place of the script's `source .../lib/prelude.sh` line, so each node still receives one
# self-contained script; run from the repository, the `source` line reads this file.
# Header variables: SCRIPT_TAG (e.g. "prep k8s-control", names the script in every message) and
# LOG_FD (1 or 2: where progress lines go; 2 for scripts whose stdout is a value the program reads).
set -euo pipefail
set -o errtrace
: "${SCRIPT_TAG:?}" "${LOG_FD:?}"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"

STEP="start"
step() { STEP="$1"; echo "==> [${SCRIPT_TAG}] ${STEP}" >&"${LOG_FD}"; }
log() { echo "    $*" >&"${LOG_FD}"; }
warn() { echo "WARNING [${SCRIPT_TAG}] ${STEP}: $*" >&2; }
fail() { echo "FAILED [${SCRIPT_TAG}] ${STEP}: $*" >&2; exit 1; }
trap 'echo "FAILED [${SCRIPT_TAG}] step \"${STEP}\" (line ${LINENO}, exit $?)" >&2' ERR
