# The FinalImage stage: boot the base box (a qcow2 with the build user), run the Ansible playbook
# (ansible/playbook.yml: content roles, then sysprep) over SSH, and let sysprep power the machine off.
#
#   packer build -var-file=<0600 secrets file: build_password> -var base_image=<qcow2> \
#     -var base_checksum=sha256:<hex> -var ansible_vars_file=<vars.yml> -var output_directory=<dir> packer/final
#
# The build user's password reaches Ansible through `ansible_secrets_file` (0600, written by the driver), never
# on a command line. Sysprep removes that user in a detached final step and powers off, so the shutdown
# command only has to return: Packer then waits for QEMU to exit.
packer {
  required_plugins {
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = "= 1.0.9"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "= 1.0.3"
    }
  }
}

variable "base_image" {
  type        = string
  description = "The base box (qcow2) to start from."
}

variable "base_checksum" {
  type        = string
  description = "sha256:<hex> of base_image."
  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.base_checksum))
    error_message = "The base_checksum must be sha256:<64 hex digits>."
  }
}

variable "build_username" {
  type    = string
  default = "builder"
}

variable "build_password" {
  type      = string
  sensitive = true
}

variable "ansible_vars_file" {
  type        = string
  description = "YAML file of playbook variables (generated from the stack config)."
}

variable "ansible_secrets_file" {
  type        = string
  description = "0600 YAML file with ansible_password / ansible_become_password for the build user."
}

variable "disk_size" {
  type        = number
  default     = 20480
  description = "Disk size in MiB (the base box's size: the disk is not resized)."
}

variable "memory" {
  type    = number
  default = 4096
}

variable "cpus" {
  type    = number
  default = 2
}

variable "headless" {
  type    = bool
  default = true
}

variable "accelerator" {
  type    = string
  default = "kvm"
  validation {
    condition     = contains(["kvm", "tcg", "hvf", "whpx", "none"], var.accelerator)
    error_message = "The accelerator must be one of kvm, tcg, hvf, whpx, none."
  }
}

variable "output_directory" {
  type    = string
  default = "output-final"
}

variable "vm_name" {
  type    = string
  default = "final"
}

variable "ssh_timeout" {
  type    = string
  default = "30m"
}

source "qemu" "final" {
  vm_name          = "${var.vm_name}.qcow2"
  output_directory = var.output_directory
  iso_url          = var.base_image
  iso_checksum     = var.base_checksum
  disk_image       = true
  use_backing_file = false
  disk_size        = "${var.disk_size}M"
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  disk_discard     = "unmap"
  # sysprep zeroes free space; detect_zeroes turns the zeros into holes, so the disk stays sparse
  disk_detect_zeroes = "unmap"
  accelerator        = var.accelerator
  headless           = var.headless
  memory             = var.memory
  cpus               = var.cpus
  vnc_bind_address   = "127.0.0.1"
  vnc_port_min       = 5900
  vnc_port_max       = 5999
  host_port_min      = 2222
  host_port_max      = 2299
  qemuargs = [
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
  ]
  communicator = "ssh"
  ssh_host     = "127.0.0.1"
  ssh_username = var.build_username
  ssh_password = var.build_password
  ssh_timeout  = var.ssh_timeout
  # sysprep's detached final step deletes the build user and powers off: only return here, then wait.
  shutdown_command = "true"
  shutdown_timeout = "20m"
}

build {
  sources = ["source.qemu.final"]

  provisioner "ansible" {
    playbook_file = "${path.root}/../../ansible/playbook.yml"
    user          = var.build_username
    use_proxy     = false
    extra_arguments = [
      "--extra-vars", "@${var.ansible_vars_file}",
      "--extra-vars", "@${var.ansible_secrets_file}",
    ]
    ansible_env_vars = [
      "ANSIBLE_CONFIG=${abspath(path.root)}/../../ansible/ansible.cfg",
      "ANSIBLE_ROLES_PATH=${abspath(path.root)}/../../ansible/roles",
      "ANSIBLE_HOST_KEY_CHECKING=False",
      "ANSIBLE_NOCOLOR=1",
    ]
  }
}
