/**
 * The accelerator probe with real QEMU: the boot sector ends QEMU with its exit status under TCG; a guest that
 * never ends (a sector that loops) is cut off and reported as hanging; `auto` picks what the KVM probe found here.
 */
import { chooseAccelerator, probeKvm } from "../../host";
import { runGuest } from "../../host/accelerator";

describe("accelerator probe (real QEMU)", () => {
  it("a guest runs under tcg", () => {
    const r = runGuest("tcg");
    expect(r).toEqual({ ok: true, why: expect.stringMatching(/^a test guest ran under tcg in \d+\.\d s$/) });
  });

  it("a guest that never finishes is reported as hanging after the timeout", () => {
    const loop = Buffer.alloc(512);
    Buffer.from([0xeb, 0xfe]).copy(loop); // jmp $
    loop[510] = 0x55;
    loop[511] = 0xaa;
    const started = Date.now();
    const r = runGuest("tcg", 2000, loop);
    expect(r.ok).toBe(false);
    expect(r.why).toMatch(/did not finish under tcg within 2 s/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("auto follows the KVM probe on this machine", () => {
    const kvm = probeKvm();
    const choice = chooseAccelerator("auto");
    if (process.platform === "linux") expect(choice.accelerator).toBe(kvm.ok ? "kvm" : "tcg");
    expect(choice.why).toContain(kvm.why);
  });
});
