/**
 * Which QEMU accelerator this machine can use. `/dev/kvm` existing is not enough: here (a VM whose host does not
 * pass nested virtualization through properly) it exists and opens, yet a Linux guest under it hangs at 99% CPU
 * (measured: a Debian 6.1 kernel printed nothing in 60 s with QEMU's default CPU model), and with `-cpu host`, the
 * model our runners use, QEMU aborts at start. So KVM is used only after a guest actually ran under it with the
 * runners' CPU model: a 512-byte boot sector that writes to QEMU's isa-debug-exit port, which ends QEMU with a known
 * exit status (about a second where KVM works). A hang is cut off after PROBE_TIMEOUT_MS. The probe runs in real
 * mode: a KVM that runs it but hangs a full kernel is not caught (not seen here). The result is kept per boot of the
 * machine and QEMU version, so only the first preview after a reboot pays for it.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const PROBE_TIMEOUT_MS = 8000;
/** isa-debug-exit ends QEMU with (value << 1) | 1: the boot sector writes 0x21, so 67 */
const EXIT_VALUE = 0x21;
const EXPECTED_STATUS = (EXIT_VALUE << 1) | 1;

/** mov al, 0x21; out 0xf4, al; hlt; jmp $-1 — then padding and the boot signature */
export function bootSector(): Buffer {
  const b = Buffer.alloc(512);
  Buffer.from([0xb0, EXIT_VALUE, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(b);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** what happened, for the log and the messages */
  readonly why: string;
}

export const QEMU = "qemu-system-x86_64";

/** Boots the test sector under `accel`; ok when QEMU ends with the sector's exit status. */
export function runGuest(accel: string, timeoutMs = PROBE_TIMEOUT_MS, sector: Buffer = bootSector()): ProbeResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jhvm-accel-"));
  try {
    const img = path.join(dir, "boot.img");
    fs.writeFileSync(img, sector);
    const started = Date.now();
    const r = spawnSync(
      QEMU,
      [
        "-accel",
        accel,
        // the CPU model our runners give a KVM guest (targets/local/qemu.ts, the Vagrantfile's host-passthrough,
        // Packer's qemu builder): here, `-cpu host` makes QEMU abort at start ("failed to set MSR 0x10a")
        ...(accel === "kvm" ? ["-cpu", "host"] : []),
        "-machine",
        "pc",
        "-m",
        "32",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        "none",
        "-monitor",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x01",
        "-drive",
        `file=${img},format=raw,if=ide,index=0`,
        "-boot",
        "c",
      ],
      { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" },
    );
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (r.error && /ENOENT/.test(r.error.message)) return { ok: false, why: `${QEMU} not found on PATH` };
    if (r.status === EXPECTED_STATUS) return { ok: true, why: `a test guest ran under ${accel} in ${secs} s` };
    if (r.signal === "SIGKILL" || (r.error && /ETIMEDOUT/.test(r.error.message)))
      return {
        ok: false,
        why: `a test guest did not finish under ${accel} within ${timeoutMs / 1000} s (it hangs: nested virtualization without working KVM?)`,
      };
    const err = (r.stderr ?? "").trim().split("\n")[0];
    return {
      ok: false,
      why: `a test guest could not start under ${accel} (exit ${r.status ?? r.signal}${err ? `: ${err}` : ""})`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function bootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** Whether KVM works here: /dev/kvm usable, then a guest run under it (cached per boot and QEMU version). */
export function probeKvm(cacheDir?: string, run: typeof runGuest = runGuest): ProbeResult {
  if (os.platform() !== "linux") return { ok: false, why: `KVM is Linux only (this is ${os.platform()})` };
  if (!fs.existsSync("/dev/kvm")) return { ok: false, why: "/dev/kvm does not exist (no KVM on this machine)" };
  try {
    fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return { ok: false, why: "/dev/kvm is not readable and writable by this user (add it to the kvm group)" };
  }
  const v = spawnSync(QEMU, ["--version"], { encoding: "utf8" });
  if (v.status !== 0) return { ok: false, why: `${QEMU} not found on PATH, so KVM could not be tried` };
  const id = crypto.createHash("sha256").update(`${bootId()}\n${v.stdout}`).digest("hex").slice(0, 16);
  const file = cacheDir ? path.join(cacheDir, "host", `kvm-probe-${id}.json`) : undefined;
  if (file && fs.existsSync(file)) {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8")) as ProbeResult;
    } catch {
      /* probe again */
    }
  }
  const r = run("kvm");
  if (file) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ ...r, at: new Date().toISOString() }) + "\n");
  }
  return r;
}

export interface AcceleratorChoice {
  /** what QEMU gets: kvm, tcg, hvf, whpx or none */
  readonly accelerator: string;
  /** why, for the log */
  readonly why: string;
  /** set when the configured accelerator cannot work here */
  readonly problem?: string;
}

/**
 * `auto` becomes kvm when a guest runs under KVM here, else tcg (hvf on macOS); `kvm` is checked the same way and is
 * a problem when it would hang or fail; the others are used as given.
 */
export function chooseAccelerator(
  requested: string,
  cacheDir?: string,
  probe: typeof probeKvm = probeKvm,
): AcceleratorChoice {
  if (requested === "auto") {
    if (os.platform() === "darwin") return { accelerator: "hvf", why: "macOS's Hypervisor.framework" };
    const r = probe(cacheDir);
    return r.ok
      ? { accelerator: "kvm", why: r.why }
      : { accelerator: "tcg", why: `software emulation, slower: ${r.why}` };
  }
  if (requested === "kvm") {
    const r = probe(cacheDir);
    return r.ok
      ? { accelerator: "kvm", why: r.why }
      : { accelerator: "kvm", why: r.why, problem: `"kvm" cannot be used here: ${r.why}` };
  }
  return { accelerator: requested, why: "as configured" };
}
