# Ubuntu 22.04.5 LTS live-server (autoinstall). Checksum cross-checked against several public Packer
# templates and release notes that quote Canonical's SHA256SUMS; not re-downloaded here (no access to
# Ubuntu's hosts from the build machines). The IsoImage stage verifies the downloaded file against it.
os_name                  = "ubuntu-22.04"
os_family                = "ubuntu"
iso_url                  = "https://releases.ubuntu.com/22.04.5/ubuntu-22.04.5-live-server-amd64.iso"
iso_checksum             = "sha256:9bc6028870aef3f74f4e16b900008179e78b130e6b0b9a140635434a46aa98b0"
virtualbox_guest_os_type = "Ubuntu_64"
boot_wait                = "5s"
