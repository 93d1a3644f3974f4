#!/bin/bash
# sandbox stand-in for systemctl (no systemd as PID 1 in a chroot): records every call and, for most
# units, starts nothing and answers queries as if the unit were healthy.
#
# keepalived and haproxy (vip.sh, reset.sh, undo-prep.sh) get the real thing, inside the node's own
# network and PID namespaces:
#   enable/disable/is-enabled   the [Install] symlink /etc/systemd/system/multi-user.target.wants/<u>.service,
#                               as systemctl and the packages' postinst (deb-systemd-helper) make it;
#   start/restart/stop/reload   the real daemon: haproxy -D with the written config and a pidfile under
#   is-active                   /run (reload: a new process with -sf, as the master-worker reload lets old
#                               workers finish); keepalived daemonized with its pidfile under /run (reload:
#                               SIGHUP), its log in /sandbox-log/keepalived.out; unless the node has
#                               /sandbox-log/keepalived-record-only, then keepalived is only recorded and
#                               "active" is a state file. The unit's ConditionFileNotEmpty
#                               (/etc/keepalived/keepalived.conf) is honoured like systemd does.
@RECORD@
API=/srv/api
# Test hook (removed when used): /sandbox-log/fail-daemon-reload makes one `daemon-reload` fail, like a
# run that dies after its earlier steps succeeded.
if [ "${1:-}" = daemon-reload ] && [ -f /sandbox-log/fail-daemon-reload ]; then
  rm -f /sandbox-log/fail-daemon-reload
  echo "sandbox test hook: daemon-reload fails once" >&2
  exit 1
fi
# A (re)started kubelet reports its version in its Node's status (the shared API state, if any).
case "$1 ${2:-}" in "restart kubelet"|"start kubelet")
  n="$(hostname)"
  if [ -f $API/.sandbox-api ] && [ -d "$API/nodes/$n" ]; then kubelet --version | awk '{print $2}' > "$API/nodes/$n/kubeletVersion"; echo True > "$API/nodes/$n/ready"; fi ;;
esac
quiet=false now=false
args=()
for a in "$@"; do case "$a" in -q|--quiet) quiet=true ;; --now) now=true ;; --*) ;; *) args+=("$a") ;; esac; done
verb="${args[0]:-}"
unit="${args[1]:-}"
unit="${unit%.service}"

say() { $quiet || echo "$1"; }
unit_file() { for d in /lib/systemd/system /usr/lib/systemd/system; do [ -f "$d/$1.service" ] && { echo "$d/$1.service"; return 0; }; done; return 1; }
wants() { echo "/etc/systemd/system/multi-user.target.wants/$1.service"; }
pids_of() { # pids_of UNIT: the live pids of the unit's daemon (from its pidfiles)
  local f p
  for f in "/run/$1.pid" "/run/$1.sandbox-pids"; do
    [ -f "$f" ] || continue
    # shellcheck disable=SC2013 # a pid file holds pids, one word each
    for p in $(cat "$f"); do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && echo "$p"; done
  done | sort -u
}
running() {
  if [ "$1" = keepalived ] && [ -f /sandbox-log/keepalived-record-only ]; then [ -f /run/keepalived.sandbox-active ]; return; fi
  [ -n "$(pids_of "$1")" ]
}
stop_unit() {
  local p
  rm -f "/run/$1.sandbox-active"
  p="$(pids_of "$1")"
  [ -n "$p" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $p 2>/dev/null
  for _ in $(seq 1 50); do [ -n "$(pids_of "$1")" ] || break; sleep 0.1; done
  # shellcheck disable=SC2046 # the pids, one argument each
  [ -z "$(pids_of "$1")" ] || kill -KILL $(pids_of "$1") 2>/dev/null
  rm -f "/run/$1.pid" "/run/$1.sandbox-pids"
}
start_unit() {
  case "$1" in
    haproxy)
      haproxy -D -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid </dev/null >>/sandbox-log/haproxy.out 2>&1 || { echo "Job for haproxy.service failed (sandbox: see /sandbox-log/haproxy.out)" >&2; return 1; } ;;
    keepalived)
      # systemd skips the unit (and says nothing) when its condition fails: ConditionFileNotEmpty.
      [ -s /etc/keepalived/keepalived.conf ] || return 0
      if [ -f /sandbox-log/keepalived-record-only ]; then : > /run/keepalived.sandbox-active; return 0; fi
      # As the unit runs it (--dont-fork), in a session of its own, its log (--log-console) in a file.
      rm -f /run/keepalived.pid
      setsid keepalived --dont-fork --log-console --log-detail -f /etc/keepalived/keepalived.conf -p /run/keepalived.pid -r /run/keepalived-vrrp.pid -c /run/keepalived-checkers.pid </dev/null >>/sandbox-log/keepalived.out 2>&1 &
      for _ in $(seq 1 50); do [ -s /run/keepalived.pid ] && break; sleep 0.1; done
      [ -s /run/keepalived.pid ] || { echo "Job for keepalived.service failed (sandbox: see /sandbox-log/keepalived.out)" >&2; return 1; } ;;
  esac
}

case "$unit" in
  keepalived|haproxy)
    case "$verb" in
      enable)
        f="$(unit_file "$unit")" || { echo "Failed to enable unit: Unit file $unit.service does not exist." >&2; exit 1; }
        if [ ! -L "$(wants "$unit")" ]; then mkdir -p "$(dirname "$(wants "$unit")")"; ln -s "$f" "$(wants "$unit")"; echo "Created symlink $(wants "$unit") → $f." >&2; fi
        # enable --now: start it too.
        if $now && ! running "$unit"; then start_unit "$unit"; exit $?; fi
        exit 0 ;;
      disable)
        if [ -L "$(wants "$unit")" ]; then rm -f "$(wants "$unit")"; echo "Removed \"$(wants "$unit")\"." >&2; fi
        exit 0 ;;
      is-enabled)
        if [ -L "$(wants "$unit")" ]; then say enabled; exit 0; fi
        unit_file "$unit" >/dev/null || { say "Failed to get unit file state for $unit.service: No such file or directory"; exit 1; }
        say disabled; exit 1 ;;
      is-active)
        if running "$unit"; then say active; exit 0; fi
        say inactive; exit 3 ;;
      stop) stop_unit "$unit"; exit 0 ;;
      start) unit_file "$unit" >/dev/null || { echo "Failed to start $unit.service: Unit $unit.service not found." >&2; exit 5; }
        running "$unit" && exit 0; start_unit "$unit"; exit $? ;;
      restart) unit_file "$unit" >/dev/null || { echo "Failed to restart $unit.service: Unit $unit.service not found." >&2; exit 5; }
        stop_unit "$unit"; start_unit "$unit"; exit $? ;;
      reload)
        running "$unit" || { echo "$unit.service is not active, cannot reload." >&2; exit 1; }
        case "$unit" in
          haproxy)
            # The unit's ExecReload checks the file first (-c), then the new process takes over (-sf).
            haproxy -c -q -f /etc/haproxy/haproxy.cfg >&2 || exit 1
            old="$(pids_of haproxy | tr '\n' ' ')"
            # shellcheck disable=SC2086
            haproxy -D -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -sf $old </dev/null >>/sandbox-log/haproxy.out 2>&1 || exit 1 ;;
          keepalived)
            [ -f /sandbox-log/keepalived-record-only ] || kill -HUP "$(cat /run/keepalived.pid)" ;;
        esac
        exit 0 ;;
    esac ;;
esac

for a in "${args[@]}"; do
  case "$a" in
    is-active) $quiet || echo active; exit 0 ;;
    is-enabled) $quiet || echo enabled; exit 0 ;;
    is-system-running) $quiet || echo running; exit 0 ;;
  esac
done
exit 0
