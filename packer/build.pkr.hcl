# Unnamed on purpose: the builds are then addressed as -only=qemu.base / -only=virtualbox-iso.base.
build {
  sources = ["source.qemu.base", "source.virtualbox-iso.base"]

  # First boot of the installed system: wait until cloud-init (Ubuntu) and any apt/dpkg run
  # (unattended-upgrades) are done, then install python3 for the Ansible stage. The proxy settings go
  # through an env-var file (use_env_var_file), not the remote command line.
  provisioner "shell" {
    environment_vars = [
      "DEBIAN_FRONTEND=noninteractive",
      "http_proxy=${var.http_proxy}",
      "https_proxy=${var.https_proxy}",
      "no_proxy=${var.no_proxy}",
    ]
    use_env_var_file = true
    execute_command  = "chmod +x {{ .Path }}; sudo -n sh -c '. {{ .EnvVarFile }} && {{ .Path }}'"
    inline = [
      "set -eu",
      "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || true; fi",
      "[ -n \"$http_proxy\" ] || unset http_proxy; [ -n \"$https_proxy\" ] || unset https_proxy; [ -n \"$no_proxy\" ] || unset no_proxy",
      "apt-get -o DPkg::Lock::Timeout=900 update -q",
      "apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends python3 python3-apt sudo",
      "apt-get clean",
      "python3 --version",
      "echo \"base box: $(. /etc/os-release && echo \"$PRETTY_NAME\")\"",
    ]
  }

  post-processor "manifest" {
    only       = ["qemu.base"]
    output     = "${local.qemu_output_dir}/packer-manifest.json"
    strip_path = false
    custom_data = {
      os_name    = var.os_name
      os_family  = var.os_family
      disk_image = "${var.disk_image}"
      vm_name    = local.vm_name
    }
  }

  post-processor "checksum" {
    only           = ["qemu.base"]
    checksum_types = ["sha256"]
    output         = "${local.qemu_output_dir}/${local.vm_name}.qcow2.{{ .ChecksumType }}"
  }

  post-processor "vagrant" {
    only                = ["virtualbox-iso.base"]
    output              = "${var.output_directory}/${local.vm_name}-{{ .Provider }}.box"
    compression_level   = 6
    keep_input_artifact = false
    provider_override   = "virtualbox"
  }
}
