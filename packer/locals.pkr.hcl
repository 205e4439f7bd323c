locals {
  vm_name = var.vm_name != "" ? var.vm_name : "base-${var.os_name}"

  # Each builder writes into its own directory so that both can run in one `packer build`.
  qemu_output_dir       = "${var.output_directory}/qemu"
  virtualbox_output_dir = "${var.output_directory}/virtualbox"

  # A verified local copy (IsoImage / FinalImage stage) wins over the download URL; no fallback to the
  # network when a local path is given, so a missing file fails loudly instead of downloading.
  iso_urls = var.iso_path != "" ? [var.iso_path] : [var.iso_url]

  default_mirror = {
    ubuntu = "http://archive.ubuntu.com/ubuntu"
    debian = "http://deb.debian.org/debian"
  }
  mirror_url = trimsuffix(var.mirror != "" ? var.mirror : local.default_mirror[var.os_family], "/")
  # [scheme, host[:port], path or null]; var.mirror's validation guarantees the match.
  mirror_parts = regex("^(https?)://([^/]+)(/.*)?$", local.mirror_url)

  # Values templated into the installer answer files. Only the password HASH goes there, never the
  # password itself; the files are served from memory by Packer's HTTP server (127.0.0.1) and never
  # written to disk by Packer.
  answer_vars = {
    hostname         = local.vm_name
    username         = var.build_username
    password_hash    = var.build_password_hash
    locale           = var.locale
    timezone         = var.timezone
    keyboard         = var.keyboard
    http_proxy       = var.http_proxy
    mirror_url       = local.mirror_url
    mirror_protocol  = local.mirror_parts[0]
    mirror_host      = local.mirror_parts[1]
    mirror_directory = coalesce(local.mirror_parts[2], "/")
  }

  http_files = {
    ubuntu = {
      "/user-data" = templatefile("${abspath(path.root)}/http/ubuntu/user-data", local.answer_vars)
      "/meta-data" = "instance-id: ${local.vm_name}\nlocal-hostname: ${local.vm_name}\n"
    }
    debian = {
      "/preseed.cfg" = templatefile("${abspath(path.root)}/http/debian/preseed.cfg", local.answer_vars)
    }
  }
  # Nothing is served when booting an existing disk.
  http_content = var.disk_image ? {} : local.http_files[var.os_family]

  boot_commands = {
    # Ubuntu live-server ISOs boot GRUB in BIOS and UEFI mode: open its command line and boot the
    # installer kernel with autoinstall and the NoCloud seed URL (the ';' must be escaped for GRUB).
    ubuntu = [
      "<wait3s>c<wait3s>",
      "linux /casper/vmlinuz autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ ${var.installer_extra_args} ---<enter><wait3s>",
      "initrd /casper/initrd<enter><wait3s>",
      "boot<enter>",
    ]
    # Debian netinst (isolinux in BIOS mode): leave the menu for the boot: prompt and start the
    # "install" entry in auto mode with the preseed URL.
    debian = [
      "<wait><esc><wait>",
      "install auto=true priority=critical url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg ",
      "locale=${var.locale} keymap=${var.keyboard} hostname=${local.vm_name} domain= ${var.installer_extra_args} ",
      "<enter>",
    ]
  }
  boot_command = var.disk_image ? [] : local.boot_commands[var.os_family]

  shutdown_command = "sudo /sbin/shutdown -P now"
}
