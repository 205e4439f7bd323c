#!/usr/bin/env bash
# A small bootable qcow2 for tests/images/local-vm.test.ts: the debootstrapped Debian 12 image
# (tests/images/debian12-qcow2.sh, whose rootfs is cached) plus one systemd unit, jhvm-test-web, that at boot
#  - mounts the NoCloud seed CD-ROM (label cidata) read-only at /mnt/seed,
#  - mounts the 9p share `jhvm-data` (QEMU -virtfs, as targets/local/qemu.ts attaches dataDir) at /srv/data,
#  - serves /srv/www on port 80 with `python3 -m http.server`: /index.html ("jhvm-test-web ok"),
#    /seed/ -> the seed's files, /data/ -> the share, /mounts.txt -> the guest's /proc/mounts (every 2 s);
# and Debian's cloud-init (NoCloud only), as the final image has: it applies the seed's user-data and vendor-data
# (the Vagrant runner's per-VM login, targets/local/vagrant-libvirt.ts) at first boot.
# So an HTTP GET through the VM's host port forward proves: the guest booted from the overlay, its network and the
# port forward work, the seed is attached, and the data folder is shared.
#
#   tests/images/local-vm-test-image.sh            # prints the image path (built once, then cached)
#
# Cached under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/images/, keyed by the sha256 of this script and of
# debian12-qcow2.sh. The image has a throw-away build user with a random, unrecorded password (nobody logs in).
# Needs root (loop devices, mount). ~1-2 min when the debootstrap rootfs is cached.
set -euo pipefail

HERE="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
CACHE_DIR="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}/images"
KEY="$(cat "${BASH_SOURCE[0]}" "$HERE/debian12-qcow2.sh" | sha256sum | cut -c1-16)"
OUT="$CACHE_DIR/local-vm-test-$KEY.qcow2"

# shellcheck source=../../testbed/cache-keep.sh
source "$HERE/../../testbed/cache-keep.sh"
log() { printf '[local-vm-test-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (loop devices, mount)"

mkdir -p "$CACHE_DIR"
exec 8>"$CACHE_DIR/.local-vm-test.lock"
flock 8
if [[ -s "$OUT" ]]; then
  touch "$OUT"
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

t0=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-lvm-img.XXXXXX")"
LOOP=""
MNT=""
cleanup() {
  [[ -n "$MNT" ]] && umount -l "$MNT" 2>/dev/null || true
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

hash="$(head -c 24 /dev/urandom | base64 | openssl passwd -6 -stdin)"
JHVM_BUILD_USER=builder JHVM_BUILD_PASSWORD_HASH="$hash" "$HERE/debian12-qcow2.sh" "$work/base.qcow2"

log "adding the jhvm-test-web unit"
qemu-img convert -f qcow2 -O raw "$work/base.qcow2" "$work/disk.raw"
rm -f "$work/base.qcow2"
LOOP="$(losetup -f -P --show "$work/disk.raw")"
part="${LOOP}p1"
if [[ ! -b "$part" ]]; then partx -a "$LOOP" 2>/dev/null || true; fi
if [[ ! -b "$part" ]]; then
  devnum="$(cat "/sys/block/$(basename "$LOOP")/$(basename "$part")/dev")"
  mknod "$part" b "${devnum%%:*}" "${devnum##*:}"
fi
MNT="$work/mnt"
mkdir -p "$MNT"
mount "$part" "$MNT"
log "installing cloud-init (Debian's package) into the image"
for d in proc sys dev; do mount --bind "/$d" "$MNT/$d"; done
cp /etc/resolv.conf "$MNT/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$MNT/usr/sbin/policy-rc.d"
chmod 0755 "$MNT/usr/sbin/policy-rc.d"
ok=1
chroot "$MNT" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cloud-init && apt-get clean' \
  >"$work/apt.log" 2>&1 || ok=0
rm -f "$MNT/usr/sbin/policy-rc.d"
: >"$MNT/etc/resolv.conf"
rm -rf "$MNT"/var/lib/apt/lists/*
for d in dev sys proc; do umount -l "$MNT/$d"; done
[[ $ok == 1 ]] || { tail -n 30 "$work/apt.log" >&2; die "installing cloud-init failed"; }
# only the NoCloud seed: never probe a network metadata service
printf 'datasource_list: [ NoCloud, None ]\n' >"$MNT/etc/cloud/cloud.cfg.d/90-jhvm-test.cfg"
cat >"$MNT/usr/local/sbin/jhvm-test-web" <<'SH'
#!/bin/sh
# test image only: expose the seed, the 9p share and the guest's mounts (refreshed every 2 s) over HTTP on port 80
mkdir -p /srv/www /mnt/seed /srv/data
for i in $(seq 1 30); do [ -b /dev/sr0 ] && break; sleep 1; done
mount -o ro /dev/sr0 /mnt/seed || echo "jhvm-test-web: no seed cdrom" >&2
modprobe 9pnet_virtio 2>/dev/null || true
mount -t 9p -o trans=virtio,version=9p2000.L,nofail jhvm-data /srv/data || echo "jhvm-test-web: no 9p share" >&2
ln -sfn /mnt/seed /srv/www/seed
ln -sfn /srv/data /srv/www/data
echo "jhvm-test-web ok" >/srv/www/index.html
(while :; do cat /proc/mounts >/srv/www/.mounts && mv /srv/www/.mounts /srv/www/mounts.txt; sleep 2; done) &
echo "jhvm-test-web: serving on port 80" >/dev/ttyS0 2>/dev/null || true
exec /usr/bin/python3 -m http.server 80 --directory /srv/www
SH
chmod 0755 "$MNT/usr/local/sbin/jhvm-test-web"
cat >"$MNT/etc/systemd/system/jhvm-test-web.service" <<'UNIT'
[Unit]
Description=local-vm test web server (port 80)
After=local-fs.target

[Service]
ExecStart=/usr/local/sbin/jhvm-test-web
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/jhvm-test-web.service "$MNT/etc/systemd/system/multi-user.target.wants/jhvm-test-web.service"
umount "$MNT"
MNT=""
losetup -d "$LOOP"
LOOP=""
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cache_keep_newest "$CACHE_DIR" 'local-vm-test-*.qcow2' 2
log "wrote $OUT ($(du -h "$OUT" | cut -f1)) in $(($(date +%s) - t0)) s"
echo "$OUT"
