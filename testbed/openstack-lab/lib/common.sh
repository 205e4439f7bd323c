# shellcheck shell=bash disable=SC2034
# common.sh - shared settings and helpers for testbed/openstack-lab/{up,down,status,smoke}.sh
# Sourced, not executed.

LAB=${LAB:-/tmp/jhvm-lab}
case $LAB in /?*) LAB=${LAB%/} ;; *) echo "LAB must be an absolute path other than / (got '$LAB')" >&2; exit 2 ;; esac
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)   # testbed/openstack-lab in the checkout
# Debian's python3 must be used: a pyenv python earlier in PATH lacks the OpenStack libs.
export PATH=$LAB/shims:/usr/sbin:/usr/bin:/sbin:/bin
export OS_CLIENT_CONFIG_FILE=$LAB/clouds.yaml
PY=/usr/bin/python3

# name port url  (every TCP listener the lab may open; all bound to 127.0.0.1)
API_PORTS="keystone:5000 glance:9292 placement:8778 neutron:9696 nova:8774 cinder:8776"
ALL_PORTS="5000 9292 8778 9696 8774 8776 5672 4369 25672"

# services started by up.sh, in stop order (down.sh) - pidfile names in $LAB/run
SERVICES_ALL="nova-compute nova-scheduler nova-conductor nova-api cinder-volume cinder-scheduler
  cinder-api neutron-server glance-api placement keystone rabbitmq rabbitmq-beam epmd mysqld"

# Booting mode (LAB_BOOT=1, see lib/boot.sh): the whole lab runs inside ONE network namespace the lab
# creates, so guests, bridges, taps, router namespaces' veths and guest addresses exist only there.
# Its name is recorded in $LAB/netns (outside $LAB/run, which up.sh recreates) while it exists.
LAB_NETNS=${LAB_NETNS:-jhvm-lab}
# extra services of the booting lab (down.sh stops the agents with the OpenStack services, then the
# guests, libvirtd and virtlogd, then Ceph, then MariaDB/RabbitMQ)
SERVICES_BOOT="neutron-l3-agent neutron-dhcp-agent neutron-metadata-agent neutron-linuxbridge-agent
  libvirtd virtlogd ceph-osd ceph-mgr ceph-mon"
if [ -f "$LAB/netns" ] || [ "${LAB_BOOT:-0}" = 1 ]; then
  SERVICES_ALL="nova-compute $SERVICES_BOOT ${SERVICES_ALL#nova-compute }"
  API_PORTS="$API_PORTS nova-metadata:8775"
  ALL_PORTS="$ALL_PORTS 8775 3300 6789"
fi
LIBVIRT_URI="qemu:///system?socket=$LAB/run/libvirt/libvirt-sock"
export CEPH_CONF=$LAB/etc/ceph/ceph.conf

# lab_netns: name of the booting lab's namespace when one exists for $LAB (empty otherwise)
lab_netns() {
  local n=''
  [ -f "$LAB/netns" ] && read -r n < "$LAB/netns"
  [ -n "$n" ] && [ -e "/run/netns/$n" ] && echo "$n"
  return 0
}
# in_netns NAME: this process runs in network namespace NAME
in_netns() {
  [ -e "/run/netns/$1" ] && [ "$(stat -L -c %i "/run/netns/$1")" = "$(stat -L -c %i /proc/self/ns/net)" ]
}
# netns_exec NS CMD...: exec CMD in network namespace NS like `ip netns exec` does (a mount namespace of its
# own where /sys shows NS's devices: the linuxbridge agent reads /sys/class/net), but keeping /run/netns
# shared with the host: `ip netns exec` makes every mount a slave, so the namespaces the Neutron agents
# create (qrouter-*, qdhcp-*) would exist only in the agents' mount namespace - `ip netns exec qrouter-...`
# and down.sh could not enter them from the host ("setting the network namespace failed: Invalid argument").
netns_exec() {
  local ns=$1; shift
  # /sys is made private before it is replaced, so nothing of this propagates to the host
  # shellcheck disable=SC2016 # $0/$@ expand in the inner sh
  exec nsenter --net="/run/netns/$ns" unshare --mount --propagation unchanged \
    sh -c 'mount --make-rprivate /sys && umount -l /sys && mount -t sysfs "$0" /sys && exec "$@"' "$ns" "$@"
}
# enter_lab_netns ARGS...: re-run the calling script inside the booting lab's namespace (no-op in
# fake mode or when already inside), so 127.0.0.1 means the lab's own loopback
enter_lab_netns() {
  local ns
  ns=$(lab_netns)
  [ -n "$ns" ] || return 0
  in_netns "$ns" && return 0
  netns_exec "$ns" "$BASH" "$0" "$@"   # through bash: service.sh has no exec bit
}

lab_t0=${lab_t0:-$(date +%s%N)}
elapsed() { local n; n=$(date +%s%N); printf '%d.%d' $(( (n - lab_t0) / 1000000000 )) $(( (n - lab_t0) / 100000000 % 10 )); }
say() { printf '[lab %6ss] %s\n' "$(elapsed)" "$*"; }
warn() { printf '[lab %6ss] WARNING: %s\n' "$(elapsed)" "$*" >&2; }

# die MESSAGE [LOGFILE...]: print the message and the last lines of each log, exit 1
die() {
  local msg=$1; shift
  printf '[lab %6ss] ERROR: %s\n' "$(elapsed)" "$msg" >&2
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '----- end of %s -----\n' "$f" >&2
  done
  exit 1
}

# proc_stat PID: "STATE STARTTIME" of a process (fields 3 and 22 of /proc/PID/stat), empty if gone
proc_stat() {
  local s
  s=$( { cat "/proc/$1/stat"; } 2>/dev/null ) || return 0
  s=${s##*) }                      # drop "pid (comm) ", comm may contain spaces
  # shellcheck disable=SC2086
  set -- $s
  echo "$1 ${20}"
}

# pid_ok PID [STARTTIME]: the process runs (not a zombie) and is the one meant: same start
# time as recorded in its pidfile, or - for pidfiles written by the daemon itself, without a
# start time - its command line or environment names $LAB. Protects against reused PIDs.
pid_ok() {
  local st
  st=$(proc_stat "$1")
  [ -n "$st" ] && [ "${st%% *}" != Z ] && [ "${st%% *}" != X ] || return 1
  if [ -n "${2:-}" ]; then [ "${st#* }" = "$2" ]; else is_lab_process "$1"; fi
}

# pidfile_pid FILE: the PID recorded in FILE ("PID [STARTTIME]") when that process still runs
pidfile_pid() {
  local pid='' st=''
  [ -f "$1" ] || return 0
  { read -r pid st < "$1"; } 2>/dev/null || true
  pid=${pid//[^0-9]/}
  [ -n "$pid" ] && pid_ok "$pid" "$st" && echo "$pid"
  return 0
}

# write_pidfile FILE PID: record PID with its start time
write_pidfile() { local st; st=$(proc_stat "$2"); echo "$2 ${st#* }" > "$1"; }

# pid of a lab service from its pidfile in $LAB/run, empty if none / not running / not ours
lab_pid() { pidfile_pid "$LAB/run/$1.pid"; }

# a PID belongs to this lab when its command line or environment names $LAB
is_lab_process() {
  local pid=$1
  [ -r "/proc/$pid/cmdline" ] || return 1
  { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$LAB/" && return 0
  { tr '\0' '\n' < "/proc/$pid/environ"; } 2>/dev/null | grep -qF -- "$LAB/" && return 0
  return 1
}

descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}

# http_code URL: HTTP status of a GET (000 when nothing answers)
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time "${2:-3}" "$1" 2>/dev/null || true; }

# all PIDs of the running lab (pidfiles + descendants)
lab_all_pids() {
  local n pid
  for n in $SERVICES_ALL; do
    pid=$(lab_pid "$n"); [ -n "$pid" ] || continue
    echo "$pid"; descendants "$pid"
  done | sort -u
}

# listening TCP sockets of lab processes that are NOT on loopback (empty = good)
lab_nonloopback_listeners() {
  local pids
  pids=" $(lab_all_pids | tr '\n' ' ') "
  ss -ltnpH | while read -r _ _ _ local _ procs; do
    case $local in 127.*|\[::1\]:*) continue ;; esac
    for p in $(echo "$procs" | grep -oE 'pid=[0-9]+' | cut -d= -f2); do
      case $pids in *" $p "*) echo "$local $procs"; break ;; esac
    done
  done
}

# features the running lab was started with (written by up.sh): "cinder=0", "cinder=1", "cinder=1 boot=1"
lab_features() { cat "$LAB/run/features" 2>/dev/null || true; }
