#!/usr/bin/env bash
# The hub test image: a bootable Debian 12 qcow2 with TLJH 2.0.0's hub tier installed by TLJH's own code, and our
# tljh, r and sysprep roles applied for one set of Ansible variables (the program's, see tests/hub/hub-boot.test.ts).
#
#   testbed/hub-image/build.sh VARS.json      # prints the qcow2's path (built once per content, then cached)
#
# Two cached steps under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/images/:
#  1. hub-base-<key>.raw (~6 min; key: this folder, ../../tests/images/debian12-qcow2.sh, the TLJH archive):
#     tests/images/debian12-qcow2.sh's Debian 12 (build user with a random, unrecorded password), then in its chroot:
#     Debian's cloud-init (NoCloud, ConfigDrive, OpenStack), iptables, curl, python3-venv, a persistent journal (read by the tests
#     from the disk after a failure); /opt/tljh/hub = hub-env.lock + TLJH from
#     ../shared/vendor (as hub-env.sh); /opt/tljh/user = user-env.lock (a venv in place of TLJH's conda env);
#     then tljh-install.py: TLJH's installer steps (config, groups + sudoers, traefik config, the jupyterhub and
#     traefik units, the tljh-config symlink, plugins). Substitutions: tljh-install.py's header.
#  2. hub-<key>.qcow2 (~1 min, +2 with R; key: step 1, VARS.json, ansible/): a copy of step 1 with
#     ansible/playbook.yml --tags system,tljh,r,sysprep run through the chroot connection with VARS.json
#     (tljh_install false: the installer steps ran in step 1), the roles' tasks a real build runs: the system
#     settings (locale generated, as in a real image: otherwise cloud-init generates it at every boot; no host CA
#     carried in), config.yaml (checked with TLJH's schema and configurer), the hub left to the first boot, the
#     first-boot secrets unit; R and IRkernel (Debian's packages) registered in the user environment when r_enabled;
#     then sysprep (build user, secrets, host keys, machine-id, cloud-init state removed).
# Needs root (loop devices, mount, chroot), ansible-playbook, and network access to Debian's mirror and PyPI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VARS="${1:?usage: build.sh VARS.json}"
VENDOR="${JHVM_VENDOR_DIR:-$REPO/../shared/vendor}"
TLJH_ARCHIVE="$VENDOR/the-littlest-jupyterhub-2.0.0.tar.gz"
CACHE_DIR="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}/images"

# shellcheck source=../cache-keep.sh
source "$HERE/../cache-keep.sh"

log() { printf '[hub-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (loop devices, mount, chroot)"
[[ -f "$VARS" ]] || die "$VARS not found"
command -v ansible-playbook >/dev/null || die "ansible-playbook not found (apt-get install ansible)"

tree_hash() { (cd "$1" && find . -type f ! -name '*.pyc' ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }
# contents only, never paths: a clone elsewhere (CI's) finds the same cached images
BASE_KEY="$({ tree_hash "$HERE"; sha256sum <"$REPO/tests/images/debian12-qcow2.sh"; sha256sum <"$TLJH_ARCHIVE"; } | sha256sum | cut -c1-16)"
BASE="$CACHE_DIR/hub-base-$BASE_KEY.raw"
KEY="$({ echo "$BASE_KEY"; tree_hash "$REPO/ansible"; /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$VARS"; } | sha256sum | cut -c1-16)"
OUT="$CACHE_DIR/hub-$KEY.qcow2"

mkdir -p "$CACHE_DIR"
exec 8>"$CACHE_DIR/.hub-image.lock"
flock 8
rm -f "$CACHE_DIR"/hub-*.qcow2.tmp # an interrupted build's (we hold the lock: nobody is writing one)
if [[ -s "$OUT" ]]; then
  touch "$OUT" "$BASE"
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-hub-img.XXXXXX")"
LOOP=""
MNT="$work/mnt"
MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# mount_raw FILE: its first partition on $MNT (with /proc, /sys, /dev for the chroot)
mount_raw() {
  LOOP="$(losetup -f -P --show "$1")"
  local part="${LOOP}p1" devnum
  if [[ ! -b "$part" ]]; then partx -a "$LOOP" 2>/dev/null || true; fi
  if [[ ! -b "$part" ]]; then
    devnum="$(cat "/sys/block/$(basename "$LOOP")/$(basename "$part")/dev")"
    mknod "$part" b "${devnum%%:*}" "${devnum##*:}"
  fi
  mkdir -p "$MNT"
  mount "$part" "$MNT" && MOUNTS+=("$MNT")
  for d in proc sys dev; do mount --bind "/$d" "$MNT/$d" && MOUNTS+=("$MNT/$d"); done
}
umount_raw() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}"; done
  MOUNTS=()
  losetup -d "$LOOP"
  LOOP=""
}
in_chroot() { chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TLJH_INSTALL_PREFIX=/opt/tljh "$@"; }

# ------------------------------------------------------------------ step 1: the hub tier, by TLJH's own code
if [[ ! -s "$BASE" ]]; then
  t0=$(date +%s)
  hash="$(head -c 24 /dev/urandom | base64 | openssl passwd -6 -stdin)"
  JHVM_IMAGE_SIZE=6G JHVM_BUILD_USER=builder JHVM_BUILD_PASSWORD_HASH="$hash" \
    "$REPO/tests/images/debian12-qcow2.sh" "$work/base.qcow2"
  qemu-img convert -f qcow2 -O raw "$work/base.qcow2" "$work/base.raw"
  rm -f "$work/base.qcow2"
  mount_raw "$work/base.raw"
  cp /etc/resolv.conf "$MNT/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$MNT/usr/sbin/policy-rc.d" # no daemon starts in the chroot
  chmod 0755 "$MNT/usr/sbin/policy-rc.d"
  log "apt: cloud-init iptables curl python3-venv"
  in_chroot sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cloud-init iptables curl python3-venv && apt-get clean' \
    >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; die "apt-get failed"; }
  # NoCloud: the local driver's seed ISO (plain QEMU); ConfigDrive and OpenStack: a server of the booting test
  # OpenStack (testbed/openstack-lab, LAB_BOOT=1); ds-identify finds none of the latter two on plain QEMU
  printf 'datasource_list: [ NoCloud, ConfigDrive, OpenStack, None ]\n' >"$MNT/etc/cloud/cloud.cfg.d/90-jhvm-test.cfg"
  # test image only: a persistent journal, so a test can read the guest's logs from its disk after a failure
  mkdir -p "$MNT/var/log/journal"
  cp "$HERE/hub-env.lock" "$HERE/user-env.lock" "$HERE/tljh-install.py" "$TLJH_ARCHIVE" "$MNT/tmp/"
  # pip trusts what this host trusts (a TLS-intercepting proxy's CA too), for the build only: not kept in the image
  cp /etc/ssl/certs/ca-certificates.crt "$MNT/tmp/host-ca.crt"
  log "hub environment /opt/tljh/hub (hub-env.lock + TLJH 2.0.0)"
  in_chroot PIP_CERT=/tmp/host-ca.crt sh -ec 'python3 -m venv /opt/tljh/hub
    /opt/tljh/hub/bin/pip install -q --no-cache-dir --disable-pip-version-check -r /tmp/hub-env.lock
    /opt/tljh/hub/bin/pip install -q --no-cache-dir --disable-pip-version-check --no-deps /tmp/the-littlest-jupyterhub-2.0.0.tar.gz
    /opt/tljh/hub/bin/pip check' >"$work/pip-hub.log" 2>&1 || { tail -n 30 "$work/pip-hub.log" >&2; die "hub environment failed"; }
  log "user environment /opt/tljh/user (user-env.lock)"
  in_chroot PIP_CERT=/tmp/host-ca.crt sh -ec 'python3 -m venv /opt/tljh/user
    /opt/tljh/user/bin/pip install -q --no-cache-dir --disable-pip-version-check -r /tmp/user-env.lock
    /opt/tljh/user/bin/pip check' >"$work/pip-user.log" 2>&1 || { tail -n 30 "$work/pip-user.log" >&2; die "user environment failed"; }
  log "TLJH's installer steps (tljh-install.py)"
  # no systemd runs in the chroot: TLJH's systemctl calls reach this shim; what needs a running manager is skipped
  # (the units start at the VM's boot), enable/disable work offline
  mkdir -p "$MNT/tmp/shim"
  printf '%s\n' '#!/bin/sh' 'case "$1" in' \
    '  daemon-reload|start|stop|restart|try-restart|reload) echo "systemctl $*: skipped (chroot build)"; exit 0 ;;' \
    '  is-active) exit 3 ;;' \
    'esac' 'SYSTEMD_OFFLINE=1 exec /usr/bin/systemctl "$@"' >"$MNT/tmp/shim/systemctl"
  chmod 0755 "$MNT/tmp/shim/systemctl"
  in_chroot PATH=/tmp/shim:/usr/sbin:/usr/bin:/sbin:/bin /opt/tljh/hub/bin/python3 /tmp/tljh-install.py >"$work/tljh.log" 2>&1 ||
    { tail -n 40 "$work/tljh.log" >&2; die "TLJH's installer steps failed"; }
  rm -rf "$MNT/tmp/shim"
  [[ -L "$MNT/etc/systemd/system/multi-user.target.wants/jupyterhub.service" ]] || die "jupyterhub.service was not enabled"
  grep -q "tljh-install: done" "$work/tljh.log" || die "tljh-install.py did not finish"
  rm -f "$MNT/usr/sbin/policy-rc.d" "$MNT"/tmp/*.lock "$MNT/tmp/tljh-install.py" "$MNT/tmp/the-littlest-jupyterhub-2.0.0.tar.gz" "$MNT/tmp/host-ca.crt"
  : >"$MNT/etc/resolv.conf"
  rm -rf "$MNT"/var/lib/apt/lists/* "$MNT/root/.cache"
  umount_raw
  mv "$work/base.raw" "$BASE"
  cache_keep_newest "$CACHE_DIR" 'hub-base-*.raw' 1
  log "hub base $BASE ($(du -h "$BASE" | cut -f1) used) in $(($(date +%s) - t0)) s"
fi

# ------------------------------------------------------------------ step 2: our roles for these variables
t0=$(date +%s)
cp --sparse=always "$BASE" "$work/disk.raw"
mount_raw "$work/disk.raw"
cp /etc/resolv.conf "$MNT/etc/resolv.conf"
log "ansible-playbook --tags system,tljh,r,sysprep with $VARS"
PLAY_VARS="$VARS" "$REPO/tests/ansible/play.sh" "$MNT" --tags system,tljh,r,sysprep -e '{"system_ca_certificates": []}' \
  -e tljh_install=false -e build_username=builder -e sysprep_zero_free_space=false >"$work/play.log" 2>&1 ||
  { tail -n 60 "$work/play.log" >&2; die "the roles failed (full log above)"; }
: >"$MNT/etc/resolv.conf"
umount_raw
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
touch "$BASE"
# one test run uses up to 4 (one per authenticator); 8 keeps the last two runs' without growing further
cache_keep_newest "$CACHE_DIR" 'hub-[0-9a-f]*.qcow2' 8
log "wrote $OUT ($(du -h "$OUT" | cut -f1)) in $(($(date +%s) - t0)) s"
echo "$OUT"
