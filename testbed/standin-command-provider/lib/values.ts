/**
 * Pulumi's wire values as they arrive in a google.protobuf.Struct (turned into plain JS by `toJavaScript()`):
 * secrets are objects tagged with the special signature key, unknowns (preview) are a sentinel string.
 * STAND-IN test infrastructure: see ../README.md.
 */
import * as crypto from "crypto";

export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Props = Record<string, unknown>;

export function isSecret(v: unknown): v is { value: unknown } {
  return !!v && typeof v === "object" && (v as Props)[SIG_KEY] === SECRET_SIG;
}

export function secret(v: unknown): unknown {
  return v === undefined || isSecret(v) ? v : { [SIG_KEY]: SECRET_SIG, value: v };
}

/** true if the value is, or contains, an unknown (a preview placeholder) */
export function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (isSecret(v)) return hasUnknown(v.value);
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v && typeof v === "object") return Object.values(v as Props).some(hasUnknown);
  return false;
}

/** Removes every secret wrapper (deeply). */
export function unwrap(v: unknown): unknown {
  if (isSecret(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v as Props)) out[k] = unwrap(x);
    return out;
  }
  return v;
}

/** true if the value is, or contains, a secret */
export function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v as Props).some(containsSecret);
  return false;
}

/** Top-level keys of a property map that hold (or contain) a secret. */
export function secretKeys(props: Props): Set<string> {
  return new Set(Object.keys(props).filter((k) => containsSecret(props[k])));
}

/** Plain copy of a property map without secret wrappers, plus the keys that were secret. */
export function plain(props: Props | undefined): { values: Props; secrets: Set<string> } {
  const p = props ?? {};
  return { values: unwrap(p) as Props, secrets: secretKeys(p) };
}

/** Wraps the given top-level keys of `outs` as secrets (outputs that came from secret inputs stay secret). */
export function wrapKeys(outs: Props, keys: Iterable<string>): Props {
  const res: Props = { ...outs };
  for (const k of keys) if (k in res && res[k] !== undefined && res[k] !== null) res[k] = secret(res[k]);
  return res;
}

/** Drops undefined values (deeply): google.protobuf.Struct cannot hold them. */
export function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : clean(x)));
  if (v && typeof v === "object") {
    const out: Props = {};
    for (const [k, x] of Object.entries(v as Props)) if (x !== undefined) out[k] = clean(x);
    return out;
  }
  return v;
}

/** Deep equality of plain JSON values; `null`, `undefined`, "", [] and {} are NOT collapsed here. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (a && b && typeof a === "object") {
    const ka = Object.keys(a as Props).filter((k) => (a as Props)[k] !== undefined);
    const kb = Object.keys(b as Props).filter((k) => (b as Props)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual((a as Props)[k], (b as Props)[k]));
  }
  return false;
}

/** Terraform treats an absent optional value and its empty/zero form alike in a plan: so do we. */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as Props).filter((k) => (v as Props)[k] !== undefined).length === 0;
  return false;
}

export function randomHex(n: number): string {
  return crypto
    .randomBytes(Math.ceil(n / 2))
    .toString("hex")
    .slice(0, n);
}

export function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
