#!/usr/bin/env bash
# Build (once) a minimal Debian 12 root filesystem tarball for the Ansible chroot tests and print its path.
#
# The tarball is cached under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/ and keyed by the hash of this
# script, so editing the package list below rebuilds it automatically. debootstrap takes ~3.5 min here.
#
# Usage: tests/ansible/make-rootfs.sh          -> prints /root/.cache/jupyterhub-vm/rootfs-debian12-<hash>.tar.gz
# Env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), JHVM_TOOLS_HOME.
# Needs: root, debootstrap (apt-get install debootstrap).
set -euo pipefail

log() { printf '[make-rootfs] %s\n' "$*" >&2; }

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# What a cloud base image of Debian 12 has that the roles rely on (python3 + python3-apt for Ansible, sudo,
# openssh-server for realistic host keys, systemd for unit directories), plus python3-venv for the tests'
# stand-in of TLJH's user environment.
INCLUDE=python3,python3-apt,python3-venv,sudo,openssh-server,systemd,systemd-sysv,ca-certificates,passwd,procps

CACHE=${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}
HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
OUT="$CACHE/rootfs-debian12-$HASH.tar.gz"

if [ -s "$OUT" ]; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install -y debootstrap"; exit 1; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.rootfs.lock"
flock 9
if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi   # built by a concurrent run while we waited

WORK=$(mktemp -d "$CACHE/.rootfs-build.XXXXXX")
cleanup() {
  for m in proc sys dev; do
    if mountpoint -q "$WORK/root/$m"; then umount -l "$WORK/root/$m"; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

start=$(date +%s)
log "debootstrap $SUITE (minbase + $INCLUDE) from $MIRROR ..."
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -40 "$WORK/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
log "debootstrap done in $(( $(date +%s) - start ))s"

cat >"$WORK/root/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
SRC
# The tests plant their own build leftovers; start from a neutral tree.
chroot "$WORK/root" apt-get clean
rm -rf "$WORK/root/var/lib/apt/lists/"* "$WORK/root/var/log/"*.log "$WORK/root/var/cache/debconf/"*-old

log "packing $OUT ..."
tar -C "$WORK/root" --numeric-owner --xattrs -czf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
log "done in $(( $(date +%s) - start ))s: $(du -h "$OUT" | cut -f1)"
# Tarballs of earlier versions of this script are of no further use.
find "$CACHE" -maxdepth 1 -name 'rootfs-debian12-*.tar.gz' ! -name "$(basename "$OUT")" -print -delete >&2 || true
echo "$OUT"
