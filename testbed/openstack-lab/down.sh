#!/bin/bash
# down.sh - stop the lab started by up.sh, by PID only (pidfiles in $LAB/run, plus each PID's
# children: uwsgi workers, nova/neutron/cinder forks, rabbit's beam). A pidfile whose PID now
# belongs to another program (stale, PID reused) is ignored. Then checks every lab port is closed.
# Booting mode ($LAB/netns names the lab's network namespace): also destroys the guests, stops libvirtd and
# Ceph, removes the agents' router/DHCP namespaces of this lab (their haproxy/dnsmasq with them), stops
# whatever still runs in the lab's namespace and removes it.
#   testbed/openstack-lab/down.sh [--purge]     (--purge: also remove $LAB)
set -euo pipefail
lab_t0=$(date +%s%N)
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# never from inside the namespace about to be emptied and removed (it would stop its own caller)
if [ -f "$LAB/netns" ] && in_netns "$(cat "$LAB/netns")"; then
  die "run down.sh from outside the network namespace $(cat "$LAB/netns")"
fi
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
NS=''
[ -f "$LAB/netns" ] && read -r NS < "$LAB/netns"
# kill_netns NAME: stop every process in a network namespace (TERM, then KILL), then remove it
kill_netns() {
  local pids i sig
  [ -e "/run/netns/$1" ] || return 0
  for sig in TERM KILL; do
    pids=$(ip netns pids "$1" 2>/dev/null | tr '\n' ' ' || true)
    [ -n "${pids// /}" ] || break
    say "namespace $1: SIG$sig to $(for p in $pids; do ps -o comm= -p "$p"; done 2>/dev/null | sort | uniq -c | awk '{printf "%s%s(%s)", s, $2, $1; s=" "}')"
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    for i in $(seq 1 20); do
      [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && break
      sleep 0.5
    done
  done
  ip netns del "$1" && say "removed network namespace $1"
}
if [ -n "$NS" ]; then
  # the router (qrouter-ID) and DHCP (qdhcp-NETWORK_ID) namespaces of THIS lab: from its database while it
  # runs, remembered in $LAB/agent-netns in case down.sh must run again
  mariadb --defaults-file="$LAB/etc/my.cnf" -N -e "select concat('qrouter-', id) from neutron.routers
    union select concat('qdhcp-', id) from neutron.networks" >> "$LAB/agent-netns" 2>/dev/null || true
fi
if [ -d "$LAB/run" ]; then
  # shellcheck disable=SC2086
  # setup-*: schema migrations of an up.sh that was killed before it finished
  # shellcheck disable=SC2046
  stop_group $(cd "$LAB/run" && ls setup-*.pid 2>/dev/null | sed 's/\.pid$//') \
    $(echo $SERVICES_ALL | tr ' ' '\n' | grep -vxE 'rabbitmq|rabbitmq-beam|epmd|mysqld|libvirtd|virtlogd|ceph-.*')
  if [ -n "$NS" ]; then
    # guests first (libvirtd still answers), then libvirtd, then Ceph (nothing uses it any more)
    if virsh -c "$LIBVIRT_URI" uri >/dev/null 2>&1; then
      for d in $(virsh -c "$LIBVIRT_URI" list --all --name); do
        say "destroying guest $d"
        virsh -c "$LIBVIRT_URI" destroy "$d" >/dev/null 2>&1 || true
        virsh -c "$LIBVIRT_URI" undefine "$d" >/dev/null 2>&1 || true
      done
    fi
    stop_group libvirtd virtlogd
    stop_group ceph-osd ceph-mgr ceph-mon
  fi
  stop_group rabbitmq rabbitmq-beam epmd mysqld
fi
rm -f "$LAB"/run/*.pid "$LAB"/run/*.argv "$LAB"/run/*.environ "$LAB/run/features" "$LAB/run/features.pending"
if [ -n "$NS" ]; then
  while read -r n; do
    case $n in qrouter-[0-9a-f]*|qdhcp-[0-9a-f]*) kill_netns "$n" ;; esac
  done < <(sort -u "$LAB/agent-netns" 2>/dev/null)
  # the agents' dnsmasq and haproxy (daemons, not children of an agent) name this lab's files
  for sig in TERM KILL; do
    pids=$(for d in /proc/[0-9]*; do
             { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -qE "^(dnsmasq|haproxy) .*$LAB/data/neutron/" && echo "${d#/proc/}"
           done | tr '\n' ' ' || true)
    [ -n "${pids// /}" ] || break
    say "SIG$sig to the agents' dnsmasq/haproxy: $pids"
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    sleep 1
  done
  # whatever is left in the lab's namespace (QEMU, privsep helpers, ...) is the lab's by construction
  kill_netns "$NS"
  if [ -e "/run/netns/$NS" ]; then
    warn "network namespace $NS still exists"; rc_ns=1
  else
    rm -f "$LAB/netns" "$LAB/agent-netns"
  fi
fi

rc=${rc_ns:-0}
open=''
# booting mode: the lab's ports were in its own namespace (gone now); the host's ports are not the lab's
[ -n "$NS" ] || for i in $(seq 1 20); do   # give the kernel a moment to release the sockets
  open=$(for p in $ALL_PORTS; do ss -ltnH "sport = :$p"; done)
  [ -z "$open" ] && break
  sleep 0.5
done
if [ -n "$open" ]; then
  warn "lab ports still listening:"; for p in $ALL_PORTS; do ss -ltnpH "sport = :$p"; done >&2; rc=1
elif [ -z "$NS" ]; then
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
