#!/bin/bash
# First boot of a jupyterhub-vm server (run once by cloud-init's runcmd as root).
# Settings come from /etc/jupyterhub-vm/first-boot.env (mode 0600), written by cloud-init from the stack config.
# Every failure is written to /etc/motd.d/90-jupyterhub-vm so an admin logging in sees it, and to the console with
# the log's last lines (the console is what `pulumi up` shows when the hub never answers, and what a cloud's
# console log holds): the log holds no secret (the password hash is only in the 0600 env file and the hub's store).
set -uo pipefail
ENV_FILE=/etc/jupyterhub-vm/first-boot.env
LOG=/var/log/jupyterhub-vm-first-boot.log
MOTD=/etc/motd.d/90-jupyterhub-vm
exec >>"$LOG" 2>&1
say() { printf 'jupyterhub-vm first boot: %s\n' "$*" | tee -a /dev/console; }
say "started $(date -Is)"
mkdir -p /etc/motd.d
fail() {
  say "FAILED: $*"
  printf 'jupyterhub-vm first boot FAILED: %s\nSee %s\n' "$*" "$LOG" >"$MOTD"
  { echo "--- last lines of $LOG:"; tail -n 20 "$LOG"; } >/dev/console 2>/dev/null || true
  exit 1
}
# shellcheck disable=SC1090
. "$ENV_FILE" || fail "cannot read $ENV_FILE"
TLJH_CONFIG=/opt/tljh/hub/bin/tljh-config
HUB_PY=/opt/tljh/hub/bin/python3
[ -x "$TLJH_CONFIG" ] || fail "TLJH is not installed in this image (/opt/tljh missing)"

# 1. Only root may read the instance metadata (user-data holds the admin password hash): hub users have shells. The
# guard (written by cloud-init) runs at every boot before the hub, which requires it; here it runs for this boot.
systemctl daemon-reload && systemctl enable --now jupyterhub-vm-metadata-guard.service ||
  fail "cannot keep hub users from the metadata service (jupyterhub-vm-metadata-guard.service)"

# 2. Per-instance secrets: the image carries none (sysprep removed them); JupyterHub makes new ones when absent.
rm -f /opt/tljh/state/jupyterhub_cookie_secret /opt/tljh/state/jupyterhub.sqlite

# 3. Users' identity. Without a data volume: the hub's database and the authenticator's passwords in TLJH's state
# folder on this server's disk. With one: on the volume, with the accounts TLJH created (restored here, before the
# hub starts, and saved on every change), so a replaced server keeps every user's name, password, UID and files.
# The cookie secret and the proxy's secret stay per server.
HUB_STATE=/opt/tljh/state
if [ -n "${DATA_VOLUME:-}" ]; then
  mountpoint -q "$DATA_VOLUME" || fail "the data volume is not mounted on $DATA_VOLUME"
  HUB_STATE="$DATA_VOLUME/hub"
  install -d -m 0700 "$HUB_STATE" || fail "cannot make $HUB_STATE"
  # what it restored goes to the console too (a cloud's console log; the local VM's console.log)
  JHVM_DATA_VOLUME="$DATA_VOLUME" /usr/local/sbin/jupyterhub-vm-identity restore 2>&1 | tee -a /dev/console ||
    fail "cannot restore the users' accounts from $DATA_VOLUME/identity"
  HUB_DATA_CONFIG=/opt/tljh/config/jupyterhub_config.d/jupyterhub-vm-data-volume.py
  {
    echo "# Written by jupyterhub-vm's first boot: the users' hub records and passwords live on the data volume."
    echo "c.JupyterHub.db_url = \"sqlite:///$HUB_STATE/jupyterhub.sqlite\""
    echo "c.FirstUseAuthenticator.dbm_path = \"$HUB_STATE/passwords.dbm\""
  } >"$HUB_DATA_CONFIG" && chmod 0600 "$HUB_DATA_CONFIG" || fail "cannot write $HUB_DATA_CONFIG"
  systemctl enable --now jupyterhub-vm-identity.path || fail "cannot enable jupyterhub-vm-identity.path"
fi

# 4. The admin's password, set before the hub first starts, so nobody can claim the admin account first.
case "$AUTHENTICATOR" in
  firstuse)
    # the hash in the environment of this one process (readable by root only), not in its arguments (ps shows those)
    ADMIN_PASSWORD_HASH="$ADMIN_PASSWORD_HASH" "$HUB_PY" - "$ADMIN_USER" "$HUB_STATE/passwords.dbm" <<'PY' || fail "cannot set the admin password (firstuse)"
import dbm, os, sys
user, path = sys.argv[1:]
hashed = os.environ["ADMIN_PASSWORD_HASH"]
with dbm.open(path, "c", 0o600) as db:
    db[user] = hashed.encode()
PY
    ;;
  pam)
    # PAM checks the hub user name itself against the system's accounts (TLJH then runs the user's server as
    # jupyter-<name>): the admin gets a system account with the password, and no login shell
    id "$ADMIN_USER" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$ADMIN_USER" || fail "cannot create the admin's system account (pam)"
    printf '%s:%s\n' "$ADMIN_USER" "$ADMIN_PASSWORD_HASH" | chpasswd -e || fail "cannot set the admin password (pam)"
    ;;
  native)
    # NativeAuthenticator keeps users in the hub's database: seed it before the hub first starts, with JupyterHub's
    # own schema (current version, so the unit's --upgrade-db has nothing to do) and NativeAuthenticator's own model,
    # so nobody can sign up as the admin in between
    # (a database kept on the data volume by an older JupyterHub is upgraded first, as the unit's --upgrade-db would)
    ADMIN_PASSWORD_HASH="$ADMIN_PASSWORD_HASH" "$HUB_PY" - "$ADMIN_USER" "$HUB_STATE/jupyterhub.sqlite" <<'PY' || fail "cannot set the admin password (native)"
import os, sys
from jupyterhub import dbutil, orm
from nativeauthenticator.orm import Base, UserInfo
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
user, path = sys.argv[1:]
hashed = os.environ["ADMIN_PASSWORD_HASH"]
url = "sqlite:///" + path
try:
    orm.new_session_factory(url)
except orm.DatabaseSchemaMismatch:
    dbutil.upgrade(url)
    orm.new_session_factory(url)
engine = create_engine(url)
Base.metadata.create_all(engine)
db = sessionmaker(bind=engine)()
db.query(UserInfo).filter_by(username=user).delete()
db.add(UserInfo(username=user, password=hashed.encode(), is_authorized=True))
db.commit()
PY
    ;;
  tmp) ;;
esac

# 5. config.yaml, then the proxy and the hub, through tljh-config's own entry point (tljh.config.main, as the
# tljh-config command runs it), one call per command in one Python process: each tljh-config run spends seconds
# importing TLJH on a small server (~8 s under emulation). Arguments: the commands, separated by "--"; values are
# passed as words, never evaluated.
#  - the authenticator (hub.authenticator) is chosen here, not baked into the image: one image serves every
#    authenticator, and changing it replaces the server without an image build. The image's config.yaml carries
#    every class's settings (ansible/roles/tljh/vars/main.yml, which names the same classes);
#  - the admin;
#  - the public name and HTTPS, when set;
#  - the image does not start the hub at boot (nobody may reach it before the admin's password is set): `reload hub`
#    starts it, and returns once it answers.
tljh_config() {
  "$HUB_PY" - "$@" <<'PY'
import sys
from tljh.config import main
commands, command = [], []
for word in sys.argv[1:] + ["--"]:
    if word == "--":
        commands.append(command)
        command = []
    else:
        command.append(word)
for command in commands:
    print("tljh-config " + " ".join(command), flush=True)
    main(command)
PY
}
case "$AUTHENTICATOR" in
  firstuse) AUTH_CLASS=firstuseauthenticator.FirstUseAuthenticator ;;
  native) AUTH_CLASS=nativeauthenticator.NativeAuthenticator ;;
  tmp) AUTH_CLASS=tmpauthenticator.TmpAuthenticator ;;
  pam) AUTH_CLASS=jupyterhub.auth.PAMAuthenticator ;;
  *) fail "unknown authenticator: $AUTHENTICATOR" ;;
esac
HTTPS=()
if [ -n "${DNS_NAME:-}" ] && [ -n "${LETSENCRYPT_EMAIL:-}" ]; then
  HTTPS=(set https.enabled true -- set https.letsencrypt.email "$LETSENCRYPT_EMAIL" --
    add-item https.letsencrypt.domains "$DNS_NAME" --)
fi
tljh_config set auth.type "$AUTH_CLASS" -- add-item users.admin "$ADMIN_USER" -- "${HTTPS[@]}" \
  reload proxy -- reload hub || fail "tljh-config (config.yaml, reload proxy, reload hub)"
systemctl enable jupyterhub.service || fail "cannot enable jupyterhub.service"

# 6. Ready: the hub answers.
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "http://127.0.0.1${BASE_URL%/}/hub/api" && break
  sleep 5
done
curl -fsS -o /dev/null "http://127.0.0.1${BASE_URL%/}/hub/api" || fail "the hub does not answer on ${BASE_URL%/}/hub/api"
if [ -n "${DATA_VOLUME:-}" ]; then
  JHVM_DATA_VOLUME="$DATA_VOLUME" /usr/local/sbin/jupyterhub-vm-identity save ||
    fail "cannot save the users' accounts to $DATA_VOLUME/identity"
fi
rm -f "$MOTD"
say "done $(date -Is): the hub answers on ${BASE_URL%/}/hub/api"
