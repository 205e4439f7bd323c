#!/bin/bash
# The hub users' system accounts on the persistent data volume (installed by cloud-init when the server has one).
#
#   jupyterhub-vm-identity save      copy the regular accounts and groups (IDs 1000..65533) from /etc/{passwd,group,
#                                    shadow,gshadow} to <volume>/identity/ (run by jupyterhub-vm-identity.path on
#                                    every change of those files, and by the first boot)
#   jupyterhub-vm-identity restore   on a new server's first boot, before the hub starts: recreate them with the same
#                                    names, UIDs, GIDs, passwords and group members; recover an account the save
#                                    missed from its home directory's owner; and start new UIDs/GIDs above every ID
#                                    a file on the volume carries, so a new user never gets an old user's files
#
# TLJH creates jupyter-<name> accounts at a user's first server start, with the next free UID: on a replaced server
# without this, a new user could get the UID that owns someone else's home directory. A conflict (a saved name with
# another ID on this image, or a saved ID taken by another name) stops here: the hub is not started.
set -euo pipefail
shopt -s nullglob
VOLUME="${JHVM_DATA_VOLUME:-/srv/jhvm-data}"
DIR="$VOLUME/identity"
FIRST=1000
LAST=65533 # 65534 is nobody
say() { printf 'jupyterhub-vm identity: %s\n' "$*"; }
die() {
  say "ERROR: $*" >&2
  exit 1
}
mountpoint -q "$VOLUME" || die "the data volume is not mounted on $VOLUME"
umask 077
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9

# a field of an account or group database entry (by name or ID), empty when there is none
field() { getent "$1" "$2" | cut -d: -f"$3" || true; }
in_range() { awk -F: -v a="$FIRST" -v b="$LAST" '$3 >= a && $3 <= b' "$1"; }
# lines of $2 whose first field is a name in $1's first column
lines_for() { awk -F: 'NR == FNR { n[$1]; next } ($1 in n)' "$1" "$2"; }

save() {
  local t
  t="$(mktemp -d "$DIR/.save.XXXXXX")"
  in_range /etc/passwd >"$t/passwd"
  in_range /etc/group >"$t/group"
  lines_for "$t/passwd" /etc/shadow >"$t/shadow"
  if [ -f /etc/gshadow ]; then lines_for "$t/group" /etc/gshadow >"$t/gshadow"; else : >"$t/gshadow"; fi
  for f in passwd group shadow gshadow; do mv -f "$t/$f" "$DIR/$f"; done
  rmdir "$t"
  say "saved $(wc -l <"$DIR/passwd") accounts and $(wc -l <"$DIR/group") groups to $DIR"
}

restore() {
  local name x id gid members gecos home shell cur other hash n=0 g=0 max
  touch "$DIR/passwd" "$DIR/group" "$DIR/shadow" "$DIR/gshadow"
  # 1. groups with their GIDs (the users' primary groups among them)
  while IFS=: read -r name x gid members; do
    cur="$(field group "$name" 3)"
    [ "$cur" = "$gid" ] && continue
    other="$(field group "$gid" 1)"
    [ -z "$other" ] || die "group $name has GID $gid on the data volume, which is $other's on this image"
    if [ -z "$cur" ]; then
      groupadd -g "$gid" "$name" || die "cannot add group $name ($gid)"
    else
      groupmod -g "$gid" "$name" || die "cannot give group $name its GID $gid"
    fi
    g=$((g + 1))
  done <"$DIR/group"
  # 2. accounts with their UIDs, primary groups, homes (already on the volume) and password hashes
  while IFS=: read -r name x id gid gecos home shell; do
    cur="$(field passwd "$name" 3)"
    if [ -z "$cur" ]; then
      other="$(field passwd "$id" 1)"
      [ -z "$other" ] || die "account $name has UID $id on the data volume, which is $other's on this image"
      useradd -u "$id" -g "$gid" -M -d "$home" -s "$shell" -c "$gecos" "$name" || die "cannot add account $name ($id)"
      n=$((n + 1))
    elif [ "$cur" != "$id" ]; then
      die "account $name has UID $id on the data volume but $cur on this image"
    fi
    hash="$(awk -F: -v u="$name" '$1 == u { print $2 }' "$DIR/shadow")"
    # on stdin, never as an argument
    if [ -n "$hash" ]; then printf '%s:%s\n' "$name" "$hash" | chpasswd -e || die "cannot set $name's password"; fi
  done <"$DIR/passwd"
  # 3. group members, as saved, of those that exist here (TLJH also adds its users again at each server start)
  local m kept
  while IFS=: read -r name x gid members; do
    kept=""
    for m in ${members//,/ }; do
      if getent passwd "$m" >/dev/null; then kept="${kept:+$kept,}$m"; else say "WARNING: group $name: member $m has no account here"; fi
    done
    gpasswd -M "$kept" "$name" >/dev/null || die "cannot set the members of group $name"
  done <"$DIR/group"
  say "restored $n accounts and $g groups from $DIR ($(wc -l <"$DIR/passwd") saved)"
  # 4. a home directory whose owner has no account (a save missed, or a volume from before this version): its
  #    account again, named as the directory, with the owner's UID and GID
  for home in /home/*/; do
    home="${home%/}"
    name="$(basename "$home")"
    id="$(stat -c %u "$home")"
    gid="$(stat -c %g "$home")"
    [ "$id" -ge "$FIRST" ] && [ "$id" -le "$LAST" ] || continue
    getent passwd "$id" >/dev/null && continue
    if getent passwd "$name" >/dev/null; then
      say "WARNING: $home belongs to UID $id, which no account has; $name has UID $(id -u "$name")"
      continue
    fi
    getent group "$gid" >/dev/null || groupadd -g "$gid" "$name" || die "cannot recover group $gid of $home"
    useradd -u "$id" -g "$gid" -M -d "$home" -s /bin/bash "$name" || die "cannot recover the account of $home"
    say "recovered account $name (UID $id) from its home directory's owner"
  done
  # 5. new accounts start above every ID the volume's files and saved accounts carry
  max="$({
    find "$VOLUME" -xdev \( -uid +$((FIRST - 1)) -o -gid +$((FIRST - 1)) \) -printf '%U\n%G\n'
    cut -d: -f3 "$DIR/passwd" "$DIR/group"
  } | awk -v a="$FIRST" -v b="$LAST" '$1 >= a && $1 <= b && $1 > m { m = $1 } END { print m + 0 }')"
  if [ "$max" -ge "$FIRST" ]; then
    for key in UID_MIN GID_MIN; do
      if grep -qE "^[[:space:]]*$key[[:space:]]" /etc/login.defs; then
        sed -i -E "s/^[[:space:]]*$key[[:space:]].*/$key $((max + 1))/" /etc/login.defs
      else
        echo "$key $((max + 1))" >>/etc/login.defs
      fi
    done
    say "new accounts get UIDs and GIDs from $((max + 1)) (the highest on the data volume is $max)"
  fi
}

case "${1:-}" in
  save) save ;;
  restore) restore ;;
  *) die "usage: $0 save|restore" ;;
esac
