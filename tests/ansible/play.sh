#!/usr/bin/env bash
# Run ansible/playbook.yml against a test root file system through the chroot connection, as the FinalImage
# stage runs it against the build VM, with a vars file (PLAY_VARS, default tests/ansible/chroot-vars.yml)
# and the fixture content.
#
#   tests/ansible/play.sh ROOTDIR [ansible-playbook args...]     e.g. -e sysprep_enabled=false, --tags tljh
#
# The build host's extra CA certificates (/usr/local/share/ca-certificates/*.crt, e.g. a TLS-intercepting
# proxy's) are passed to the system role (system_ca_certificates) so that pip inside the chroot trusts the
# same CAs as the host. Prints ansible-playbook's output; exit status is ansible-playbook's.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROOTDIR=${1:?usage: play.sh ROOTDIR [ansible-playbook args...]}
shift
command -v ansible-playbook >/dev/null || { echo "ansible-playbook not found (apt-get install ansible)" >&2; exit 127; }

cas=$(find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' 2>/dev/null | sort \
      | /usr/bin/python3 -c 'import json,sys; print(json.dumps({"system_ca_certificates": [l.strip() for l in sys.stdin if l.strip()]}))')

export ANSIBLE_CONFIG="$REPO/ansible/ansible.cfg"
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
start=$(date +%s)
set +e
ansible-playbook "$REPO/ansible/playbook.yml" \
  -i "$ROOTDIR," -c community.general.chroot \
  -e "@${PLAY_VARS:-$HERE/chroot-vars.yml}" \
  -e "content_local_dir=$HERE/fixtures/content" \
  -e "$cas" \
  "$@"
rc=$?
set -e
echo "[play.sh] ansible-playbook exit $rc after $(( $(date +%s) - start ))s"
exit $rc
