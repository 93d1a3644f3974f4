// Stack files (for the offline renderer): Pulumi.<stack>.yaml read without the Pulumi CLI. Encrypted
// values are never decrypted here; they become placeholders.
import * as fs from "fs";
import * as yaml from "js-yaml";
import { P, RawConfig, isPlainObject } from "./reader";

function loadStackConfig(path: string): Record<string, unknown> {
  const doc = yaml.load(fs.readFileSync(path, "utf8"));
  if (doc === undefined || doc === null) return {};
  if (!isPlainObject(doc)) throw new Error(`${path}: not a Pulumi stack file (expected a mapping)`);
  const config = doc.config;
  if (config === undefined || config === null) return {};
  if (!isPlainObject(config)) throw new Error(`${path}: "config" must be a mapping`);
  return config;
}

/** Reads Pulumi.<stack>.yaml and returns this project's keys, prefix stripped, values as YAML parsed them. */
export function rawConfigFromStackFile(path: string): RawConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(loadStackConfig(path))) {
    if (k.startsWith(P)) out[k.slice(P.length)] = v;
  }
  return out;
}

/** Placeholder for a `secure:` value, which only the Pulumi CLI can decrypt. */
export const ENCRYPTED_PLACEHOLDER = "-----BEGIN OPENSSH PRIVATE KEY-----\n(encrypted in the stack file; decrypted only by pulumi)\n-----END OPENSSH PRIVATE KEY-----\n";

/**
 * The stack file's config as `pulumi.runtime.setAllConfig` expects it: full keys, string values,
 * objects JSON-encoded (what the Pulumi CLI hands the program). `secure:` values become a placeholder;
 * their keys are listed by stackFileSecretKeys.
 */
export function pulumiConfigMapFromStackFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(loadStackConfig(path))) {
    if (isPlainObject(v) && typeof v.secure === "string" && Object.keys(v).length === 1) out[k] = ENCRYPTED_PLACEHOLDER;
    else out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

/** Full keys whose values are `secure:` (encrypted) in the stack file. */
export function stackFileSecretKeys(path: string): string[] {
  return Object.entries(loadStackConfig(path))
    .filter(([, v]) => isPlainObject(v) && typeof v.secure === "string")
    .map(([k]) => k);
}
