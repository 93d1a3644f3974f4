#!/usr/bin/env bash
# Runs on the control plane before a worker joins: makes sure the cluster's bootstrap token (read from
# stdin, never from argv of this script) exists and has not expired, so a worker added weeks after
# `kubeadm init` (whose token had a TTL) still joins. Prints nothing that contains the token.
# Header variables:
#   TOKEN_TTL   e.g. "24h"; "0" = never expires
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${TOKEN_TTL:?}"
export KUBECONFIG=/etc/kubernetes/admin.conf

IFS= read -r TOKEN || true
[[ "${TOKEN}" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "stdin does not carry a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}"
TOKEN_ID="${TOKEN%%.*}"

# `kubeadm token list` prints TOKEN TTL ...; an expired token that the cleaner has not removed yet
# shows TTL "<invalid>". Compared in bash so the token never appears in a process list.
# token_state: "valid (ttl ...)", "expired" or "missing", from `kubeadm token list`.
token_state() {
  local list tok ttl state=missing
  list="$(timeout 60 kubeadm token list 2>/dev/null)" || fail "kubeadm token list failed (is the API up?)"
  while read -r tok ttl _; do
    if [ "${tok}" = "${TOKEN}" ]; then
      if [ "${ttl}" = "<invalid>" ]; then state=expired; else state="valid (ttl ${ttl})"; fi
    fi
  done <<<"${list}"
  echo "${state}"
}

state="$(token_state)"
case "${state}" in
  valid*)
    echo "bootstrap token ${TOKEN_ID}: ${state}: unchanged" >&2
    ;;
  *)
    if [ "${state}" = expired ]; then
      # Another worker's token step may have deleted it already (they run in parallel): not an error.
      timeout 60 kubeadm token delete "${TOKEN_ID}" >/dev/null 2>&1 || true
    fi
    if ! timeout 60 kubeadm token create "${TOKEN}" --ttl "${TOKEN_TTL}" >/dev/null 2>&1; then
      # Workers joining together run this at the same moment: all but one create fails with
      # "already exists". What counts is that the token is there and valid now.
      state_now="$(token_state)"
      case "${state_now}" in
        valid*) echo "bootstrap token ${TOKEN_ID}: created meanwhile by another join (${state_now})" >&2; exit 0 ;;
        *) fail "kubeadm token create failed and the token is ${state_now}" ;;
      esac
    fi
    echo "bootstrap token ${TOKEN_ID}: was ${state}, created with ttl ${TOKEN_TTL}" >&2
    ;;
esac
