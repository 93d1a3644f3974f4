#!/usr/bin/env bash
# The control-plane endpoint on a control plane (HA on VirtualBox or existing hosts; docs/ha.md):
# keepalived holds the endpoint address on one control plane and moves it on failure, haproxy on every
# control plane serves the endpoint port and spreads over every API server (kubernetes/kubeadm
# docs/ha-considerations.md, "Run the services on the operating system"). Runs after prep and before
# kubeadm init/join (the first control plane's init already talks to the endpoint). Re-runnable: files
# are written only when they differ, each validated by its own tool first (`keepalived -t`,
# `haproxy -c`); a stopped service is started, a running one reloaded only when its file changed, and
# nothing else happens on a second run. Adding or removing a control plane changes the peer and backend
# lists: this step re-runs on every control plane. What it changes is recorded (lib/record.sh) for
# undo-prep.sh; reset.sh stops and disables both services when the node leaves the cluster.
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
# shellcheck source=lib/record.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/record.sh"

: "${NODE_NAME:?}" "${NODE_IP:?}" "${KEEPALIVED_CONF:?}" "${CHECK_SCRIPT:?}" "${HAPROXY_CFG:?}"
: "${VIP_INTERFACE_PLACEHOLDER:?}" "${ENDPOINT_PORT:?}"
export DEBIAN_FRONTEND=noninteractive
umask 022
# Under /run (root's, not world-writable like /tmp): keepalived -t checks the copy of the check script
# here with script security, which refuses a script whose path a non-root user could change.
WORK="$(mktemp -d /run/kubeadm-cluster-vip.XXXXXX)"
trap 'rm -rf "${WORK}"' EXIT

# On an existing host undo-prep.sh puts back what this script changed (lib/record.sh): the package's
# own haproxy.cfg, no keepalived files, the units as they were, the packages it installed.
for svc in keepalived haproxy; do record_unit_state "${svc}"; done

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
# Both files are checked by their own tools before anything is written, so a bad file never replaces a
# working one. keepalived -t needs the check script in place (without it: "Disabling track script
# check_apiserver since not found/accessible", exit 5): the test copy points at a copy in ${WORK}.
printf '%s\n' "${keepalived_conf}" >"${WORK}/keepalived.conf"
printf '%s\n' "${HAPROXY_CFG}" >"${WORK}/haproxy.cfg"
printf '%s\n' "${CHECK_SCRIPT}" >"${WORK}/check_apiserver.sh"
chmod 755 "${WORK}/check_apiserver.sh"
sed "s#\"/etc/keepalived/check_apiserver.sh\"#\"${WORK}/check_apiserver.sh\"#" "${WORK}/keepalived.conf" >"${WORK}/keepalived-test.conf"
# keepalived -t (--config-test, acassen/keepalived #919) exits 0 for a valid file; 2.2.x: 4 for a fatal
# error or a missing interface, 5 for errors it would skip (a malformed unicast peer, an unknown
# keyword: "Configuration error ... Skipping"), 6 for scripts without script security (keepalived
# main.c config_test_exit; 5 and 6 seen with Debian 12's 2.2.7 in the sandbox). Anything but 0 is
# refused: keepalived would run, but not as configured. keepalived#2617 reports -t ending with SIGTERM
# (exit 143) on 2.2.7 when script_user names a non-root user (fixed in 2.2.8); with `script_user root`
# Debian 12's 2.2.7 exits 0 (sandbox), so 143 is only a warning that the test said nothing.
rc=0
keepalived -t -l -f "${WORK}/keepalived-test.conf" >"${WORK}/keepalived-t.log" 2>&1 || rc=$?
case "${rc}" in
  0) log "keepalived -t: configuration valid" ;;
  143) warn "keepalived -t ended with SIGTERM (keepalived#2617, fixed in 2.2.8): the test said nothing; continuing" ;;
  *) sed 's/^/    keepalived -t: /' "${WORK}/keepalived-t.log" >&2; fail "keepalived -t rejects the generated keepalived.conf (exit ${rc}, output above); nothing was written" ;;
esac
# haproxy -c: "check the configuration file and exit" (haproxy(1)), non-zero on an error.
haproxy -c -f "${WORK}/haproxy.cfg" >"${WORK}/haproxy-c.log" 2>&1 ||
  { sed 's/^/    haproxy -c: /' "${WORK}/haproxy-c.log" >&2; fail "haproxy -c rejects the generated haproxy.cfg (output above); nothing was written"; }
log "haproxy -c: configuration valid"

step "files"
# write_if_changed (lib/record.sh): written only when content or mode differ, the original kept once.
write_if_changed /etc/keepalived/check_apiserver.sh 755 <<<"${CHECK_SCRIPT}"
keepalived_changed="${WROTE}"
write_if_changed /etc/keepalived/keepalived.conf 644 <"${WORK}/keepalived.conf"
[ "${WROTE}" = false ] || keepalived_changed=true
write_if_changed /etc/haproxy/haproxy.cfg 644 <"${WORK}/haproxy.cfg"
haproxy_changed="${WROTE}"

step "services"
# Enabled so they come back after a reboot (the packages' postinst usually enabled them already; what
# they were before this script is in the record, lib/record.sh units/).
for svc in haproxy keepalived; do
  systemctl is-enabled --quiet "${svc}" 2>/dev/null || { timeout 60 systemctl enable "${svc}" >/dev/null 2>&1 || warn "systemctl enable ${svc} failed"; }
done
# A stopped unit is started; a running one whose file changed (a control plane added or removed) is
# reloaded, not restarted: haproxy's reload (Debian/Ubuntu unit: -Ws master-worker, ExecReload
# `kill -USR2`) starts new workers and lets the old ones finish their connections, so API watches
# through the endpoint are not cut; keepalived reloads its configuration on SIGHUP (ExecReload
# `kill -HUP`) and keeps the address where it is when this node stays master. Unchanged: nothing.
# update_unit UNIT CHANGED
update_unit() {
  if ! systemctl is-active --quiet "$1"; then
    timeout 120 systemctl restart "$1" || fail "systemctl restart $1 failed (journalctl -u $1)"
    log "$1 started"
  elif [ "$2" = true ]; then
    timeout 120 systemctl reload "$1" || fail "systemctl reload $1 failed (journalctl -u $1)"
    log "$1 reloaded (its file changed)"
  else
    log "$1 running, file unchanged: not restarted"
  fi
}
update_unit haproxy "${haproxy_changed}"
update_unit keepalived "${keepalived_changed}"

step "check"
deadline=$((SECONDS + 30))
until ss -ltn 2>/dev/null | awk '{ print $4 }' | grep -qE "[:.]${ENDPOINT_PORT}\$"; do
  [ "${SECONDS}" -lt "${deadline}" ] || fail "haproxy does not listen on port ${ENDPOINT_PORT} after 30s (journalctl -u haproxy)"
  sleep 2
done
log "haproxy listens on ${ENDPOINT_PORT}"
echo "endpoint services running on ${NODE_NAME} (${iface})"
step "done"
