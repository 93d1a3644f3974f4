#!/usr/bin/env bash
# ops:trace-stop (sent by trace-pod-create, also from its EXIT trap, runs as root on a node): stops
# every tracer given as an argument or recorded in DIR/tracers.pid (SIGTERM makes strace detach
# cleanly; not SIGINT, which a background job of a non-interactive shell may ignore; SIGKILL after
# 5 s), then redacts credentials from the traces and hands DIR to the SSH user for scp.
# Safe to run twice. Exit 1 if a tracer could not be stopped.
# Usage: trace-stop.sh DIR [PID...]
set -euo pipefail
dir=$1
shift
pids=("$@")
if [ -f "$dir/tracers.pid" ]; then
  while read -r _ p; do pids+=("$p"); done <"$dir/tracers.pid"
fi
# Only signal PIDs that are still strace (a PID may have been reused since).
# A zombie (exited, not yet reaped) still shows its comm; it is no longer attached to anything.
is_strace() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = strace ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
for p in "${pids[@]}"; do if is_strace "$p"; then kill -TERM "$p" 2>/dev/null || true; fi; done
for _ in $(seq 1 50); do
  left=0
  for p in "${pids[@]}"; do is_strace "$p" && left=1; done
  [ "$left" = 0 ] && break
  sleep 0.1
done
rc=0
for p in "${pids[@]}"; do
  if is_strace "$p"; then
    kill -KILL "$p" 2>/dev/null || true
    sleep 0.2
    is_strace "$p" && { echo "error: strace $p on $(hostname) is still running" >&2; rc=1; }
  fi
done
if [ -d "$dir" ]; then
  for f in "$dir"/*.trace; do
    [ -f "$f" ] || continue
    # kubectl's read() of admin.conf (and any PEM key read while tracing) carries credentials.
    sed -i -E \
      -e 's/((client-key-data|client-certificate-data|token): )[A-Za-z0-9+/=._-]+/\1REDACTED/g' \
      -e 's/(-----BEGIN [A-Z ]*PRIVATE KEY-----)[^"]*/\1REDACTED/g' \
      -e 's/(Authorization: Bearer )[A-Za-z0-9._-]+/\1REDACTED/g' "$f"
  done
  chown -R "${SUDO_USER:-root}" "$dir"
fi
echo "stopped tracers on $(hostname): ${pids[*]:-none}"
exit "$rc"
