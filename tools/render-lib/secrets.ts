// Last line of defence for the render: no secret value may reach a rendered file. Formatters already
// print `<secret: ...>` where they know a value is secret; this pass finds any known secret value that
// slipped through (a program bug: a secret in a non-secret input), replaces it, and reports it.
import { RecordedResource } from "../../test/harness";

/** Values shorter than this are not treated as findable secrets (they would match ordinary text). */
const MIN_SECRET_LENGTH = 8;
const SECRET_FIELD = /key|password|token|secret|kubeconfig|cert|stdin/i;

function leaves(v: unknown, keyOk: boolean, out: Set<string>): void {
  if (typeof v === "string") {
    if (keyOk) out.add(v);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) leaves(x, keyOk, out);
    return;
  }
  if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) leaves(x, keyOk || SECRET_FIELD.test(k), out);
}

/**
 * Secret strings visible in the recorded inputs: a secret top-level input that is a string is secret as a
 * whole (stdin, kubeconfig); inside a secret object (e.g. `connection`) only fields named like secrets are.
 */
export function secretValuesFromInputs(resources: readonly RecordedResource[]): string[] {
  const out = new Set<string>();
  for (const r of resources) for (const k of r.secretInputs) leaves(r.inputs[k], typeof r.inputs[k] === "string" || SECRET_FIELD.test(k), out);
  return [...out];
}

export interface Leak {
  readonly file: string;
  /** Which secret (its first characters are never shown; only its length and a label). */
  readonly what: string;
}

function bigram(text: string, i: number): number {
  return ((text.charCodeAt(i) << 8) ^ text.charCodeAt(i + 1)) & 0xffff;
}

/**
 * Finds every known secret value in many texts quickly: an index from each secret's first
 * MIN_SECRET_LENGTH characters, so a text is scanned once instead of once per secret (a 200-worker
 * render has hundreds of secret stdins and megabytes of text).
 */
export class SecretScanner {
  private readonly byPrefix = new Map<string, { value: string; what: string }[]>();
  /** Bitmap of (hashed) first two characters of every secret: skips most positions without a lookup. */
  private readonly bigrams = new Uint8Array(65536);
  constructor(secrets: readonly { value: string; what: string }[]) {
    for (const s of orderSecrets(secrets)) {
      for (const value of new Set([s.value, s.value.trim()])) {
        if (value.length < MIN_SECRET_LENGTH) continue;
        const k = value.slice(0, MIN_SECRET_LENGTH);
        this.bigrams[bigram(value, 0)] = 1;
        const list = this.byPrefix.get(k) ?? [];
        list.push({ value, what: s.what });
        list.sort((a, b) => b.value.length - a.value.length); // longest match wins
        this.byPrefix.set(k, list);
      }
    }
  }

  /** Replaces every known secret value in `text`; returns the cleaned text and what was found. */
  scrub(file: string, text: string): { text: string; leaks: Leak[] } {
    if (this.byPrefix.size === 0) return { text, leaks: [] };
    const leaks: Leak[] = [];
    let out = "";
    let last = 0;
    let i = 0;
    while (i + MIN_SECRET_LENGTH <= text.length) {
      if (this.bigrams[bigram(text, i)] === 0) {
        i++;
        continue;
      }
      const hit = this.byPrefix.get(text.slice(i, i + MIN_SECRET_LENGTH))?.find((s) => text.startsWith(s.value, i));
      if (hit) {
        out += `${text.slice(last, i)}<secret: ${hit.what}>`;
        i += hit.value.length;
        last = i;
        if (!leaks.some((l) => l.what === hit.what)) leaks.push({ file, what: hit.what });
      } else {
        i++;
      }
    }
    return { text: last === 0 ? text : out + text.slice(last), leaks };
  }
}

/** One-off form of SecretScanner.scrub. */
export function scrub(file: string, text: string, secrets: readonly { value: string; what: string }[]): { text: string; leaks: Leak[] } {
  return new SecretScanner(secrets).scrub(file, text);
}

/** Longest first, so a secret that contains another is replaced whole. */
export function orderSecrets(secrets: readonly { value: string; what: string }[]): { value: string; what: string }[] {
  const seen = new Set<string>();
  return [...secrets]
    .filter((s) => s.value.length >= MIN_SECRET_LENGTH && !seen.has(s.value) && (seen.add(s.value), true))
    .sort((a, b) => b.value.length - a.value.length || (a.value < b.value ? -1 : 1));
}
