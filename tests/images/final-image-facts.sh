#!/usr/bin/env bash
# Facts about a FinalImage export (any format qemu-img reads), read without booting it: the disk is converted
# to a sparse raw file in a temporary directory, its first partition loop-mounted read-only (ro,noload), and
# key=value lines printed (for tests/images/final-image.test.ts).
#
#   tests/images/final-image-facts.sh IMAGE USER SKEL_DIR [STRINGS_FILE]
#
# Prints: raw_allocated_bytes (what the sparse raw disk really occupies), user (present|absent),
# user_home (present|absent), sudoers_build_file (present|absent: /etc/sudoers.d/90-build-user),
# sudoers_mentions_user (yes|no: any line of /etc/sudoers or /etc/sudoers.d/* naming USER),
# machine_id_bytes, ssh_host_keys (count), firstboot_keys_unit (enabled|absent), root_password (locked|usable),
# skel.<relative path>=<sha256> for each file under SKEL_DIR (an image path, e.g. /etc/skel/notebooks),
# tljh_config (present|absent), sysprep_final_script (present|absent), account_backups_mention_user (yes|no:
# USER in /etc/passwd- shadow- group- gshadow- subuid- subgid-) and, with STRINGS_FILE (one string a line),
# strings_in_raw_disk: how many places of the whole raw disk, free space included, hold one of them.
# Needs root (loop device, mount). Never writes to the image.
set -euo pipefail

IMG="${1:?usage: $0 IMAGE USER SKEL_DIR}"
USER_NAME="${2:?usage: $0 IMAGE USER SKEL_DIR}"
SKEL="${3:?usage: $0 IMAGE USER SKEL_DIR}"
STRINGS="${4:-}"
[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }

LOOP=""
work="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-facts.XXXXXX")"
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

qemu-img convert -O raw "$IMG" "$work/disk.raw"
echo "raw_allocated_bytes=$(du --block-size=1 "$work/disk.raw" | cut -f1)"
if [[ -n "$STRINGS" ]]; then
  # -o: one line per occurrence, even when several share a "line" of binary data
  echo "strings_in_raw_disk=$(grep -a -o -F -f "$STRINGS" "$work/disk.raw" | wc -l)"
fi
LOOP="$(losetup -f -P -r --show "$work/disk.raw")"
part="${LOOP}p1"
[[ -b "$part" ]] || partx -a "$LOOP" 2>/dev/null || true
if [[ ! -b "$part" ]]; then
  # no udev here: make the partition node from sysfs
  devnum="$(cat "/sys/block/$(basename "$LOOP")/$(basename "$part")/dev")"
  mknod "$part" b "${devnum%%:*}" "${devnum##*:}"
fi
mkdir -p "$work/mnt"
mount -o ro,noload "$part" "$work/mnt"
m="$work/mnt"

if grep -q "^$USER_NAME:" "$m/etc/passwd"; then echo "user=present"; else echo "user=absent"; fi
[[ -e "$m/home/$USER_NAME" ]] && echo "user_home=present" || echo "user_home=absent"
[[ -e "$m/etc/sudoers.d/90-build-user" ]] && echo "sudoers_build_file=present" || echo "sudoers_build_file=absent"
if grep -Eqs "^[[:space:]]*(Defaults[[:space:]]*[:>][[:space:]]*)?$USER_NAME([[:space:]]|,)" \
  "$m/etc/sudoers" "$m"/etc/sudoers.d/*; then
  echo "sudoers_mentions_user=yes"
else
  echo "sudoers_mentions_user=no"
fi
echo "machine_id_bytes=$(stat -c %s "$m/etc/machine-id")"
echo "ssh_host_keys=$(find "$m/etc/ssh" -maxdepth 1 -name 'ssh_host_*' | wc -l)"
if [[ -L "$m/etc/systemd/system/multi-user.target.wants/image-firstboot-keys.service" ]]; then
  echo "firstboot_keys_unit=enabled"
else
  echo "firstboot_keys_unit=absent"
fi
root_pw="$(awk -F: '$1=="root"{print $2}' "$m/etc/shadow")"
[[ "$root_pw" == "!"* || "$root_pw" == "*"* ]] && echo "root_password=locked" || echo "root_password=usable"
if grep -qs "^$USER_NAME:" "$m"/etc/{passwd,shadow,group,gshadow,subuid,subgid}-; then
  echo "account_backups_mention_user=yes"
else
  echo "account_backups_mention_user=no"
fi
[[ -f "$m/opt/tljh/config/config.yaml" ]] && echo "tljh_config=present" || echo "tljh_config=absent"
[[ -e "$m/usr/local/sbin/image-sysprep-final" ]] && echo "sysprep_final_script=present" || echo "sysprep_final_script=absent"
if [[ -d "$m$SKEL" ]]; then
  (cd "$m$SKEL" && find . -type f -printf '%P\n' | sort | while read -r f; do
    echo "skel.$f=$(sha256sum "$f" | cut -d' ' -f1)"
  done)
fi
