# Ubuntu 24.04.4 LTS live-server (autoinstall). Checksum cross-checked against several public sources that
# quote Canonical's SHA256SUMS; not re-downloaded here. When 24.04.5 replaces it, Canonical moves this ISO
# to old-releases.ubuntu.com: update both lines together.
os_name                  = "ubuntu-24.04"
os_family                = "ubuntu"
iso_url                  = "https://releases.ubuntu.com/24.04.4/ubuntu-24.04.4-live-server-amd64.iso"
iso_checksum             = "sha256:e907d92eeec9df64163a7e454cbc8d7755e8ddc7ed42f99dbc80c40f1a138433"
virtualbox_guest_os_type = "Ubuntu_64"
boot_wait                = "5s"
