#!/bin/bash
# service.sh - stop, start or restart ONE service of a running lab (fault-injection for the end-to-end tests).
#   testbed/openstack-lab/service.sh stop NAME      SIGTERM the service and its children (SIGKILL after 30 s); its command
#                                       line, working directory and environment are kept in $LAB/run/NAME.stopped
#   testbed/openstack-lab/service.sh start NAME     start it again exactly as it ran, wait until its API answers (if it has one)
#   testbed/openstack-lab/service.sh kill NAME      like stop, but SIGKILL at once (a crash: in-flight requests are cut)
#   testbed/openstack-lab/service.sh restart NAME   stop, then start
# NAME is a pidfile name in $LAB/run (glance-api, nova-api, neutron-server, ...). Nothing else is touched.
set -euo pipefail
lab_t0=$(date +%s%N)
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
enter_lab_netns "$@"   # booting mode: the APIs listen on the loopback of the lab's namespace

usage() { echo "usage: $0 stop|kill|start|restart NAME" >&2; exit 2; }
[ $# = 2 ] || usage
action=$1 name=$2
case $name in *[!a-z0-9-]* | "") usage ;; esac
saved=$LAB/run/$name.stopped

# the API port of a service, if it has one
port_of() {
  case $1 in
    keystone) echo 5000 ;; glance-api) echo 9292 ;; placement) echo 8778 ;; neutron-server) echo 9696 ;;
    nova-api) echo 8774 ;; cinder-api) echo 8776 ;; *) echo "" ;;
  esac
}

stop() { # stop [SIGNAL]
  local sig=${1:-TERM} pid kids p i st
  pid=$(lab_pid "$name")
  [ -n "$pid" ] || die "$name is not running (no live pid in $LAB/run/$name.pid)"
  # how it runs: argv (NUL-separated) and environment as up.sh started it (neutron rewrites its
  # /proc/PID/cmdline: "neutron-server: api worker (...)"), else read from /proc; cwd from /proc
  if [ -f "$LAB/run/$name.argv" ]; then cp "$LAB/run/$name.argv" "$saved.cmdline"
  else { cat "/proc/$pid/cmdline"; } > "$saved.cmdline"; fi
  readlink "/proc/$pid/cwd" > "$saved.cwd"
  if [ -f "$LAB/run/$name.environ" ]; then cp "$LAB/run/$name.environ" "$saved.environ"
  else cat "/proc/$pid/environ" > "$saved.environ"; fi
  declare -A START
  kids=$(descendants "$pid" | tr '\n' ' ')
  for p in $pid $kids; do st=$(proc_stat "$p"); START[$p]=${st#* }; done
  say "stopping $name with SIG$sig (pid $pid${kids:+, children ${kids% }})"
  if [ "$sig" = KILL ]; then
    for p in $pid $kids; do kill -KILL "$p" 2>/dev/null || true; done
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  for i in $(seq 1 60); do
    local alive=0
    for p in $pid $kids; do [ -n "${START[$p]}" ] && pid_ok "$p" "${START[$p]}" && alive=1; done
    [ $alive = 0 ] && break
    [ "$i" = 60 ] && { warn "$name: SIGKILL after 30 s"; for p in $pid $kids; do kill -KILL "$p" 2>/dev/null || true; done; }
    sleep 0.5
  done
  rm -f "$LAB/run/$name.pid"
  touch "$saved"
  say "$name stopped"
}

start() {
  [ -f "$saved" ] || die "$name was not stopped by $0 (no $saved)"
  [ -z "$(lab_pid "$name")" ] || die "$name is already running"
  local -a argv envv
  mapfile -d '' -t argv < "$saved.cmdline"
  mapfile -d '' -t envv < "$saved.environ"
  (cd "$(cat "$saved.cwd")" && exec env -i "${envv[@]}" nohup "${argv[@]}" >> "$LAB/log/$name.out" 2>&1 < /dev/null) &
  write_pidfile "$LAB/run/$name.pid" $!
  rm -f "$saved" "$saved.cmdline" "$saved.cwd" "$saved.environ"
  local port end code
  port=$(port_of "$name")
  if [ -n "$port" ]; then
    end=$(( $(date +%s) + ${LAB_WAIT:-240} ))
    while :; do
      code=$(http_code "http://127.0.0.1:$port/" 2)
      case $code in 000 | 5*) ;; *) break ;; esac
      [ -n "$(lab_pid "$name")" ] || die "$name exited after start" "$LAB/log/$name.out"
      [ "$(date +%s)" -lt "$end" ] || die "$name did not answer on :$port" "$LAB/log/$name.out"
      sleep 0.25
    done
  fi
  say "$name started (pid $(lab_pid "$name"))"
}

case $action in
  stop) stop ;;
  kill) stop KILL ;;
  start) start ;;
  restart) stop; start ;;
  *) usage ;;
esac
