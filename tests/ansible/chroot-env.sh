#!/usr/bin/env bash
# Test fixture: a Debian 12 root file system in a directory, used by the Ansible roles through the chroot
# connection.
#
#   chroot-env.sh create  DIR   extract the cached rootfs (make-rootfs.sh) to DIR/root, mount /proc, block
#                               daemon starts (policy-rc.d), copy resolv.conf
#   chroot-env.sh plant   DIR   plant what a build leaves behind (build user "builder" with password and
#                               sudoers entry + Vagrant insecure key, vagrant user, root password, system
#                               accounts with a password / an empty one, host keys, machine-id, cloud-init
#                               instance, TLJH state secrets, shell history, a log line with the password)
#   chroot-env.sh fake-tljh DIR  stand-in for TLJH's user environment: a venv at /opt/tljh/user (Debian's
#                               python3-venv), for the python_packages role
#   chroot-env.sh copy    DIR DEST  copy DIR/root to DEST/root (without the mounted /proc)
#   chroot-env.sh seal    DIR   unmount /proc and remove the test's policy-rc.d and resolv.conf copy
#   chroot-env.sh destroy DIR   unmount and delete DIR
# Needs root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cmd=${1:?usage: chroot-env.sh create|plant|fake-tljh|copy|seal|destroy DIR}
DIR=${2:?usage: chroot-env.sh $cmd DIR}
ROOT="$DIR/root"
log() { printf '[chroot-env] %s\n' "$*" >&2; }

VAGRANT_RSA='ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key'
VAGRANT_ED25519='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key'

unmount_all() {
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
}

case "$cmd" in
  create)
    start=$(date +%s)
    tarball=$("$HERE/make-rootfs.sh")
    mkdir -p "$ROOT"
    tar -C "$ROOT" --numeric-owner -xzf "$tarball"
    mount -t proc proc "$ROOT/proc"
    # Package scripts must not start daemons in the test chroot (they would run on the build host).
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    log "rootfs ready in $ROOT ($(( $(date +%s) - start ))s)"
    ;;
  plant)
    # A build user as Packer/Vagrant leave it: password, passwordless sudo, Vagrant's insecure key.
    chroot "$ROOT" useradd --create-home --shell /bin/bash --groups sudo builder
    echo 'builder:Build-Pa55word-do-not-ship' | chroot "$ROOT" chpasswd
    echo 'builder ALL=(ALL) NOPASSWD: ALL' >"$ROOT/etc/sudoers.d/90-builder"
    chmod 0440 "$ROOT/etc/sudoers.d/90-builder"
    install -d -m 0700 "$ROOT/home/builder/.ssh"
    printf '%s\n%s\n' "$VAGRANT_RSA" "$VAGRANT_ED25519" >"$ROOT/home/builder/.ssh/authorized_keys"
    echo 'sudo tljh-config set x y; history' >"$ROOT/home/builder/.bash_history"
    chroot "$ROOT" chown -R builder:builder /home/builder
    # A vagrant user too (sysprep_remove_users default), and a password for root.
    chroot "$ROOT" useradd --create-home --shell /bin/bash vagrant
    echo 'vagrant:vagrant' | chroot "$ROOT" chpasswd
    echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$ROOT/etc/sudoers.d/vagrant"
    chmod 0440 "$ROOT/etc/sudoers.d/vagrant"
    echo 'root:Root-Pa55word-do-not-ship' | chroot "$ROOT" chpasswd
    # A system account with a password (sysprep locks it) and one with an empty password field.
    echo 'daemon:Daemon-Pa55word' | chroot "$ROOT" chpasswd
    chroot "$ROOT" usermod -p '' games
    install -d -m 0700 "$ROOT/root/.ssh"
    echo "$VAGRANT_RSA" >"$ROOT/root/.ssh/authorized_keys"
    echo 'cat /etc/shadow' >"$ROOT/root/.bash_history"
    # Host keys (openssh-server made some at install; make sure) and a machine identity.
    chroot "$ROOT" ssh-keygen -A >/dev/null
    echo 0123456789abcdef0123456789abcdef >"$ROOT/etc/machine-id"
    mkdir -p "$ROOT/var/lib/dbus"
    rm -f "$ROOT/var/lib/dbus/machine-id"
    echo 0123456789abcdef0123456789abcdef >"$ROOT/var/lib/dbus/machine-id"
    # cloud-init state of the build boot.
    mkdir -p "$ROOT/var/lib/cloud/instances/i-build0001/sem" "$ROOT/var/lib/cloud/data" "$ROOT/var/lib/cloud/seed/nocloud"
    ln -sfn /var/lib/cloud/instances/i-build0001 "$ROOT/var/lib/cloud/instance"
    echo i-build0001 >"$ROOT/var/lib/cloud/data/instance-id"
    echo 'Cloud-init v. 22.4.2 finished' >"$ROOT/var/log/cloud-init.log"
    # TLJH state of the build's hub run.
    mkdir -p "$ROOT/opt/tljh/state/rules"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ROOT/opt/tljh/state/jupyterhub_cookie_secret"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ROOT/opt/tljh/state/traefik-api.secret"
    printf 'SQLite format 3\0fake' >"$ROOT/opt/tljh/state/jupyterhub.sqlite"
    echo '[http.routers]' >"$ROOT/opt/tljh/state/rules/rules.toml"
    # A log line with the build password, as a careless provisioner would leave it.
    mkdir -p "$ROOT/var/log/installer"
    echo 'echo builder:Build-Pa55word-do-not-ship | chpasswd' >"$ROOT/var/log/installer/build.log"
    log "planted build leftovers in $ROOT"
    ;;
  fake-tljh)
    chroot "$ROOT" python3 -m venv /opt/tljh/user
    log "fake TLJH user environment: $(chroot "$ROOT" /opt/tljh/user/bin/pip --version)"
    ;;
  copy)
    DEST=${3:?usage: chroot-env.sh copy DIR DEST}
    mkdir -p "$DEST/root"
    tar -C "$ROOT" --one-file-system --numeric-owner -cf - . | tar -C "$DEST/root" --numeric-owner -xf -
    log "copied $ROOT to $DEST/root"
    ;;
  seal)
    unmount_all
    rm -f "$ROOT/usr/sbin/policy-rc.d" "$ROOT/etc/resolv.conf"
    log "sealed $ROOT"
    ;;
  destroy)
    unmount_all
    rm -rf "$DIR"
    log "removed $DIR"
    ;;
  *)
    echo "unknown command $cmd" >&2; exit 2 ;;
esac
