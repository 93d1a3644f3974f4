#!/usr/bin/env bash
# Runs on the control plane before a worker joins: makes sure the cluster's bootstrap token (read from
# stdin, never from argv of this script) exists and has not expired, so a worker added weeks after
# `kubeadm init` (whose token had a TTL) still joins. Prints nothing that contains the token.
# The token is created as its Secret, sent to `kubectl create -f -` on stdin, rather than with
# `kubeadm token create <token>`, which takes it only as an argument (cmd/kubeadm/app/cmd/token.go:
# `create [token]`), where every process on the control plane could read it in /proc/<pid>/cmdline.
# The Secret is what kubeadm writes (Kubernetes docs, "Authenticating with Bootstrap Tokens", Bootstrap
# Token Secret Format; kubeadm's default usages signing+authentication and group
# system:bootstrappers:kubeadm:default-node-token, which kubeadm init's RBAC bindings name).
# Header variables:
#   TOKEN_TTL          as configured, e.g. "24h", for messages
#   TOKEN_TTL_SECONDS  the same in seconds; 0 = never expires (no expiration, as kubeadm with TTL 0)
#   TOKEN_MIN_REMAINING_SECONDS  a token that expires sooner counts as expiring and is extended: the
#                      joins that follow this step (after prep, one control plane after another) may
#                      start that much later (at most half the TTL, so a fresh token is never expiring)
# Every API call is bounded by 30 s: list, extend, list, create and list again fit the step's 180 s.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${TOKEN_TTL:?}" "${TOKEN_TTL_SECONDS:?}" "${TOKEN_MIN_REMAINING_SECONDS:?}"
[[ "${TOKEN_TTL_SECONDS}" =~ ^[0-9]+$ ]] || fail "TOKEN_TTL_SECONDS is not a number of seconds"
[[ "${TOKEN_MIN_REMAINING_SECONDS}" =~ ^[0-9]+$ ]] || fail "TOKEN_MIN_REMAINING_SECONDS is not a number of seconds"
export KUBECONFIG=/etc/kubernetes/admin.conf

IFS= read -r TOKEN || true
[[ "${TOKEN}" =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || fail "stdin does not carry a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}"
TOKEN_ID="${TOKEN%%.*}"

# `kubeadm token list` prints TOKEN TTL EXPIRES ...; an expired token that the cleaner has not removed
# yet shows TTL "<invalid>" (or "0s" in its first 2 s: ShortHumanDuration), EXPIRES is RFC 3339 or
# "<never>". Compared in bash so the token never appears in a process list.
# token_state: "valid (ttl ...)", "expiring (ttl ...)", "expired" or "missing".
token_state() {
  local list tok ttl expires left state=missing
  list="$(timeout 30 kubeadm token list 2>/dev/null)" || fail "kubeadm token list failed (is the API up?)"
  while read -r tok ttl expires _; do
    [ "${tok}" = "${TOKEN}" ] || continue
    if [ "${ttl}" = "<invalid>" ]; then
      state=expired
    elif [ "${expires}" = "<never>" ]; then
      state="valid (ttl ${ttl})"
    else
      left="$(date -u -d "${expires}" +%s 2>/dev/null)" || fail "kubeadm token list: cannot read the expiry time ${expires}"
      left=$((left - $(date +%s)))
      if [ "${left}" -lt "${TOKEN_MIN_REMAINING_SECONDS}" ]; then state="expiring (ttl ${ttl})"; else state="valid (ttl ${ttl})"; fi
    fi
  done <<<"${list}"
  echo "${state}"
}

# expiration: RFC 3339 UTC, TTL from now (kubeadm's format); empty for a token that never expires.
expiration=""
if [ "${TOKEN_TTL_SECONDS}" -gt 0 ]; then
  expiration="$(date -u -d "@$(($(date +%s) + TOKEN_TTL_SECONDS))" +%Y-%m-%dT%H:%M:%SZ)" || fail "cannot compute the expiry time"
fi

# token_secret: the token's Secret manifest, on stdout (a pipe, never an argument).
token_secret() {
  cat <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-${TOKEN_ID}
  namespace: kube-system
type: bootstrap.kubernetes.io/token
stringData:
  description: "kubeadm-cluster: join token"
  token-id: "${TOKEN_ID}"
  token-secret: "${TOKEN#*.}"
  usage-bootstrap-authentication: "true"
  usage-bootstrap-signing: "true"
  auth-extra-groups: "system:bootstrappers:kubeadm:default-node-token"
EOF
  if [ -n "${expiration}" ]; then echo "  expiration: \"${expiration}\""; fi
}

state="$(token_state)"
case "${state}" in
  valid*)
    echo "bootstrap token ${TOKEN_ID}: ${state}: unchanged" >&2
    exit 0
    ;;
  expiring* | expired)
    # Extended in place, never deleted: nodes may be joining with it right now, and another join's token
    # step may be extending it at the same moment (a delete could remove the token that step just made).
    # The expiry is not secret; stringData in a patch is merged into data as on create (core/v1 Secret
    # conversion). An expired token becomes valid again: the authenticator checks the expiration on
    # every request, and the cleaner re-reads it on the update.
    patch="{\"stringData\":{\"expiration\":\"${expiration}\"}}"
    [ -n "${expiration}" ] || patch='{"data":{"expiration":null}}'
    patched=false
    timeout 30 kubectl -n kube-system --request-timeout=20s patch secret "bootstrap-token-${TOKEN_ID}" --type merge -p "${patch}" >/dev/null 2>&1 && patched=true
    state_now="$(token_state)"
    case "${state_now}" in
      valid*) if ${patched}; then echo "bootstrap token ${TOKEN_ID}: was ${state}, extended to ttl ${TOKEN_TTL}" >&2; else echo "bootstrap token ${TOKEN_ID}: extended meanwhile by another join (${state_now})" >&2; fi; exit 0 ;;
    esac
    # Removed by the token cleaner meanwhile: created below. Anything else is an error.
    [ "${state_now}" = missing ] || fail "could not extend bootstrap token ${TOKEN_ID} (was ${state}, now ${state_now}): kubectl patch secret failed"
    ;;
esac

if ! token_secret | timeout 30 kubectl --request-timeout=20s create -f - >/dev/null 2>&1; then
  # Workers joining together run this at the same moment: all but one create fails with AlreadyExists.
  # What counts is that the token is there and valid now.
  state_now="$(token_state)"
  case "${state_now}" in
    valid*) echo "bootstrap token ${TOKEN_ID}: created meanwhile by another join (${state_now})" >&2; exit 0 ;;
    *) fail "creating the bootstrap token Secret (kubectl create) failed and the token is ${state_now}" ;;
  esac
fi
echo "bootstrap token ${TOKEN_ID}: was ${state}, created with ttl ${TOKEN_TTL}" >&2
