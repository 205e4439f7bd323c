#!/bin/bash
# up.sh - the project's test OpenStack, from Debian 12 packages (OpenStack Zed), on 127.0.0.1 only.
#
#   MariaDB (unix socket only, no TCP) + RabbitMQ, Keystone, Glance (file store), Placement,
#   Neutron (ML2 + L3 router plugin, no agents; lab mech driver binds every port),
#   Nova api/conductor/scheduler/compute with fake.FakeDriver,
#   and with LAB_CINDER=1 also Cinder api/scheduler/volume with Cinder's FakeLoggingVolumeDriver.
#   Then seeds what the end-to-end test needs: flavors m1.tiny/m1.small, external network
#   `public` (203.0.113.0/24), project/user `demo` with network `lab-net` (198.51.100.0/24) and
#   router `lab-router` (gateway on `public`, so floating IPs can be associated).
#   With LAB_BOOT=1 (implies LAB_CINDER=1) servers really boot: see lib/boot.sh - the whole lab then runs
#   in its own network namespace $LAB_NETNS (default jhvm-lab); reach it with `ip netns exec jhvm-lab ...`.
#
# Usage: testbed/openstack-lab/up.sh            start (exit 0 at once when the lab already runs and answers)
#        testbed/openstack-lab/up.sh --check    same as status.sh: exit 0 when every API answers
#        testbed/openstack-lab/up.sh --restart  stop the running lab and start a fresh one
# Env:   LAB=/tmp/jhvm-lab  LAB_CINDER=1  LAB_BOOT=1  LAB_NETNS=jhvm-lab  LAB_SKIP_INSTALL=1  LAB_WAIT=240 (seconds per wait)
# Then:  export OS_CLIENT_CONFIG_FILE=$LAB/clouds.yaml; openstack --os-cloud lab-demo server list
# Stop:  testbed/openstack-lab/down.sh [--purge]
set -euo pipefail
lab_t0=${LAB_UP_T0:-$(date +%s%N)}   # LAB_UP_T0: set for the booting mode's second pass only
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
. "$LAB_SRC/lib/boot.sh"

MODE=start
case "${1:-}" in
  --check) exec "$LAB_SRC/status.sh" ;;
  --restart) MODE=restart ;;
  "") ;;
  *) echo "usage: $0 [--check|--restart]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "up.sh must run as root (apt-get, services)" >&2; exit 1; }

LAB_CINDER=${LAB_CINDER:-0}
LAB_BOOT=${LAB_BOOT:-0}
[ "$LAB_BOOT" = 1 ] && LAB_CINDER=1
WAIT=${LAB_WAIT:-240}
FEATURES="cinder=$LAB_CINDER"
[ "$LAB_BOOT" = 1 ] && FEATURES="$FEATURES boot=1"
# the booting lab's second pass (below) runs this script again inside its namespace
export LAB_BOOT LAB_CINDER
export DEBIAN_FRONTEND=noninteractive
umask 077
mkdir -p "$LAB"
chmod 700 "$LAB"

# one up.sh at a time per lab dir
exec 9> "$LAB/.up.lock"
flock -w 900 9 || die "another up.sh holds $LAB/.up.lock"

print_usage_hint() {
  echo "OS_CLIENT_CONFIG_FILE=$LAB/clouds.yaml"
  echo "  clouds: lab (admin), lab-demo (project demo, role member)"
}

######################################################################## already running?
if [ "$MODE" = start ] && [ -f "$LAB/run/features" ]; then
  if [ "$(lab_features)" = "$FEATURES" ] && "$LAB_SRC/status.sh" --quiet; then
    say "lab already running and answering ($FEATURES) - nothing to do"
    print_usage_hint
    exit 0
  fi
  say "a previous lab in $LAB is not healthy or has other features ($(lab_features) vs $FEATURES): restarting it"
  MODE=restart
fi
# (a booting lab's namespace left by a failed start counts too - but not in the second pass, which runs in it)
if [ "$MODE" = restart ] || ls "$LAB"/run/*.pid >/dev/null 2>&1 ||
   { [ -f "$LAB/netns" ] && ! in_netns "$(cat "$LAB/netns")"; }; then
  say "stopping previous lab processes (stale pidfiles are checked against $LAB)"
  "$LAB_SRC/down.sh" || die "down.sh could not stop the previous lab"
fi
# (booting mode: checked in the second pass, inside the lab's namespace, where its ports will be)
if [ "$LAB_BOOT" != 1 ] || in_netns "$LAB_NETNS"; then
  for p in $ALL_PORTS; do
    if ss -ltnH "sport = :$p" | grep -q .; then
      ss -ltnpH "sport = :$p" >&2
      die "port $p is already in use by a process that is not this lab ($LAB); stop it first"
    fi
  done
fi

######################################################################## packages
PKGS="python3-keystone python3-glance python3-nova python3-placement python3-neutron
      python3-openstackclient python3-openstacksdk python3-osc-placement python3-pymysql
      uwsgi-core uwsgi-plugin-python3 rabbitmq-server mariadb-server
      qemu-utils curl openssl iproute2 procps util-linux"
[ "$LAB_CINDER" = 1 ] && PKGS="$PKGS python3-cinder"
[ "$LAB_BOOT" = 1 ] && PKGS="$PKGS $BOOT_PKGS"
# shellcheck disable=SC2086
missing=$(dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null | awk '$2 != "ii" {print $1}' || true)
for p in $PKGS; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
missing=$(echo "$missing" | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ' || true)
if [ -n "${missing// /}" ]; then
  [ -n "${LAB_SKIP_INSTALL:-}" ] && die "LAB_SKIP_INSTALL set but packages missing: $missing"
  say "installing Debian packages (missing: $missing)"
  ti=$(date +%s)
  ADDED_POLICY=
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep postinst scripts from starting daemons
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; ADDED_POLICY=1
  fi
  for _ in $(seq 1 60); do   # the lists lock is not covered by DPkg::Lock::Timeout
    apt-get update -q > "$LAB/apt-update.out" 2>&1 && break
    grep -q 'Could not get lock' "$LAB/apt-update.out" || die "apt-get update failed" "$LAB/apt-update.out"
    sleep 10
  done
  # shellcheck disable=SC2086
  apt-get install -y -q --no-upgrade --no-install-recommends -o DPkg::Lock::Timeout=900 $PKGS \
    > "$LAB/apt-install.out" 2>&1 || { [ -n "$ADDED_POLICY" ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed" "$LAB/apt-install.out"; }
  [ -n "$ADDED_POLICY" ] && rm -f /usr/sbin/policy-rc.d
  say "packages installed in $(( $(date +%s) - ti ))s"
else
  say "all Debian packages present, apt skipped"
fi

# api-paste.ini files exist only in the service packages (nova-common, ...), which would also
# pull dbconfig-common and init scripts that bind all interfaces: download and extract, never install.
CACHE=$LAB/cache
PASTE_DEBS="nova-common glance-common neutron-common"
[ "$LAB_CINDER" = 1 ] && PASTE_DEBS="$PASTE_DEBS cinder-common"
need_debs=
for d in $PASTE_DEBS; do [ -d "$CACHE/x/usr/share/$d" ] || need_debs="$need_debs $d"; done
if [ -n "$need_debs" ]; then
  say "extracting api-paste.ini from:$need_debs"
  mkdir -p "$CACHE/debs"
  # shellcheck disable=SC2086
  if ! (cd "$CACHE/debs" && apt-get download $need_debs) > "$CACHE/download.out" 2>&1; then
    apt-get update -q >> "$CACHE/download.out" 2>&1 || true
    # shellcheck disable=SC2086
    (cd "$CACHE/debs" && apt-get download $need_debs) >> "$CACHE/download.out" 2>&1 ||
      die "apt-get download $need_debs failed" "$CACHE/download.out"
  fi
  for d in "$CACHE"/debs/*.deb; do dpkg-deb -x "$d" "$CACHE/x"; done
fi

######################################################################## booting mode: own namespace
# Everything from here on runs inside a network namespace made for this lab (own loopback for the
# APIs; bridges, taps, router/DHCP namespaces' veths and guest addresses exist only there): the
# script runs again inside it (packages and a running lab are checked again, quickly).
if [ "$LAB_BOOT" = 1 ] && ! in_netns "$LAB_NETNS"; then
  if [ -e "/run/netns/$LAB_NETNS" ]; then
    die "network namespace $LAB_NETNS exists already (another booting lab? stop it with its down.sh, or set LAB_NETNS)"
  fi
  ip netns add "$LAB_NETNS"
  echo "$LAB_NETNS" > "$LAB/netns"   # down.sh removes the namespace it names
  say "created network namespace $LAB_NETNS; continuing inside it"
  export LAB_UP_T0=$lab_t0
  netns_exec "$LAB_NETNS" "$BASH" "$0"
fi

######################################################################## fresh layout + secrets
say "preparing $LAB (features: $FEATURES)"
rm -rf "${LAB:?}/data" "${LAB:?}/log" "${LAB:?}/run" "${LAB:?}/etc" "${LAB:?}/shims" "${LAB:?}/clouds.yaml"
mkdir -p "$LAB"/{shims,run,log/rabbitmq} \
  "$LAB"/etc/{keystone,glance,placement,nova,neutron/plugins/ml2,rabbitmq,cinder} \
  "$LAB"/data/{mysql,locks,keystone,glance/images,glance/staging,glance/tasks} \
  "$LAB"/data/{nova/instances,neutron,cinder,rabbitmq/home,rabbitmq/mnesia}

# new random passwords at every start; they only ever go into 0600 files under $LAB
SECRETS=$LAB/etc/secrets.env
{
  for k in ADMIN DEMO KEYSTONE_SVC GLANCE NOVA PLACEMENT NEUTRON CINDER RABBIT METADATA; do
    echo "${k}_PW=$(openssl rand -hex 24)"
  done
  # booting mode: UUID of the libvirt secret holding client.cinder's Ceph key (not itself a secret)
  echo "RBD_SECRET_UUID=$(cat /proc/sys/kernel/random/uuid)"
} > "$SECRETS"
chmod 600 "$SECRETS"
# shellcheck disable=SC1090
. "$SECRETS"

# console-script shims (the real ones ship in the service packages we do not install)
for spec in glance-api:glance.cmd.api glance-manage:glance.cmd.manage \
            nova-api:nova.cmd.api nova-manage:nova.cmd.manage \
            nova-conductor:nova.cmd.conductor nova-scheduler:nova.cmd.scheduler \
            nova-compute:nova.cmd.compute placement-manage:placement.cmd.manage \
            neutron-server:neutron.cmd.eventlet.server \
            neutron-db-manage:neutron.db.migration.cli \
            cinder-api:cinder.cmd.api cinder-scheduler:cinder.cmd.scheduler \
            cinder-volume:cinder.cmd.volume cinder-manage:cinder.cmd.manage \
            neutron-linuxbridge-agent:neutron.cmd.eventlet.plugins.linuxbridge_neutron_agent \
            neutron-dhcp-agent:neutron.cmd.eventlet.agents.dhcp \
            neutron-l3-agent:neutron.cmd.eventlet.agents.l3 \
            neutron-metadata-agent:neutron.cmd.eventlet.agents.metadata; do
  n=${spec%%:*}; m=${spec#*:}
  printf '#!/usr/bin/python3\nimport sys\nfrom %s import main\nif __name__ == "__main__":\n    sys.exit(main())\n' \
    "$m" > "$LAB/shims/$n"
  chmod 700 "$LAB/shims/$n"
done

######################################################################## configs
SOCK=$LAB/run/mysqld.sock
# root over the unix socket (unix_socket auth): no database password exists at all
db() { echo "mysql+pymysql://root@localhost/$1?unix_socket=$SOCK&charset=utf8"; }
RABBIT="rabbit://lab:${RABBIT_PW}@127.0.0.1:5672/"
KS=http://127.0.0.1:5000

cat > "$LAB/etc/my.cnf" <<EOF
[mysqld]
datadir = $LAB/data/mysql
socket = $SOCK
pid-file = $LAB/data/mariadbd.pid
skip-networking
user = root
skip-name-resolve
log-error = $LAB/log/mysqld.log
innodb_buffer_pool_size = 64M
innodb_log_file_size = 16M
innodb_flush_log_at_trx_commit = 0
sync_binlog = 0
max_connections = 400
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci

[client]
socket = $SOCK
user = root
EOF

cat > "$LAB/etc/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:5672
default_user = lab
default_pass = $RABBIT_PW
loopback_users = none
log.file.level = warning
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
EOF
echo '[].' > "$LAB/etc/rabbitmq/enabled_plugins"

# keystonemiddleware section: ksmw USER PASSWORD [extra lines]
ksmw() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $2
service_token_roles_required = true
EOF
}
# keystoneauth password plugin options for a [section]: creds SECTION USER PASSWORD
creds() { cat <<EOF
[$1]
auth_type = password
auth_url = $KS/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $3
region_name = RegionOne
EOF
}
legacy_policy() { printf '[oslo_policy]\nenforce_scope = false\nenforce_new_defaults = false\n'; }

cat > "$LAB/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LAB/log/keystone-app.log

[database]
connection = $(db keystone)

[token]
provider = fernet

[fernet_tokens]
key_repository = $LAB/data/keystone/fernet-keys

[fernet_receipts]
key_repository = $LAB/data/keystone/fernet-keys

[credential]
key_repository = $LAB/data/keystone/credential-keys

# in-process cache: ~600 ms -> ~20 ms per authenticated request.
# Only coherent because uwsgi runs ONE process (threads for concurrency).
[cache]
enabled = true
backend = dogpile.cache.memory
EOF

uwsgi_ini() { # name port wsgi-file env
cat <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$2
wsgi-file = $3
env = $4
master = true
processes = 1
threads = 8
enable-threads = true
lazy-apps = true
die-on-term = true
buffer-size = 65535
need-app = true
# uwsgi's http-socket closes every connection: say so, or clients that reuse
# the socket (keystoneauth/requests) get "connection reset by peer"
add-header = Connection: close
logto = $LAB/log/$1-uwsgi.log
EOF
}
uwsgi_ini keystone 5000 /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_DIR=$LAB/etc/keystone" > "$LAB/etc/keystone/uwsgi.ini"
uwsgi_ini placement 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$LAB/etc/placement" > "$LAB/etc/placement/uwsgi.ini"

cp "$CACHE/x/usr/share/glance-common/glance-api-paste.ini" "$LAB/etc/glance/glance-api-paste.ini"
cat > "$LAB/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
graceful_shutdown_timeout = 3
workers = 1
log_file = $LAB/log/glance-api.log
enabled_backends = fs:file
show_image_direct_url = false

[database]
connection = $(db glance)

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $LAB/data/glance/images/

[os_glance_staging_store]
filesystem_store_datadir = $LAB/data/glance/staging/

[os_glance_tasks_store]
filesystem_store_datadir = $LAB/data/glance/tasks/

$(ksmw glance "$GLANCE_PW")

[paste_deploy]
flavor = keystone
config_file = $LAB/etc/glance/glance-api-paste.ini

[oslo_concurrency]
lock_path = $LAB/data/locks

$(legacy_policy)
EOF

cat > "$LAB/etc/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $LAB/log/placement-app.log

[api]
auth_strategy = keystone

[placement_database]
connection = $(db placement)

$(ksmw placement "$PLACEMENT_PW")

$(legacy_policy)
EOF

cp "$CACHE/x/usr/share/neutron-common/api-paste.ini" "$LAB/etc/neutron/api-paste.ini"
cat > "$LAB/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9696
graceful_shutdown_timeout = 3
core_plugin = ml2
# L3 without any agent: routers, gateways, interfaces and floating IPs exist in the DB/API only
service_plugins = router
l3_ha = false
router_distributed = false
auth_strategy = keystone
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = $RABBIT
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
state_path = $LAB/data/neutron
api_paste_config = $LAB/etc/neutron/api-paste.ini
log_file = $LAB/log/neutron-server.log

[database]
connection = $(db neutron)

$(ksmw neutron "$NEUTRON_PW")

$(creds nova neutron "$NEUTRON_PW")
endpoint_type = public

[oslo_concurrency]
lock_path = $LAB/data/locks

[oslo_messaging_notifications]
driver = noop

$(legacy_policy)
EOF

cat > "$LAB/etc/neutron/plugins/ml2/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan
# project networks get a VLAN segment from physnet1 (only a DB row: no packet ever flows)
tenant_network_types = vlan
# lab: binds every port without an L2 agent (testbed/openstack-lab/pylib/labmech.py)
mechanism_drivers = lab
extension_drivers = port_security

[ml2_type_flat]
flat_networks = extnet

[ml2_type_vlan]
network_vlan_ranges = physnet1:100:999

[securitygroup]
firewall_driver = noop
EOF

cp "$CACHE/x/usr/share/nova-common/api-paste.ini" "$LAB/etc/nova/api-paste.ini"
cat > "$LAB/etc/nova/nova.conf" <<EOF
[DEFAULT]
host = lab-compute
my_ip = 127.0.0.1
state_path = $LAB/data/nova
instances_path = $LAB/data/nova/instances
log_dir = $LAB/log
transport_url = $RABBIT
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
graceful_shutdown_timeout = 3
use_rootwrap_daemon = false
heal_instance_info_cache_interval = -1
sync_power_state_interval = -1
# periodic tasks (e.g. the scheduler's host discovery) start at once, not after up to 60 s
periodic_fuzzy_delay = 0

[api]
auth_strategy = keystone

[api_database]
connection = $(db nova_api)

[database]
connection = $(db nova)

[wsgi]
api_paste_config = $LAB/etc/nova/api-paste.ini

$(ksmw nova "$NOVA_PW")

# service token on calls to cinder/neutron (required by Cinder for detach, OSSA-2023-003)
$(creds service_user nova "$NOVA_PW")
send_service_user_token = true

$(creds placement placement "$PLACEMENT_PW")
valid_interfaces = public

[glance]
endpoint_override = http://127.0.0.1:9292
region_name = RegionOne

$(creds neutron neutron "$NEUTRON_PW")
endpoint_override = http://127.0.0.1:9696

$(creds cinder cinder "$CINDER_PW")
os_region_name = RegionOne
catalog_info = volumev3::publicURL

[scheduler]
discover_hosts_in_cells_interval = 2
workers = 1

[conductor]
workers = 1

[vnc]
enabled = false

[oslo_concurrency]
lock_path = $LAB/data/locks

[oslo_messaging_notifications]
driver = noop

$(legacy_policy)
EOF

if [ "$LAB_CINDER" = 1 ]; then
  cp "$CACHE/x/usr/share/cinder-common/api-paste.ini" "$LAB/etc/cinder/api-paste.ini"
  # without it a non-admin's "GET /volumes?name=..." is refused (400 Invalid filters)
  cp "$CACHE/x/etc/cinder/resource_filters.json" "$LAB/etc/cinder/resource_filters.json"
  cat > "$LAB/etc/cinder/cinder.conf" <<EOF
[DEFAULT]
host = lab-volume
my_ip = 127.0.0.1
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
graceful_shutdown_timeout = 3
auth_strategy = keystone
transport_url = $RABBIT
state_path = $LAB/data/cinder
log_dir = $LAB/log
api_paste_config = $LAB/etc/cinder/api-paste.ini
resource_query_filters_file = $LAB/etc/cinder/resource_filters.json
glance_api_servers = http://127.0.0.1:9292
enabled_backends = lab
default_volume_type = __DEFAULT__

[database]
connection = $(db cinder)

$(ksmw cinder "$CINDER_PW")

$(creds nova cinder "$CINDER_PW")
interface = public

[service_user]
send_service_user_token = false

# Cinder's own fake driver (shipped by python3-cinder): logs calls, touches no disk, no iSCSI
[lab]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = lab

[coordination]
backend_url = file://$LAB/data/cinder/coordination

[oslo_concurrency]
lock_path = $LAB/data/locks

[oslo_messaging_notifications]
driver = noop

$(legacy_policy)
EOF
fi

[ "$LAB_BOOT" = 1 ] && { boot_layout; boot_configs; }

cat > "$LAB/clouds.yaml" <<EOF
clouds:
  lab:
    auth:
      auth_url: $KS/v3
      username: admin
      password: $ADMIN_PW
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
  lab-demo:
    auth:
      auth_url: $KS/v3
      username: demo
      password: $DEMO_PW
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
chmod 600 "$LAB/clouds.yaml"

######################################################################## start
ts=$(date +%s%N)
cd "$LAB"
echo "$FEATURES" > "$LAB/run/features.pending"

# start NAME CMD...: run in the background, stdout/stderr to log/NAME.out, pid to run/NAME.pid
start() {
  local n=$1; shift
  nohup "$@" > "$LAB/log/$n.out" 2>&1 < /dev/null 9>&- &   # 9: the up.sh lock, not for daemons
  write_pidfile "$LAB/run/$n.pid" $!
  # how it was started, for service.sh: neutron's agents and server rewrite their /proc/PID/cmdline
  printf '%s\0' "$@" > "$LAB/run/$n.argv"
  env -0 > "$LAB/run/$n.environ"
}
# alive NAME LOG...: fail with the log tails when the service's process is gone
alive() {
  local n=$1; shift
  [ -n "$(lab_pid "$n")" ] || die "$n exited" "$LAB/log/$n.out" "$@"
}
# wait_http NAME URL LOG...: until URL answers with a non-5xx status, or die with the logs
wait_http() {
  local n=$1 url=$2; shift 2
  local end=$(( $(date +%s) + WAIT )) code
  while :; do
    code=$(http_code "$url" 2)
    case $code in 000|5*) ;; *) say "$n answers ($url -> $code)"; return 0 ;; esac
    alive "$n" "$@"
    [ "$(date +%s)" -lt "$end" ] || die "$n did not answer on $url within ${WAIT}s (last HTTP $code)" "$LAB/log/$n.out" "$@"
    sleep 0.5
  done
}
# job NAME CMD...: run a setup step in the background, log to log/setup-NAME.out
declare -A JOBS
job() {
  local n=$1; shift
  ( set -e; "$@" ) > "$LAB/log/setup-$n.out" 2>&1 9>&- &
  JOBS[$n]=$!
  write_pidfile "$LAB/run/setup-$n.pid" $!   # so down.sh can stop it if this up.sh gets killed
}
join() { # join NAME: wait for a setup job, die with its log on failure
  wait "${JOBS[$1]}" || die "setup step $1 failed" "$LAB/log/setup-$1.out"
  rm -f "$LAB/run/setup-$1.pid"
  say "setup step $1 done"
}

# MariaDB: unix socket only (skip-networking), root authenticates by socket peer uid
mariadb-install-db --defaults-file="$LAB/etc/my.cnf" --user=root --auth-root-authentication-method=socket \
  --skip-test-db > "$LAB/log/setup-mariadb.out" 2>&1 || die "mariadb-install-db failed" "$LAB/log/setup-mariadb.out"
start mysqld mariadbd --defaults-file="$LAB/etc/my.cnf"

# RabbitMQ: epmd first (ours, loopback), then the broker script as root (not the su wrapper)
start epmd epmd -address 127.0.0.1 -port 4369
(
  export HOME=$LAB/data/rabbitmq/home ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
  export RABBITMQ_NODENAME=lab@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 \
    RABBITMQ_DIST_PORT=25672 RABBITMQ_CONFIG_FILE=$LAB/etc/rabbitmq/rabbitmq.conf \
    RABBITMQ_ENABLED_PLUGINS_FILE=$LAB/etc/rabbitmq/enabled_plugins \
    RABBITMQ_MNESIA_BASE=$LAB/data/rabbitmq/mnesia RABBITMQ_LOG_BASE=$LAB/log/rabbitmq \
    RABBITMQ_PID_FILE=$LAB/run/rabbitmq-beam.pid \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  cd "$LAB/data/rabbitmq"
  start rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
)

end=$(( $(date +%s) + WAIT ))
until mariadb --defaults-file="$LAB/etc/my.cnf" -e 'select 1' >/dev/null 2>&1; do
  alive mysqld "$LAB/log/mysqld.log"
  [ "$(date +%s)" -lt "$end" ] || die "mariadb did not come up in ${WAIT}s" "$LAB/log/mysqld.log"
  sleep 0.25
done
DBS="keystone glance placement neutron nova_api nova nova_cell0"
[ "$LAB_CINDER" = 1 ] && DBS="$DBS cinder"
for d in $DBS; do echo "CREATE DATABASE $d;"; done | mariadb --defaults-file="$LAB/etc/my.cnf"
say "mariadb up (socket $SOCK), databases created"

# schema migrations in parallel (mostly python import + I/O)
KC=(--config-file "$LAB/etc/keystone/keystone.conf")
NC=(--config-file "$LAB/etc/nova/nova.conf")
NEC=(--config-file "$LAB/etc/neutron/neutron.conf" --config-file "$LAB/etc/neutron/plugins/ml2/ml2_conf.ini")
CC=(--config-file "$LAB/etc/cinder/cinder.conf")
if [ "$LAB_BOOT" = 1 ]; then   # the booting mode's overrides, read last
  NC+=(--config-file "$LAB/etc/nova/nova-boot.conf")
  NEC+=(--config-file "$LAB/etc/neutron/neutron-boot.conf" --config-file "$LAB/etc/neutron/plugins/ml2/ml2-boot.ini")
  CC+=(--config-file "$LAB/etc/cinder/cinder-boot.conf")
fi
keystone_keys() {   # no database needed: in parallel with the schema migrations
  keystone-manage "${KC[@]}" fernet_setup --keystone-user root --keystone-group root
  keystone-manage "${KC[@]}" credential_setup --keystone-user root --keystone-group root
}
keystone_setup() {
  keystone-manage "${KC[@]}" db_sync
  # the password comes from the environment, never from the command line
  OS_BOOTSTRAP_PASSWORD=$ADMIN_PW keystone-manage "${KC[@]}" bootstrap \
    --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-admin-url "$KS/v3/" --bootstrap-internal-url "$KS/v3/" \
    --bootstrap-public-url "$KS/v3/" --bootstrap-region-id RegionOne
}
nova_setup() {
  nova-manage "${NC[@]}" api_db sync
  nova-manage "${NC[@]}" cell_v2 map_cell0 --database_connection "$(db nova_cell0)"
  nova-manage "${NC[@]}" cell_v2 create_cell --name cell1
  nova-manage "${NC[@]}" db sync
}
job keystone-keys keystone_keys
job keystone keystone_setup
job glance glance-manage --config-file "$LAB/etc/glance/glance-api.conf" db_sync
job placement placement-manage --config-file "$LAB/etc/placement/placement.conf" db sync
job neutron neutron-db-manage "${NEC[@]}" upgrade heads
job nova nova_setup
[ "$LAB_CINDER" = 1 ] && job cinder cinder-manage "${CC[@]}" db sync
if [ "$LAB_BOOT" = 1 ]; then
  job ceph ceph_setup
  libvirt_start
fi

join keystone
join keystone-keys
start keystone uwsgi --ini "$LAB/etc/keystone/uwsgi.ini"
wait_http keystone "$KS/v3" "$LAB/log/keystone-uwsgi.log" "$LAB/log/keystone-app.log"
export LAB_SECRETS=$SECRETS
"$PY" "$LAB_SRC/lib/lab.py" catalog > "$LAB/log/setup-catalog.out" 2>&1 ||
  die "catalog (service users, endpoints, demo project) failed" "$LAB/log/setup-catalog.out" "$LAB/log/keystone-app.log"
say "keystone catalog, service users and project demo created"

join glance
start glance-api glance-api --config-file "$LAB/etc/glance/glance-api.conf"
join placement
start placement uwsgi --ini "$LAB/etc/placement/uwsgi.ini"

end=$(( $(date +%s) + WAIT ))
until "$PY" "$LAB_SRC/lib/lab.py" amqp-ping 2>/dev/null; do
  alive rabbitmq "$LAB/log/rabbitmq/lab@localhost.log"
  [ "$(date +%s)" -lt "$end" ] || die "rabbitmq did not accept an AMQP login in ${WAIT}s" "$LAB/log/rabbitmq.out" "$LAB/log/rabbitmq/lab@localhost.log"
  sleep 0.5
done
say "rabbitmq answers AMQP"

join neutron
# PYTHONPATH: the lab ML2 mechanism driver (entry point in pylib/labmech-0.1.dist-info)
start neutron-server env PYTHONPATH="$LAB_SRC/pylib" PYTHONDONTWRITEBYTECODE=1 neutron-server "${NEC[@]}"

if [ "$LAB_CINDER" = 1 ]; then
  join cinder
  [ "$LAB_BOOT" = 1 ] && join ceph   # the RBD driver needs the pool and client.cinder's key
  for s in cinder-api cinder-scheduler cinder-volume; do start "$s" "$s" "${CC[@]}"; done
fi

join nova
for s in nova-api nova-conductor nova-scheduler; do start "$s" "$s" "${NC[@]}"; done

wait_http glance-api http://127.0.0.1:9292/ "$LAB/log/glance-api.log"
wait_http placement http://127.0.0.1:8778/ "$LAB/log/placement-uwsgi.log" "$LAB/log/placement-app.log"
wait_http neutron-server http://127.0.0.1:9696/ "$LAB/log/neutron-server.log"
if [ "$LAB_BOOT" = 1 ]; then
  agents_start
  libvirt_wait
  libvirt_secret
  say "libvirtd answers ($LIBVIRT_URI), secret $RBD_SECRET_UUID holds client.cinder's key"
fi
# nova-compute pings nova-conductor at start and waits 10 s for a reply that never comes
# when the conductor is not consuming yet: start it once the conductor runs.
end=$(( $(date +%s) + WAIT ))
until grep -q 'Starting conductor node' "$LAB/log/nova-conductor.log" 2>/dev/null; do
  alive nova-conductor "$LAB/log/nova-conductor.log"
  [ "$(date +%s)" -lt "$end" ] || die "nova-conductor did not start within ${WAIT}s" "$LAB/log/nova-conductor.log"
  sleep 0.25
done
start nova-compute nova-compute "${NC[@]}"
wait_http nova-api http://127.0.0.1:8774/ "$LAB/log/nova-api.log"
[ "$LAB_BOOT" = 1 ] && wait_http nova-metadata http://127.0.0.1:8775/ "$LAB/log/nova-api.log"
[ "$LAB_CINDER" = 1 ] && wait_http cinder-api http://127.0.0.1:8776/ "$LAB/log/cinder-api.log"

# compute node: resource provider with inventory in placement + host mapped to cell1
end=$(( $(date +%s) + WAIT )); next_discover=$(( $(date +%s) + 15 ))
while :; do
  n=$(mariadb --defaults-file="$LAB/etc/my.cnf" -N -e \
      "select (select count(*) from nova_api.host_mappings) * (select count(*) from placement.inventories)" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break
  for s in nova-compute nova-scheduler nova-conductor; do alive "$s" "$LAB/log/$s.log"; done
  [ "$(date +%s)" -lt "$end" ] || die "nova-compute not registered/mapped within ${WAIT}s" \
    "$LAB/log/nova-compute.log" "$LAB/log/nova-scheduler.log" "$LAB/log/nova-conductor.log"
  if [ "$(date +%s)" -ge "$next_discover" ]; then   # the scheduler also discovers every 2 s
    nova-manage "${NC[@]}" cell_v2 discover_hosts >> "$LAB/log/setup-discover.out" 2>&1 || true
    next_discover=$(( $(date +%s) + 15 ))
  fi
  sleep 0.5
done
say "nova-compute registered in placement and mapped to cell1"
if [ "$LAB_CINDER" = 1 ]; then
  end=$(( $(date +%s) + WAIT ))
  until [ "$(mariadb --defaults-file="$LAB/etc/my.cnf" -N -e \
      "select count(*) from cinder.services where topic='cinder-volume' and not disabled" 2>/dev/null || echo 0)" -gt 0 ]; do
    for s in cinder-volume cinder-scheduler; do alive "$s" "$LAB/log/$s.log"; done
    [ "$(date +%s)" -lt "$end" ] || die "cinder-volume did not register within ${WAIT}s" "$LAB/log/cinder-volume.log"
    sleep 0.5
  done
  say "cinder-volume registered"
fi

if [ "$LAB_BOOT" = 1 ]; then
  agents_wait
  say "neutron agents alive: linuxbridge, dhcp, l3, metadata"
fi
"$PY" "$LAB_SRC/lib/lab.py" seed > "$LAB/log/setup-seed.out" 2>&1 ||
  die "seeding flavors/networks/router failed" "$LAB/log/setup-seed.out" "$LAB/log/neutron-server.log"
sed 's/^/    /' "$LAB/log/setup-seed.out"
say "seeded flavors m1.tiny/m1.small, network public, demo's lab-net + lab-router"
if [ "$LAB_BOOT" = 1 ]; then
  network_wait
  say "DHCP and router ports of lab-net/lab-router wired by the agents"
fi

mv "$LAB/run/features.pending" "$LAB/run/features"
"$LAB_SRC/status.sh" > "$LAB/log/status.out" 2>&1 || die "status.sh does not pass right after start" "$LAB/log/status.out"

# nothing of the lab may listen beyond loopback
bad=$(lab_nonloopback_listeners)
[ -z "$bad" ] || die "lab processes listen beyond loopback: $bad"
say "listening sockets of the lab: $(ss -ltnpH | awk '{print $4}' | grep -E ":($(echo $ALL_PORTS | tr ' ' '|'))\$" | sort -u | tr '\n' ' ')"

say "cold start (packages present) to ready: $(( ($(date +%s%N) - ts) / 1000000 )) ms; total up.sh: $(elapsed)s"
print_usage_hint
