#!/usr/bin/env bash
# Stops the private libvirt of testbed/libvirt/up.sh: every domain it still has is destroyed and undefined (with its
# storage), every process in its network namespace (libvirtd, virtlogd, dnsmasq, QEMU, Vagrant's SSH tunnels) is
# stopped, then the namespace and $JHVM_LIBVIRT_DIR are removed. Idempotent.
set -euo pipefail

LAB="${JHVM_LIBVIRT_DIR:-/tmp/jhvm-libvirt}"
NS="${JHVM_LIBVIRT_NETNS:-jhvm-libvirt}"
URI="qemu:///system?socket=$LAB/run/libvirt-sock"
log() { printf '[libvirt-lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -S "$LAB/run/libvirt-sock" ]] && virsh -c "$URI" uri >/dev/null 2>&1; then
  for d in $(virsh -c "$URI" list --all --name); do
    log "removing leftover domain $d"
    virsh -c "$URI" destroy "$d" >/dev/null 2>&1 || true
    virsh -c "$URI" undefine "$d" --remove-all-storage >/dev/null 2>&1 || true
  done
fi
if [[ -e "/run/netns/$NS" ]]; then
  for sig in TERM KILL; do
    pids="$(ip netns pids "$NS" 2>/dev/null || true)"
    [[ -z "$pids" ]] && break
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    for _ in $(seq 1 20); do
      [[ -z "$(ip netns pids "$NS" 2>/dev/null || true)" ]] && break
      sleep 0.5
    done
  done
  ip netns del "$NS"
  log "removed namespace $NS"
fi
if [[ -d "$LAB" ]]; then
  rm -rf --one-file-system "$LAB"
  log "removed $LAB"
fi
