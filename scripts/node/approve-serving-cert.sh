#!/usr/bin/env bash
# Runs on the control plane after a node's init/join when kubelets use serverTLSBootstrap: approves the
# node's kubelet serving certificate request (signer kubernetes.io/kubelet-serving), which the
# controller-manager never approves on its own and metrics-server needs. Approves only requests made by
# system:node:<NODE_NAME> whose names are exactly that node's name and IP; anything else is refused.
# Re-runnable at any time: when the kubelet on <NODE_IP>:10250 already presents a certificate that
# verifies against the cluster CA and names this node, there is nothing to approve (the
# controller-manager deletes approved requests after an hour, so a later run would find none).
# Header variables:
#   NODE_NAME NODE_IP
#   APPROVE_TIMEOUT  seconds to wait for the request
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${NODE_NAME:?}" "${NODE_IP:?}" "${APPROVE_TIMEOUT:?}"
ADMIN=/etc/kubernetes/admin.conf
REQUESTER="system:node:${NODE_NAME}"
SIGNER=kubernetes.io/kubelet-serving
say() { echo "==> [serving cert ${NODE_NAME}] $*" >&2; }
kc() { kubectl --kubeconfig "${ADMIN}" --request-timeout=15s "$@"; }
epoch() { date -d "$1" +%s 2>/dev/null || echo 0; }

# check_names CSR: prints the problem and fails unless every requested SAN is this node's name or IP.
check_names() {
  local text sans entry bad=""
  text="$(kc get csr "$1" -o jsonpath='{.spec.request}' | base64 -d | openssl req -noout -text)" ||
    { echo "cannot decode the request"; return 1; }
  sans="$(grep -A1 'Subject Alternative Name' <<<"${text}" | tail -n1)"
  [ -n "${sans}" ] || { echo "no subject alternative names"; return 1; }
  IFS=',' read -ra entries <<<"${sans}"
  for entry in "${entries[@]}"; do
    entry="$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"${entry}")"
    case "${entry}" in
      "DNS:${NODE_NAME}" | "IP Address:${NODE_IP}") ;;
      *) bad="${bad} ${entry}" ;;
    esac
  done
  [ -z "${bad}" ] || { echo "unexpected names:${bad}"; return 1; }
}

# serving_cert_ok: true when the kubelet serves a current certificate signed by the cluster CA whose
# names include this node's IP (what metrics-server dials: --kubelet-preferred-address-types=InternalIP).
serving_cert_ok() {
  local dir pem
  dir="$(mktemp -d)"
  pem="${dir}/kubelet.pem"
  if timeout 10 openssl s_client -connect "${NODE_IP}:10250" -servername "${NODE_NAME}" </dev/null 2>/dev/null |
    openssl x509 -out "${pem}" 2>/dev/null &&
    openssl verify -CAfile /etc/kubernetes/pki/ca.crt "${pem}" >/dev/null 2>&1 &&
    openssl x509 -in "${pem}" -noout -checkend 0 >/dev/null 2>&1 &&
    openssl x509 -in "${pem}" -noout -ext subjectAltName 2>/dev/null | grep -qE "IP Address:${NODE_IP//./\\.}(,|\$)"; then
    rm -rf "${dir}"
    return 0
  fi
  rm -rf "${dir}"
  return 1
}

if serving_cert_ok; then
  say "the kubelet on ${NODE_IP}:10250 already serves a certificate signed by the cluster CA for ${NODE_IP}: nothing to approve"
  exit 0
fi

deadline=$((SECONDS + APPROVE_TIMEOUT))
approved_now=0
while :; do
  node_created="$(kc get node "${NODE_NAME}" -o jsonpath='{.metadata.creationTimestamp}' 2>/dev/null || true)"
  pending=0
  current=0
  if [ -n "${node_created}" ]; then
    # An approved request older than this Node object belongs to an earlier machine with this name.
    since=$(($(epoch "${node_created}") - 120))
    while IFS=$'\t' read -r name user created conditions; do
      if [ -z "${name}" ] || [ "${user}" != "${REQUESTER}" ]; then continue; fi
      case " ${conditions} " in
        *" Denied "* | *" Failed "*) continue ;;
        *" Approved "*)
          if [ "$(epoch "${created}")" -ge "${since}" ]; then current=$((current + 1)); fi
          ;;
        *)
          if problem="$(check_names "${name}")"; then
            kc certificate approve "${name}" >&2
            say "approved ${name}"
            approved_now=$((approved_now + 1))
          else
            fail "refusing ${name} from ${REQUESTER}: ${problem} (expected only DNS:${NODE_NAME} and IP Address:${NODE_IP})"
          fi
          pending=$((pending + 1))
          ;;
      esac
    done < <(kc get csr -o jsonpath='{range .items[?(@.spec.signerName=="kubernetes.io/kubelet-serving")]}{.metadata.name}{"\t"}{.spec.username}{"\t"}{.metadata.creationTimestamp}{"\t"}{.status.conditions[*].type}{"\n"}{end}' 2>/dev/null || true)
  fi
  if [ "${pending}" -eq 0 ] && [ $((current + approved_now)) -gt 0 ]; then
    say "kubelet serving certificate approved"
    exit 0
  fi
  [ "${SECONDS}" -lt "${deadline}" ] ||
    fail "no ${SIGNER} request from ${REQUESTER} within ${APPROVE_TIMEOUT}s (is the kubelet running with serverTLSBootstrap: true?)"
  sleep 5
done
