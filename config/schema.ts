/**
 * The stack configuration schema: every key the program reads, with its type, default, meaning and what changing it
 * after deployment does. `config/index.ts` reads and validates against this table; `scripts/config-docs.ts` renders it
 * into the README's config reference (a test keeps the two equal).
 *
 * Keys are grouped in sections. A section is one structured Pulumi config value (`jupyterhub-vm:image`, ...);
 * the top-level section "" holds plain keys (`jupyterhub-vm:target`). Secrets are plain top-level keys so that
 * `pulumi config set --secret` marks exactly the secret and nothing else.
 */

export type OnChange =
  | "none" // nothing is rebuilt or replaced
  | "update in place"
  | "rebuild image" // base box and everything downstream
  | "rebuild final image" // final image and everything downstream, not the base box
  | "re-upload image" // Glance image replaced, server replaced
  | "replace server"
  | "replace local VM"
  | "validation only";

export type KeyType =
  | { kind: "string"; pattern?: RegExp; patternHint?: string; allowEmpty?: boolean }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "int"; min: number; max: number }
  | { kind: "number"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "stringList"; pattern?: RegExp; patternHint?: string; minItems?: number }
  | { kind: "intList"; min: number; max: number }
  | { kind: "secret" };

export interface KeySpec {
  /** section ("" for top level) */
  readonly section: "" | "image" | "hub" | "openstack" | "local";
  /** key name inside the section */
  readonly name: string;
  readonly type: KeyType;
  /** default value; `undefined` = required (see `requiredWhen`) or optional with no value */
  readonly default?: string | number | boolean | readonly string[] | readonly number[];
  readonly doc: string;
  readonly onChange: OnChange;
  /** an invalid value, used by the tests to prove every key is validated */
  readonly badExample: unknown;
}

export const PROJECT = "jupyterhub-vm";

export const OS_NAMES = ["ubuntu-22.04", "ubuntu-24.04", "debian-12"] as const;
export type OsName = (typeof OS_NAMES)[number];
export const BUILDERS = ["qemu", "virtualbox"] as const;
export type Builder = (typeof BUILDERS)[number];
export const TARGETS = ["openstack", "local"] as const;
export type Target = (typeof TARGETS)[number];
export const IMAGE_SOURCES = ["iso", "file"] as const;
export const LOCAL_PROVIDERS = ["vagrant-libvirt", "qemu"] as const;
export type LocalProvider = (typeof LOCAL_PROVIDERS)[number];
export const DISK_FORMATS = ["qcow2", "raw", "vmdk"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
export const AUTHENTICATORS = ["firstuse", "native", "tmp", "pam"] as const;

const SHA256 = /^[0-9a-f]{64}$/;
const URL_RE = /^(https?|file):\/\/\S+$/;
/** proxies and mirrors: http(s) only (a file:// proxy means nothing to apt or pip) */
const HTTP_URL_RE = /^https?:\/\/\S+$/;
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const PINNED_PIP = /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+$/;
const R_PKG = /^[A-Za-z][A-Za-z0-9.]*$/;
const GITHUB_REF = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+@[A-Za-z0-9_./-]+$/;
const MEM = /^\d+(\.\d+)?[KMGT]$/;

const KEYS = [
  // ------------------------------------------------------------------------------------------- top level
  {
    section: "",
    name: "target",
    type: { kind: "enum", values: TARGETS },
    default: "local",
    doc: "Where the server runs: `openstack` (Glance image + Nova server) or `local` (a VM on this machine, see `local.provider`).",
    onChange: "replace server",
    badExample: "aws",
  },
  {
    section: "",
    name: "buildDir",
    type: { kind: "string" },
    default: ".build",
    doc: "Directory for build logs and per-stack work files (relative to the project).",
    onChange: "none",
    badExample: "",
  },
  {
    section: "",
    name: "cacheDir",
    type: { kind: "string" },
    default: "~/.cache/jupyterhub-vm",
    doc: "Content-addressed cache for ISOs and built images, shared by all stacks on this machine.",
    onChange: "none",
    badExample: "",
  },
  {
    section: "",
    name: "keepCache",
    type: { kind: "bool" },
    default: true,
    doc: "Keep cached ISOs and images on `pulumi destroy` (other stacks may share them).",
    onChange: "update in place",
    badExample: "maybe",
  },
  {
    section: "",
    name: "adminPassword",
    type: { kind: "secret" },
    doc: "JupyterHub admin password (secret: `pulumi config set --secret adminPassword`). Required for `openstack`; set at first boot, so nobody can claim the admin account first. The server gets only its bcrypt hash, salted with 16 random bytes made at the stack's first `up` and kept as a secret in its state (`targets/password-salt.ts`).",
    onChange: "replace server",
    badExample: "short",
  },
  {
    section: "",
    name: "openstackPassword",
    type: { kind: "secret" },
    doc: "OpenStack password when clouds.yaml has none (secret). Otherwise leave unset.",
    onChange: "update in place",
    badExample: "",
  },
  // ------------------------------------------------------------------------------------------- image
  {
    section: "image",
    name: "source",
    type: { kind: "enum", values: IMAGE_SOURCES },
    default: "iso",
    doc: "`iso`: build from the OS ISO (base box, then final image). `file`: deploy an existing image file, skip the build.",
    onChange: "rebuild image",
    badExample: "docker",
  },
  {
    section: "image",
    name: "file",
    type: { kind: "string", allowEmpty: true },
    default: "",
    doc: "With `source: file`: path of the image file to deploy (qcow2, raw or vmdk).",
    onChange: "re-upload image",
    badExample: 7,
  },
  {
    section: "image",
    name: "os",
    type: { kind: "enum", values: OS_NAMES },
    default: "ubuntu-24.04",
    doc: "Operating system; selects `packer/os/<os>.pkrvars.hcl`.",
    onChange: "rebuild image",
    badExample: "windows-11",
  },
  {
    section: "image",
    name: "builder",
    type: { kind: "enum", values: BUILDERS },
    default: "qemu",
    doc: "Packer builder for the base box: `qemu` (headless qcow2) or `virtualbox` (Vagrant box, needs VirtualBox).",
    onChange: "rebuild image",
    badExample: "vmware",
  },
  {
    section: "image",
    name: "isoUrl",
    type: { kind: "string", pattern: URL_RE, patternHint: "an http(s):// or file:// URL", allowEmpty: true },
    default: "",
    doc: "ISO URL; empty = the one pinned in the OS variable file.",
    onChange: "rebuild image",
    badExample: "ftp//nowhere",
  },
  {
    section: "image",
    name: "isoSha256",
    type: { kind: "string", pattern: SHA256, patternHint: "64 lowercase hex digits", allowEmpty: true },
    default: "",
    doc: "sha256 of the ISO; empty = the one pinned in the OS variable file (or resolved from `isoSha256SumsUrl`).",
    onChange: "rebuild image",
    badExample: "abc123",
  },
  {
    section: "image",
    name: "isoSha256SumsUrl",
    type: { kind: "string", pattern: URL_RE, patternHint: "an http(s):// or file:// URL", allowEmpty: true },
    default: "",
    doc: "URL of the release's SHA256SUMS, used when `isoSha256` is empty and the OS file pins none.",
    onChange: "rebuild image",
    badExample: "SHA256SUMS",
  },
  {
    section: "image",
    name: "isoLocalPath",
    type: { kind: "string", allowEmpty: true },
    default: "",
    doc: "A local copy of the ISO, tried first (used only when its sha256 matches).",
    onChange: "none",
    badExample: false,
  },
  {
    section: "image",
    name: "diskSizeGb",
    type: { kind: "int", min: 8, max: 2048 },
    default: 20,
    doc: "Disk size of the built image (GiB); also the Glance image's minimum disk.",
    onChange: "rebuild image",
    badExample: 2,
  },
  {
    section: "image",
    name: "memoryMb",
    type: { kind: "int", min: 512, max: 262144 },
    default: 4096,
    doc: "Memory of the build VM (MiB).",
    onChange: "none",
    badExample: 100,
  },
  {
    section: "image",
    name: "cpus",
    type: { kind: "int", min: 1, max: 64 },
    default: 2,
    doc: "vCPUs of the build VM.",
    onChange: "none",
    badExample: 0,
  },
  {
    section: "image",
    name: "headless",
    type: { kind: "bool" },
    default: true,
    doc: "Run the build VM without a console window.",
    onChange: "none",
    badExample: "yes please",
  },
  {
    section: "image",
    name: "accelerator",
    type: { kind: "enum", values: ["auto", "kvm", "tcg", "hvf", "whpx", "none"] },
    default: "auto",
    doc: "QEMU accelerator for the builds and the local VM. `auto`: KVM when a test guest actually runs under it here (probed at preview, once per boot; `/dev/kvm` existing is not enough), else `tcg` (software emulation: slow, works everywhere; `hvf` on macOS); preview logs which was chosen and why. `kvm` is probed the same way and refused at preview when a guest would not run.",
    onChange: "none",
    badExample: "fast",
  },
  {
    section: "image",
    name: "locale",
    type: { kind: "string", pattern: /^[a-z]{2,3}_[A-Z]{2}\.UTF-8$/, patternHint: "like en_US.UTF-8" },
    default: "en_US.UTF-8",
    doc: "System locale of the image.",
    onChange: "rebuild image",
    badExample: "french",
  },
  {
    section: "image",
    name: "timezone",
    type: {
      kind: "string",
      pattern: /^(UTC|[A-Z][A-Za-z_+-]+(\/[A-Za-z0-9_+-]+){1,2})$/,
      patternHint: "UTC or Area/City",
    },
    default: "UTC",
    doc: "Time zone of the image.",
    onChange: "rebuild image",
    badExample: "Paris",
  },
  {
    section: "image",
    name: "keyboard",
    type: { kind: "string", pattern: /^[a-z]{2,3}(\([a-z0-9_-]+\))?$/, patternHint: "an XKB layout like us or fr" },
    default: "us",
    doc: "Keyboard layout of the image.",
    onChange: "rebuild image",
    badExample: "AZERTY",
  },
  {
    section: "image",
    name: "mirror",
    type: { kind: "string", pattern: HTTP_URL_RE, patternHint: "an http(s):// URL", allowEmpty: true },
    default: "",
    doc: "Package mirror for the install; empty = the distribution's default.",
    onChange: "rebuild image",
    badExample: "mirror.example",
  },
  {
    section: "image",
    name: "httpProxy",
    type: { kind: "string", pattern: HTTP_URL_RE, patternHint: "an http(s):// URL", allowEmpty: true },
    default: "",
    doc: "HTTP proxy used during the build and written into the image.",
    onChange: "rebuild image",
    badExample: "proxy:3128",
  },
  {
    section: "image",
    name: "httpsProxy",
    type: { kind: "string", pattern: HTTP_URL_RE, patternHint: "an http(s):// URL", allowEmpty: true },
    default: "",
    doc: "HTTPS proxy used during the build and written into the image.",
    onChange: "rebuild image",
    badExample: "proxy:3128",
  },
  {
    section: "image",
    name: "noProxy",
    type: { kind: "string", pattern: /^[A-Za-z0-9.,:/*-]*$/, patternHint: "a comma-separated host list" },
    default: "localhost,127.0.0.1",
    doc: "Hosts that bypass the proxy.",
    onChange: "rebuild image",
    badExample: "a b c",
  },
  {
    section: "image",
    name: "provisioner",
    type: { kind: "enum", values: ["packer"] },
    default: "packer",
    doc: "How the final image is provisioned: `packer` (Packer's QEMU builder boots the base image and runs Ansible). The seeds' Vagrant path is not implemented yet.",
    onChange: "rebuild final image",
    badExample: "chef",
  },
  {
    section: "image",
    name: "exportFormat",
    type: { kind: "enum", values: DISK_FORMATS },
    default: "qcow2",
    doc: "Format of the exported final image.",
    onChange: "rebuild final image",
    badExample: "vdi",
  },
  {
    section: "image",
    name: "compression",
    type: { kind: "enum", values: ["auto", "zstd", "zlib", "none"] },
    default: "auto",
    doc: "qcow2 compression of the exported image. `auto`: `zstd` for `target: local` (this machine's QEMU runs the image), `zlib` for `openstack` (every QEMU reads it). `zstd` exports about 5 times faster than `zlib` and a little smaller (README: Benchmarks) but the hosts that boot the image need QEMU >= 5.1: set it for a cloud whose compute hosts have it (an admin sees it with `openstack hypervisor show <host> -c hypervisor_version`).",
    onChange: "rebuild final image",
    badExample: "lzma",
  },
  // ------------------------------------------------------------------------------------------- hub
  {
    section: "hub",
    name: "tljhVersion",
    type: { kind: "string", pattern: /^\d+\.\d+\.\d+$/, patternHint: "a release like 1.0.0" },
    default: "2.0.0",
    doc: "The Littlest JupyterHub release installed (pinned; the installer is fetched at the same tag).",
    onChange: "rebuild final image",
    badExample: "latest",
  },
  {
    section: "hub",
    name: "admins",
    type: { kind: "stringList", pattern: UNIX_USER, patternHint: "lowercase user names", minItems: 1 },
    default: ["admin"],
    doc: "JupyterHub admin users; the first one gets `adminPassword` at first boot.",
    onChange: "rebuild final image",
    badExample: ["Bad User"],
  },
  {
    section: "hub",
    name: "authenticator",
    type: { kind: "enum", values: AUTHENTICATORS },
    default: "firstuse",
    doc: "`firstuse`, `native` (sign-up with admin approval), `tmp` (temporary accounts, workshops) or `pam`; set at first boot (one image serves all four).",
    onChange: "replace server",
    badExample: "ldap",
  },
  {
    section: "hub",
    name: "memoryLimit",
    type: { kind: "string", pattern: MEM, patternHint: "a size like 2G or 512M" },
    default: "2G",
    doc: "Memory limit per user server.",
    onChange: "rebuild final image",
    badExample: "lots",
  },
  {
    section: "hub",
    name: "cpuLimit",
    type: { kind: "int", min: 1, max: 64 },
    default: 1,
    doc: "CPU limit per user server, in whole cores (TLJH 2.0.0's config.yaml schema takes an integer: `tljh-config` refuses a config with 0.5).",
    onChange: "rebuild final image",
    badExample: 0.5,
  },
  {
    section: "hub",
    name: "idleCulling",
    type: { kind: "bool" },
    default: true,
    doc: "Stop idle user servers.",
    onChange: "rebuild final image",
    badExample: "off",
  },
  {
    section: "hub",
    name: "idleTimeoutSeconds",
    type: { kind: "int", min: 60, max: 604800 },
    default: 3600,
    doc: "Idle time after which a user server is stopped.",
    onChange: "rebuild final image",
    badExample: 5,
  },
  {
    section: "hub",
    name: "defaultApp",
    type: { kind: "enum", values: ["jupyterlab", "classic"] },
    default: "jupyterlab",
    doc: "Interface users land in.",
    onChange: "rebuild final image",
    badExample: "vscode",
  },
  {
    section: "hub",
    name: "baseUrl",
    type: { kind: "string", pattern: /^\/([A-Za-z0-9._-]+\/)*$/, patternHint: "a path starting and ending with /" },
    default: "/",
    doc: "URL prefix of the hub.",
    onChange: "rebuild final image",
    badExample: "hub",
  },
  {
    section: "hub",
    name: "pythonPackages",
    type: { kind: "stringList", pattern: PINNED_PIP, patternHint: "pinned requirements like numpy==2.1.3" },
    default: [],
    doc: "Python packages installed into the users' environment (each pinned with ==).",
    onChange: "rebuild final image",
    badExample: ["numpy"],
  },
  {
    section: "hub",
    name: "installR",
    type: { kind: "bool" },
    default: true,
    doc: "Install R and the IRkernel.",
    onChange: "rebuild final image",
    badExample: 1,
  },
  {
    section: "hub",
    name: "rCranPackages",
    type: { kind: "stringList", pattern: R_PKG, patternHint: "R package names" },
    default: [],
    doc: "R packages from CRAN, installed at build time.",
    onChange: "rebuild final image",
    badExample: ["dplyr; rm -rf /"],
  },
  {
    section: "hub",
    name: "rBioconductorPackages",
    type: { kind: "stringList", pattern: R_PKG, patternHint: "R package names" },
    default: [],
    doc: "R packages from Bioconductor.",
    onChange: "rebuild final image",
    badExample: ["Bio conductor"],
  },
  {
    section: "hub",
    name: "rGithubPackages",
    type: {
      kind: "stringList",
      pattern: GITHUB_REF,
      patternHint: "owner/repo@ref (a tag or commit: installs are pinned)",
    },
    default: [],
    doc: "R packages from GitHub (`owner/repo@ref`).",
    onChange: "rebuild final image",
    badExample: ["not a repo"],
  },
  {
    section: "hub",
    name: "content",
    type: { kind: "string", allowEmpty: true },
    default: "",
    doc: "Notebooks copied into every new user's home: a local directory, or a git URL pinned to a ref (`https://…/repo.git#v1.0`).",
    onChange: "rebuild final image",
    badExample: 3,
  },
  {
    section: "hub",
    name: "desktop",
    type: { kind: "bool" },
    default: false,
    doc: "Add a remote desktop (XFCE + xrdp + Guacamole's guacd on loopback).",
    onChange: "rebuild final image",
    badExample: "xfce",
  },
  {
    section: "hub",
    name: "hostname",
    type: { kind: "string", pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, patternHint: "a DNS label" },
    default: "jupyterhub",
    doc: "Host name of the server.",
    onChange: "rebuild final image",
    badExample: "Jupyter_Hub",
  },
  {
    section: "hub",
    name: "dnsName",
    type: {
      kind: "string",
      pattern: /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/,
      patternHint: "a fully qualified name",
      allowEmpty: true,
    },
    default: "",
    doc: "Public DNS name of the hub; with `letsencryptEmail`, enables HTTPS.",
    onChange: "replace server",
    badExample: "not a name",
  },
  {
    section: "hub",
    name: "letsencryptEmail",
    type: { kind: "string", pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/, patternHint: "an e-mail address", allowEmpty: true },
    default: "",
    doc: "Contact e-mail for Let's Encrypt (needs `dnsName`).",
    onChange: "replace server",
    badExample: "nobody",
  },
  // ------------------------------------------------------------------------------------------- openstack
  {
    section: "openstack",
    name: "cloud",
    type: { kind: "string", pattern: NAME, patternHint: "a cloud name from clouds.yaml", allowEmpty: true },
    default: "",
    doc: "Cloud name in clouds.yaml (required for `target: openstack`).",
    onChange: "replace server",
    badExample: "my cloud",
  },
  {
    section: "openstack",
    name: "region",
    type: { kind: "string", pattern: NAME, patternHint: "a region name", allowEmpty: true },
    default: "",
    doc: "Region; empty = the one in clouds.yaml.",
    onChange: "replace server",
    badExample: "a/b",
  },
  {
    section: "openstack",
    name: "flavor",
    type: { kind: "string", pattern: NAME, patternHint: "a flavor name", allowEmpty: true },
    default: "",
    doc: "Nova flavor (required for `openstack`; looked up at preview).",
    onChange: "replace server",
    badExample: "m1 large",
  },
  {
    section: "openstack",
    name: "network",
    type: { kind: "string", pattern: NAME, patternHint: "a network name", allowEmpty: true },
    default: "",
    doc: "Network the server is attached to; empty = the project's only network (looked up at preview).",
    onChange: "replace server",
    badExample: "two words",
  },
  {
    section: "openstack",
    name: "floatingIpPool",
    type: { kind: "string", pattern: NAME, patternHint: "an external network name", allowEmpty: true },
    default: "",
    doc: "External network to allocate a floating IP from; empty = none (the server's network is routable).",
    onChange: "update in place",
    badExample: "a b",
  },
  {
    section: "openstack",
    name: "keyPair",
    type: { kind: "string", pattern: NAME, patternHint: "a key pair name", allowEmpty: true },
    default: "",
    doc: "Existing Nova key pair for SSH; see also `publicKey`.",
    onChange: "replace server",
    badExample: "my key",
  },
  {
    section: "openstack",
    name: "publicKey",
    type: {
      kind: "string",
      pattern: /^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/,
      patternHint: "an OpenSSH public key line",
      allowEmpty: true,
    },
    default: "",
    doc: "OpenSSH public key; a key pair is created from it (used when `keyPair` is empty).",
    onChange: "replace server",
    badExample: "BEGIN PRIVATE KEY",
  },
  {
    section: "openstack",
    name: "sshAllowedCidrs",
    type: { kind: "stringList", pattern: CIDR, patternHint: "CIDRs like 192.0.2.0/24" },
    default: [],
    doc: "Source CIDRs allowed to SSH (port 22); empty = SSH closed. HTTP/HTTPS are open to all.",
    onChange: "update in place",
    badExample: ["everyone"],
  },
  {
    section: "openstack",
    name: "availabilityZone",
    type: { kind: "string", pattern: NAME, patternHint: "a zone name", allowEmpty: true },
    default: "",
    doc: "Availability zone; empty = the cloud's default.",
    onChange: "replace server",
    badExample: "zone a",
  },
  {
    section: "openstack",
    name: "imageVisibility",
    type: { kind: "enum", values: ["private", "shared", "community", "public"] },
    default: "private",
    doc: "Glance visibility of the uploaded image.",
    onChange: "update in place",
    badExample: "everyone",
  },
  {
    section: "openstack",
    name: "keepOldImages",
    type: { kind: "bool" },
    default: false,
    doc: "Leave each replaced Glance image (and the last one on `pulumi destroy`) in the project instead of deleting it, e.g. to roll back by hand; kept images are no longer managed by the stack. Applies to images replaced after the change.",
    onChange: "update in place",
    badExample: "yes",
  },
  {
    section: "openstack",
    name: "imageName",
    type: { kind: "string", pattern: NAME, patternHint: "letters, digits, . _ -" },
    default: "jupyterhub",
    doc: "Prefix of the Glance image name (the content hash is appended).",
    onChange: "re-upload image",
    badExample: "my image",
  },
  {
    section: "openstack",
    name: "existingImage",
    type: { kind: "string", allowEmpty: true, pattern: /^[A-Za-z0-9._ -]+$/, patternHint: "an image name or id" },
    default: "",
    doc: "Use this existing Glance image (name or id) instead of building and uploading one.",
    onChange: "replace server",
    badExample: "a;b",
  },
  {
    section: "openstack",
    name: "minRamMb",
    type: { kind: "int", min: 0, max: 1048576 },
    default: 2048,
    doc: "Glance image's minimum RAM.",
    onChange: "update in place",
    badExample: -5,
  },
  {
    section: "openstack",
    name: "bootVolumeSizeGb",
    type: { kind: "int", min: 0, max: 16384 },
    default: 0,
    doc: "Boot from a Cinder volume of this size (GiB); 0 = boot from the flavor's disk.",
    onChange: "replace server",
    badExample: 1.5,
  },
  {
    section: "openstack",
    name: "dataVolumeSizeGb",
    type: { kind: "int", min: 0, max: 65536 },
    default: 0,
    doc: 'Size of the persistent Cinder volume for /home, /srv/data and the users\' identity (hub database, passwords, accounts: README "What survives a server replacement"); 0 = none (all of it goes with the server).',
    onChange: "update in place",
    badExample: "big",
  },
  {
    section: "openstack",
    name: "keepDataVolume",
    type: { kind: "bool" },
    default: true,
    doc: "Keep the data volume on `pulumi destroy` (retainOnDelete).",
    onChange: "update in place",
    badExample: "no",
  },
  {
    section: "openstack",
    name: "serverName",
    type: { kind: "string", pattern: NAME, patternHint: "letters, digits, . _ -", allowEmpty: true },
    default: "",
    doc: "Nova server name; empty = `jupyterhub-<stack>`.",
    onChange: "update in place",
    badExample: "my server",
  },
  {
    section: "openstack",
    name: "waitForHub",
    type: { kind: "bool" },
    default: true,
    doc: "Make `pulumi up` wait until the hub answers on /hub/api.",
    onChange: "none",
    badExample: "sure",
  },
  {
    section: "openstack",
    name: "readyTimeoutSeconds",
    type: { kind: "int", min: 30, max: 7200 },
    default: 900,
    doc: "How long `pulumi up` waits for the hub.",
    onChange: "none",
    badExample: 1,
  },
  // ------------------------------------------------------------------------------------------- local
  {
    section: "local",
    name: "provider",
    type: { kind: "enum", values: LOCAL_PROVIDERS },
    default: "qemu",
    doc: "How the local VM runs: `vagrant-libvirt` (Vagrant with the vagrant-libvirt plugin: the final image becomes a per-VM box; login only with a per-VM key made at create; see README) or `qemu` (QEMU directly, a copy-on-write overlay on the final image, no Vagrant or libvirt needed). VirtualBox is not supported yet.",
    onChange: "replace local VM",
    badExample: "hyperv",
  },
  {
    section: "local",
    name: "ip",
    type: {
      kind: "string",
      pattern: /^(\d{1,3}\.){3}\d{1,3}$/,
      patternHint: "an IPv4 address, or empty for DHCP",
      allowEmpty: true,
    },
    default: "",
    doc: "`vagrant-libvirt`: a private IP for the VM (Vagrant `private_network`, a host-only libvirt network); empty: DHCP on Vagrant's management network only. The address is the `localIp` output. Ignored by `qemu`, whose user networking forwards ports on 127.0.0.1 only.",
    onChange: "replace local VM",
    badExample: "10.0.0",
  },
  {
    section: "local",
    name: "libvirtUri",
    type: {
      kind: "string",
      pattern: /^qemu(\+[a-z]+)?:\/\/[^\s/]*\/(system|session)(\?\S*)?$/,
      patternHint: "a libvirt QEMU URI such as qemu:///system",
    },
    default: "qemu:///system",
    doc: "`vagrant-libvirt`: the libvirt connection the VM is created on (`virsh -c <uri>` must work at preview).",
    onChange: "replace local VM",
    badExample: "xen:///",
  },
  {
    section: "local",
    name: "forwardPorts",
    type: { kind: "stringList", pattern: /^\d{2,5}:\d{1,5}$/, patternHint: "HOST:GUEST port pairs like 8443:443" },
    default: [],
    doc: "More ports forwarded from 127.0.0.1:HOST to the VM's GUEST port, besides `httpPort` -> 80.",
    onChange: "replace local VM",
    badExample: ["8443"],
  },
  {
    section: "local",
    name: "httpPort",
    type: { kind: "int", min: 1024, max: 65535 },
    default: 8080,
    doc: "Host port forwarded to the VM's port 80 (on 127.0.0.1).",
    onChange: "replace local VM",
    badExample: 80,
  },
  {
    section: "local",
    name: "dataDir",
    type: { kind: "string", allowEmpty: true },
    default: "",
    doc: "Host folder mounted at /srv/data in the VM; empty = none.",
    onChange: "replace local VM",
    badExample: ["x"],
  },
  {
    section: "local",
    name: "dataDiskGb",
    type: { kind: "int", min: 0, max: 16384 },
    default: 0,
    doc: "`qemu`: a persistent data disk of this size (GiB; a sparse qcow2 in `<buildDir>/local-data/`, outside the VM directory) attached as a second virtio disk; first boot formats it when blank and keeps /home, /srv/data and the users' identity on it, as on a cloud's data volume, so a replaced VM finds its users, their passwords and files. 0 = none (all of it is on the VM's own disk and goes with it).",
    onChange: "replace local VM",
    badExample: -1,
  },
  {
    section: "local",
    name: "keepDataDisk",
    type: { kind: "bool" },
    default: true,
    doc: "Keep the data disk (`dataDiskGb`) on `pulumi destroy`; a later stack with the same name finds it again. false: destroy deletes it with its files.",
    onChange: "none",
    badExample: "no",
  },
  {
    section: "local",
    name: "memoryMb",
    type: { kind: "int", min: 512, max: 262144 },
    default: 2048,
    doc: "Memory of the local VM (MiB).",
    onChange: "replace local VM",
    badExample: 64,
  },
  {
    section: "local",
    name: "cpus",
    type: { kind: "int", min: 1, max: 64 },
    default: 2,
    doc: "vCPUs of the local VM.",
    onChange: "replace local VM",
    badExample: 100,
  },
  {
    section: "local",
    name: "waitForHub",
    type: { kind: "bool" },
    default: true,
    doc: "Make `pulumi up` wait until the hub answers on `<hubUrl>hub/api`; on timeout it fails with the VM's console tail (and stops that VM).",
    onChange: "none",
    badExample: "sure",
  },
  {
    section: "local",
    name: "readyTimeoutSeconds",
    type: { kind: "int", min: 30, max: 7200 },
    default: 900,
    doc: "How long `pulumi up` waits for the local VM's hub (first boot under TCG takes minutes).",
    onChange: "none",
    badExample: 1,
  },
] as const satisfies readonly KeySpec[];

/** Every key the program reads (the table above). */
export const SCHEMA: readonly KeySpec[] = KEYS;

/** A key's validated value type, derived from its `type`: the program's config types come from this table. */
type ValueOf<T extends KeyType> = T extends { kind: "enum"; values: readonly (infer V)[] }
  ? V
  : T extends { kind: "string" }
    ? string
    : T extends { kind: "int" | "number" }
      ? number
      : T extends { kind: "bool" }
        ? boolean
        : T extends { kind: "stringList" }
          ? readonly string[]
          : T extends { kind: "intList" }
            ? readonly number[]
            : never;

type Key = (typeof KEYS)[number];

/** The validated values of one section, typed from the table (secrets excluded: they are `pulumi.Output`s). */
export type SectionValues<S extends KeySpec["section"]> = {
  readonly [K in Extract<Key, { section: S }> as K["type"]["kind"] extends "secret" ? never : K["name"]]: ValueOf<
    K["type"]
  >;
};

export function fullKey(spec: Pick<KeySpec, "section" | "name">): string {
  return spec.section ? `${spec.section}.${spec.name}` : spec.name;
}
