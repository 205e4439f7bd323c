#!/usr/bin/env bash
# Put a root directory into a small disk image, to test tools/image-hygiene-check's image path.
#
#   tests/ansible/make-test-image.sh ROOTDIR OUT [--partitioned] [--format qcow2|vmdk|raw]
#
# --partitioned: an MBR partition table with one ext4 partition at 1 MiB (as cloud images have);
# otherwise the ext4 file system fills the whole disk. The file system is made with mkfs.ext4 -d (no
# mounting, no root needed for this step); the raw file is then converted with qemu-img.
# Needs: e2fsprogs (mkfs.ext4), fdisk (sfdisk), qemu-utils (qemu-img).
set -euo pipefail
ROOTDIR=${1:?usage: make-test-image.sh ROOTDIR OUT [--partitioned] [--format F]}
OUT=${2:?usage: make-test-image.sh ROOTDIR OUT [--partitioned] [--format F]}
shift 2
partitioned=false
format=qcow2
while [ $# -gt 0 ]; do
  case "$1" in
    --partitioned) partitioned=true ;;
    --format) format=${2:?}; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for t in mkfs.ext4 sfdisk qemu-img; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install e2fsprogs fdisk qemu-utils)" >&2; exit 127; }
done
start=$(date +%s)
# File system size: the tree plus 30 % and 64 MiB for metadata.
used_mb=$(du -sm --one-file-system "$ROOTDIR" | cut -f1)
fs_mb=$(( used_mb * 13 / 10 + 64 ))
raw="$OUT.raw.tmp"
rm -f "$raw"
if $partitioned; then
  truncate -s $(( fs_mb + 2 ))M "$raw"
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "$raw"
  mkfs.ext4 -q -F -L root -d "$ROOTDIR" -E offset=1048576 "$raw" "${fs_mb}M"
else
  truncate -s "${fs_mb}M" "$raw"
  mkfs.ext4 -q -F -L root -d "$ROOTDIR" "$raw"
fi
if [ "$format" = raw ]; then
  mv "$raw" "$OUT"
else
  qemu-img convert -f raw -O "$format" "$raw" "$OUT"
  rm -f "$raw"
fi
echo "[make-test-image] $OUT ($format, ${fs_mb} MiB file system, partitioned=$partitioned) in $(( $(date +%s) - start ))s" >&2
