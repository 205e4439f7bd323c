// Static checks of the image playbook with the real Debian tools: ansible-lint --offline (production
// profile, ansible/.ansible-lint) and ansible-playbook --syntax-check. Fails (never skips) without them.
import { ANSIBLE_DIR, requireTools, run } from "./helpers";

jest.setTimeout(120_000);

const env = { ...process.env, ANSIBLE_CONFIG: `${ANSIBLE_DIR}/ansible.cfg`, NO_COLOR: "1", ANSIBLE_NOCOLOR: "1" };

beforeAll(() => requireTools("ansible-playbook", "ansible-lint"));

test("ansible-lint --offline passes on the playbook and every role", () => {
  const r = run("ansible-lint", ["--offline", "-f", "pep8"], { cwd: ANSIBLE_DIR, env });
  expect({ status: r.status, out: r.stdout + r.stderr }).toMatchObject({ status: 0 });
  expect(r.stdout + r.stderr).toMatch(/Passed with production profile/);
});

test("ansible-playbook --syntax-check passes", () => {
  const r = run("ansible-playbook", ["--syntax-check", "-i", "localhost,", "playbook.yml"], { cwd: ANSIBLE_DIR, env });
  expect({ status: r.status, out: r.stdout + r.stderr }).toMatchObject({ status: 0 });
});

test("every role variable is documented: a comment above it (or its group) and a row in ansible/README.md", () => {
  const r = run(
    "/usr/bin/python3",
    [
      "-c",
      [
        "import glob, re, sys",
        "bad = []",
        "readme = open('README.md').read()",
        "for f in sorted(glob.glob('roles/*/defaults/main.yml')):",
        "    lines = open(f).read().splitlines()",
        "    for i, l in enumerate(lines):",
        "        m = re.match(r'^([a-z_][a-z0-9_]*):', l)",
        "        if m:",
        "            j = i - 1",
        "            while j >= 0 and lines[j].strip() and not lines[j].startswith('#'):",
        "                j -= 1",
        "            if j < 0 or not lines[j].startswith('#'):",
        "                bad.append(f + ': ' + m.group(1) + ' has no comment')",
        "            if '`' + m.group(1) + '`' not in readme:",
        "                bad.append(f + ': ' + m.group(1) + ' is not in ansible/README.md')",
        "print('\\n'.join(bad))",
        "sys.exit(1 if bad else 0)",
      ].join("\n"),
    ],
    { cwd: ANSIBLE_DIR },
  );
  expect(r.stdout.trim()).toBe("");
  expect(r.status).toBe(0);
});
