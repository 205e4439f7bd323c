#!/bin/bash
# First boot of a jupyterhub-vm server (run once by cloud-init's runcmd as root).
# Settings come from /etc/jupyterhub-vm/first-boot.env (mode 0600), written by cloud-init from the stack config.
# Every failure is written to /etc/motd.d/90-jupyterhub-vm so an admin logging in sees it.
set -uo pipefail
ENV_FILE=/etc/jupyterhub-vm/first-boot.env
LOG=/var/log/jupyterhub-vm-first-boot.log
MOTD=/etc/motd.d/90-jupyterhub-vm
exec >>"$LOG" 2>&1
echo "== first boot $(date -Is)"
mkdir -p /etc/motd.d
fail() {
  echo "FAILED: $*"
  printf 'jupyterhub-vm first boot FAILED: %s\nSee %s\n' "$*" "$LOG" >"$MOTD"
  exit 1
}
# shellcheck disable=SC1090
. "$ENV_FILE" || fail "cannot read $ENV_FILE"
TLJH_CONFIG=/opt/tljh/hub/bin/tljh-config
HUB_PY=/opt/tljh/hub/bin/python3
[ -x "$TLJH_CONFIG" ] || fail "TLJH is not installed in this image (/opt/tljh missing)"

# 1. Only root may read the instance metadata (user-data holds the admin password hash): hub users have shells.
if command -v iptables >/dev/null; then
  iptables -C OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT 2>/dev/null ||
    iptables -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT || fail "cannot protect the metadata service"
fi

# 2. Per-instance secrets: the image carries none (sysprep removed them); JupyterHub makes new ones when absent.
rm -f /opt/tljh/state/jupyterhub_cookie_secret /opt/tljh/state/jupyterhub.sqlite

# 3. Admin user with its password set now, so nobody can claim the admin account first.
"$TLJH_CONFIG" add-item users.admin "$ADMIN_USER" || fail "tljh-config add-item users.admin"
case "$AUTHENTICATOR" in
  firstuse)
    "$HUB_PY" - "$ADMIN_USER" "$ADMIN_PASSWORD_HASH" <<'PY' || fail "cannot set the admin password (firstuse)"
import dbm, sys
user, hashed = sys.argv[1], sys.argv[2]
with dbm.open("/opt/tljh/state/passwords.dbm", "c", 0o600) as db:
    db[user] = hashed.encode()
PY
    ;;
  pam)
    id "$ADMIN_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "jupyter-$ADMIN_USER" || true
    printf '%s:%s\n' "jupyter-$ADMIN_USER" "$ADMIN_PASSWORD_HASH" | chpasswd -e || fail "cannot set the admin password (pam)"
    ;;
  native)
    # NativeAuthenticator keeps users in the hub database, created when the hub starts: seed it after the reload.
    NATIVE_SEED=1
    ;;
  tmp) ;;
esac

# 4. Public URL and HTTPS.
if [ -n "${DNS_NAME:-}" ] && [ -n "${LETSENCRYPT_EMAIL:-}" ]; then
  "$TLJH_CONFIG" set https.enabled true || fail "tljh-config https.enabled"
  "$TLJH_CONFIG" set https.letsencrypt.email "$LETSENCRYPT_EMAIL" || fail "tljh-config letsencrypt.email"
  "$TLJH_CONFIG" add-item https.letsencrypt.domains "$DNS_NAME" || fail "tljh-config letsencrypt.domains"
fi

"$TLJH_CONFIG" reload proxy || fail "tljh-config reload proxy"
"$TLJH_CONFIG" reload hub || fail "tljh-config reload hub"

if [ "${NATIVE_SEED:-0}" = 1 ]; then
  "$HUB_PY" - "$ADMIN_USER" "$ADMIN_PASSWORD_HASH" <<'PY' || fail "cannot set the admin password (native)"
import sqlite3, sys, time
user, hashed = sys.argv[1], sys.argv[2]
for _ in range(60):
    try:
        db = sqlite3.connect("/opt/tljh/state/jupyterhub.sqlite")
        db.execute("INSERT OR REPLACE INTO users_info (username, password, is_authorized) VALUES (?, ?, 1)",
                   (user, hashed.encode()))
        db.commit()
        break
    except sqlite3.OperationalError:
        time.sleep(2)
else:
    sys.exit(1)
PY
fi

# 5. Ready: the hub answers.
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "http://127.0.0.1${BASE_URL%/}/hub/api" && break
  sleep 5
done
curl -fsS -o /dev/null "http://127.0.0.1${BASE_URL%/}/hub/api" || fail "the hub does not answer on ${BASE_URL%/}/hub/api"
rm -f "$MOTD"
echo "== first boot done $(date -Is)"
