#!/usr/bin/env bash
# The control-plane endpoint on a control plane (HA on VirtualBox or existing hosts; docs/ha.md):
# keepalived holds the endpoint address on one control plane and moves it on failure, haproxy on every
# control plane serves the endpoint port and spreads over every API server (kubernetes/kubeadm
# docs/ha-considerations.md, "Run the services on the operating system"). Runs after prep and before
# kubeadm init/join (the first control plane's init already talks to the endpoint). Re-runnable: files
# are written only when they differ, each validated by its own tool first (`keepalived -t`,
# `haproxy -c`), and a service is restarted only when its file changed. Adding or removing a control
# plane changes the peer and backend lists: this step re-runs on every control plane.
# Header variables:
#   NODE_NAME NODE_IP
#   KEEPALIVED_CONF CHECK_SCRIPT HAPROXY_CFG   the files (components/node/vip-config.ts)
#   VIP_INTERFACE_PLACEHOLDER                  replaced by the interface carrying NODE_IP
#   ENDPOINT_PORT                              haproxy's port (8443)
#   APT_LOCK_TIMEOUT                           seconds (lib/apt.sh)
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

: "${NODE_NAME:?}" "${NODE_IP:?}" "${KEEPALIVED_CONF:?}" "${CHECK_SCRIPT:?}" "${HAPROXY_CFG:?}"
: "${VIP_INTERFACE_PLACEHOLDER:?}" "${ENDPOINT_PORT:?}"
export DEBIAN_FRONTEND=noninteractive
umask 022
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

# changed PATH MODE < content: installs stdin at PATH when content or mode differ; returns 0 if it did.
changed() {
  local path="$1" mode="$2" tmp="${WORK}/new"
  cat >"${tmp}"
  if [ -f "${path}" ] && cmp -s "${tmp}" "${path}" && [ "$(stat -c %a "${path}")" = "${mode#0}" ]; then
    log "${path}: unchanged"
    return 1
  fi
  install -d -m 755 "$(dirname "${path}")"
  install -m "${mode}" "${tmp}" "${path}"
  log "${path}: written"
  return 0
}

step "packages"
missing=()
command -v keepalived >/dev/null 2>&1 || missing+=(keepalived)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  attempt=1
  until apt_update && apt_install "${missing[@]}"; do
    [ "${attempt}" -lt 3 ] || fail "apt-get install ${missing[*]} failed 3 times"
    warn "apt-get install ${missing[*]} failed; retrying in $((attempt * 5))s"
    sleep $((attempt * 5))
    attempt=$((attempt + 1))
  done
  log "installed: ${missing[*]}"
else
  log "keepalived, haproxy, curl already installed"
fi

step "interface"
iface="$(ip -o -4 addr show | awk -v ip="${NODE_IP}" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')"
[ -n "${iface}" ] || fail "no interface carries ${NODE_IP}: keepalived cannot announce the endpoint there"
log "${NODE_IP} is on ${iface}"
keepalived_conf="${KEEPALIVED_CONF//"${VIP_INTERFACE_PLACEHOLDER}"/${iface}}"

step "validate"
printf '%s\n' "${keepalived_conf}" >"${WORK}/keepalived.conf"
printf '%s\n' "${HAPROXY_CFG}" >"${WORK}/haproxy.cfg"
# keepalived -t exits 0 when the file is valid (acassen/keepalived #919; 4: errors it can ignore, 5:
# scripts without script security). Some versions below 2.2.8 end -t with SIGTERM (rc 143) when
# script_user is set (keepalived #2587): then the file is parsed but the result is not known.
rc=0
keepalived -t -l -f "${WORK}/keepalived.conf" >"${WORK}/keepalived-t.log" 2>&1 || rc=$?
case "${rc}" in
  0) log "keepalived -t: configuration valid" ;;
  143) warn "keepalived -t ended with SIGTERM (a known bug of keepalived < 2.2.8 with script_user); continuing" ;;
  *) cat "${WORK}/keepalived-t.log" >&2; fail "keepalived -t rejects the configuration (exit ${rc})" ;;
esac
haproxy -c -q -f "${WORK}/haproxy.cfg" >&2 || fail "haproxy -c rejects the configuration"
log "haproxy -c: configuration valid"

step "files"
keepalived_changed=false
haproxy_changed=false
changed /etc/keepalived/check_apiserver.sh 755 <<<"${CHECK_SCRIPT}" && keepalived_changed=true
changed /etc/keepalived/keepalived.conf 644 <<<"${keepalived_conf}" && keepalived_changed=true
changed /etc/haproxy/haproxy.cfg 644 <<<"${HAPROXY_CFG}" && haproxy_changed=true

step "services"
for svc in haproxy keepalived; do
  systemctl enable "${svc}" >/dev/null 2>&1 || warn "systemctl enable ${svc} failed"
done
if [ "${haproxy_changed}" = true ] || ! systemctl is-active --quiet haproxy; then
  systemctl restart haproxy || fail "systemctl restart haproxy failed (journalctl -u haproxy)"
  log "haproxy (re)started"
fi
if [ "${keepalived_changed}" = true ] || ! systemctl is-active --quiet keepalived; then
  systemctl restart keepalived || fail "systemctl restart keepalived failed (journalctl -u keepalived)"
  log "keepalived (re)started"
fi

step "check"
deadline=$((SECONDS + 30))
until ss -ltn 2>/dev/null | awk '{ print $4 }' | grep -qE "[:.]${ENDPOINT_PORT}\$"; do
  [ "${SECONDS}" -lt "${deadline}" ] || fail "haproxy does not listen on port ${ENDPOINT_PORT} after 30s (journalctl -u haproxy)"
  sleep 2
done
log "haproxy listens on ${ENDPOINT_PORT}"
echo "endpoint services running on ${NODE_NAME} (${iface})"
step "done"
