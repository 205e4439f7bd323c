/**
 * tools/image-hygiene-check, one planted finding per leftover class it learned (issue: private keys, credentials in
 * proxy and package-manager settings, sudoers grants to accounts that must not exist, network config pinned to the
 * build VM's MAC, history in every home, usable passwords of undocumented accounts): a small clean root file system
 * is "clean"; a copy with one class planted gives exactly that class's finding, and never prints a secret. The same
 * check runs on real built trees and images in image-build.test.ts and final-image.test.ts.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, tempDir } from "../support";

const HYGIENE = path.join(REPO, "tools/image-hygiene-check");
/** A PEM private key block (not a key: its body is a few bytes). Its markers are put together here, so that secret
 * scanners reading this repository do not take the test for a leaked key. */
const pemBlock = (kind: string, body: string) =>
  [`-----BEGIN ${kind}PRIVATE KEY-----`, body, `-----END ${kind}PRIVATE KEY-----`, ""].join("\n");
const PEM = pemBlock("OPENSSH ", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==");
const PROXY_PASSWORD = "Pr0xy-Secret-77";

/** A minimal clean root: accounts root, a system account, one documented user; locked passwords; a netplan. */
function cleanRoot(): string {
  const root = path.join(tempDir("jhvm-hyg-"), "root");
  const w = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  w(
    "etc/passwd",
    "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n" +
      "tljh-guide:x:1001:1001::/home/tljh-guide:/bin/bash\n",
  );
  w("etc/shadow", "root:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\ntljh-guide:!:19000:0:99999:7:::\n");
  w("etc/group", "root:x:0:\nsudo:x:27:\n");
  w("etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n");
  w("etc/sudoers.d/README", "# see sudoers(5)\n");
  w("etc/netplan/50-cloud-init.yaml", "network:\n  version: 2\n  ethernets:\n    all:\n      match: {name: 'en*'}\n      dhcp4: true\n");
  w("etc/apt/apt.conf.d/01proxy", 'Acquire::http::Proxy "http://proxy.example.org:3128";\n');
  w("etc/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  // a package's test key in a software tree is not a leftover (tornado ships one)
  w("opt/tljh/user/lib/python3.12/site-packages/tornado/test/test.key", PEM);
  w("usr/share/doc/x/example.key", PEM);
  w("home/tljh-guide/.ssh/id_ed25519.pub", "ssh-ed25519 AAAA guide\n");
  w("var/www/.keep", "");
  return root;
}

function hygiene(root: string, ...args: string[]) {
  return spawnSync(HYGIENE, [...args, root], { encoding: "utf8" });
}

/** The findings for the clean root with `plant` applied. */
function findingsWith(plant: (root: string, w: (rel: string, text: string) => void) => void, ...args: string[]) {
  const root = cleanRoot();
  plant(root, (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  });
  const r = hygiene(root, ...args);
  expect(r.stdout + r.stderr).not.toContain(PROXY_PASSWORD);
  return { status: r.status, lines: r.stdout.trim().split("\n") };
}

describe("image-hygiene-check: each leftover class, planted", () => {
  it("the clean root is clean", () => {
    const r = hygiene(cleanRoot());
    expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out: "clean" });
  });

  it.each([
    [
      "a private key in root's ~/.ssh",
      (_r: string, w: (a: string, b: string) => void) => w("root/.ssh/id_rsa", PEM),
      ["FINDING private-key: /root/.ssh/id_rsa"],
    ],
    [
      "a private key in a user's ~/.ssh",
      (_r: string, w: (a: string, b: string) => void) => w("home/tljh-guide/.ssh/id_ed25519", PEM),
      ["FINDING private-key: /home/tljh-guide/.ssh/id_ed25519"],
    ],
    [
      "a PEM private key block in a config file",
      (_r: string, w: (a: string, b: string) => void) => w("etc/jupyterhub/ssl/hub.pem", `cert\n${PEM}`),
      ["FINDING private-key: /etc/jupyterhub/ssl/hub.pem holds a PEM private key"],
    ],
    [
      "a PEM private key under /srv",
      (_r: string, w: (a: string, b: string) => void) =>
        w("srv/data/deploy.key", pemBlock("RSA ", "MIIE")),
      ["FINDING private-key: /srv/data/deploy.key holds a PEM private key"],
    ],
    [
      "a PEM private key under /usr/local (not a package tree)",
      (_r: string, w: (a: string, b: string) => void) => w("usr/local/etc/site.key", PEM),
      ["FINDING private-key: /usr/local/etc/site.key holds a PEM private key"],
    ],
    [
      "proxy credentials in apt's configuration",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/apt/apt.conf.d/95proxy", `Acquire::https::Proxy "http://builder:${PROXY_PASSWORD}@proxy:3128";\n`),
      ["FINDING proxy-credentials: /etc/apt/apt.conf.d/95proxy holds a URL with a user name and password"],
    ],
    [
      "proxy credentials in /etc/environment",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/environment", `https_proxy=http://u:${PROXY_PASSWORD}@proxy:3128\n`),
      ["FINDING proxy-credentials: /etc/environment holds a URL with a user name and password"],
    ],
    [
      "proxy credentials in profile.d",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/profile.d/proxy.sh", `export http_proxy='http://u:${PROXY_PASSWORD}@proxy:3128'\n`),
      ["FINDING proxy-credentials: /etc/profile.d/proxy.sh holds a URL with a user name and password"],
    ],
    [
      "credentials in pip's configuration",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/pip.conf", `[global]\nindex-url = https://ci:${PROXY_PASSWORD}@pypi.example.org/simple\n`),
      ["FINDING proxy-credentials: /etc/pip.conf holds a URL with a user name and password"],
    ],
    [
      "an npm auth token in a user's .npmrc",
      (_r: string, w: (a: string, b: string) => void) =>
        w("root/.npmrc", `//registry.npmjs.org/:_authToken=${PROXY_PASSWORD}\n`),
      ["FINDING proxy-credentials: /root/.npmrc holds an npm auth token"],
    ],
    [
      "a sudoers.d grant to the build account",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/sudoers.d/90-builder", "builder ALL=(ALL) NOPASSWD: ALL\n"),
      ["FINDING sudoers: /etc/sudoers.d/90-builder grants sudo to 'builder', an account that must not ship"],
    ],
    [
      "a sudoers.d grant to an account that does not exist",
      (_r: string, w: (a: string, b: string) => void) => w("etc/sudoers.d/ops", "opsuser ALL=(ALL) ALL\n"),
      ["FINDING sudoers: /etc/sudoers.d/ops grants sudo to 'opsuser', which has no account in /etc/passwd"],
    ],
    [
      "netplan pinned to the build VM's MAC",
      (_r: string, w: (a: string, b: string) => void) =>
        w(
          "etc/netplan/00-installer-config.yaml",
          "network:\n  ethernets:\n    ens3:\n      match:\n        macaddress: 52:54:00:12:34:56\n      dhcp4: true\n",
        ),
      ["FINDING mac-pinned: /etc/netplan/00-installer-config.yaml matches an interface by MAC address (the build VM's)"],
    ],
    [
      "udev persistent-net rules",
      (_r: string, w: (a: string, b: string) => void) =>
        w(
          "etc/udev/rules.d/70-persistent-net.rules",
          'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n',
        ),
      ["FINDING mac-pinned: /etc/udev/rules.d/70-persistent-net.rules names interfaces by MAC address (the build VM's)"],
    ],
    [
      "a systemd .link matching a MAC",
      (_r: string, w: (a: string, b: string) => void) =>
        w("etc/systemd/network/10-build.link", "[Match]\nMACAddress=52:54:00:12:34:56\n[Link]\nName=lan0\n"),
      ["FINDING mac-pinned: /etc/systemd/network/10-build.link matches an interface by MAC address (the build VM's)"],
    ],
    [
      "shell history of a system account outside /home",
      (_r: string, w: (a: string, b: string) => void) => w("var/www/.bash_history", "curl -u admin:x ...\n"),
      ["FINDING history: /var/www/.bash_history"],
    ],
    [
      "fish history of a user",
      (_r: string, w: (a: string, b: string) => void) =>
        w("home/tljh-guide/.local/share/fish/fish_history", "- cmd: ls\n"),
      ["FINDING history: /home/tljh-guide/.local/share/fish/fish_history"],
    ],
    [
      "a usable password of an account the image does not document",
      (root: string) =>
        fs.writeFileSync(
          path.join(root, "etc/shadow"),
          "root:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\ntljh-guide:$6$salt$hash:19000:0:99999:7:::\n",
        ),
      ["FINDING password: account 'tljh-guide' has a usable password hash in /etc/shadow"],
    ],
  ])("%s", (_name, plant, expected) => {
    const r = findingsWith(plant);
    expect(r).toEqual({ status: 1, lines: expected });
  });

  it("a documented account may keep its password (--allow-password-user), root never", () => {
    const plant = (root: string) =>
      fs.writeFileSync(
        path.join(root, "etc/shadow"),
        "root:$6$r$h:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\ntljh-guide:$6$salt$hash:19000:0:99999:7:::\n",
      );
    expect(findingsWith(plant, "--allow-password-user", "tljh-guide", "--allow-password-user", "root")).toEqual({
      status: 1,
      lines: ["FINDING password: account 'root' has a usable password hash in /etc/shadow"],
    });
  });

  it("the build account is forbidden by default", () => {
    const plant = (root: string) => {
      fs.appendFileSync(path.join(root, "etc/passwd"), "builder:x:1000:1000::/home/builder:/bin/bash\n");
      fs.appendFileSync(path.join(root, "etc/shadow"), "builder:!:19000:0:99999:7:::\n");
    };
    expect(findingsWith(plant)).toEqual({
      status: 1,
      lines: ["FINDING forbidden-user: account 'builder' exists (uid 1000)"],
    });
  });
});
