/**
 * The hygiene check also reads the account database backups (/etc/passwd-, /etc/shadow-): userdel leaves the
 * removed build account and its password hash there (found by the real FinalImage build test).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { tempDir } from "../support";

const CHECK = path.resolve(__dirname, "..", "..", "tools", "image-hygiene-check");

function root(files: Record<string, string>): string {
  const d = tempDir("jhvm-hyg-");
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), text);
  }
  return d;
}

const PASSWD = "root:x:0:0::/root:/bin/bash\n";
const SHADOW = "root:*:19000::::::\n";

describe("hygiene check on account database backups", () => {
  it("names a removed account and its hash left in /etc/passwd- and /etc/shadow-", () => {
    const d = root({
      "etc/passwd": PASSWD,
      "etc/shadow": SHADOW,
      "etc/passwd-": PASSWD + "builder:x:1000:1000::/home/builder:/bin/bash\n",
      "etc/shadow-": SHADOW + "builder:$6$salt$hash:19000::::::\n",
      "etc/machine-id": "",
    });
    const r = spawnSync("/usr/bin/python3", [CHECK, "--forbid-user", "builder", d], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("FINDING forbidden-user: account 'builder' is still in the backup /etc/passwd-");
    expect(r.stdout).toContain("FINDING password: account 'builder' has a usable password hash in /etc/shadow-");
  });

  it("is clean when the backups match the current databases", () => {
    const d = root({ "etc/passwd": PASSWD, "etc/shadow": SHADOW, "etc/passwd-": PASSWD, "etc/shadow-": SHADOW, "etc/machine-id": "" });
    const r = spawnSync("/usr/bin/python3", [CHECK, "--forbid-user", "builder", d], { encoding: "utf8" });
    expect(r.stdout).toContain("clean");
    expect(r.status).toBe(0);
  });
});
