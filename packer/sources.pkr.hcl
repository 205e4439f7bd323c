# Two builders for the same base box:
#   qemu.base            qcow2 (default). Installs from the ISO, or, with disk_image = true, boots an
#                        existing qcow2 given as iso_path/iso_url + iso_checksum (FinalImage stage, CI).
#   virtualbox-iso.base  VirtualBox VM, turned into a Vagrant box by the vagrant post-processor.
# Everything a build exposes on the host binds to 127.0.0.1: Packer's HTTP server, VNC/VRDP, and the
# SSH port forward.

source "qemu" "base" {
  vm_name          = "${local.vm_name}.qcow2"
  output_directory = local.qemu_output_dir

  iso_urls     = local.iso_urls
  iso_checksum = var.iso_checksum
  disk_image   = var.disk_image
  # qemu >= 6.1 rejects packer's backing-file mode (no backing format): always copy the input disk.
  use_backing_file = false

  accelerator        = var.accelerator
  headless           = var.headless
  memory             = var.memory
  cpus               = var.cpus
  disk_size          = "${var.disk_size}M"
  format             = "qcow2"
  disk_interface     = "virtio"
  net_device         = "virtio-net"
  disk_discard       = "unmap"
  disk_detect_zeroes = "unmap"

  http_content      = local.http_content
  http_bind_address = "127.0.0.1"
  http_port_min     = 8100
  http_port_max     = 8199
  vnc_bind_address  = "127.0.0.1"
  vnc_port_min      = 5900
  vnc_port_max      = 5999
  host_port_min     = 2222
  host_port_max     = 2299
  # Packer's default user-mode netdev forwards SSH on all host interfaces; name the host address.
  qemuargs = [
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
  ]

  boot_wait    = var.boot_wait
  boot_command = local.boot_command

  communicator           = "ssh"
  ssh_host               = "127.0.0.1"
  ssh_username           = var.build_username
  ssh_password           = var.build_password
  ssh_timeout            = var.ssh_timeout
  ssh_handshake_attempts = 500 # the Ubuntu live installer's own sshd rejects us until the reboot
  shutdown_command       = local.shutdown_command
  shutdown_timeout       = "10m"
}

source "virtualbox-iso" "base" {
  vm_name          = local.vm_name
  output_directory = local.virtualbox_output_dir
  guest_os_type    = var.virtualbox_guest_os_type

  iso_urls     = local.iso_urls
  iso_checksum = var.iso_checksum

  headless             = var.headless
  memory               = var.memory
  cpus                 = var.cpus
  disk_size            = var.disk_size
  hard_drive_interface = "sata"
  firmware             = "bios"
  guest_additions_mode = var.virtualbox_guest_additions_mode

  http_content      = local.http_content
  http_bind_address = "127.0.0.1"
  http_port_min     = 8100
  http_port_max     = 8199
  vrdp_bind_address = "127.0.0.1"
  # The NAT port forward for SSH is created on 127.0.0.1 by the plugin.
  host_port_min = 2222
  host_port_max = 2299
  # Disk first: empty on the first boot, so the ISO starts; after the installer's reboot the installed
  # system boots even if the ISO is still attached.
  vboxmanage = concat(
    [["modifyvm", "{{ .Name }}", "--boot1", "disk", "--boot2", "dvd", "--boot3", "none", "--boot4", "none"]],
    var.virtualbox_nat_localhost_reachable ? [["modifyvm", "{{ .Name }}", "--nat-localhostreachable1", "on"]] : [],
  )

  boot_wait    = var.boot_wait
  boot_command = local.boot_command

  communicator           = "ssh"
  ssh_username           = var.build_username
  ssh_password           = var.build_password
  ssh_timeout            = var.ssh_timeout
  ssh_handshake_attempts = 500
  shutdown_command       = local.shutdown_command
  shutdown_timeout       = "10m"
}
