#!/bin/bash
# smoke-boot.sh - booting self-test of a lab started with LAB_BOOT=1 (see lib/smoke_boot.py), as lab-demo,
# run inside the lab's network namespace: a real guest boots on lab-net (DHCP, config drive, metadata),
# gets a floating IP behind a security group, two RBD volumes (one at boot, one after), then everything is
# deleted. Prints step timings and the guest's /dev/disk/by-id.
#   testbed/openstack-lab/smoke-boot.sh [--scsi] [IMAGE.qcow2]
#     --scsi   the image gets hw_disk_bus=scsi + hw_scsi_model=virtio-scsi
#     IMAGE    a Debian test image with cloud-init (default: the newest cached local-vm-test-*.qcow2); a copy
#              reading the ConfigDrive/OpenStack datasources is made once into $LAB/cache (lib/boot-image.sh)
set -euo pipefail
umask 077
lab_t0=$(date +%s%N)
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
[ -f "$LAB/netns" ] || { echo "no booting lab in $LAB: run LAB_BOOT=1 testbed/openstack-lab/up.sh" >&2; exit 1; }
enter_lab_netns "$@"
scsi=''
src=''
for a in "$@"; do
  case $a in --scsi) scsi=--scsi ;; -*) echo "usage: $0 [--scsi] [IMAGE.qcow2]" >&2; exit 2 ;; *) src=$a ;; esac
done
"$LAB_SRC/status.sh" --quiet || { "$LAB_SRC/status.sh" || true; echo "lab not healthy" >&2; exit 1; }
if [ -z "$src" ]; then
  # shellcheck disable=SC2012
  src=$(ls -t "${XDG_CACHE_HOME:-$HOME/.cache}"/jupyterhub-vm/images/local-vm-test-*.qcow2 2>/dev/null | head -n 1)
  [ -n "$src" ] || { echo "no cached local-vm-test-*.qcow2 image; pass one" >&2; exit 1; }
fi
key=$(basename "$src" .qcow2)
img=$LAB/cache/boot-${key#local-vm-test-}.qcow2
if [ ! -f "$img" ] || [ "$src" -nt "$img" ]; then
  say "making $img from $src (cloud-init datasources ConfigDrive, OpenStack)"
  mkdir -p "$LAB/cache"
  "$LAB_SRC/lib/boot-image.sh" "$src" "$img"
fi
say "booting smoke test as lab-demo in namespace $(lab_netns) (image $img${scsi:+, virtio-scsi})"
rc=0
LAB=$LAB "$PY" "$LAB_SRC/lib/smoke_boot.py" "$img" $scsi || rc=$?
say "smoke-boot.sh done in $(elapsed)s (rc=$rc)"
exit $rc
