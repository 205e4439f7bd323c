#!/bin/bash
# down.sh - stop the lab started by up.sh, by PID only (pidfiles in $LAB/run, plus each PID's
# children: uwsgi workers, nova/neutron/cinder forks, rabbit's beam). A pidfile whose PID now
# belongs to another program (stale, PID reused) is ignored. Then checks every lab port is closed.
#   testbed/openstack-lab/down.sh [--purge]     (--purge: also remove $LAB)
set -euo pipefail
lab_t0=$(date +%s%N)
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
PURGE=
case "${1:-}" in --purge) PURGE=1 ;; "") ;; *) echo "usage: $0 [--purge]" >&2; exit 2 ;; esac

declare -A NAME_OF
# stop_group NAME...: SIGTERM each service (pidfile + children), wait up to 30 s, then SIGKILL
# the same PIDs. OpenStack services go first, so they never spin on a lost database or broker.
stop_group() {
  local n pid kids k p i
  local pids=() alive=()
  declare -A START
  for n in "$@"; do
    [ -f "$LAB/run/$n.pid" ] || continue
    pid=$(lab_pid "$n")
    if [ -z "$pid" ]; then
      say "$n: pidfile stale (process gone or PID now used by another program), ignored"
      rm -f "$LAB/run/$n.pid"; continue
    fi
    kids=$(descendants "$pid" | tr '\n' ' ')
    for k in $pid $kids; do st=$(proc_stat "$k"); START[$k]=${st#* }; NAME_OF[$k]=$n; done
    say "stopping $n (pid $pid${kids:+, children ${kids% }})"
    kill -TERM "$pid" 2>/dev/null || true
    # shellcheck disable=SC2206
    pids+=("$pid" $kids)
  done
  for i in $(seq 1 60); do
    alive=()
    for p in "${pids[@]}"; do [ -n "${START[$p]}" ] && pid_ok "$p" "${START[$p]}" && alive+=("$p"); done
    [ ${#alive[@]} -eq 0 ] && return 0
    if [ $(( i % 10 )) = 0 ]; then
      say "still stopping: $(for p in "${alive[@]}"; do echo "${NAME_OF[$p]}"; done | sort -u | tr '\n' ' ')"
    fi
    sleep 0.5
  done
  for p in "${alive[@]}"; do say "SIGKILL $p (${NAME_OF[$p]})"; kill -KILL "$p" 2>/dev/null || true; done
}
if [ -d "$LAB/run" ]; then
  # shellcheck disable=SC2086
  # setup-*: schema migrations of an up.sh that was killed before it finished
  # shellcheck disable=SC2046
  stop_group $(cd "$LAB/run" && ls setup-*.pid 2>/dev/null | sed 's/\.pid$//') \
    $(echo $SERVICES_ALL | tr ' ' '\n' | grep -vxE 'rabbitmq|rabbitmq-beam|epmd|mysqld')
  stop_group rabbitmq rabbitmq-beam epmd mysqld
fi
rm -f "$LAB"/run/*.pid "$LAB/run/features" "$LAB/run/features.pending"

rc=0
for i in $(seq 1 20); do   # give the kernel a moment to release the sockets
  open=$(for p in $ALL_PORTS; do ss -ltnH "sport = :$p"; done)
  [ -z "$open" ] && break
  sleep 0.5
done
if [ -n "$open" ]; then
  warn "lab ports still listening:"; for p in $ALL_PORTS; do ss -ltnpH "sport = :$p"; done >&2; rc=1
else
  say "all lab ports closed ($ALL_PORTS; MariaDB had no TCP port)"
fi
# report (never kill) other processes that still name $LAB, e.g. orphans of a killed up.sh
left=$(for d in /proc/[0-9]*; do
         p=${d#/proc/}; [ "$p" = $$ ] && continue
         { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -qF -- "$LAB/" && echo "$p"
       done || true)
left=$(for p in $left; do ps -o pid=,args= -p "$p" 2>/dev/null; done | grep -v -e down.sh -e 'ps -o' || true)
[ -z "$left" ] || { warn "processes naming $LAB are still running (no pidfile, not killed):"; echo "$left" >&2; }
if [ -n "$PURGE" ]; then rm -rf "${LAB:?}"; say "removed $LAB"; fi
exit $rc
