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

# features the running lab was started with (written by up.sh)
lab_features() { cat "$LAB/run/features" 2>/dev/null || true; }
