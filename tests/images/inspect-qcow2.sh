#!/usr/bin/env bash
# Inspect a qcow2 system disk without booting it: `qemu-img check`, then mount its first partition
# read-only through a loop device and print facts as key=value lines (for tests).
#
#   tests/images/inspect-qcow2.sh DISK.qcow2 [USER]
#
# Prints: qemu_img_check, format, virtual_size, os_id, version_id, pretty_name, python3, root_locked,
# root_mode, tmp_mode, fstab_root and, with USER: user, user_hash (sha512crypt|other|none), user_sudoers.
# Needs root (loop device, mount).
set -euo pipefail

IMG="${1:?usage: $0 DISK.qcow2 [USER]}"
USER_NAME="${2:-}"
[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }

LOOP=""
work="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-inspect.XXXXXX")"
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if qemu-img check -q -f qcow2 "$IMG" >"$work/check.log" 2>&1; then
  echo "qemu_img_check=ok"
else
  echo "qemu_img_check=failed"
  sed 's/^/# /' "$work/check.log"
fi
info="$(qemu-img info --output=json "$IMG")"
echo "format=$(sed -n 's/.*"format": "\([^"]*\)".*/\1/p' <<<"$info" | head -n1)"
echo "virtual_size=$(sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' <<<"$info" | head -n1)"

qemu-img convert -f qcow2 -O raw "$IMG" "$work/disk.raw"
LOOP="$(losetup -f -P -r --show "$work/disk.raw")"
part="${LOOP}p1"
[[ -b "$part" ]] || partx -a "$LOOP" 2>/dev/null || true
if [[ ! -b "$part" ]]; then
  devnum="$(cat "/sys/block/$(basename "$LOOP")/$(basename "$part")/dev")"
  mknod "$part" b "${devnum%%:*}" "${devnum##*:}"
fi
mkdir -p "$work/mnt"
mount -o ro,noload "$part" "$work/mnt"
m="$work/mnt"

osr() { sed -n "s/^$1=//p" "$m/etc/os-release" | head -n1 | tr -d '"'; }
echo "os_id=$(osr ID)"
echo "version_id=$(osr VERSION_ID)"
echo "pretty_name=$(osr PRETTY_NAME)"
[[ -x "$m/usr/bin/python3" ]] && echo "python3=yes" || echo "python3=no"
root_pw="$(awk -F: '$1=="root"{print $2}' "$m/etc/shadow")"
[[ "$root_pw" == "!"* || "$root_pw" == "*"* ]] && echo "root_locked=yes" || echo "root_locked=no"
echo "root_mode=$(stat -c %a "$m")"
echo "tmp_mode=$(stat -c %a "$m/tmp")"
echo "fstab_root=$(awk '$2=="/"{print $1}' "$m/etc/fstab")"
if [[ -n "$USER_NAME" ]]; then
  if grep -q "^$USER_NAME:" "$m/etc/passwd"; then echo "user=present"; else echo "user=absent"; fi
  h="$(awk -F: -v u="$USER_NAME" '$1==u{print $2}' "$m/etc/shadow")"
  # shellcheck disable=SC2016 # a literal "$6$" prefix
  if [[ "$h" == '$6$'* ]]; then echo "user_hash=sha512crypt"; elif [[ -n "$h" ]]; then echo "user_hash=other"; else echo "user_hash=none"; fi
  if grep -qs "^$USER_NAME ALL=(ALL) NOPASSWD:ALL" "$m/etc/sudoers.d/90-build-user"; then
    echo "user_sudoers=nopasswd"
  else
    echo "user_sudoers=absent"
  fi
fi
