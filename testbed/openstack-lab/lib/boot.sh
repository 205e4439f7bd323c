# shellcheck shell=bash disable=SC2034
# boot.sh - the booting mode of testbed/openstack-lab/up.sh (LAB_BOOT=1). Sourced by up.sh, which runs
# inside the lab's own network namespace ($LAB_NETNS) by then; uses up.sh's helpers (start, alive, die,
# say, ksmw, creds) and variables (LAB, RABBIT, the *_PW secrets).
#
#   Ceph 16 (one mon, one mgr, one BlueStore OSD on a sparse file, pool size 1, cephx) -> Cinder RBD volumes
#   a private libvirtd + virtlogd (own dirs under $LAB, private mount namespace) -> Nova's libvirt driver, QEMU TCG
#   Neutron ML2/linuxbridge with its agents: linuxbridge (iptables security groups), DHCP (dnsmasq),
#   L3 (router namespaces, SNAT, floating IPs) and metadata (haproxy in the router -> agent -> Nova metadata API)
#   External network `public` (flat, physnet extnet) = bridge br-ext carrying 203.0.113.1/24 in the namespace.

BOOT_PKGS="python3-libvirt python3-rbd python3-rados libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-block-extra qemu-utils genisoimage ceph-mon ceph-mgr ceph-osd ceph-common
  dnsmasq-base haproxy iptables ipset ebtables conntrack ethtool sudo iproute2"
EXT_BRIDGE=br-ext
EXT_CIDR=203.0.113.1/24

# boot_layout: directories and the namespace-local network pieces (bridge of the external network)
boot_layout() {
  mkdir -p "$LAB"/etc/{ceph,libvirt} "$LAB"/data/{ceph/mon,ceph/mgr,ceph/osd,libvirt} \
    "$LAB"/log/{ceph,libvirt,dnsmasq} "$LAB"/run/{ceph,libvirt}
  ip link set lo up
  if ! ip link show "$EXT_BRIDGE" >/dev/null 2>&1; then
    ip link add "$EXT_BRIDGE" type bridge
    ip addr add "$EXT_CIDR" dev "$EXT_BRIDGE"
    ip link set "$EXT_BRIDGE" up
  fi
}

# boot_configs: override files read after the fake-mode configs (oslo.config: a later --config-file
# wins), agent configs, ceph.conf, libvirt configs. Needs $METADATA_PW and $RBD_SECRET_UUID.
boot_configs() {
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 2
run dir = $LAB/run/ceph
admin socket = $LAB/run/ceph/\$cluster-\$name.asok
log file = $LAB/log/ceph/\$cluster-\$name.log
# no crash reports / core dumps of the lab into /var/lib/ceph
crash dir = $LAB/data/ceph/crash

[mon]
mon data = $LAB/data/ceph/mon/\$cluster-\$id

[mgr]
mgr data = $LAB/data/ceph/mgr/\$cluster-\$id
# modules off that are not needed (less CPU on a busy 2-core machine)
mgr initial modules = iostat

[osd]
osd data = $LAB/data/ceph/osd/\$cluster-\$id
osd objectstore = bluestore
# outside "osd data": BlueStore puts a block symlink there ("Too many levels of symbolic links")
bluestore block path = $LAB/data/ceph/osd-\$id.block
bluestore block create = true
bluestore block size = 10737418240
osd memory target = 939524096

[client]
# here, not in [global]: it would override the daemons' own keyrings
keyring = $LAB/etc/ceph/\$cluster.\$name.keyring
EOF

  cat > "$LAB/etc/libvirt/libvirtd.conf" <<EOF
unix_sock_dir = "$LAB/run/libvirt"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$LAB/log/libvirt/libvirtd.log"
EOF
  cat > "$LAB/etc/libvirt/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
EOF
  printf 'log_outputs = "3:file:%s/log/libvirt/virtlogd.log"\n' "$LAB" > "$LAB/etc/libvirt/virtlogd.conf"
  # libvirtd reads /etc/libvirt and keeps its state in /run/libvirt, /var/lib/libvirt: in a private mount
  # namespace those are directories under $LAB (as testbed/libvirt/up.sh does), nothing of the host's
  # libvirt is read or changed. /etc/ceph too, for QEMU's librbd (its default ceph.conf location).
  cat > "$LAB/etc/libvirt/start.sh" <<EOF
set -e
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /etc/ceph
mount --bind "$LAB/etc/libvirt" /etc/libvirt
mount --bind "$LAB/run/libvirt" /run/libvirt
mount --bind "$LAB/data/libvirt" /var/lib/libvirt
mount --bind "$LAB/log/libvirt" /var/log/libvirt
mount --bind "$LAB/etc/ceph" /etc/ceph
virtlogd -d -f /etc/libvirt/virtlogd.conf -p "$LAB/run/virtlogd.pid"
# its own pid file: the default /run/libvirtd.pid is the host's, held by any other libvirtd (another lab's)
exec libvirtd -f /etc/libvirt/libvirtd.conf -p "$LAB/run/libvirtd.daemon.pid"
EOF
  cat > "$LAB/etc/libvirt/secret.xml" <<EOF
<secret ephemeral='no' private='no'>
  <uuid>$RBD_SECRET_UUID</uuid>
  <usage type='ceph'><name>client.cinder secret</name></usage>
</secret>
EOF

  cat > "$LAB/etc/nova/nova-boot.conf" <<EOF
# booting mode: overrides nova.conf (read after it)
[DEFAULT]
compute_driver = libvirt.LibvirtDriver
enabled_apis = osapi_compute,metadata
metadata_listen = 127.0.0.1
metadata_listen_port = 8775
metadata_workers = 1
# every server gets a config drive (the guest images read the ConfigDrive datasource first)
force_config_drive = true

[libvirt]
virt_type = qemu
cpu_mode = none
connection_uri = $LIBVIRT_URI
rbd_user = cinder
rbd_secret_uuid = $RBD_SECRET_UUID

[workarounds]
# the lab has no nova-rootwrap: privsep is started through sudo as root
disable_rootwrap = true

[neutron]
service_metadata_proxy = true
metadata_proxy_shared_secret = $METADATA_PW
EOF

  cat > "$LAB/etc/cinder/cinder-boot.conf" <<EOF
# booting mode: overrides cinder.conf (read after it)
[DEFAULT]
enabled_backends = ceph

[ceph]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph
rbd_pool = volumes
rbd_ceph_conf = $CEPH_CONF
rbd_user = cinder
rbd_secret_uuid = $RBD_SECRET_UUID
rbd_flatten_volume_from_snapshot = false
EOF

  cat > "$LAB/etc/neutron/neutron-boot.conf" <<EOF
# booting mode: overrides neutron.conf (read after it, by the server and every agent)
[DEFAULT]
# the agents' host = Nova's compute host, so ports bound to lab-compute are wired by these agents
host = lab-compute
dhcp_agents_per_network = 1
interface_driver = linuxbridge

[agent]
# as root, no neutron-rootwrap installed: plain sudo (also starts privsep-helper)
root_helper = sudo
report_interval = 10

[experimental]
# Zed refuses the linuxbridge mechanism driver without it
linuxbridge = true
EOF
  cat > "$LAB/etc/neutron/plugins/ml2/ml2-boot.ini" <<EOF
# booting mode: overrides ml2_conf.ini
[ml2]
type_drivers = flat,local
# one host: project networks are "local" (a bridge per network, no VLAN: no 8021q module here)
tenant_network_types = local
mechanism_drivers = linuxbridge
extension_drivers = port_security

[ml2_type_flat]
flat_networks = extnet

[securitygroup]
enable_security_group = true
firewall_driver = iptables
EOF
  cat > "$LAB/etc/neutron/linuxbridge_agent.ini" <<EOF
[linux_bridge]
# the external network's physnet = the bridge boot_layout made (203.0.113.1/24 in the namespace)
bridge_mappings = extnet:$EXT_BRIDGE

[vxlan]
enable_vxlan = false

[securitygroup]
enable_security_group = true
firewall_driver = iptables

[agent]
polling_interval = 2
EOF
  cat > "$LAB/etc/neutron/dhcp_agent.ini" <<EOF
[DEFAULT]
interface_driver = linuxbridge
dhcp_driver = neutron.agent.linux.dhcp.Dnsmasq
enable_isolated_metadata = false
num_sync_threads = 1
resync_interval = 5
# --log-dhcp --log-queries, one log per network under this dir
dnsmasq_base_log_dir = $LAB/log/dnsmasq
dnsmasq_config_file = $LAB/etc/neutron/dnsmasq.conf
EOF
  # dnsmasq drops root for "nobody"/"dnsmasq" after start, and then cannot re-read its hosts file
  # (under the 0700 $LAB) on the SIGHUP the agent sends for each new port: it would ignore every
  # DHCPDISCOVER of a port created after it started. Keep it root (it runs in its own namespace).
  printf 'user=root\ngroup=root\n' > "$LAB/etc/neutron/dnsmasq.conf"
  cat > "$LAB/etc/neutron/l3_agent.ini" <<EOF
[DEFAULT]
interface_driver = linuxbridge
agent_mode = legacy
EOF
  cat > "$LAB/etc/neutron/metadata_agent.ini" <<EOF
[DEFAULT]
nova_metadata_host = 127.0.0.1
nova_metadata_port = 8775
nova_metadata_protocol = http
metadata_proxy_shared_secret = $METADATA_PW
metadata_workers = 1
EOF
}

# ceph_setup: mon, mgr, OSD, pool `volumes`, key client.cinder. Daemons in the foreground (-f) by start().
ceph_setup() {
  local d=$LAB/etc/ceph t osd_uuid id
  ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$d/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$d/mon.keyring" --import-keyring "$d/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' \
    --fsid "$(awk '$1 == "fsid" {print $3}' "$CEPH_CONF")" "$LAB/data/ceph/monmap" >/dev/null
  mkdir -p "$LAB/data/ceph/mon/ceph-a" "$LAB/data/ceph/crash"
  ceph-mon --mkfs -i a --monmap "$LAB/data/ceph/monmap" --keyring "$d/mon.keyring"
  start ceph-mon ceph-mon -f -i a
  t=$(( $(date +%s) + WAIT ))
  until timeout 10 ceph -s >/dev/null 2>&1; do
    alive ceph-mon "$LAB/log/ceph/ceph-mon.a.log"
    [ "$(date +%s)" -lt "$t" ] || die "ceph-mon does not answer" "$LAB/log/ceph/ceph-mon.a.log"
    sleep 0.5
  done
  echo "mon up"
  mkdir -p "$LAB/data/ceph/mgr/ceph-x"
  ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$LAB/data/ceph/mgr/ceph-x/keyring"
  start ceph-mgr ceph-mgr -f -i x
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph osd new "$osd_uuid")
  mkdir -p "$LAB/data/ceph/osd/ceph-$id"
  # --no-mon-config: its keyring does not exist yet
  ceph-osd -i "$id" --mkfs --osd-uuid "$osd_uuid" --no-mon-config -c "$CEPH_CONF" > "$LAB/log/ceph/osd-mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed" "$LAB/log/ceph/osd-mkfs.out"
  ceph auth get-or-create "osd.$id" mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    -o "$LAB/data/ceph/osd/ceph-$id/keyring"
  start ceph-osd ceph-osd -f -i "$id"
  t=$(( $(date +%s) + WAIT ))
  until [ "$(ceph osd stat -f json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["num_up_osds"])' 2>/dev/null)" = 1 ]; do
    alive ceph-osd "$LAB/log/ceph/ceph-osd.$id.log"
    [ "$(date +%s)" -lt "$t" ] || die "ceph-osd not up" "$LAB/log/ceph/ceph-osd.$id.log"
    sleep 0.5
  done
  echo "osd.$id up"
  ceph osd pool create volumes 32 32 >/dev/null
  ceph osd pool set volumes size 1 --yes-i-really-mean-it >/dev/null
  timeout "$WAIT" rbd pool init volumes
  ceph auth get-or-create client.cinder mon 'profile rbd' osd 'profile rbd pool=volumes' \
    mgr 'profile rbd pool=volumes' -o "$d/ceph.client.cinder.keyring"
  # the bare key, for the libvirt secret (read from this 0600 file, never from a command line)
  ceph auth print-key client.cinder > "$d/client.cinder.key"
  ceph -s
}

# libvirt_start: libvirtd (foreground, pidfile by start()) + virtlogd (daemon, own pidfile)
libvirt_start() {
  start libvirtd unshare --mount --propagation private sh "$LAB/etc/libvirt/start.sh"
}
libvirt_wait() {
  local t=$(( $(date +%s) + WAIT ))
  until virsh -c "$LIBVIRT_URI" uri >/dev/null 2>&1; do
    alive libvirtd "$LAB/log/libvirt/libvirtd.log"
    [ "$(date +%s)" -lt "$t" ] || die "libvirtd does not answer on $LIBVIRT_URI" "$LAB/log/libvirtd.out" "$LAB/log/libvirt/libvirtd.log"
    sleep 0.25
  done
}
# libvirt_secret: client.cinder's key as the libvirt secret Nova names in RBD disks
libvirt_secret() {
  virsh -c "$LIBVIRT_URI" secret-define "$LAB/etc/libvirt/secret.xml" >/dev/null
  # --file: the value (base64, as ceph prints it) never appears on a command line
  virsh -c "$LIBVIRT_URI" secret-set-value --secret "$RBD_SECRET_UUID" --file "$LAB/etc/ceph/client.cinder.key" >/dev/null
  [ "$(virsh -c "$LIBVIRT_URI" secret-get-value "$RBD_SECRET_UUID")" = "$(cat "$LAB/etc/ceph/client.cinder.key")" ] ||
    die "libvirt secret $RBD_SECRET_UUID does not hold client.cinder's key"
}

# agents_start: the four Neutron agents (after neutron-server answers)
agents_start() {
  local base=(--config-file "$LAB/etc/neutron/neutron.conf" --config-file "$LAB/etc/neutron/neutron-boot.conf")
  start neutron-linuxbridge-agent neutron-linuxbridge-agent "${base[@]}" \
    --config-file "$LAB/etc/neutron/linuxbridge_agent.ini" --log-file "$LAB/log/neutron-linuxbridge-agent.log"
  start neutron-dhcp-agent neutron-dhcp-agent "${base[@]}" \
    --config-file "$LAB/etc/neutron/dhcp_agent.ini" --log-file "$LAB/log/neutron-dhcp-agent.log"
  start neutron-l3-agent neutron-l3-agent "${base[@]}" \
    --config-file "$LAB/etc/neutron/l3_agent.ini" --log-file "$LAB/log/neutron-l3-agent.log"
  start neutron-metadata-agent neutron-metadata-agent "${base[@]}" \
    --config-file "$LAB/etc/neutron/metadata_agent.ini" --log-file "$LAB/log/neutron-metadata-agent.log"
}
# agents_wait: all four report alive to neutron-server
agents_wait() {
  local t=$(( $(date +%s) + WAIT )) n s
  while :; do
    n=$(mariadb --defaults-file="$LAB/etc/my.cnf" -N -e \
      "select count(*) from neutron.agents where heartbeat_timestamp > utc_timestamp() - interval 60 second" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 4 ] && break
    for s in neutron-linuxbridge-agent neutron-dhcp-agent neutron-l3-agent neutron-metadata-agent; do
      alive "$s" "$LAB/log/$s.log"
    done
    [ "$(date +%s)" -lt "$t" ] || die "neutron agents not all alive within ${WAIT}s ($n of 4)" \
      "$LAB/log/neutron-linuxbridge-agent.log" "$LAB/log/neutron-dhcp-agent.log" "$LAB/log/neutron-l3-agent.log"
    sleep 0.5
  done
}
# network_wait: after the seed, lab-net's DHCP port and lab-router's ports are ACTIVE (wired by the agents)
network_wait() {
  local t=$(( $(date +%s) + WAIT )) n
  while :; do
    n=$(mariadb --defaults-file="$LAB/etc/my.cnf" -N -e "select count(*) from neutron.ports where status <> 'ACTIVE'
          and device_owner in ('network:dhcp', 'network:router_interface', 'network:router_gateway')" 2>/dev/null || echo 1)
    [ "${n:-1}" = 0 ] && break
    [ "$(date +%s)" -lt "$t" ] || die "DHCP/router ports not ACTIVE within ${WAIT}s" \
      "$LAB/log/neutron-linuxbridge-agent.log" "$LAB/log/neutron-dhcp-agent.log" "$LAB/log/neutron-l3-agent.log"
    sleep 0.5
  done
}
