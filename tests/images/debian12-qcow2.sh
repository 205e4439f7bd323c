#!/usr/bin/env bash
# Make a bootable Debian 12 (bookworm) qcow2 with debootstrap, for tests that cannot run an OS installer
# here (Debian's installer components and Ubuntu's hosts are unreachable from the build machines).
#
#   JHVM_BUILD_USER=builder JHVM_BUILD_PASSWORD_HASH='$6$…' tests/images/debian12-qcow2.sh OUT.qcow2
#   tests/images/debian12-qcow2.sh --rootfs-only      # only make/refresh the cached rootfs, print its path
#
# Two steps:
#  1. a user-less root file system tarball, cached under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/images/
#     and keyed by the sha256 of its definition in this script (debootstrap, ~3-4 min; skipped when cached);
#  2. per build (~1 min): a raw disk with one partition, the tarball unpacked into it, GRUB installed,
#     fresh SSH host keys, and the per-build user added with the given SHA-512 crypt hash (passed on
#     stdin to chpasswd -e, never as an argument), passwordless sudo, SSH password login; then converted
#     to qcow2. Root stays locked.
# Needs root (loop devices, mount, chroot). Installs its Debian packages when missing (install-deps.sh).
#
# Environment: JHVM_BUILD_USER, JHVM_BUILD_PASSWORD_HASH (required for step 2), JHVM_IMAGE_SIZE (4G),
# DEBIAN_MIRROR (http://deb.debian.org/debian), JHVM_TOOLS_HOME.
set -euo pipefail

SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SIZE="${JHVM_IMAGE_SIZE:-4G}"
CACHE_DIR="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}/images"
INCLUDE="linux-image-amd64,grub-pc,openssh-server,sudo,python3,systemd-sysv,ifupdown,isc-dhcp-client,ca-certificates,dbus"

# shellcheck source=../../testbed/cache-keep.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../testbed/cache-keep.sh"
log() { printf '[debian12-qcow2 %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (loop devices, mount, chroot)"

"$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/install-deps.sh" >&2

MOUNTS=()
LOOP=""
BYUUID=""
TMP_PATHS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  [[ -n "$BYUUID" ]] && rm -f "$BYUUID"
  if [[ -n "$LOOP" ]]; then losetup -d "$LOOP" 2>/dev/null || true; fi
  for p in "${TMP_PATHS[@]}"; do rm -rf --one-file-system "$p"; done
}
trap cleanup EXIT

# ------------------------------------------------------------------ step 1: cached user-less rootfs
make_rootfs() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.debian12.lock"
  flock 9
  if [[ -s "$ROOTFS_TAR" ]]; then
    touch "$ROOTFS_TAR"
    log "rootfs cached: $ROOTFS_TAR"
    return
  fi
  local t0 root
  t0=$(date +%s)
  root="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-rootfs.XXXXXX")"
  TMP_PATHS+=("$root")
  chmod 0755 "$root" # mktemp makes it 0700, and the tarball's "./" entry carries that mode to "/"
  log "debootstrap $SUITE from $MIRROR into $root (takes a few minutes)"
  debootstrap --arch=amd64 --include="$INCLUDE" --exclude=systemd-resolved "$SUITE" "$root" "$MIRROR" \
    >"$CACHE_DIR/debootstrap-$KEY.log" 2>&1 || {
    tail -n 30 "$CACHE_DIR/debootstrap-$KEY.log" >&2
    die "debootstrap failed (log: $CACHE_DIR/debootstrap-$KEY.log)"
  }
  log "debootstrap done in $(($(date +%s) - t0)) s"

  echo debian12 >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  printf 'auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n' >"$root/etc/network/interfaces"
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SUITE" >"$root/etc/apt/sources.list"
  cat >"$root/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="net.ifnames=0 console=tty0 console=ttyS0,115200"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
EOF
  mkdir -p "$root/etc/ssh/sshd_config.d"
  printf 'PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin no\nUseDNS no\n' \
    >"$root/etc/ssh/sshd_config.d/50-jhvm-build.conf"
  # Per-image identity is created in step 2 / at first boot, not shared through the cache.
  rm -f "$root"/etc/ssh/ssh_host_*
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  : >"$root/etc/resolv.conf"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/* 2>/dev/null || true

  log "packing $ROOTFS_TAR"
  tar --numeric-owner --xattrs --acls -C "$root" -cf - . | zstd -q -T2 -6 -o "$ROOTFS_TAR.tmp"
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  cache_keep_newest "$CACHE_DIR" 'debian12-rootfs-*.tar.zst' 1
  cache_keep_newest "$CACHE_DIR" 'debootstrap-*.log' 1
  rm -rf --one-file-system "$root"
  log "rootfs ready in $(($(date +%s) - t0)) s ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

# The cache key is the hash of everything that defines the rootfs (suite, mirror, packages, step 1's code),
# so editing step 2 does not invalidate the cached tarball.
KEY="$(printf '%s\n' "$SUITE" "$MIRROR" "$INCLUDE" "$(declare -f make_rootfs)" | sha256sum | cut -c1-16)"
ROOTFS_TAR="$CACHE_DIR/debian12-rootfs-$KEY.tar.zst"
make_rootfs
if [[ "${1:-}" == "--rootfs-only" ]]; then
  echo "$ROOTFS_TAR"
  exit 0
fi

# ------------------------------------------------------------------ step 2: per-build disk
OUT="${1:?usage: $0 OUT.qcow2 | --rootfs-only}"
USER_NAME="${JHVM_BUILD_USER:?set JHVM_BUILD_USER}"
HASH="${JHVM_BUILD_PASSWORD_HASH:?set JHVM_BUILD_PASSWORD_HASH (SHA-512 crypt, e.g. openssl passwd -6 -stdin)}"
[[ "$USER_NAME" =~ ^[a-z_][a-z0-9_-]{0,31}$ && "$USER_NAME" != root ]] || die "invalid JHVM_BUILD_USER"
[[ "$HASH" =~ ^\$6\$ ]] || die "JHVM_BUILD_PASSWORD_HASH is not a SHA-512 crypt (\$6\$…)"

t0=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-disk.XXXXXX")"
TMP_PATHS+=("$work")
raw="$work/disk.raw"
mnt="$work/mnt"
mkdir -p "$mnt"
truncate -s "$SIZE" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
LOOP="$(losetup -f -P --show "$raw")"
part="${LOOP}p1"
if [[ ! -b "$part" ]]; then partx -a "$LOOP" 2>/dev/null || true; fi
if [[ ! -b "$part" ]]; then
  # No udev here: create the partition node from sysfs.
  devnum="$(cat "/sys/block/$(basename "$LOOP")/$(basename "$part")/dev")"
  mknod "$part" b "${devnum%%:*}" "${devnum##*:}"
fi
uuid="$(cat /proc/sys/kernel/random/uuid)"
mkfs.ext4 -q -U "$uuid" -L root "$part"
mount "$part" "$mnt"
MOUNTS+=("$mnt")
log "unpacking rootfs"
zstd -q -dc "$ROOTFS_TAR" | tar --numeric-owner --xattrs --acls -C "$mnt" -xf -
chmod 0755 "$mnt"
[[ "$(stat -c %a "$mnt/tmp")" == 1777 ]] || die "unexpected mode of /tmp in the rootfs"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$mnt/etc/fstab"

for d in dev dev/pts proc sys; do
  mount --bind "/$d" "$mnt/$d"
  MOUNTS+=("$mnt/$d")
done
# update-grub resolves the root device through /dev/disk/by-uuid, which nothing creates here.
mkdir -p /dev/disk/by-uuid
BYUUID="/dev/disk/by-uuid/$uuid"
ln -sf "$part" "$BYUUID"

log "installing GRUB on $LOOP"
chroot "$mnt" grub-install --target=i386-pc --recheck "$LOOP" >"$work/grub.log" 2>&1 || {
  cat "$work/grub.log" >&2
  die "grub-install failed"
}
chroot "$mnt" update-grub >>"$work/grub.log" 2>&1 || {
  cat "$work/grub.log" >&2
  die "update-grub failed"
}
grep -q "root=UUID=$uuid" "$mnt/boot/grub/grub.cfg" || die "grub.cfg does not boot root=UUID=$uuid"

log "adding build user $USER_NAME"
chroot "$mnt" useradd --create-home --shell /bin/bash --groups sudo "$USER_NAME"
printf '%s:%s\n' "$USER_NAME" "$HASH" | chroot "$mnt" chpasswd -e
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$USER_NAME" >"$mnt/etc/sudoers.d/90-build-user"
chmod 0440 "$mnt/etc/sudoers.d/90-build-user"
chroot "$mnt" visudo -c -q -f /etc/sudoers.d/90-build-user
chroot "$mnt" passwd --lock root >/dev/null
chroot "$mnt" ssh-keygen -A >/dev/null

rm -f "$BYUUID"
BYUUID=""
for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[$i]}"; done
MOUNTS=()
losetup -d "$LOOP"
LOOP=""

mkdir -p "$(dirname "$OUT")"
qemu-img convert -f raw -O qcow2 "$raw" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT ($(du -h "$OUT" | cut -f1), virtual $SIZE) in $(($(date +%s) - t0)) s"
