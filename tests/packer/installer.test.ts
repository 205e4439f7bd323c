// The Debian ISO path of the template, as far as it can run here: a real `packer build -only=qemu.base`
// with os/debian-12.pkrvars.hcl boots a debian-installer ISO (made from Debian's netboot package, same
// installer and boot menu as the netinst ISO), types the template's boot command, and debian-installer
// loads the preseed rendered by templatefile() from Packer's HTTP server (bound to 127.0.0.1) and applies
// it: locale, and the mirror, which points at a fake mirror on 127.0.0.1 (reached from the guest as
// 10.0.2.2), so the guest never leaves the machine. The installer's remote syslog (log_host/log_port via
// installer_extra_args) is received on 127.0.0.1 and checked. The installer cannot finish here (it needs
// its components from a real mirror), so the test then cancels the build like Ctrl-C and checks that
// Packer cleaned up (no QEMU left, output removed).
// Needs root, QEMU and packer; fails (never skips) without them.
import { spawn, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as dgram from "dgram";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { PACKER_DIR, REPO, findPacker, listenersOf, makeCredentials, run, writeSecretVarFile } from "./helpers";
import { tempDir } from "../support";

const MINUTE = 60_000;
jest.setTimeout(20 * MINUTE);

let work = ""; // removed after the file (tests/support.ts tempDir; JHVM_KEEP_TEST_OUTPUT=1 keeps it)

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

test("debian-12 ISO boot: debian-installer loads and applies the template's preseed", async () => {
  const t0 = Date.now();
  if (process.getuid && process.getuid() !== 0) throw new Error("this test needs root (to install its Debian packages)");
  if (run("bash", ["-c", "command -v qemu-system-x86_64"]).status !== 0) {
    throw new Error("qemu-system-x86_64 not found: sudo bash tests/images/install-deps.sh");
  }
  const packer = findPacker();
  work = tempDir("jhvm-packer-installer-", process.env.JHVM_TEST_WORKDIR ?? "/var/tmp");

  const mk = run("bash", [path.join(REPO, "tests/images/debian12-netboot-iso.sh")], { timeoutMs: 15 * MINUTE });
  if (mk.status !== 0) throw new Error(`debian12-netboot-iso.sh failed:\n${mk.output}`);
  const iso = mk.stdout.trim().split("\n").pop()!;
  const isoSha = createHash("sha256").update(fs.readFileSync(iso)).digest("hex");

  // The installer's remote syslog and a fake Debian mirror, both on 127.0.0.1.
  const syslog: string[] = [];
  const udp = dgram.createSocket("udp4");
  udp.on("message", (m) => syslog.push(...m.toString().split("\n").filter((l) => l)));
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
  const udpPort = (udp.address() as AddressInfo).port;
  const mirrorRequests: string[] = [];
  const mirror = http.createServer((req, res) => {
    mirrorRequests.push(req.url ?? "");
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => mirror.listen(0, "127.0.0.1", r));
  const mirrorPort = (mirror.address() as AddressInfo).port;

  const creds = makeCredentials();
  const secrets = writeSecretVarFile(work, creds);
  const logFile = path.join(work, "packer.log");
  const args = [
    "build",
    "-color=false",
    "-timestamp-ui",
    "-only=qemu.base",
    `-var-file=${path.join(PACKER_DIR, "os", "debian-12.pkrvars.hcl")}`,
    `-var-file=${secrets}`,
    `-var=iso_path=${iso}`,
    `-var=iso_checksum=sha256:${isoSha}`,
    "-var=accelerator=tcg",
    "-var=memory=1024",
    "-var=disk_size=4096",
    "-var=locale=de_DE.UTF-8",
    "-var=keyboard=de",
    "-var=timezone=Europe/Berlin",
    `-var=mirror=http://10.0.2.2:${mirrorPort}/debian`,
    `-var=installer_extra_args=log_host=10.0.2.2 log_port=${udpPort}`,
    `-var=output_directory=${path.join(work, "out")}`,
    PACKER_DIR,
  ];
  // Own process group, so that the cancellation below reaches Packer like a terminal's Ctrl-C.
  const child = spawn(packer, args, {
    cwd: REPO,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      CHECKPOINT_DISABLE: "1",
      PACKER_LOG: "1",
      PACKER_LOG_PATH: logFile,
      PACKER_CACHE_DIR: path.join(work, "packer_cache"),
    },
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));

  const preseedLoaded = () => syslog.some((l) => /preseed: successfully loaded preseed file from http:\/\/10\.0\.2\.2:\d+\/preseed\.cfg/.test(l));
  const mirrorUsed = () => mirrorRequests.some((u) => /^\/debian\/dists\/[a-z]+\/Release$/.test(u));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const deadline = Date.now() + 10 * MINUTE; // ~2.5 min here under TCG
  const listeners = new Set<string>();
  while (!(preseedLoaded() && mirrorUsed()) && !exitedEarly && Date.now() < deadline) {
    for (const l of listenersOf(child.pid!)) listeners.add(l);
    await sleep(2000);
  }
  const tReached = Date.now();
  const ranUntilChecked = !exitedEarly; // Packer was still running (waiting for SSH) when we stopped waiting

  if (ranUntilChecked) process.kill(-child.pid!, "SIGINT");
  const code = await exited;
  udp.close();
  mirror.close();

  try {
    expect(ranUntilChecked).toBe(true);
    expect(preseedLoaded()).toBe(true);
    expect(syslog.join("\n")).toContain("debian-installer/locale preseeded to 'de_DE.UTF-8'");
    expect(syslog.filter((l) => /preseed.*(error|fail)/i.test(l))).toEqual([]);
    expect(mirrorUsed()).toBe(true);
  } catch (e) {
    console.log(`installer syslog (${syslog.length} lines):\n${syslog.slice(-60).join("\n")}\n` +
      `mirror requests: ${mirrorRequests.join(" ")}\npacker output:\n${output.slice(-4000)}`);
    throw e;
  }

  // Packer's HTTP server (the qemu plugin), QEMU's VNC and SSH forward: all on 127.0.0.1 only.
  const seen = [...listeners];
  expect(seen.some((l) => / packer-plugin/.test(l))).toBe(true);
  expect(seen.filter((l) => / qemu-system/.test(l)).length).toBeGreaterThanOrEqual(2);
  for (const l of seen) expect(l).toMatch(/^127\.0\.0\.1:\d+ /);

  // Cancelled cleanly: non-zero exit, no QEMU of this build left, output directory removed.
  expect(code).not.toBe(0);
  expect(output).toContain("Build was cancelled");
  await sleep(1000);
  const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  expect(ps.split("\n").filter((l) => l.includes(work) && l.includes("qemu-system"))).toEqual([]);
  expect(fs.existsSync(path.join(work, "out", "qemu"))).toBe(false);

  // The password never shows (the preseed carries only its hash; Packer masks sensitive values).
  expect(output).not.toContain(creds.password);
  expect(fs.readFileSync(logFile, "utf8")).not.toContain(creds.password);
  expect(fs.readFileSync(logFile, "utf8")).not.toContain(creds.passwordHash);

  console.log(
    `installer test: preseed loaded and mirror contacted after ${Math.round((tReached - t0) / 1000)} s, ` +
      `total ${Math.round((Date.now() - t0) / 1000)} s; mirror requests: ${mirrorRequests.join(" ")}; ` +
      `listeners: ${seen.join(", ")}`,
  );
});
