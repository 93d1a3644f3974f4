#!/usr/bin/env bash
# ops:trace-start (sent by trace-pod-create, runs as root on a node): attaches one strace per
# component, detached from the ssh session, and records every tracer PID in DIR/tracers.pid so
# trace-stop.sh can always find and stop them. Prints "started COMPONENT PID" per tracer.
# Usage: trace-start.sh DIR COMPONENT...
set -euo pipefail
dir=$1
shift
mkdir -p "$dir"
chmod 700 "$dir"
# Long-lived connections (kubelet -> containerd, scheduler -> API server) were opened before tracing,
# so strace -y shows them only as socket:[inode]; these tables let the summary name them.
ss -tanpeH >"$dir/sockets-tcp.txt" 2>/dev/null || true
ss -xanpH >"$dir/sockets-unix.txt" 2>/dev/null || true
for comp in "$@"; do
  pid=$(pgrep -x -o "$comp") || { echo "error: no running $comp process on $(hostname)" >&2; exit 3; }
  # setsid+nohup: the tracer must outlive this ssh session; all fds redirected so ssh returns.
  setsid nohup strace -f -tt -T -s 4096 -y -o "$dir/$comp.trace" -p "$pid" </dev/null >/dev/null 2>"$dir/$comp.strace.log" &
  echo "$comp $!" >>"$dir/tracers.pid"
  echo "started $comp $!"
done
sleep 1
while read -r comp spid; do
  if ! kill -0 "$spid" 2>/dev/null; then
    echo "error: strace for $comp exited at once: $(head -c 300 "$dir/$comp.strace.log" 2>/dev/null)" >&2
    exit 4
  fi
done <"$dir/tracers.pid"
