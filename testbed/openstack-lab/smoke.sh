#!/bin/bash
# smoke.sh - readiness self-test of the running lab, as the non-admin cloud `lab-demo`:
# image, keypair, security group, port, server (ACTIVE, user_data), floating IP,
# volume attach when Cinder runs; then deletes everything and checks nothing is left.
#   testbed/openstack-lab/smoke.sh          (exit 0 only when every step passed)
set -euo pipefail
umask 077
lab_t0=$(date +%s%N)
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
enter_lab_netns "$@"   # booting mode: the APIs listen on the loopback of the lab's namespace
"$LAB_SRC/status.sh" --quiet || { "$LAB_SRC/status.sh" || true; echo "lab not running: run testbed/openstack-lab/up.sh" >&2; exit 1; }
mkdir -p "$LAB/smoke"
img=$LAB/smoke/tiny.qcow2
[ -f "$img" ] || qemu-img create -q -f qcow2 "$img" 16M
say "smoke test as lab-demo (OS_CLIENT_CONFIG_FILE=$OS_CLIENT_CONFIG_FILE, features: $(lab_features))"
rc=0
"$PY" "$LAB_SRC/lib/smoke.py" "$img" || rc=$?
say "smoke.sh done in $(elapsed)s (rc=$rc)"
exit $rc
