/**
 * The vagrant-libvirt runner's generated files against the real tools: Ruby parses the Vagrantfile and reads every
 * quoted value back unchanged (including quotes, backslashes and `#{}`), and Debian's cloud-init accepts the
 * per-VM login's vendor-data (and rejects a broken one).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { rubyString, vagrantfile, vendorData } from "../../targets/local/vagrant-libvirt";
import { tempDir } from "../support";

const tricky = `/data/it's a "dir" \\ with #{ENV['HOME']} and spaces`;
const dir = tempDir("jhvm-vf-");

function ruby(args: string[], input?: string) {
  const r = spawnSync("ruby", args, { encoding: "utf8", input });
  if (r.error)
    throw new Error(`ruby is not installed (Vagrant brings it; .ci/run installs vagrant): ${r.error.message}`);
  return r;
}

describe("Vagrantfile (real Ruby)", () => {
  it("parses, and Ruby reads a quoted value back unchanged", () => {
    const file = path.join(dir, "Vagrantfile");
    fs.writeFileSync(
      file,
      vagrantfile(
        {
          buildDir: "/b",
          imagePath: "/i",
          imageSha256: "0".repeat(64),
          imageFormat: "qcow2",
          userData: "",
          accelerator: "tcg",
          ip: "192.168.56.10",
          httpPort: 8080,
          forwardPorts: ["2222:22"],
          dataDir: tricky,
          memoryMb: 1024,
          cpus: 1,
          name: "vm1",
        },
        { dir: "/b/local-vm/vm1", key: "/b/k", seed: "/b/seed.iso", box: "jupyterhub-vm-vm1-000000000000" },
      ),
    );
    const check = ruby(["-c", file]);
    expect(check.stdout.trim()).toBe("Syntax OK");
    const back = ruby(["-e", "print eval(STDIN.read)"], rubyString(tricky));
    expect(back.status).toBe(0);
    expect(back.stdout).toBe(tricky);
  });

  it("the check can fail: an unquoted value does not parse", () => {
    const file = path.join(dir, "Broken");
    fs.writeFileSync(file, `Vagrant.configure("2") do |c|\n  c.vm.box = 'a'b'\nend\n`);
    expect(ruby(["-c", file]).status).not.toBe(0);
  });
});

describe("vendor-data (real cloud-init schema)", () => {
  const schema = (text: string) => {
    const file = path.join(dir, "vendor-data");
    fs.writeFileSync(file, text);
    const r = spawnSync("/usr/bin/python3", ["/usr/bin/cloud-init", "schema", "--config-file", file], {
      encoding: "utf8",
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it("is valid cloud-config", () => {
    const r = schema(vendorData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0wZ8xgk1T0m8oA6Qf2yJ2m6b7f0Q2Yc6b2m3n4p5q6 c"));
    expect(r.out).toMatch(/Valid cloud-config/);
    expect(r.status).toBe(0);
  });

  it("a broken one is rejected", () => {
    const r = schema(vendorData("k").replace("lock_passwd: true", "lock_passwd: perhaps"));
    expect(r.status).not.toBe(0);
  });
});
