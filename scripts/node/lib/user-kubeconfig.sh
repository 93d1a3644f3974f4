#!/usr/bin/env bash
# The SSH user's kubectl config on a control plane (init.sh, join.sh, renew-certs.sh,
# upgrade-control-plane.sh). composeScript inlines this file after the prelude (it uses log/fail).
# Header variables: SSH_USER.

# user_kubeconfig WHAT: ~SSH_USER/.kube/config = /etc/kubernetes/admin.conf, as the runbooks do
# (mkdir ~/.kube; cp admin.conf; chown), written only when it differs; WHAT ("" for none) names it in the log.
user_kubeconfig() {
  local home group admin=/etc/kubernetes/admin.conf
  home="$(getent passwd "${SSH_USER:?}" | cut -d: -f6)" || fail "user ${SSH_USER} not found"
  group="$(id -gn "${SSH_USER}")"
  install -d -m 700 -o "${SSH_USER}" -g "${group}" "${home}/.kube"
  if cmp -s "${admin}" "${home}/.kube/config"; then
    log "${home}/.kube/config: unchanged"
  else
    install -m 600 -o "${SSH_USER}" -g "${group}" "${admin}" "${home}/.kube/config"
    log "${home}/.kube/config: written${1:+ ($1)}"
  fi
}
