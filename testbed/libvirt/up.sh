#!/usr/bin/env bash
# A private libvirt for the Vagrant tests: libvirtd + virtlogd started by hand (no systemd here) inside a network
# namespace this script creates (so the libvirt bridges, vagrant-libvirt's 192.168.121.0/24 management network and
# any private network exist only there) and inside a private mount namespace whose /etc/libvirt, /run/libvirt,
# /var/lib/libvirt and /var/log/libvirt are directories under $JHVM_LIBVIRT_DIR: nothing of the host's libvirt
# configuration or state is read or changed. QEMU domains run as root (this lab's qemu.conf), type qemu (TCG).
#
#   testbed/libvirt/up.sh      # prints JHVM_LIBVIRT_NETNS=..., JHVM_LIBVIRT_URI=... (shell assignments)
#   testbed/libvirt/down.sh    # stops everything and removes the namespace and the directory
#
# Vagrant and virsh reach this libvirt through the URI's socket; anything that must reach a guest (vagrant up,
# the forwarded ports on 127.0.0.1, the private IP) runs inside the namespace: `ip netns exec $JHVM_LIBVIRT_NETNS`.
# Installs its Debian packages when missing. Needs root. Idempotent: a running lab is reused.
set -euo pipefail

LAB="${JHVM_LIBVIRT_DIR:-/tmp/jhvm-libvirt}"
NS="${JHVM_LIBVIRT_NETNS:-jhvm-libvirt}"
URI="qemu:///system?socket=$LAB/run/libvirt-sock"

log() { printf '[libvirt-lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (network namespace, libvirtd)"

# ------------------------------------------------------------------ packages
declare -A PKG_FOR=(
  [vagrant]=vagrant
  [libvirtd]=libvirt-daemon
  [virsh]=libvirt-clients
  [dnsmasq]=dnsmasq-base
  [iptables]=iptables
  [ip]=iproute2
  [unshare]=util-linux
  [ssh-keygen]=openssh-client
  [xorriso]=xorriso
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
)
missing=()
for cmd in "${!PKG_FOR[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
[[ -d /usr/share/rubygems-integration/all/gems ]] && ls /usr/share/rubygems-integration/all/gems | grep -q '^vagrant-libvirt-' ||
  missing+=(vagrant-libvirt)
[[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]] || missing+=(libvirt-daemon-driver-qemu)
if ((${#missing[@]})); then
  t0=$(date +%s)
  log "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    "${missing[@]}" >/dev/null
  log "installed in $(($(date +%s) - t0)) s"
fi
# libvirt's QEMU driver resolves its built-in default user before it reads qemu.conf: the account must exist
# (libvirt-daemon-system would create it; that package also starts daemons, so it is not used here).
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu

# ------------------------------------------------------------------ reuse a running lab
running() { [[ -S "$LAB/run/libvirt-sock" ]] && virsh -c "$URI" uri >/dev/null 2>&1; }
if running; then
  log "running: $URI (namespace $NS)"
else
  [[ -e "$LAB" || -e "/run/netns/$NS" ]] && "$(dirname "$(readlink -f "$0")")/down.sh"
  t0=$(date +%s)
  mkdir -p "$LAB"/{etc,run,lib,log}
  chmod 0700 "$LAB"
  cat >"$LAB/etc/libvirtd.conf" <<EOF
unix_sock_dir = "$LAB/run"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$LAB/log/libvirtd.log"
EOF
  cat >"$LAB/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
EOF
  printf 'log_outputs = "3:file:%s/log/virtlogd.log"\n' "$LAB" >"$LAB/etc/virtlogd.conf"
  cat >"$LAB/start.sh" <<EOF
set -e
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt
mount --bind "$LAB/etc" /etc/libvirt
mount --bind "$LAB/run" /run/libvirt
mount --bind "$LAB/lib" /var/lib/libvirt
mount --bind "$LAB/log" /var/log/libvirt
ip link set lo up
virtlogd -d -f /etc/libvirt/virtlogd.conf -p "$LAB/virtlogd.pid"
exec libvirtd -d -f /etc/libvirt/libvirtd.conf -p "$LAB/libvirtd.pid"
EOF
  ip netns add "$NS"
  ip netns exec "$NS" unshare --mount --propagation private sh "$LAB/start.sh"
  for _ in $(seq 1 60); do
    running && break
    sleep 0.5
  done
  running || {
    tail -n 20 "$LAB/log/libvirtd.log" >&2 || true
    die "libvirtd did not come up"
  }
  log "started libvirtd (pid $(cat "$LAB/libvirtd.pid")) in namespace $NS in $(($(date +%s) - t0)) s: $URI"
fi
echo "JHVM_LIBVIRT_NETNS=$NS"
echo "JHVM_LIBVIRT_URI=$URI"
echo "JHVM_LIBVIRT_DIR=$LAB"
