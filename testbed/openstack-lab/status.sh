#!/bin/bash
# status.sh - is the lab up? Exit 0 when every service process of the lab is alive and every
# API answers on 127.0.0.1 (any non-5xx HTTP status), 1 otherwise. Booting mode (LAB_BOOT=1): runs
# itself inside the lab's namespace and also checks Ceph, libvirtd and the four Neutron agents.
#   testbed/openstack-lab/status.sh [--quiet] [--mem]     (--mem: also PSS/RSS per service)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
enter_lab_netns "$@"
QUIET='' MEM=''
for a in "$@"; do case $a in --quiet) QUIET=1 ;; --mem) MEM=1 ;; *) echo "usage: $0 [--quiet] [--mem]" >&2; exit 2 ;; esac; done
out() { [ -n "$QUIET" ] || echo "$@"; }

[ -f "$LAB/run/features" ] || { out "lab: not running (no $LAB/run/features)"; exit 1; }
cinder=0; boot=0
case " $(lab_features) " in *" cinder=1 "*) cinder=1 ;; esac
case " $(lab_features) " in *" boot=1 "*) boot=1 ;; esac
procs="mysqld epmd rabbitmq keystone glance-api placement neutron-server nova-api nova-conductor nova-scheduler nova-compute"
[ $cinder = 1 ] && procs="$procs cinder-api cinder-scheduler cinder-volume"
[ $boot = 1 ] && procs="$procs $SERVICES_BOOT"
rc=0
for n in $procs; do
  pid=$(lab_pid "$n")
  if [ -n "$pid" ]; then out "  ok    $n (pid $pid)"; else out "  DOWN  $n"; rc=1; fi
done
if mariadb --defaults-file="$LAB/etc/my.cnf" -e 'select 1' >/dev/null 2>&1; then out "  ok    mariadb answers on $LAB/run/mysqld.sock"
else out "  FAIL  mariadb does not answer"; rc=1; fi
for e in $API_PORTS; do
  n=${e%%:*}; p=${e#*:}
  [ "$n" = cinder ] && [ $cinder = 0 ] && continue
  code=$(http_code "http://127.0.0.1:$p/")
  case $code in
    000|5*) out "  FAIL  $n http://127.0.0.1:$p/ -> $code"; rc=1 ;;
    *) out "  ok    $n http://127.0.0.1:$p/ -> $code" ;;
  esac
done
if [ $boot = 1 ]; then
  out "  --    booting mode, network namespace $(lab_netns)"
  if h=$(timeout 10 ceph health 2>/dev/null); then out "  ok    ceph: $h"; else out "  FAIL  ceph does not answer"; rc=1; fi
  if virsh -c "$LIBVIRT_URI" uri >/dev/null 2>&1; then out "  ok    libvirtd answers ($LIBVIRT_URI)"
  else out "  FAIL  libvirtd does not answer"; rc=1; fi
  n=$(mariadb --defaults-file="$LAB/etc/my.cnf" -N -e \
    "select count(*) from neutron.agents where heartbeat_timestamp > utc_timestamp() - interval 75 second" 2>/dev/null || echo 0)
  if [ "${n:-0}" -ge 4 ]; then out "  ok    $n neutron agents alive"; else out "  FAIL  only ${n:-0} of 4 neutron agents alive"; rc=1; fi
fi
if [ -n "$MEM" ]; then
  tp=0; tr=0
  for n in $procs; do
    pid=$(lab_pid "$n"); [ -n "$pid" ] || continue
    p=0; r=0
    for q in $pid $(descendants "$pid"); do
      [ -r "/proc/$q/smaps_rollup" ] || continue
      p=$(( p + $(awk '/^Pss:/{print $2}' "/proc/$q/smaps_rollup") ))
      r=$(( r + $(awk '/^Rss:/{print $2}' "/proc/$q/smaps_rollup") ))
    done
    printf '  %-16s PSS %5d MiB  RSS %5d MiB\n' "$n" $(( p / 1024 )) $(( r / 1024 ))
    tp=$(( tp + p )); tr=$(( tr + r ))
  done
  printf '  %-16s PSS %5d MiB  RSS %5d MiB\n' TOTAL $(( tp / 1024 )) $(( tr / 1024 ))
fi
if [ $rc = 0 ]; then out "lab: up ($(lab_features)), OS_CLIENT_CONFIG_FILE=$LAB/clouds.yaml"; else out "lab: NOT healthy"; fi
exit $rc
