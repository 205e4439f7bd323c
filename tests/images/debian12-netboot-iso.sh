#!/usr/bin/env bash
# Make a small bootable Debian 12 installer ISO (isolinux, BIOS) from Debian's
# debian-installer-12-netboot-amd64 package: the same debian-installer kernel/initrd and boot menu as the
# netinst ISO, without the packages. Used to test the template's Debian boot command and preseed up to
# the point where the installer needs Debian's mirror for its own components (unreachable from the
# build machines). Cached under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/images/, keyed by the package
# version. Prints the ISO path. Needs root to install its packages when missing.
set -euo pipefail

PKG=debian-installer-12-netboot-amd64
need=()
dpkg -s "$PKG" >/dev/null 2>&1 || need+=("$PKG")
command -v xorriso >/dev/null || need+=(xorriso)
[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || need+=(isolinux)
[[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ]] || need+=(syslinux-common)
if ((${#need[@]})); then
  echo "[netboot-iso] installing ${need[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    "${need[@]}" >/dev/null
fi

ver="$(dpkg-query -W -f='${Version}' "$PKG")"
cache="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}/images"
iso="$cache/debian12-netboot-${ver//[^A-Za-z0-9.+-]/_}.iso"
if [[ -s "$iso" ]]; then
  echo "$iso"
  exit 0
fi

mkdir -p "$cache"
stage="$(mktemp -d "${TMPDIR:-/var/tmp}/jhvm-netboot.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
src=/usr/lib/debian-installer/images/12/amd64/text
cp -rL "$src/debian-installer" "$stage/"
cp /usr/lib/ISOLINUX/isolinux.bin "$stage/"
cp /usr/lib/syslinux/modules/bios/ldlinux.c32 "$stage/"
# The netboot menu (pxelinux.cfg/default) works unchanged as isolinux.cfg: it loads vesamenu with the
# installer entries; Esc gives the boot: prompt that the template's boot command types into.
cp "$src/debian-installer/amd64/pxelinux.cfg/default" "$stage/isolinux.cfg"
xorriso -as mkisofs -quiet -o "$iso.tmp" -r -J -V "DEBIAN12_NETBOOT" \
  -b isolinux.bin -c boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table "$stage"
mv "$iso.tmp" "$iso"
echo "[netboot-iso] wrote $iso ($(du -h "$iso" | cut -f1))" >&2
echo "$iso"
