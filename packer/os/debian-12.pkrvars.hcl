# Debian 12.14.0 netinst (preseed). Debian 12 is oldstable: its ISOs live under cdimage/archive/.
# Checksum cross-checked against several public sources that quote Debian's SHA256SUMS; not re-downloaded
# here. The IsoImage stage verifies the downloaded file against it.
os_name                  = "debian-12"
os_family                = "debian"
iso_url                  = "https://cdimage.debian.org/cdimage/archive/12.14.0/amd64/iso-cd/debian-12.14.0-amd64-netinst.iso"
iso_checksum             = "sha256:adfcbb50782af99d457467f9b38c9e0fb3b1b6e211e0202f099aa58874b3f923"
virtualbox_guest_os_type = "Debian_64"
boot_wait                = "5s"
