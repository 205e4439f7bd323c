# Packer core and plugin pins. scripts/install-packer.sh builds exactly these versions from the Go module
# proxy and installs them under its PACKER_PLUGIN_PATH, so `packer init` is a no-op there; elsewhere
# `packer init packer/` downloads the same versions from GitHub releases.
#
# The plugin versions are the ones the Go module proxy serves for offline builds (the versions Packer 1.9
# bundled); newer plugin releases exist upstream. Change them here and in scripts/install-packer.sh
# together, then run the packer tests (tests/packer/).
packer {
  required_version = ">= 1.11.0"

  required_plugins {
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = "= 1.0.9"
    }
    virtualbox = {
      source  = "github.com/hashicorp/virtualbox"
      version = "= 1.0.4"
    }
    vagrant = {
      source  = "github.com/hashicorp/vagrant"
      version = "= 1.0.3"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "= 1.0.3"
    }
  }
}
