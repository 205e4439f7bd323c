#!/usr/bin/env bash
# Debian packages the image tests need: QEMU (system emulator + qemu-img), debootstrap, xorriso (the local VM's
# NoCloud seed ISO) and the disk tools used to make and inspect images. Idempotent: installs only what is missing.
# Needs root.
set -euo pipefail

declare -A PKG_FOR=(
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [debootstrap]=debootstrap
  [zstd]=zstd
  [sfdisk]=fdisk
  [mkfs.ext4]=e2fsprogs
  [partx]=util-linux
  [openssl]=openssl
  [xorriso]=xorriso
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
if ((${#missing[@]} == 0)); then
  echo "[install-deps] image tools present"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "[install-deps] need root to install: ${missing[*]}" >&2; exit 1; }
t0=$(date +%s)
echo "[install-deps] installing ${missing[*]}"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
  "${missing[@]}" >/dev/null
echo "[install-deps] done in $(($(date +%s) - t0)) s"
