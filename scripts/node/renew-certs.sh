#!/usr/bin/env bash
# Renew the control plane's certificates before they expire (kubeadm's client certificates last one
# year). The kubeadm docs' manual renewal (kubernetes/website tasks/administer-cluster/kubeadm/
# kubeadm-certs.md, "Manual certificate renewal"; node-facts.md §4):
#   1. `kubeadm certs renew all` renews every certificate and the kubeconfigs' embedded certificates
#      from the CAs in /etc/kubernetes/pki; it restarts nothing.
#   2. Static pods cannot be restarted with kubectl: move each manifest out of /etc/kubernetes/manifests,
#      wait for the kubelet to notice (20 s = the kubelet's fileCheckFrequency), move it back.
#   3. Wait for the API server, copy the new admin.conf to the SSH user's ~/.kube/config (the old one
#      embeds the old client certificate).
# kubelet.conf is not renewed here: kubeadm sets the kubelet up to rotate its own client certificate.
# Safe to run again: a run interrupted between moving manifests out and back puts them back first; a
# second run renews again (new certificates, same CAs) and ends in the same state.
#
# Header variables:
#   NODE_NAME SSH_USER
#   STATIC_POD_WAIT   seconds the manifests stay out (kubelet fileCheckFrequency: 20)
#   API_WAIT          seconds to wait for the API server to answer again
#   API_SERVER        this node's own API server (https://<node IP>:6443): with HA, admin.conf names the
#                     endpoint, which the other control planes answer while this one is still down
#   FRESH_HOURS       (optional) nothing to do when the API server's certificate was written less than
#                     this many hours ago (a control plane that has just joined)
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/user-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/user-kubeconfig.sh"

: "${NODE_NAME:?}" "${SSH_USER:?}" "${STATIC_POD_WAIT:?}" "${API_WAIT:?}" "${API_SERVER:?}"
MANIFESTS=/etc/kubernetes/manifests
# Out of the kubelet's staticPodPath, kept across a failed run (reset.sh removes /var/lib/kubeadm-cluster).
HOLD=/var/lib/kubeadm-cluster/renew-certs/manifests
ADMIN=/etc/kubernetes/admin.conf

put_back() {
  local f moved=()
  for f in "${HOLD}"/*.yaml; do
    [ -e "${f}" ] || continue
    mv -f "${f}" "${MANIFESTS}/"
    moved+=("$(basename "${f}")")
  done
  [ "${#moved[@]}" -eq 0 ] || log "back in ${MANIFESTS}: ${moved[*]}"
}

step "check"
[ -f /etc/kubernetes/pki/ca.key ] || fail "no /etc/kubernetes/pki/ca.key: ${NODE_NAME} is not a kubeadm control plane"
command -v kubeadm >/dev/null 2>&1 || fail "kubeadm not installed"
if compgen -G "${HOLD}/*.yaml" >/dev/null; then
  log "manifests left out by an interrupted run: putting them back first"
  put_back
fi
compgen -G "${MANIFESTS}/*.yaml" >/dev/null || fail "no static pod manifests in ${MANIFESTS}"
if [ -n "${FRESH_HOURS:-}" ]; then
  # The file's time, not the certificate's notBefore: kubeadm signs every certificate with the CA's
  # NotBefore (pkiutil.NewSignedCert), so that is the cluster's creation, not the join or the last
  # renewal; kubeadm writes the file at both. Unreadable: renew.
  issued_s="$(stat -c %Y /etc/kubernetes/pki/apiserver.crt 2>/dev/null)" || issued_s=""
  if [ -n "${issued_s}" ] && [ $(($(date +%s) - issued_s)) -lt $((FRESH_HOURS * 3600)) ]; then
    log "the certificates were written $(date -u -d "@${issued_s}" +%Y-%m-%dT%H:%M:%SZ) (less than ${FRESH_HOURS} h ago, a fresh join): nothing to renew"
    step "done"
    exit 0
  fi
fi

step "kubeadm certs renew all"
timeout 300 kubeadm certs renew all >&2 || fail "kubeadm certs renew all failed (output above)"

step "restart the control-plane static pods"
install -d -m 700 "${HOLD}"
# Whatever happens from here, the manifests go back (an ERR/exit in between must not leave the control
# plane without its static pods).
trap 'put_back' EXIT
mapfile -t manifests < <(cd "${MANIFESTS}" && ls -- *.yaml)
for m in "${manifests[@]}"; do mv -f "${MANIFESTS}/${m}" "${HOLD}/${m}"; done
log "moved out of ${MANIFESTS}: ${manifests[*]}; waiting ${STATIC_POD_WAIT}s for the kubelet to stop them"
sleep "${STATIC_POD_WAIT}"
if command -v crictl >/dev/null 2>&1 && timeout 10 crictl info >/dev/null 2>&1; then
  # A bounded look at whether the kubelet has stopped them (crictl ps lists running containers).
  deadline=$((SECONDS + 2 * STATIC_POD_WAIT))
  while running="$(timeout 10 crictl ps -q --name 'kube-apiserver|kube-controller-manager|kube-scheduler|etcd' 2>/dev/null)" && [ -n "${running}" ]; do
    [ "${SECONDS}" -lt "${deadline}" ] || { warn "control-plane containers still running after $((3 * STATIC_POD_WAIT))s; putting the manifests back anyway"; break; }
    sleep 2
  done
fi
put_back
trap - EXIT
rmdir "${HOLD}" 2>/dev/null || true

step "wait for the API server"
deadline=$((SECONDS + API_WAIT))
# Its /readyz includes etcd (stacked etcd: the API server's --etcd-servers is this node's member), so the
# next control plane's renewal starts only with this member back.
until kubectl --kubeconfig "${ADMIN}" --server "${API_SERVER}" --request-timeout=10s get --raw /readyz >/dev/null 2>&1; do
  [ "${SECONDS}" -lt "${deadline}" ] || fail "the API server does not answer ${API_WAIT}s after the restart (sudo crictl ps -a; journalctl -u kubelet)"
  sleep 5
done
log "API server ${API_SERVER} answers /readyz"

step "kubectl config for ${SSH_USER}"
user_kubeconfig "the renewed admin.conf"

step "expiry after renewal"
timeout 120 kubeadm certs check-expiration >&2 || warn "kubeadm certs check-expiration failed"
step "done"
