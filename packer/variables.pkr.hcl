# Input variables. Per-OS values come from packer/os/<os>.pkrvars.hcl; stack settings and the build
# credentials are passed by the BaseBox driver (credentials only through a 0600 var-file or PKR_VAR_*
# environment variables, never on the command line). Every validation below also guards the values that
# are templated into the installer's user-data / preseed.

# ---------------------------------------------------------------- operating system / installer media

variable "os_name" {
  type        = string
  description = "Short OS id used in file names, e.g. ubuntu-22.04, debian-12."
  validation {
    condition     = can(regex("^[a-z][a-z0-9.-]{1,30}$", var.os_name))
    error_message = "The os_name must be lower-case letters, digits, dots or dashes (e.g. ubuntu-22.04)."
  }
}

variable "os_family" {
  type        = string
  description = "Installer family: ubuntu (subiquity autoinstall) or debian (debian-installer preseed)."
  validation {
    condition     = contains(["ubuntu", "debian"], var.os_family)
    error_message = "The os_family must be \"ubuntu\" or \"debian\"."
  }
}

variable "iso_url" {
  type        = string
  description = "Official download URL of the installer ISO (used only when iso_path is empty)."
}

variable "iso_checksum" {
  type        = string
  description = "sha256:<hex> of the ISO (or of the qcow2 when disk_image = true)."
  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.iso_checksum))
    error_message = "The iso_checksum must be \"sha256:\" followed by 64 lower-case hex digits."
  }
}

variable "iso_path" {
  type        = string
  default     = ""
  description = "Local copy of the ISO (or qcow2), already verified by the IsoImage stage; preferred over iso_url."
}

variable "disk_image" {
  type        = bool
  default     = false
  description = "true: iso_path/iso_url is an existing qcow2 system disk to boot and provision (qemu source only)."
}

variable "boot_wait" {
  type        = string
  default     = "5s"
  description = "Time to wait for the ISO's boot menu before typing the boot command."
}

variable "installer_extra_args" {
  type        = string
  default     = ""
  description = "Extra kernel arguments for the installer, e.g. console=ttyS0 or log_host=10.0.2.2 log_port=5514 (debian-installer remote syslog)."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.,:/=+ -]*$", var.installer_extra_args))
    error_message = "The installer_extra_args may only hold letters, digits, spaces and _.,:/=+- (no <, >, quotes or ;)."
  }
}

variable "virtualbox_guest_os_type" {
  type        = string
  default     = "Linux_64"
  description = "VirtualBox guest OS type id (VBoxManage list ostypes)."
}

# ---------------------------------------------------------------- machine

variable "disk_size" {
  type        = number
  default     = 20480
  description = "System disk size in MiB."
  validation {
    condition     = var.disk_size >= 4096
    error_message = "The disk_size must be at least 4096 MiB."
  }
}

variable "memory" {
  type        = number
  default     = 4096
  description = "Build VM memory in MiB (Ubuntu's live installer runs from RAM: keep >= 3072 for it)."
  validation {
    condition     = var.memory >= 1024
    error_message = "The memory must be at least 1024 MiB."
  }
}

variable "cpus" {
  type        = number
  default     = 2
  description = "Build VM vCPUs."
  validation {
    condition     = var.cpus >= 1 && var.cpus <= 64
    error_message = "The cpus must be between 1 and 64."
  }
}

variable "headless" {
  type        = bool
  default     = true
  description = "Run the build VM without a window (VNC/VRDP on 127.0.0.1 only)."
}

variable "accelerator" {
  type        = string
  default     = "kvm"
  description = "QEMU accelerator: kvm (Linux host), tcg (pure emulation, nested or CI hosts), hvf (macOS), whpx (Windows)."
  validation {
    condition     = contains(["kvm", "tcg", "hvf", "whpx", "xen", "none"], var.accelerator)
    error_message = "The accelerator must be one of kvm, tcg, hvf, whpx, xen, none."
  }
}

variable "virtualbox_nat_localhost_reachable" {
  type        = bool
  default     = true
  description = "VirtualBox >= 7.0 needs --nat-localhostreachable1 on so the guest reaches Packer's HTTP server bound to 127.0.0.1; set false for VirtualBox 6.1."
}

variable "virtualbox_guest_additions_mode" {
  type        = string
  default     = "disable"
  description = "disable | upload | attach (upload/attach need the Guest Additions ISO, by default from download.virtualbox.org)."
  validation {
    condition     = contains(["disable", "upload", "attach"], var.virtualbox_guest_additions_mode)
    error_message = "The virtualbox_guest_additions_mode must be disable, upload or attach."
  }
}

# ---------------------------------------------------------------- network / locale (stack config)

variable "http_proxy" {
  type        = string
  default     = ""
  sensitive   = true # proxy URLs may carry credentials
  description = "HTTP proxy for the installer and the provisioners, e.g. http://proxy:3128 (empty: none)."
  validation {
    condition     = var.http_proxy == "" || can(regex("^https?://[^\\s\"'`$\\\\]+$", var.http_proxy))
    error_message = "The http_proxy must be empty or an http(s):// URL without spaces or quotes."
  }
}

variable "https_proxy" {
  type        = string
  default     = ""
  sensitive   = true
  description = "HTTPS proxy for the provisioners (empty: none)."
  validation {
    condition     = var.https_proxy == "" || can(regex("^https?://[^\\s\"'`$\\\\]+$", var.https_proxy))
    error_message = "The https_proxy must be empty or an http(s):// URL without spaces or quotes."
  }
}

variable "no_proxy" {
  type        = string
  default     = ""
  description = "Comma-separated hosts/domains that bypass the proxy."
  validation {
    condition     = can(regex("^[A-Za-z0-9.,:/*_-]*$", var.no_proxy))
    error_message = "The no_proxy must be a comma-separated list of hosts, domains or CIDRs."
  }
}

variable "locale" {
  type        = string
  default     = "en_US.UTF-8"
  description = "System locale."
  validation {
    condition     = can(regex("^[a-z]{2,3}(_[A-Z]{2})?\\.UTF-8$", var.locale))
    error_message = "The locale must look like en_US.UTF-8."
  }
}

variable "timezone" {
  type        = string
  default     = "UTC"
  description = "Time zone (tz database name, e.g. Europe/Paris)."
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+/-]{0,63}$", var.timezone))
    error_message = "The timezone must be a tz database name such as UTC or Europe/Paris."
  }
}

variable "keyboard" {
  type        = string
  default     = "us"
  description = "Console keyboard layout (XKB layout, e.g. us, fr, de)."
  validation {
    condition     = can(regex("^[a-z]{2,8}$", var.keyboard))
    error_message = "The keyboard must be an XKB layout name such as us, fr or de."
  }
}

variable "mirror" {
  type        = string
  default     = ""
  description = "Package mirror URL (empty: the official one, http://archive.ubuntu.com/ubuntu or http://deb.debian.org/debian)."
  validation {
    condition     = var.mirror == "" || can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$", var.mirror))
    error_message = "The mirror must be empty or an http(s)://host[:port]/path URL."
  }
}

# ---------------------------------------------------------------- outputs

variable "output_directory" {
  type        = string
  default     = "output"
  description = "Base output directory; each builder writes to <output_directory>/<builder> (must not exist yet)."
}

variable "vm_name" {
  type        = string
  default     = ""
  description = "Name of the VM and of its disk/box files (default: base-<os_name>); also the guest hostname."
  validation {
    condition     = var.vm_name == "" || can(regex("^[a-z][a-z0-9-]{0,62}$", var.vm_name))
    error_message = "The vm_name must be a lower-case hostname label (letters, digits, dashes)."
  }
}

# ---------------------------------------------------------------- build credentials (per build, secret)

variable "build_username" {
  type        = string
  default     = "builder"
  description = "Temporary build user created by the installer (sudo without password); removed by the FinalImage stage."
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.build_username)) && !contains(["root", "vagrant"], var.build_username)
    error_message = "The build_username must be a valid Linux user name, and neither root nor vagrant."
  }
}

variable "build_password" {
  type        = string
  sensitive   = true
  description = "Random per-build password of build_username (Packer's SSH login). No default."
  validation {
    condition     = length(var.build_password) >= 16 && var.build_password != "vagrant"
    error_message = "The build_password must be at least 16 characters (generate it per build)."
  }
}

variable "build_password_hash" {
  type        = string
  sensitive   = true
  description = "SHA-512 crypt of build_password (mkpasswd -m sha-512 / openssl passwd -6): what the installer stores."
  validation {
    condition     = can(regex("^\\$6\\$(rounds=[0-9]+\\$)?[./0-9A-Za-z]{1,16}\\$[./0-9A-Za-z]{86}$", var.build_password_hash))
    error_message = "The build_password_hash must be a SHA-512 crypt string ($6$salt$hash)."
  }
}

variable "ssh_timeout" {
  type        = string
  default     = "60m"
  description = "How long Packer waits for SSH (covers the whole unattended install)."
}
