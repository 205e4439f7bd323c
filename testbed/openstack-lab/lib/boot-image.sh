#!/bin/bash
# boot-image.sh SRC.qcow2 DST.qcow2 - copy of a project test image whose cloud-init reads the OpenStack
# datasources (config drive first, then the metadata service). The test images list only
# `[ NoCloud, None ]` in /etc/cloud/cloud.cfg.d/90-jhvm-test.cfg, so on OpenStack they would ignore the
# config drive and never run user-data. The source image is never modified: it is converted to a raw
# copy, the copy's root partition is mounted through a loop device (no NBD module here), edited, and
# converted back to qcow2. Partitions are reached by offset (losetup -o): loop partition devices
# (losetup -P) do not appear here (no udev).
set -euo pipefail
src=$1 dst=$2
[ -f "$src" ] || { echo "no image $src" >&2; exit 1; }
work=$(mktemp -d "${dst%/*}/.boot-image.XXXXXX")
loop=''
cleanup() {
  mountpoint -q "$work/mnt" && umount "$work/mnt"
  [ -n "$loop" ] && losetup -d "$loop"
  rm -rf "$work"
}
trap cleanup EXIT
qemu-img convert -O raw "$src" "$work/disk.raw"
mkdir "$work/mnt"
done_edit=''
# the root partition is the one holding /etc/cloud (try every partition: no assumption on the layout)
while read -r start sectors; do
  loop=$(losetup -f --show -o $(( start * 512 )) --sizelimit $(( sectors * 512 )) "$work/disk.raw")
  if ! mount "$loop" "$work/mnt" 2>/dev/null; then losetup -d "$loop"; loop=''; continue; fi
  f=$work/mnt/etc/cloud/cloud.cfg.d/90-jhvm-test.cfg
  if [ -f "$f" ]; then
    sed -i 's/^datasource_list:.*/datasource_list: [ ConfigDrive, OpenStack, None ]/' "$f"
    grep -q '^datasource_list: \[ ConfigDrive, OpenStack, None \]' "$f" || { echo "could not edit $f" >&2; exit 1; }
    done_edit=1
  fi
  umount "$work/mnt"
  losetup -d "$loop"; loop=''
  [ -n "$done_edit" ] && break
done < <(partx -g -o START,SECTORS "$work/disk.raw")
[ -n "$done_edit" ] || { echo "no partition of $src has /etc/cloud/cloud.cfg.d/90-jhvm-test.cfg" >&2; exit 1; }
qemu-img convert -c -O qcow2 "$work/disk.raw" "$dst.tmp"
mv "$dst.tmp" "$dst"
