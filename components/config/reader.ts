// The reader/validator toolkit every config block uses: a Block reader that records the keys it was
// asked for (so unknown keys are reported and the key table can be checked), the problem list, and the
// value checks shared by several blocks.
import * as pulumi from "@pulumi/pulumi";
import { Cidr, parseCidr, parseIpv4 } from "../net";

export const PROJECT = "kubeadm-cluster";
/** Prefix of every full key in messages, e.g. "kubeadm-cluster:". */
export const P = `${PROJECT}:`;

/** Config values keyed without the project prefix, as `pulumi.Config().getObject(k)` / `get(k)` return them. */
export type RawConfig = Readonly<Record<string, unknown>>;

export class ConfigError extends pulumi.RunError {
  // RunError (an Error) makes `pulumi up` print just this message, without a stack trace.
  readonly problems: string[];
  constructor(problems: string[]) {
    const n = problems.length;
    super(
      [`Invalid stack configuration for ${PROJECT} (${n} problem${n === 1 ? "" : "s"}; see docs/configuration.md):`]
        .concat(problems.map((p) => `  - ${p}`))
        .join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------------
// A reader over one config block. It records which keys it was asked for, so unknown keys (typos)
// are reported, and so a test can compare the keys read with CONFIG_KEYS.

function show(v: unknown): string {
  // Never echo key material, whatever key it was put under.
  if (typeof v === "string" && /PRIVATE KEY/.test(v)) return "(a private key, not shown)";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Marks a value in a committed stack file that each user must replace (e.g. their own admin IP). */
export const PLACEHOLDER_MARK = "CHANGE-ME";

export class Problems {
  readonly list: string[] = [];
  /** Key with a bad value: `<key> = <value>: <what is wrong and the fix>`. */
  bad(key: string, value: unknown, msg: string): void {
    this.list.push(`${key} = ${show(value)}: ${msg}`);
  }
  /** Key without a value, or a problem that is not about one value. */
  at(key: string, msg: string): void {
    this.list.push(`${key}: ${msg}`);
  }
}

interface IntRange {
  readonly min: number;
  readonly max: number;
  readonly hint?: string;
}

export class Block {
  private readonly used = new Set<string>();
  readonly present: boolean;
  /** Given, but not an object (reported once by the parent): its "required" keys stay quiet. */
  readonly broken: boolean;
  private readonly obj: Record<string, unknown>;

  constructor(
    /** Key path for messages, "" for the top level, e.g. "kubernetes", "nodes[1]". */
    private readonly path: string,
    /** Path for the key table, e.g. "nodes[]". */
    private readonly docPath: string,
    value: unknown,
    private readonly probs: Problems,
    private readonly trace: Set<string> | undefined,
  ) {
    this.present = value !== undefined && value !== null;
    this.broken = this.present && !isPlainObject(value);
    this.obj = isPlainObject(value) ? value : {};
  }

  /** Full key for messages, e.g. "kubeadm-cluster:kubernetes.version". */
  key(k?: string): string {
    if (k === undefined) return `${P}${this.path}`;
    return `${P}${this.path ? `${this.path}.` : ""}${k}`;
  }

  doc(k: string): string {
    return this.docPath ? `${this.docPath}.${k}` : k;
  }

  /** The raw value (undefined when absent); marks the key as known. */
  raw(k: string): unknown {
    this.used.add(k);
    this.trace?.add(this.doc(k));
    const v = this.obj[k];
    return v === null ? undefined : v;
  }

  has(k: string): boolean {
    return this.obj[k] !== undefined && this.obj[k] !== null;
  }

  str(k: string, def: string, check?: (v: string) => string | undefined): string;
  str(k: string, def: string | undefined, check?: (v: string) => string | undefined): string | undefined;
  str(k: string, def: string | undefined, check?: (v: string) => string | undefined): string | undefined {
    const v = this.raw(k);
    if (v === undefined) return def;
    if (typeof v !== "string" || v === "") {
      this.probs.bad(this.key(k), v, `must be a non-empty string, got ${v === "" ? "an empty string" : typeName(v)}`);
      return def;
    }
    if (v.includes(PLACEHOLDER_MARK)) {
      this.probs.bad(this.key(k), v, `is the stack file's placeholder; replace ${PLACEHOLDER_MARK} with your own value (pulumi config set --path ${this.doc(k)} <value>; docs/configuration.md explains the key)`);
      // Kept (the spec is never built while a problem stands), so checks across keys do not report the default instead.
      return v;
    }
    const err = check?.(v);
    if (err !== undefined) {
      this.probs.bad(this.key(k), v, err);
      return def;
    }
    return v;
  }

  /** A required string: reports `how` (the fix) when missing. */
  reqStr(k: string, how: string, check?: (v: string) => string | undefined): string | undefined {
    if (!this.has(k)) {
      this.raw(k);
      if (!this.broken) this.probs.at(this.key(k), `required; ${how}`);
      return undefined;
    }
    const before = this.probs.list.length;
    const v = this.str(k, undefined, check);
    return this.probs.list.length === before ? v : undefined;
  }

  oneOf<T extends string>(k: string, def: T, allowed: readonly T[]): T;
  oneOf<T extends string>(k: string, def: T | undefined, allowed: readonly T[]): T | undefined;
  oneOf<T extends string>(k: string, def: T | undefined, allowed: readonly T[]): T | undefined {
    const v = this.raw(k);
    if (v === undefined) return def;
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    this.probs.bad(this.key(k), v, `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
    return def;
  }

  int(k: string, def: number, range: IntRange): number;
  int(k: string, def: number | undefined, range: IntRange): number | undefined;
  int(k: string, def: number | undefined, range: IntRange): number | undefined {
    const v = this.raw(k);
    if (v === undefined) return def;
    const what = `an integer from ${range.min} to ${range.max}${range.hint ? ` (${range.hint})` : ""}`;
    if (typeof v !== "number") {
      const fix = typeof v === "string" && /^-?\d+$/.test(v) ? `; write it without quotes: ${k}: ${v}` : "";
      this.probs.bad(this.key(k), v, `must be ${what}, got ${typeName(v)}${fix}`);
      return def;
    }
    if (!Number.isInteger(v) || v < range.min || v > range.max) {
      this.probs.bad(this.key(k), v, `must be ${what}`);
      return def;
    }
    return v;
  }

  bool(k: string, def: boolean): boolean {
    const v = this.raw(k);
    if (v === undefined) return def;
    if (typeof v === "boolean") return v;
    const fix = v === "true" || v === "false" ? `; write it without quotes: ${k}: ${v}` : "";
    this.probs.bad(this.key(k), v, `must be true or false, got ${typeName(v)}${fix}`);
    return def;
  }

  /** A nested block; absent = all defaults. Reports a non-object value. */
  block(k: string): Block {
    const v = this.raw(k);
    if (v !== undefined && !isPlainObject(v)) this.probs.bad(this.key(k), v, `must be an object (a YAML mapping of ${k}'s keys), got ${typeName(v)}`);
    return new Block(this.path ? `${this.path}.${k}` : k, this.doc(k), v, this.probs, this.trace);
  }

  /** Reports a bad value of a key below this block (e.g. "registryMirrors.docker.io"). */
  bad(k: string, value: unknown, msg: string): void {
    this.probs.bad(this.key(k), value, msg);
  }

  /** Reports keys nobody asked for (typos such as `kubernetes.verison`). */
  finish(): void {
    const unknown = Object.keys(this.obj).filter((k) => !this.used.has(k));
    for (const k of unknown) {
      // The value is not shown: the key is the mistake, and a misspelled secret key holds a secret.
      const known = Array.from(this.used).sort();
      this.probs.at(this.key(k), `unknown key; known keys here: ${known.join(", ")}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Value checks: return undefined when fine, else what is wrong plus the fix.

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_LABEL_HELP = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

export function checkDnsLabel(v: string): string | undefined {
  return DNS_LABEL.test(v) ? undefined : `not a valid name; use ${DNS_LABEL_HELP}, e.g. "k8s-worker-1"`;
}

export function checkIpv4(v: string): string | undefined {
  return parseIpv4(v) !== undefined ? undefined : 'not an IPv4 address; write four numbers 0-255 without leading zeros, e.g. "192.168.56.10"';
}

export function checkCidrText(v: string): string | undefined {
  const r = parseCidr(v);
  return r.ok ? undefined : r.reason;
}

/** Reads a CIDR key: its text (for messages) and the parsed network, undefined when invalid (already reported). */
export function readCidr(b: Block, k: string, def: string): { text: string; cidr: Cidr | undefined } {
  const text = b.str(k, def, checkCidrText);
  const r = parseCidr(text);
  return { text, cidr: r.ok ? r.cidr : undefined };
}

export function checkImage(v: string): string | undefined {
  if (v.includes("://")) return 'an image reference has no scheme; write e.g. "docker.io/library/busybox:1.36"';
  if (!/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(v) || /[:/@]$/.test(v)) return 'not an image reference; write e.g. "docker.io/library/busybox:1.36"';
  return undefined;
}

export function checkRegistryPath(v: string): string | undefined {
  if (v.includes("://")) return 'write the registry without a scheme, e.g. "registry.k8s.io"';
  return /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(v) ? undefined : 'not a registry path; write e.g. "registry.k8s.io" or "registry.aliyuncs.com/google_containers"';
}

export function checkLocalPath(v: string): string | undefined {
  if (v.startsWith("~")) return 'VBoxManage does not expand "~"; write the absolute path, e.g. "/home/you/images/..."';
  return undefined;
}
